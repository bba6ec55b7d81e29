//! A gRPC call made in process on the server's own routes: the same interceptor (bearer
//! auth), handlers, validation and status mapping as a call over the network, without a
//! socket or HTTP/2 between them.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use tonic::Status;
use tonic::service::Routes;
use tower::ServiceExt;

/// Headers a caller's HTTP request passes on to the call as gRPC metadata: the bearer
/// token, and W3C trace context so a trace spans the gateway.
const PASSED_ON: [&str; 3] = ["authorization", "traceparent", "tracestate"];

/// A gRPC message frame: uncompressed flag, length, message.
pub(crate) fn frame(message: &[u8]) -> Result<Bytes, Status> {
    let len = u32::try_from(message.len())
        .map_err(|_| Status::resource_exhausted("request message over 4 GiB"))?;
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(len);
    out.put_slice(message);
    Ok(out.freeze())
}

/// The gRPC request for `path` (`/wuzhang.v1.IntakeService/SubmitIncident`) with `body`
/// (framed messages) and the caller's headers that matter.
fn grpc_request(
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Request<axum::body::Body>, Status> {
    let mut req = Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .version(http::Version::HTTP_2)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header("te", "trailers")
        .body(axum::body::Body::from(body))
        .map_err(|e| Status::internal(format!("gateway request: {e}")))?;
    for name in PASSED_ON {
        for value in headers.get_all(name) {
            req.headers_mut().append(name, value.clone());
        }
    }
    Ok(req)
}

/// Makes the call and takes its answer's head: the body to read, or the status of a call
/// refused before any message (a trailers-only answer: no token, out of scope, invalid).
async fn call(
    routes: &Routes,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<tonic::body::Body, Status> {
    let req = grpc_request(path, headers, body)?;
    let Ok(resp) = routes.clone().oneshot(req).await;
    let (parts, body) = resp.into_parts();
    match Status::from_header_map(&parts.headers) {
        Some(status) if status.code() != tonic::Code::Ok => Err(status),
        _ => Ok(body),
    }
}

/// The answer of a unary (or client-streaming) call: its one message, or its status.
pub(crate) async fn unary(
    routes: &Routes,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Bytes, Status> {
    let collected = call(routes, path, headers, body)
        .await?
        .collect()
        .await
        .map_err(|e| Status::internal(format!("gateway: the answer broke off: {e}")))?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let mut data = BytesMut::from(collected.to_bytes());
    if let Some(status) = Status::from_header_map(&trailers)
        && status.code() != tonic::Code::Ok
    {
        return Err(status);
    }
    let message = next_frame(&mut data)?
        .ok_or_else(|| Status::internal("gateway: the answer carried no message"))?;
    Ok(message)
}

/// A server stream's messages as they come, then its status (Ok at a clean end).
pub(crate) struct Stream {
    body: tonic::body::Body,
    buffer: BytesMut,
}

/// What a stream gives next.
pub(crate) enum Next {
    Message(Bytes),
    End(Status),
}

impl Stream {
    /// Opens the call; an error before the first message is the call's status.
    pub(crate) async fn open(
        routes: &Routes,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Self, Status> {
        Ok(Self {
            body: call(routes, path, headers, body).await?,
            buffer: BytesMut::new(),
        })
    }

    /// The next message, or the end with its status.
    pub(crate) async fn next(&mut self) -> Next {
        loop {
            match next_frame(&mut self.buffer) {
                Ok(Some(message)) => return Next::Message(message),
                Ok(None) => {}
                Err(status) => return Next::End(status),
            }
            match self.body.frame().await {
                None => {
                    return Next::End(if self.buffer.is_empty() {
                        Status::ok("")
                    } else {
                        Status::internal("gateway: the stream ended inside a message")
                    });
                }
                Some(Err(e)) => {
                    return Next::End(Status::unavailable(format!("stream broke off: {e}")));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        return Next::End(
                            Status::from_header_map(&trailers).unwrap_or_else(|| Status::ok("")),
                        );
                    }
                },
            }
        }
    }
}

/// Takes one whole frame's message off the front of `data`; `None` if it holds no whole
/// frame yet.
fn next_frame(data: &mut BytesMut) -> Result<Option<Bytes>, Status> {
    if data.len() < 5 {
        return Ok(None);
    }
    if data[0] != 0 {
        return Err(Status::internal(
            "gateway: a compressed answer was not asked for",
        ));
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    if data.len() < 5 + len {
        return Ok(None);
    }
    data.advance(5);
    Ok(Some(data.split_to(len).freeze()))
}
