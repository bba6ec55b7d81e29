//! Configuration: defaults, then a TOML file, then `WUZHANG_*` environment variables, then
//! command-line flags; each layer overrides the one before.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The services one process can run; `wuzhang serve` runs all of them unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceName {
    Intake,
    Routing,
    Escalation,
    Supervision,
    Admin,
}

impl ServiceName {
    pub const ALL: [ServiceName; 5] = [
        ServiceName::Intake,
        ServiceName::Routing,
        ServiceName::Escalation,
        ServiceName::Supervision,
        ServiceName::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Intake => "intake",
            ServiceName::Routing => "routing",
            ServiceName::Escalation => "escalation",
            ServiceName::Supervision => "supervision",
            ServiceName::Admin => "admin",
        }
    }
}

impl FromStr for ServiceName {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceName::ALL.into_iter().find(|n| n.as_str() == s.trim()).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown service {s:?}: expected intake, routing, escalation, supervision or admin"
            )
        })
    }
}

/// Parses a comma-separated list of services; `all` or empty means every one.
pub fn parse_services(list: &str) -> anyhow::Result<Vec<ServiceName>> {
    let list = list.trim();
    if list.is_empty() || list == "all" {
        return Ok(ServiceName::ALL.to_vec());
    }
    let mut out = Vec::new();
    for part in list.split(',') {
        let name: ServiceName = part.parse()?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Where gRPC listens. Port 0 picks a free port (printed on start).
    pub listen: SocketAddr,
    /// Where the embedded store and the generated signing key live.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL + PostGIS; unset means the SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Connections per process to the database.
    pub max_db_connections: u32,
    /// Comma-separated services to run (`all` by default).
    pub services: String,
    /// The HS256 signing key file (base64), created on first start if missing. Defaults to
    /// `jwt.key` in `data_dir`.
    pub jwt_key_file: Option<PathBuf>,
    /// The signing key itself (base64), for deployments that pass secrets by environment
    /// (`WUZHANG_JWT_SECRET`); overrides the key file.
    pub jwt_secret: Option<String>,
    /// A point outside every grid but this close to one (metres) is placed in it, and the
    /// answer says it was a fallback. 0 turns the fallback off.
    pub locate_tolerance_m: f64,
    /// How often each process checks the store for changed areas and rebuilds its index.
    pub index_refresh_ms: u64,
    /// At most how long a roster or category change made by another process goes unseen
    /// by this one's cache (its own changes are seen at once).
    pub reference_refresh_ms: u64,
    /// Where HTTP listens: the API as JSON (`/v1/…`, `/openapi.json`), Open311
    /// (`/open311/v2/…`), media downloads (`/media/…`) and `/healthz`. Port 0 picks a free
    /// port (printed on start).
    pub http_listen: SocketAddr,
    /// The address clients reach HTTP at (e.g. `https://wuzhang.example.cn`), used in the
    /// media URLs handed out; unset means `http://` + the HTTP listen address.
    pub public_url: Option<String>,
    /// Where uploaded photos and videos go: a directory, or an object store URL
    /// (`s3://bucket/prefix`, configured by the AWS_* variables). Unset means `media` in
    /// `data_dir`.
    pub media_store: Option<String>,
    /// Open311 clients: comma-separated `api_key=app-name` pairs. Empty: Open311 answers
    /// reads of services but refuses every key.
    pub open311_api_keys: String,
    /// Browser origins allowed to call the API from their pages (CORS), on the HTTP port
    /// and by grpc-web on the gRPC port: comma-separated (`https://cc.example.cn,…`).
    /// Empty: none (a page served from another origin cannot call it).
    pub cors_allowed_origins: String,
    /// How long a request_id is remembered (hours): a retry within it gets the first
    /// answer; after it the id may be used again.
    pub idempotency_ttl_hours: u64,
    /// How often each process reads the event log for changes made by other processes
    /// (milliseconds); its own writes wake the readers at once.
    pub event_poll_ms: u64,
    /// Timer worker tasks in this process (0: none, e.g. a replica that only serves). Any
    /// number of processes may run workers: each due timer fires once.
    pub timer_workers: usize,
    /// How often an idle timer worker looks for due timers (milliseconds); deadlines of
    /// a few seconds (drills, demos) fire within this much of their time.
    pub timer_poll_ms: u64,
    /// How often the event log is folded into the evaluation rollups and dashboard counts
    /// (milliseconds). Reads that need them fold the rest first, so this bounds how much
    /// such a read may have to fold, not how fresh it is.
    pub rollup_poll_ms: u64,
    /// Weights of the composite evaluation score (综合得分), per city: a table with
    /// `response`, `on_time`, `resolution`, `satisfaction`, `rework` (docs/evaluation.md).
    pub evaluation_weights: wuzhang_domain::evaluation::Weights,
    /// Thresholds of the grids' lights (亮灯) on the command center's map: a table with
    /// `red_overdue` (default 3), `red_supervised` (2) and `yellow_open` (10), each at
    /// least 1. Red from that many overdue or supervised open tickets; else yellow from one
    /// overdue or supervised, or `yellow_open` open; else green (proto `GridLight`).
    pub grid_light: wuzhang_supervision::GridLights,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("wuzhang-data"),
            database_url: None,
            max_db_connections: 16,
            services: "all".into(),
            jwt_key_file: None,
            jwt_secret: None,
            locate_tolerance_m: 50.0,
            index_refresh_ms: 2000,
            reference_refresh_ms: 500,
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            media_store: None,
            open311_api_keys: String::new(),
            cors_allowed_origins: String::new(),
            idempotency_ttl_hours: 24,
            event_poll_ms: 500,
            timer_workers: 1,
            timer_poll_ms: 1000,
            rollup_poll_ms: 1000,
            evaluation_weights: wuzhang_domain::evaluation::Weights::default(),
            grid_light: wuzhang_supervision::GridLights::default(),
        }
    }
}

