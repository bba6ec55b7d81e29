//! SubmitIncident over HTTP/JSON (the gateway) against the same call over gRPC, on one
//! server, in one run (issue 23: HTTP ≥ 0.8× gRPC).
//!
//! ```text
//! cargo build --release -p wuzhang -p wuzhang-bench
//! target/release/http-load [--concurrency 1,16,64] [--seconds 10] [--pg-url URL]
//! ```
//!
//! One `wuzhang serve` (the embedded store, or Postgres at `--pg-url` in a fresh schema)
//! with the small test tree. For each concurrency, gRPC first: that many callers, each on
//! its own connection (tonic's client), submit for `--seconds`; then HTTP: as many callers,
//! each on its own keep-alive HTTP/1.1 connection (as a mini-program's `wx.request` or a
//! browser's `fetch` holds one), post the same report as JSON to `/v1/incidents` and read
//! the JSON answer. Every submission is a new ticket (a category that never merges), so
//! both sides do the same durable work; the difference is the door.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use wuzhang_bench::server::{Server, authed, point, seed};
use wuzhang_bench::stats::{Summary, summarise};
use wuzhang_proto::v1::SubmitIncidentRequest;
use wuzhang_proto::v1::intake_service_client::IntakeServiceClient;

/// A category that never merges (duplicate radius 0), so every submission is a new ticket.
const CATEGORY: &str = "N0103";

struct Args {
    concurrency: Vec<usize>,
    seconds: u64,
    pg_url: Option<String>,
    wuzhang: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let me = std::env::current_exe()?;
    let mut a = Args {
        concurrency: vec![1, 16, 64],
        seconds: 10,
        pg_url: None,
        wuzhang: me.with_file_name("wuzhang"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut v = || args.next().context("value");
        match arg.as_str() {
            "--concurrency" => {
                a.concurrency = v()?.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            "--seconds" => a.seconds = v()?.parse()?,
            "--pg-url" => a.pg_url = Some(v()?),
            "--wuzhang" => a.wuzhang = v()?.into(),
            other => bail!("unknown argument {other}"),
        }
    }
    anyhow::ensure!(a.wuzhang.exists(), "{} not built", a.wuzhang.display());
    Ok(a)
}

/// What one caller's `i`-th submission says, as gRPC and as JSON.
fn report(tag: &str, w: usize, i: u64) -> (SubmitIncidentRequest, String) {
    let p = point((w as u64) << 32 | i);
    let request_id = format!("{tag}-{w}-{i}");
    let json = serde_json::json!({
        "requestId": request_id,
        "categoryCode": CATEGORY,
        "description": "楼道堆放杂物，影响通行",
        "location": {"lat": p.lat, "lng": p.lng, "crs": "CRS_WGS84"},
        "contactPhone": "13800138000",
    })
    .to_string();
    let grpc = SubmitIncidentRequest {
        request_id,
        category_code: CATEGORY.into(),
        description: "楼道堆放杂物，影响通行".into(),
        location: Some(p),
        contact_phone: "13800138000".into(),
        ..Default::default()
    };
    (grpc, json)
}

/// One keep-alive HTTP/1.1 connection.
struct Http {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Http {
    async fn connect(addr: &str) -> anyhow::Result<Self> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(s),
            host: addr.to_owned(),
        })
    }

    /// POSTs `body` as JSON to `path`; the answer's status and body.
    async fn post(
        &mut self,
        path: &str,
        token: &str,
        body: &str,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.reader.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status: u16 = line.split(' ').nth(1).context("status line")?.parse()?;
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse()?;
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

/// Throughput and latencies of one side at one concurrency.
struct Side {
    calls_per_s: f64,
    latency: Summary,
}

/// Runs `call` on every caller in turn-after-turn loops for `secs`: its `i`-th call for
/// caller `w` takes the caller and gives it back.
async fn drive<C, F, Fut>(callers: Vec<C>, secs: u64, call: F) -> anyhow::Result<Side>
where
    C: Send + 'static,
    F: Fn(C, usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<C>> + Send,
{
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let tasks: Vec<_> = callers
        .into_iter()
        .enumerate()
        .map(|(w, mut c)| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0u64;
                while Instant::now() < until {
                    let t = Instant::now();
                    c = call(c, w, i).await?;
                    lat.push(t.elapsed());
                    i += 1;
                }
                anyhow::Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Side {
        calls_per_s: all.len() as f64 / elapsed,
        latency: summarise(&mut all),
    })
}

async fn run_grpc(
    server: &Server,
    token: &str,
    callers: usize,
    secs: u64,
    tag: &str,
) -> anyhow::Result<Side> {
    let mut clients = Vec::with_capacity(callers);
    for _ in 0..callers {
        clients.push(IntakeServiceClient::new(server.channel().await?));
    }
    let (token, tag) = (Arc::new(token.to_owned()), Arc::new(tag.to_owned()));
    drive(clients, secs, move |mut c, w, i| {
        let (token, tag) = (Arc::clone(&token), Arc::clone(&tag));
        async move {
            let (req, _) = report(&tag, w, i);
            c.submit_incident(authed(&token, req)).await?;
            Ok(c)
        }
    })
    .await
}

async fn run_http(
    server: &Server,
    token: &str,
    callers: usize,
    secs: u64,
    tag: &str,
) -> anyhow::Result<Side> {
    let mut conns = Vec::with_capacity(callers);
    for _ in 0..callers {
        conns.push(Http::connect(&server.http_addr).await?);
    }
    let (token, tag) = (Arc::new(token.to_owned()), Arc::new(tag.to_owned()));
    drive(conns, secs, move |mut c, w, i| {
        let (token, tag) = (Arc::clone(&token), Arc::clone(&tag));
        async move {
            let (_, json) = report(&tag, w, i);
            let (status, body) = c.post("/v1/incidents", &token, &json).await?;
            anyhow::ensure!(
                status == 200,
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
            Ok(c)
        }
    })
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let server = Server::start(&args.wuzhang, args.pg_url.clone())?;
    seed(&server, &args.wuzhang).await?;
    let token = server.mint(&args.wuzhang, "resident", "load")?;
    let store = if args.pg_url.is_some() {
        "Postgres"
    } else {
        "SQLite"
    };
    println!("SubmitIncident, {store}, {} s a side", args.seconds);
    println!(
        "| callers | gRPC calls/s (p50 / p99 ms) | HTTP/JSON calls/s (p50 / p99 ms) | HTTP ÷ gRPC |"
    );
    println!("|---|---|---|---|");
    for c in &args.concurrency {
        let grpc = run_grpc(&server, &token, *c, args.seconds, &format!("g{c}")).await?;
        let http = run_http(&server, &token, *c, args.seconds, &format!("h{c}")).await?;
        let ms = |ns: f64| ns / 1e6;
        println!(
            "| {c} | {:.0} ({:.2} / {:.2}) | {:.0} ({:.2} / {:.2}) | {:.2}× |",
            grpc.calls_per_s,
            ms(grpc.latency.p50_ns),
            ms(grpc.latency.p99_ns),
            http.calls_per_s,
            ms(http.latency.p50_ns),
            ms(http.latency.p99_ns),
            http.calls_per_s / grpc.calls_per_s
        );
    }
    Ok(())
}
