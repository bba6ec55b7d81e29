//! The gRPC server's accepted sockets, wrapped so that a small answer leaves in one write.
//!
//! h2 writes a DATA frame's payload from the caller's buffer (a second `writev` slice)
//! once it is over 256 bytes, and then cannot queue another frame until that write is
//! done. A unary answer is HEADERS, one DATA frame (a ticket is ~300–600 bytes) and the
//! trailers, so it went out as two writes: HEADERS and DATA, then the trailers alone.
//! The caller reads the first, finds no trailers and sleeps until the second: one more
//! system call here and one more wake-up of the caller for every call (strace of the
//! server under `submit-load`). Told the socket has no vectored writes, h2 copies
//! payloads of up to 1 KiB into its own buffer instead, and the whole answer is one write.
//! A payload above that still goes out from the caller's buffer (a second `write`).
//! It is h2's view of the socket that matters: were TLS put in front of this, the TLS
//! stream would be what h2 asks, and would have to say the same.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted TCP connection that reports no vectored writes (see the module docs).
#[derive(Debug)]
pub struct OneWrite(pub TcpStream);

impl AsyncRead for OneWrite {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for OneWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    /// The point of the type: h2 then buffers small payloads with their frame headers.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

impl Connected for OneWrite {
    type ConnectInfo = TcpConnectInfo;

    /// The peer's address as for a plain socket, so `Request::remote_addr` still works.
    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn passes_bytes_both_ways_and_keeps_the_peer_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let mut server = OneWrite(accepted);

        assert!(!server.is_write_vectored());
        assert_eq!(
            server.connect_info().remote_addr(),
            Some(client.local_addr().unwrap())
        );

        client.write_all(b"request").await.unwrap();
        let mut got = [0u8; 7];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"request");

        // A vectored write on a socket that says it has none still delivers everything
        // (one slice at a time), which is what h2 falls back to for big payloads.
        let parts = [io::IoSlice::new(b"head"), io::IoSlice::new(b"-body")];
        let mut sent = 0;
        while sent < 9 {
            let n = server
                .write_vectored(&parts_from(&parts, sent))
                .await
                .unwrap();
            sent += n;
        }
        server.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"head-body");
    }

    /// What h2 writes for a unary gRPC answer (HEADERS, a 500-byte DATA frame, trailers),
    /// counted in writes to the socket: one through [`OneWrite`], two through a plain
    /// socket (checked below, so the count can tell them apart).
    #[tokio::test]
    async fn a_small_answer_leaves_in_one_write() {
        assert_eq!(answer_writes(|s| Box::new(OneWrite(s))).await, 1);
        assert_eq!(answer_writes(|s| Box::new(s)).await, 2);
    }

    trait Socket: AsyncRead + AsyncWrite + Unpin + Send {}
    impl<T: AsyncRead + AsyncWrite + Unpin + Send> Socket for T {}

    /// Serves one h2 request on an accepted socket wrapped by `wrap` and returns how many
    /// writes carried the answer; a raw h2 client reads it whole (trailers included).
    async fn answer_writes(wrap: fn(TcpStream) -> Box<dyn Socket>) -> usize {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let (mut h2, conn) = h2::client::handshake(TcpStream::connect(addr).await.unwrap())
                .await
                .unwrap();
            tokio::spawn(conn);
            let req = http::Request::post("http://localhost/wuzhang.v1.X/Y")
                .body(())
                .unwrap();
            let (answer, _) = h2.send_request(req, true).unwrap();
            let mut body = answer.await.unwrap().into_body();
            let mut got = 0;
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                got += chunk.len();
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            let trailers = body.trailers().await.unwrap().unwrap();
            (got, trailers.get("grpc-status").cloned())
        });

        let (accepted, _) = listener.accept().await.unwrap();
        let writes = Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
        let socket = Counting {
            inner: wrap(accepted),
            writes: Arc::clone(&writes),
        };
        let mut conn = h2::server::handshake(socket).await.unwrap();
        let (_request, mut respond) = conn.accept().await.unwrap().unwrap();
        let before = writes.lock().unwrap().len();
        // All three frames are queued before the connection is polled again, as a
        // handler that answers at once queues them.
        let mut stream = respond
            .send_response(http::Response::new(()), false)
            .unwrap();
        stream
            .send_data(bytes::Bytes::from(vec![0xAB; 500]), false)
            .unwrap();
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        stream.send_trailers(trailers).unwrap();
        // Drive the connection until the client, having read everything, goes away.
        std::future::poll_fn(|cx| conn.poll_closed(cx)).await.ok();
        let (got, status) = client.await.unwrap();
        assert_eq!(got, 500);
        assert_eq!(status.as_ref().map(|v| v.as_bytes()), Some(&b"0"[..]));
        let after = writes.lock().unwrap().clone();
        // The answer's writes: those from the first to carry bytes after the request.
        let answer: Vec<usize> = after[before..].iter().copied().filter(|&n| n > 0).collect();
        assert!(answer.iter().sum::<usize>() > 500, "the answer was written");
        answer.len()
    }

    /// Counts the bytes of each write that went through.
    struct Counting {
        inner: Box<dyn Socket>,
        writes: Arc<std::sync::Mutex<Vec<usize>>>,
    }

    impl AsyncRead for Counting {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Counting {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let done = Pin::new(&mut self.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = &done {
                self.writes.lock().unwrap().push(*n);
            }
            done
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let done = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
            if let Poll::Ready(Ok(n)) = &done {
                self.writes.lock().unwrap().push(*n);
            }
            done
        }

        fn is_write_vectored(&self) -> bool {
            self.inner.is_write_vectored()
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// The slices left after the first `skip` bytes.
    fn parts_from<'a>(parts: &'a [io::IoSlice<'a>], mut skip: usize) -> Vec<io::IoSlice<'a>> {
        let mut left = Vec::new();
        for p in parts {
            if skip >= p.len() {
                skip -= p.len();
            } else {
                left.push(io::IoSlice::new(&p[skip..]));
                skip = 0;
            }
        }
        left
    }
}
