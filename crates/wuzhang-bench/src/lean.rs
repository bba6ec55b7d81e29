//! A lean gRPC load client: unary calls written straight onto an HTTP/2 connection (`h2`),
//! each connection driven on the thread that calls through it.
//!
//! Why not tonic's client: on this 2-vCPU machine the load generator shares the CPUs
//! with the server and Postgres, and tonic's `Channel` is a heavy load generator: at one
//! caller it used ~104 µs of CPU per SubmitIncident, two thirds of the server's own
//! ~166 µs, where pgbench's client uses ~30 µs per transaction (`submit-load` prints
//! each). Each call crosses from the caller's task to the channel's buffer task to the
//! connection's task and back, on a multi-threaded runtime. This client is the same wire
//! protocol (HTTP/2, gRPC framing, the same protobuf messages and headers) without the
//! crossings: each thread runs a current-thread runtime with its share of the callers
//! and their connections, the way pgbench's `-j` threads each run their share of its
//! clients, so the server and Postgres get about the CPU that phones, each on its own
//! device, would leave them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use http::uri::{self, Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Uri};
use prost::Message;
use tokio::net::TcpStream;

/// One HTTP/2 connection to the server, for unary gRPC calls.
#[derive(Debug)]
pub struct Connection {
    send: h2::client::SendRequest<Bytes>,
    /// Parsed once: every call's URI is this and a static path.
    authority: Authority,
}

impl Connection {
    /// Connects and finishes the HTTP/2 handshake; the connection is driven by a task on
    /// the current runtime.
    pub async fn open(addr: &str) -> anyhow::Result<Self> {
        let sock: SocketAddr = addr.parse().with_context(|| format!("address {addr}"))?;
        let authority: Authority = addr.parse()?;
        let tcp = TcpStream::connect(sock).await?;
        tcp.set_nodelay(true)?;
        let (send, conn) = h2::client::handshake(tcp).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { send, authority })
    }

    /// Calls `path` (`/package.Service/Method`) with `msg`; Ok with the answer's bytes
    /// when the server answered grpc-status 0, else an error saying what it answered.
    pub async fn unary(
        &mut self,
        path: &'static str,
        authorization: &HeaderValue,
        msg: &impl Message,
    ) -> anyhow::Result<Bytes> {
        let len = msg.encoded_len();
        let mut body = BytesMut::with_capacity(5 + len);
        body.put_u8(0); // not compressed
        body.put_u32(u32::try_from(len)?);
        msg.encode(&mut body)?;
        let uri = Uri::from_parts({
            let mut parts = uri::Parts::default();
            parts.scheme = Some(Scheme::HTTP);
            parts.authority = Some(self.authority.clone());
            parts.path_and_query = Some(PathAndQuery::from_static(path));
            parts
        })?;
        let request = Request::post(uri)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", authorization.clone())
            .body(())?;
        let mut send = self.send.clone().ready().await?;
        let (response, mut stream) = send.send_request(request, false)?;
        stream.send_data(body.freeze(), true)?;
        let response = response.await?;
        let (head, mut recv) = response.into_parts();
        if head.status != http::StatusCode::OK {
            bail!("HTTP status {}", head.status);
        }
        // A trailers-only answer (an error before any message) has its status in the head.
        if let Some(status) = head.headers.get("grpc-status") {
            bail!(
                "grpc-status {status:?} {:?}",
                head.headers.get("grpc-message")
            );
        }
        let mut answer = BytesMut::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk?;
            let _ = recv.flow_control().release_capacity(chunk.len());
            answer.extend_from_slice(&chunk);
        }
        let trailers = recv.trailers().await?.context("no trailers")?;
        match trailers.get("grpc-status").map(HeaderValue::as_bytes) {
            Some(b"0") => {}
            other => bail!("grpc-status {other:?} {:?}", trailers.get("grpc-message")),
        }
        if answer.len() < 5 {
            bail!("answer of {} bytes, no message", answer.len());
        }
        Ok(answer.freeze().slice(5..))
    }
}

/// What one caller did: how long each call that succeeded took, and how many failed.
#[derive(Debug, Default)]
pub struct Calls {
    pub latencies: Vec<Duration>,
    pub errors: usize,
}

impl Calls {
    /// Adds what another caller did.
    pub fn absorb(&mut self, other: Calls) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
    }
}

/// Callers started by [`run`], calling until their stop flag is set.
#[derive(Debug)]
pub struct Running {
    threads: Vec<std::thread::JoinHandle<anyhow::Result<Calls>>>,
}

impl Running {
    /// Waits for every caller to stop (after the stop flag is set) and sums what they did.
    pub fn join(self) -> anyhow::Result<Calls> {
        let mut all = Calls::default();
        for h in self.threads {
            all.absorb(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a load thread panicked"))??,
            );
        }
        Ok(all)
    }
}

/// Starts `callers` callers, each on its own connection to `addr`, spread over `threads`
/// OS threads (each a current-thread runtime), calling `path` with `make(caller, i)` for
/// its i-th call until `stop` is set. Returns once every connection is open, so the
/// caller's clock starts with the calls, not with the handshakes. Blocks: call it from
/// `spawn_blocking` in async code.
pub fn run<M, F>(
    addr: &str,
    authorization: &HeaderValue,
    path: &'static str,
    callers: usize,
    threads: usize,
    stop: &Arc<AtomicBool>,
    make: F,
) -> anyhow::Result<Running>
where
    M: Message + 'static,
    F: Fn(usize, u64) -> M + Send + Sync + 'static,
{
    let threads = threads.clamp(1, callers.max(1));
    let make = Arc::new(make);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
    let mut handles = Vec::new();
    for t in 0..threads {
        let mine: Vec<usize> = (0..callers).filter(|c| c % threads == t).collect();
        let (addr, auth, stop, make, ready) = (
            addr.to_owned(),
            authorization.clone(),
            Arc::clone(stop),
            Arc::clone(&make),
            ready_tx.clone(),
        );
        handles.push(std::thread::spawn(move || -> anyhow::Result<Calls> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut conns = Vec::new();
                for w in mine {
                    match Connection::open(&addr).await {
                        Ok(c) => conns.push((w, c)),
                        Err(e) => {
                            let _ = ready.send(Err(anyhow::anyhow!("{e:#}")));
                            return Err(e);
                        }
                    }
                }
                let _ = ready.send(Ok(()));
                let mut tasks = Vec::new();
                for (w, mut conn) in conns {
                    let (auth, stop, make) = (auth.clone(), Arc::clone(&stop), Arc::clone(&make));
                    tasks.push(tokio::spawn(async move {
                        let mut calls = Calls::default();
                        let mut i = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            i += 1;
                            let msg = make(w, i);
                            let started = Instant::now();
                            match conn.unary(path, &auth, &msg).await {
                                Ok(_) => calls.latencies.push(started.elapsed()),
                                Err(_) => calls.errors += 1,
                            }
                        }
                        calls
                    }));
                }
                let mut all = Calls::default();
                for t in tasks {
                    all.absorb(t.await?);
                }
                Ok(all)
            })
        }));
    }
    drop(ready_tx);
    for _ in 0..threads {
        ready_rx
            .recv()
            .context("a load thread stopped before connecting")??;
    }
    Ok(Running { threads: handles })
}
