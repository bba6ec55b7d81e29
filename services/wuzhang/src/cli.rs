//! The command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use time::Duration;
use wuzhang_domain::access::{Principal, Role};
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::clock::{Clock, SystemClock};

use crate::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "wuzhang",
    version,
    about = "五长 incident dispatch for grid-based urban governance"
)]
pub struct Cli {
    /// Configuration file (TOML). Defaults to ./wuzhang.toml when it exists.
    #[arg(long, global = true, env = "WUZHANG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded store and the signing key.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` for PostgreSQL + PostGIS; default: SQLite in the data directory.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC services.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Mint or check bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Comma-separated services to run: intake, routing, escalation, supervision, admin, or all.
    #[arg(long)]
    pub services: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a signed token for a role and scope.
    Mint {
        /// resident, chief, command_center or admin.
        #[arg(long)]
        role: Role,
        /// The caller's identity: a resident account or a chief's person id.
        #[arg(long, default_value = "admin")]
        subject: String,
        /// Area codes the token acts for (command centers: subdistricts; chiefs: posts).
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 24)]
        ttl_hours: i64,
    },
    /// Check a token and print who it names.
    Verify { token: String },
}

impl Cli {
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let serve = match &self.command {
            Command::Serve(s) => Some(s),
            _ => None,
        };
        let overrides = Overrides {
            listen: serve.and_then(|s| s.listen),
            services: serve.and_then(|s| s.services.clone()),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        };
        Config::load(self.config.as_deref(), &overrides)
    }
}

/// Runs a `token` subcommand, returning what to print.
pub fn token(config: &Config, command: &TokenCommand) -> anyhow::Result<String> {
    let keys = crate::app::load_keys(config)?;
    let now = SystemClock.now();
    match command {
        TokenCommand::Mint {
            role,
            subject,
            scope,
            ttl_hours,
        } => {
            anyhow::ensure!(*ttl_hours > 0, "--ttl-hours must be positive");
            let scope = scope
                .iter()
                .map(|c| AreaCode::new(c.as_str()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--scope: {}", e.reason))?;
            let principal = Principal {
                subject: subject.clone(),
                role: *role,
                scope,
            };
            Ok(keys.mint(&principal, Duration::hours(*ttl_hours), now)?)
        }
        TokenCommand::Verify { token } => {
            let p = keys.verify(token, now)?;
            let scope: Vec<&str> = p.scope.iter().map(AreaCode::as_str).collect();
            Ok(format!(
                "subject={} role={} scope={}",
                p.subject,
                p.role,
                scope.join(",")
            ))
        }
    }
}
