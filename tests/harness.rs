//! Harness for end-to-end tests, compiled into each of them (`mod harness`). They are
//! integration tests of the `wuzhang` package (`services/wuzhang/Cargo.toml` lists them),
//! so `cargo test` builds the binary they start and names it (`CARGO_BIN_EXE_wuzhang`).
//! It starts the real `wuzhang` binary on port 0 with its own data directory (and, for Postgres, its own schema), mints tokens with the binary's own
//! `token` command, and stops the process with SIGTERM as an operator would.
//!
//! Layout:
//! - [`Server`]: a started binary; dropping it stops it.
//! - [`fresh_pg_url`]: a Postgres URL on a new, empty schema, or a skip.

// Each test file uses a part of the harness; it is not a public API.
#![allow(dead_code, unreachable_pub)]

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// The `wuzhang` binary Cargo built for this very test run (the tests are integration
/// tests of the binary's package, so Cargo builds it first and names it here: a stale
/// build can never be picked up).
pub fn binary_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wuzhang"))
}

/// The repository's `tests/` folder (fixtures, the Open311 client).
pub fn tests_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

/// A running `wuzhang serve`.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// Where gRPC listens.
    pub addr: std::net::SocketAddr,
    /// Where HTTP (Open311, media, /healthz) listens.
    pub http_addr: std::net::SocketAddr,
    /// The process's data directory (SQLite file and signing key).
    pub data_dir: tempfile::TempDir,
    database_url: Option<String>,
    /// The extra environment it was started with, given to `token mint` too (a test
    /// clock must be the same for both).
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts `wuzhang serve --listen 127.0.0.1:0` on SQLite, plus `extra` arguments.
    pub fn start(extra: &[&str]) -> anyhow::Result<Server> {
        Self::start_with(None, None, extra)
    }

    /// As [`Server::start`], on the given Postgres URL when `Some`, and in an existing data
    /// directory when `Some` (a restart).
    pub fn start_with(
        database_url: Option<String>,
        data_dir: Option<tempfile::TempDir>,
        extra: &[&str],
    ) -> anyhow::Result<Server> {
        Self::start_env(database_url, data_dir, &[], extra)
    }

    /// As [`Server::start_with`], with extra environment variables (configuration such
    /// as `WUZHANG_OPEN311_API_KEYS`).
    pub fn start_env(
        database_url: Option<String>,
        data_dir: Option<tempfile::TempDir>,
        env: &[(&str, &str)],
        extra: &[&str],
    ) -> anyhow::Result<Server> {
        let data_dir = match data_dir {
            Some(d) => d,
            None => tempfile::tempdir()?,
        };
        let mut cmd = Command::new(binary_path());
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--http-listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(extra)
            .env_remove("WUZHANG_CONFIG")
            .env_remove("WUZHANG_DATABASE_URL")
            .envs(env.iter().copied())
            .env(
                "RUST_LOG",
                std::env::var("TEST_LOG").map_or("warn".into(), |_| "info".to_string()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        if let Some(url) = &database_url {
            cmd.arg("--database-url").arg(url);
        }
        let mut child = cmd.spawn().context("spawn wuzhang")?;
        let stdout = child.stdout.take().context("stdout")?;
        // Read the announced address on a thread so a silent process cannot hang the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("wuzhang: grpc listening on ") {
                    let _ = tx.send(("grpc", addr.trim().to_owned()));
                }
                if let Some(addr) = line.strip_prefix("wuzhang: http listening on ") {
                    let _ = tx.send(("http", addr.trim().to_owned()));
                }
            }
        });
        let (mut addr, mut http_addr) = (None, None);
        while addr.is_none() || http_addr.is_none() {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(("grpc", a)) => addr = Some(a.parse().context("announced address")?),
                Ok((_, a)) => http_addr = Some(a.parse().context("announced address")?),
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait()?;
                    bail!("wuzhang did not announce its addresses (exit: {status})");
                }
            }
        }
        let (Some(addr), Some(http_addr)) = (addr, http_addr) else {
            unreachable!("both addresses were announced")
        };
        Ok(Server {
            child: Some(child),
            addr,
            http_addr,
            data_dir,
            database_url,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
    }

    /// A connected gRPC channel.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(format!("http://{}", self.addr))?
            .connect()
            .await?)
    }

    /// Runs `wuzhang token mint` against this server's key and returns the token.
    pub fn mint(&self, role: &str, subject: &str, scope: &[&str]) -> anyhow::Result<String> {
        self.mint_for(role, subject, scope, 24)
    }

    /// As [`Server::mint`], valid for `hours`.
    pub fn mint_for(
        &self,
        role: &str,
        subject: &str,
        scope: &[&str],
        hours: u32,
    ) -> anyhow::Result<String> {
        let mut cmd = Command::new(binary_path());
        cmd.args(["token", "mint", "--role", role, "--subject", subject])
            .arg("--ttl-hours")
            .arg(hours.to_string())
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .env_remove("WUZHANG_CONFIG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !scope.is_empty() {
            cmd.arg("--scope").arg(scope.join(","));
        }
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        let out = cmd.output()?;
        if !out.status.success() {
            bail!(
                "token mint failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// Sends SIGTERM and waits for the exit; returns whether it exited cleanly in time.
    #[allow(clippy::disallowed_methods)] // polls a child process; no logic depends on the time
    pub fn terminate(&mut self, within: Duration) -> anyhow::Result<bool> {
        let Some(mut child) = self.child.take() else {
            return Ok(false);
        };
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let start = Instant::now();
        while start.elapsed() < within {
            if let Some(status) = child.try_wait()? {
                return Ok(status.success());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        Ok(false)
    }
}

impl Server {
    /// Kills the process and hands back its data directory, for a restart on the same data.
    pub fn stop(mut self) -> tempfile::TempDir {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `request` with `authorization: Bearer <token>`.
pub fn authed<T>(token: &str, request: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(request);
    r.metadata_mut().insert(
        "authorization",
        tonic::metadata::MetadataValue::try_from(format!("Bearer {token}")).expect("ascii token"),
    );
    r
}

/// A resident's report of a street light out (category `category`) at `location`, with a
/// call-back number, submitted over gRPC; panics unless it is accepted.
pub async fn submit_report(
    server: &Server,
    resident: &str,
    request_id: &str,
    category: &str,
    location: wuzhang_proto::v1::GeoPoint,
) -> wuzhang_proto::v1::Ticket {
    let mut intake = wuzhang_proto::v1::intake_service_client::IntakeServiceClient::new(
        server.channel().await.expect("channel"),
    );
    intake
        .submit_incident(authed(
            resident,
            wuzhang_proto::v1::SubmitIncidentRequest {
                request_id: request_id.into(),
                category_code: category.into(),
                description: "路灯不亮".into(),
                location: Some(location),
                contact_phone: "13912345678".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("submitted")
        .into_inner()
}

/// The wall clock `secs` seconds from now (negative: ago), as the API takes times.
pub fn secs_from_now(secs: i64) -> prost_types::Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    prost_types::Timestamp {
        seconds: now.as_secs() as i64 + secs,
        nanos: 0,
    }
}

/// A file under `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = tests_dir().join("fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file under the repository's `data/`.
pub fn data_file(name: &str) -> Vec<u8> {
    let path = tests_dir().join("../data").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Postgres URL whose connections use a new, empty schema (PostGIS stays reachable in
/// `public`). `None` when `WUZHANG_TEST_PG_URL` is unset, unless `WUZHANG_REQUIRE_PG=1`,
/// which turns the skip into a failure.
pub async fn fresh_pg_url() -> Option<String> {
    let Ok(base) = std::env::var("WUZHANG_TEST_PG_URL") else {
        assert!(
            std::env::var("WUZHANG_REQUIRE_PG").as_deref() != Ok("1"),
            "WUZHANG_REQUIRE_PG=1 but WUZHANG_TEST_PG_URL is not set"
        );
        #[allow(clippy::print_stderr)] // a skipped test says so where cargo shows it
        {
            eprintln!("skipping: WUZHANG_TEST_PG_URL is not set");
        }
        return None;
    };
    let schema = format!("t_e2e_{:016x}", rand::random::<u64>());
    let pool = sqlx::PgPool::connect(&base)
        .await
        .expect("connect to WUZHANG_TEST_PG_URL");
    // The schema name is ours: a fixed prefix and hex digits.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create schema");
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!(
        "{base}{sep}options=-c%20search_path%3D{schema}%2Cpublic"
    ))
}

/// Imports the small test tree and its roster through AdminService and waits until the
/// server's index follows (a point in grid 1 locates). Returns the admin token used.
///
/// The tree: subdistrict 220102001, street S01 (vacant), lane L01 (李路长 P002), grids
/// 220102001001001 (张网格 P003) and …002, building B01 (holder on leave, deputy P005
/// acting), unit U1 (孙单元长 P006).
pub async fn seed_small_tree(server: &Server) -> String {
    let admin = server
        .mint("admin", "admin", &[])
        .expect("mint an admin token");
    seed_small_tree_as(server, &admin).await;
    admin
}

/// As [`seed_small_tree`], with the given admin token.
pub async fn seed_small_tree_as(server: &Server, admin: &str) {
    use wuzhang_proto::v1::admin_service_client::AdminServiceClient;
    use wuzhang_proto::v1::routing_service_client::RoutingServiceClient;
    use wuzhang_proto::v1::{
        Crs, GeoPoint, ImportAreasRequest, ImportRosterRequest, LocateRequest, import_areas_request,
    };
    let mut client = AdminServiceClient::new(server.channel().await.expect("connect"));
    client
        .import_areas(authed(
            admin,
            ImportAreasRequest {
                request_id: "areas-1".into(),
                source: Some(import_areas_request::Source::Geojson(fixture(
                    "small-tree.geojson",
                ))),
                ..Default::default()
            },
        ))
        .await
        .expect("import the small tree");
    client
        .import_roster(authed(
            admin,
            ImportRosterRequest {
                request_id: "roster-1".into(),
                csv: fixture("small-roster.csv"),
                dry_run: false,
            },
        ))
        .await
        .expect("import the small roster");
    let mut routing = RoutingServiceClient::new(server.channel().await.expect("connect"));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = routing
            .locate(authed(
                admin,
                LocateRequest {
                    point: Some(GeoPoint {
                        lat: 43.807,
                        lng: 125.307,
                        crs: Crs::Wgs84 as i32,
                    }),
                    ..Default::default()
                },
            ))
            .await;
        match r {
            Ok(_) => return,
            Err(e) if e.code() == tonic::Code::NotFound && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the index never followed the import: {e:?}"),
        }
    }
}

/// Asserts INVALID_ARGUMENT with a google.rpc BadRequest naming `field`.
pub fn assert_field(err: &tonic::Status, field: &str) {
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let details = tonic_types::StatusExt::get_details_bad_request(err).expect("BadRequest");
    assert!(
        details.field_violations.iter().any(|v| v.field == field),
        "{field} named in {details:?}"
    );
}

/// A clock the started binary reads from a file (`WUZHANG_TEST_CLOCK_FILE`): a test moves
/// the whole process through days and months by setting it.
pub struct TestClock {
    dir: tempfile::TempDir,
}

impl TestClock {
    /// A clock at `rfc3339`.
    pub fn at(rfc3339: &str) -> TestClock {
        let clock = TestClock {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        clock.set(rfc3339);
        clock
    }

    /// The variable to start the binary with.
    pub fn env(&self) -> (&'static str, String) {
        (
            "WUZHANG_TEST_CLOCK_FILE",
            self.path().to_string_lossy().into_owned(),
        )
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("now")
    }

    /// Moves the clock to `rfc3339` (written whole, then renamed: never half-written).
    pub fn set(&self, rfc3339: &str) {
        let tmp = self.dir.path().join("now.tmp");
        std::fs::write(&tmp, rfc3339).expect("write the clock");
        std::fs::rename(&tmp, self.path()).expect("move the clock");
    }
}
