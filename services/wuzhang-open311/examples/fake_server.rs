//! Serves the Open311 routes on the in-memory backend, so Open311 clients can be tried
//! against this crate alone (`tests/open311/client_check.py` at the repository root).
//!
//! ```text
//! cargo run -p wuzhang-open311 --example fake_server -- --port 8311 --api-key demo-key
//! ```
//!
//! Prints `listening on http://127.0.0.1:PORT/open311/v2` once it accepts connections
//! (with `--port 0`, the port the system chose), and stops on Ctrl-C or SIGTERM.

use std::sync::Arc;

use time::Duration;
use wuzhang_domain::category::{Category, CategoryCode, CategoryKind, DeadlineKind};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::SystemClock;
use wuzhang_open311::PREFIX;
use wuzhang_open311::memory::MemoryBackend;

const USAGE: &str = "usage: fake_server [--host 127.0.0.1] [--port 8311] [--api-key demo-key]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut host = "127.0.0.1".to_owned();
    let mut port = 8311u16;
    let mut api_key = "demo-key".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(USAGE);
        match arg.as_str() {
            "--host" => host = value()?,
            "--port" => port = value()?.parse().map_err(|_| USAGE)?,
            "--api-key" => api_key = value()?,
            _ => return Err(USAGE.into()),
        }
    }

    let backend =
        MemoryBackend::new(Arc::new(SystemClock), categories()).with_key(api_key, "fake-client");
    let app = wuzhang_open311::router(Arc::new(backend));
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}{PREFIX}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// A small taxonomy in the spirit of CJ/T 214: two groups (大类) and their cases.
fn categories() -> Vec<Category> {
    let c = |code: &str, name: &str, parent: Option<&str>, kind, hours: i64, urgent| Category {
        code: CategoryCode::new(code).expect("a valid code"),
        name: name.to_owned(),
        parent_code: parent.map(|p| CategoryCode::new(p).expect("a valid code")),
        kind,
        start_level: ChiefLevel::Grid,
        accept_within: Duration::hours(2),
        resolve_within: Duration::hours(hours),
        deadline_kind: DeadlineKind::Natural,
        urgent,
        calendar_code: "cn".to_owned(),
        duplicate_radius_m: 50.0,
        duplicate_window: Duration::hours(24),
        active: true,
        reopen_on_not_solved: false,
        organization_type: None,
    };
    use CategoryKind::{Component, Event};
    vec![
        c("01", "市容环境", None, Event, 24, false),
        c("0101", "暴露垃圾", Some("01"), Event, 24, false),
        c("0102", "违规停车", Some("01"), Event, 4, false),
        c("02", "公用设施", None, Component, 72, false),
        c("0201", "井盖缺失", Some("02"), Component, 4, true),
        c("0202", "路灯损坏", Some("02"), Component, 72, false),
    ]
}
