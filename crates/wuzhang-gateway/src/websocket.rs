//! The server streams over WebSocket, for mini-programs (`wx.connectSocket`), which have no
//! `EventSource`: the same path as the Server-Sent Events, asked with `Upgrade: websocket`.
//! Each event is a text message (the event as JSON, which carries its `seq` / `cursor`; a
//! reconnect resumes with `?afterSeq=` / `?afterCursor=`). The token comes in the
//! `Authorization` header, as `wx.connectSocket` sends it, or, from a browser (whose
//! WebSocket cannot set headers), as the subprotocol `wuzhang.bearer.<token>`, which the
//! server then selects. A ping goes out every heartbeat. The stream's end closes the socket
//! normally (1000); an error sends `{"error": <google.rpc.Status>}` and closes with
//! 4000 + the code's HTTP status (4404, 4403, …).

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use prost_reflect::MessageDescriptor;
use tonic::Status;

use crate::call::{Next, Stream};

/// The subprotocol prefix a browser carries its token in.
const BEARER_PROTOCOL: &str = "wuzhang.bearer.";

/// The upgrade if the request asks for one, with the headers the call is to be made with
/// (the token from the subprotocol when there is no `Authorization`). `Err` is the answer
/// to a malformed upgrade.
pub(crate) async fn upgrade(
    parts: &mut http::request::Parts,
) -> Result<Option<(WebSocketUpgrade, HeaderMap)>, Response> {
    let asks = parts
        .headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !asks {
        return Ok(None);
    }
    let ws = WebSocketUpgrade::from_request_parts(parts, &())
        .await
        .map_err(IntoResponse::into_response)?;
    let mut headers = parts.headers.clone();
    let offered = parts
        .headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| p.starts_with(BEARER_PROTOCOL))
        .map(str::to_owned);
    let ws = match offered {
        Some(protocol) => {
            if !headers.contains_key(http::header::AUTHORIZATION)
                && let Ok(v) =
                    HeaderValue::from_str(&format!("Bearer {}", &protocol[BEARER_PROTOCOL.len()..]))
            {
                headers.insert(http::header::AUTHORIZATION, v);
            }
            ws.protocols([protocol])
        }
        None => ws,
    };
    Ok(Some((ws, headers)))
}

/// Streams `stream` to the socket until it ends, the client goes away or a send fails.
pub(crate) fn serve(
    ws: WebSocketUpgrade,
    mut stream: Stream,
    output: MessageDescriptor,
    heartbeat: Duration,
) -> Response {
    ws.on_upgrade(move |mut socket| async move {
        let mut ping = tokio::time::interval(heartbeat);
        ping.tick().await;
        loop {
            tokio::select! {
                next = stream.next() => match next {
                    Next::Message(bytes) => {
                        let text = crate::to_json(&output, bytes)
                            .and_then(|json| String::from_utf8(json).map_err(|e| Status::internal(e.to_string())));
                        match text {
                            Ok(text) => {
                                if socket.send(Message::Text(text.into())).await.is_err() {
                                    return;
                                }
                            }
                            Err(s) => return close_with(&mut socket, &s).await,
                        }
                    }
                    Next::End(s) if s.code() == tonic::Code::Ok => {
                        let _ = socket
                            .send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() })))
                            .await;
                        return;
                    }
                    Next::End(s) => return close_with(&mut socket, &s).await,
                },
                _ = ping.tick() => {
                    if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                        return;
                    }
                }
                incoming = socket.recv() => match incoming {
                    None | Some(Err(_) | Ok(Message::Close(_))) => return,
                    // The client has nothing to say on a watch; pongs and stray messages pass.
                    Some(Ok(_)) => {}
                },
            }
        }
    })
}

/// Sends the status and closes with 4000 + its HTTP status.
async fn close_with(socket: &mut WebSocket, status: &Status) {
    let body = serde_json::json!({ "error": crate::status::body(status) }).to_string();
    let _ = socket.send(Message::Text(body.into())).await;
    let code = 4000 + crate::status::http_status(status.code()).as_u16();
    // A close reason is at most 123 bytes.
    let mut reason = status.message().to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}
