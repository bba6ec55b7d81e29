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
