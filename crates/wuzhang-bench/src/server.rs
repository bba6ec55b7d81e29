//! A started `wuzhang serve` for load tools: spawned from the release binary on port 0,
//! seeded with the small test tree and roster, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tonic::transport::Channel;
use wuzhang_proto::v1::admin_service_client::AdminServiceClient;
use wuzhang_proto::v1::routing_service_client::RoutingServiceClient;
use wuzhang_proto::v1::{
    Crs, GeoPoint, ImportAreasRequest, ImportRosterRequest, LocateRequest, import_areas_request,
};

/// A started `wuzhang serve`, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: String,
    /// Where HTTP (the API as JSON, Open311, media) listens.
    pub http_addr: String,
    data_dir: DataDir,
    database_url: Option<String>,
}

/// Where the server keeps its files (an embedded store, the token key): a temporary
/// directory, removed with the server, or one kept between runs (a benchmark's seeded
/// store, read again without seeding it again).
#[derive(Debug)]
pub enum DataDir {
    Temp(tempfile::TempDir),
    Kept(std::path::PathBuf),
}

impl DataDir {
    pub fn path(&self) -> &Path {
        match self {
            DataDir::Temp(t) => t.path(),
            DataDir::Kept(p) => p,
        }
    }
}

impl From<tempfile::TempDir> for DataDir {
    fn from(t: tempfile::TempDir) -> Self {
        DataDir::Temp(t)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `bin serve` on SQLite in a temporary directory, or on `database_url`.
    pub fn start(bin: &Path, database_url: Option<String>) -> anyhow::Result<Server> {
        Self::start_with(bin, tempfile::tempdir()?, database_url, &[])
    }

    /// Starts `bin serve` with `data_dir` (where an embedded store may already be
    /// seeded: `wuzhang.db`) and extra `WUZHANG_*` settings in `env`.
    pub fn start_with(
        bin: &Path,
        data_dir: impl Into<DataDir>,
        database_url: Option<String>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let data_dir = data_dir.into();
        let mut cmd = Command::new(bin);
        cmd.envs(env.iter().copied());
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env(
            "RUST_LOG",
            std::env::var("LOAD_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env("WUZHANG_MAX_DB_CONNECTIONS", "32")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        if let Some(url) = &database_url {
            cmd.arg("--database-url").arg(url);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("wuzhang: grpc listening on ") {
                    let _ = tx.send((true, a.trim().to_owned()));
                }
                if let Some(a) = line.strip_prefix("wuzhang: http listening on ") {
                    let _ = tx.send((false, a.trim().to_owned()));
                }
            }
        });
        let (mut addr, mut http_addr) = (None, None);
        while addr.is_none() || http_addr.is_none() {
            let (grpc, a) = rx
                .recv_timeout(Duration::from_secs(60))
                .context("the server did not start")?;
            if grpc {
                addr = Some(a);
            } else {
                http_addr = Some(a);
            }
        }
        let (Some(addr), Some(http_addr)) = (addr, http_addr) else {
            bail!("the server did not announce its addresses");
        };
        Ok(Server {
            child,
            addr,
            http_addr,
            data_dir,
            database_url,
        })
    }

    pub fn mint(&self, bin: &Path, role: &str, subject: &str) -> anyhow::Result<String> {
        self.mint_scoped(bin, role, subject, &[])
    }

    /// A token for `role` acting for the areas of `scope` (command centers: subdistricts;
    /// chiefs: their posts).
    pub fn mint_scoped(
        &self,
        bin: &Path,
        role: &str,
        subject: &str,
        scope: &[&str],
    ) -> anyhow::Result<String> {
        let mut cmd = Command::new(bin);
        cmd.args(["token", "mint", "--role", role, "--subject", subject]);
        if !scope.is_empty() {
            cmd.arg("--scope").arg(scope.join(","));
        }
        cmd.arg("--data-dir").arg(self.data_dir.path());
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        let out = cmd.output()?;
        anyhow::ensure!(out.status.success(), "token mint failed");
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(format!("http://{}", self.addr))?
            .connect()
            .await?)
    }
}

pub fn authed<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    r
}

fn fixture(name: &str) -> anyhow::Result<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    std::fs::read(&path).with_context(|| format!("read {}", path.display()))
}

/// Imports the small test tree and roster and waits for the index to follow.
pub async fn seed(server: &Server, bin: &Path) -> anyhow::Result<String> {
    let admin = server.mint(bin, "admin", "admin")?;
    let mut client = AdminServiceClient::new(server.channel().await?);
    client
        .import_areas(authed(
            &admin,
            ImportAreasRequest {
                request_id: "load-areas".into(),
                source: Some(import_areas_request::Source::Geojson(fixture(
                    "small-tree.geojson",
                )?)),
                ..Default::default()
            },
        ))
        .await?;
    client
        .import_roster(authed(
            &admin,
            ImportRosterRequest {
                request_id: "load-roster".into(),
                csv: fixture("small-roster.csv")?,
                dry_run: false,
            },
        ))
        .await?;
    let mut routing = RoutingServiceClient::new(server.channel().await?);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = routing
            .locate(authed(
                &admin,
                LocateRequest {
                    point: Some(point(0)),
                    ..Default::default()
                },
            ))
            .await;
        if r.is_ok() {
            return Ok(admin);
        }
        anyhow::ensure!(Instant::now() < deadline, "index never caught up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Spread over both grids of the test tree.
pub fn point(i: u64) -> GeoPoint {
    let x = (i.wrapping_mul(2_654_435_761) % 10_000) as f64 / 10_000.0;
    let y = (i.wrapping_mul(40_503) % 10_000) as f64 / 10_000.0;
    GeoPoint {
        lat: 43.8001 + y * 0.0098,
        lng: 125.3001 + x * 0.0198,
        crs: Crs::Wgs84 as i32,
    }
}

impl Server {
    /// The server's resident memory in bytes (Linux), for per-connection costs.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }

    /// CPU time the server has used so far, user and system (Linux). Less noisy than
    /// throughput on a shared machine: what one request costs the server whatever else
    /// runs.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        crate::stats::proc_stat_cpu(&stat).map(|(_, cpu)| cpu)
    }
}