impl Config {
    /// Loads the layers. `file` is read if given (it must then exist) or if `wuzhang.toml`
    /// exists in the working directory; `overrides` are the command-line flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "config file {} does not exist",
                    path.display()
                );
                fig = fig.merge(Toml::file(path));
            }
            None => fig = fig.merge(Toml::file("wuzhang.toml")),
        }
        fig = fig.merge(Env::prefixed("WUZHANG_").ignore(&["test_pg_url", "require_pg"]));
        fig = fig.merge(Serialized::defaults(overrides));
        let config: Config = fig.extract()?;
        parse_services(&config.services)?;
        anyhow::ensure!(
            config.locate_tolerance_m.is_finite()
                && (0.0..=10_000.0).contains(&config.locate_tolerance_m),
            "locate_tolerance_m must be within [0, 10000] metres"
        );
        anyhow::ensure!(
            config.index_refresh_ms >= 100,
            "index_refresh_ms must be at least 100"
        );
        anyhow::ensure!(
            config.event_poll_ms >= 10,
            "event_poll_ms must be at least 10"
        );
        anyhow::ensure!(
            config.idempotency_ttl_hours >= 1,
            "idempotency_ttl_hours must be at least 1"
        );
        anyhow::ensure!(
            config.timer_poll_ms >= 10,
            "timer_poll_ms must be at least 10"
        );
        anyhow::ensure!(
            config.rollup_poll_ms >= 10,
            "rollup_poll_ms must be at least 10"
        );
        config
            .evaluation_weights
            .check()
            .map_err(|e| anyhow::anyhow!("evaluation_weights: {e}"))?;
        config
            .grid_light
            .check()
            .map_err(|e| anyhow::anyhow!("grid_light: {e}"))?;
        config.open311_keys()?;
        config.cors_origins()?;
        Ok(config)
    }

    /// The database to open: the configured URL, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("wuzhang.db").display()),
        }
    }

    pub fn jwt_key_file(&self) -> PathBuf {
        self.jwt_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("jwt.key"))
    }

    /// The Open311 keys as api_key → app name.
    pub fn open311_keys(&self) -> anyhow::Result<std::collections::HashMap<String, String>> {
        let mut keys = std::collections::HashMap::new();
        for pair in self
            .open311_api_keys
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let (key, name) = pair.trim().split_once('=').ok_or_else(|| {
                anyhow::anyhow!("open311_api_keys: {pair:?} is not api_key=app-name")
            })?;
            anyhow::ensure!(
                !key.is_empty() && !name.is_empty(),
                "open311_api_keys: {pair:?} has an empty key or name"
            );
            keys.insert(key.to_owned(), name.to_owned());
        }
        Ok(keys)
    }

    /// The CORS origins, each checked to be an origin (`scheme://host[:port]`).
    pub fn cors_origins(&self) -> anyhow::Result<Vec<http::HeaderValue>> {
        self.cors_allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let ok = (o.starts_with("https://") || o.starts_with("http://"))
                    && !o.trim_end_matches('/').contains(['?', '#'])
                    && o.split("://")
                        .nth(1)
                        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
                anyhow::ensure!(
                    ok,
                    "cors_allowed_origins: {o:?} is not an origin (scheme://host[:port], no path)"
                );
                http::HeaderValue::from_str(o)
                    .map_err(|e| anyhow::anyhow!("cors_allowed_origins: {o:?}: {e}"))
            })
            .collect()
    }

    /// Where media is kept.
    pub fn media_store(&self) -> String {
        self.media_store
            .clone()
            .unwrap_or_else(|| self.data_dir.join("media").display().to_string())
    }

    pub fn services(&self) -> Vec<ServiceName> {
        parse_services(&self.services).unwrap_or_else(|_| ServiceName::ALL.to_vec())
    }
}

/// Command-line flags that override the other layers; unset flags override nothing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<SocketAddr>,
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                r#"
                listen = "127.0.0.1:7000"
                data_dir = "from-file"
                services = "intake,routing"
                "#,
            )?;
            jail.set_env("WUZHANG_DATA_DIR", "from-env");
            let over = Overrides {
                listen: Some("127.0.0.1:0".parse().unwrap()),
                ..Default::default()
            };
            let c =
                Config::load(Some(Path::new("custom.toml")), &over).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 0, "flags win");
            assert_eq!(c.data_dir, PathBuf::from("from-env"), "env beats file");
            assert_eq!(
                c.services(),
                vec![ServiceName::Intake, ServiceName::Routing]
            );
            assert_eq!(c.database_url(), "sqlite://from-env/wuzhang.db");
            assert_eq!(c.jwt_key_file(), PathBuf::from("from-env/jwt.key"));
            assert_eq!(
                c.grid_light,
                wuzhang_supervision::GridLights::default(),
                "documented defaults"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WUZHANG_SERVICES", "intake,teleport");
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("teleport"), "{err}");
            jail.set_env("WUZHANG_SERVICES", "all");
            jail.set_env("WUZHANG_LISTEN", "not-an-address");
            assert!(Config::load(None, &Overrides::default()).is_err());
            assert!(Config::load(Some(Path::new("missing.toml")), &Overrides::default()).is_err());
            jail.set_env("WUZHANG_LISTEN", "127.0.0.1:0");
            jail.create_file("lights.toml", "[grid_light]\nred_overdue = 0\n")?;
            let err =
                Config::load(Some(Path::new("lights.toml")), &Overrides::default()).unwrap_err();
            assert_eq!(
                err.to_string(),
                "grid_light: red_overdue must be at least 1"
            );
            Ok(())
        });
    }
}
