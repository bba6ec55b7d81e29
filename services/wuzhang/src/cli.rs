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
    /// Evaluation (考评) rollups.
    #[command(subcommand)]
    Evaluation(EvaluationCommand),
    /// Import areas from a GeoJSON FeatureCollection (all or nothing).
    ImportAreas(ImportAreasArgs),
    /// Import the roster of chiefs from CSV (all or nothing).
    ImportRoster(ImportRosterArgs),
    /// Import departments, property companies and alliance units from CSV (all or
    /// nothing; docs/organizations.md).
    ImportOrganizations(ImportOrganizationsArgs),
    /// Generate a five-level tree of areas over the real Changchun districts, with a
    /// synthetic roster: `areas.geojson` and `roster.csv` to import.
    Generate(GenerateArgs),
}

/// `wuzhang evaluation …`.
#[derive(Debug, Subcommand)]
pub enum EvaluationCommand {
    /// Forget the evaluation rollups and dashboard counts and recompute them from the whole
    /// event log (after a change to the rules, or to check them). Servers may keep running:
    /// their reads fold what is missing. Prints how many events were folded.
    Rebuild,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write `areas.geojson` and `roster.csv` into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// District codes (GB/T 2260) to fill, comma-separated; default: all ten.
    #[arg(long, value_delimiter = ',')]
    pub districts: Vec<String>,
    /// About how many grids to make (sets the cell size); default: 100 m cells.
    #[arg(long)]
    pub grids: Option<usize>,
    /// Grid cell size in metres, when --grids is not given.
    #[arg(long, default_value_t = 100.0)]
    pub cell_m: f64,
    /// Buildings per whole grid cell (0 for benchmarks).
    #[arg(long, default_value_t = 2)]
    pub buildings_per_grid: u32,
    /// Units per building.
    #[arg(long, default_value_t = 2)]
    pub units_per_building: u32,
    /// Share of posts left vacant.
    #[arg(long, default_value_t = 0.05)]
    pub vacancy_rate: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The Changchun data directory (districts.geojson, divisions.csv).
    #[arg(long, default_value = "data/changchun")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportAreasArgs {
    /// The GeoJSON file.
    pub file: PathBuf,
    /// Repair invalid polygons and report what changed, instead of refusing them.
    #[arg(long)]
    pub repair: bool,
    /// Check and report only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Level for features without a `level` property (e.g. district).
    #[arg(long)]
    pub default_level: Option<String>,
    /// Parent for features without a `parent_code` property.
    #[arg(long)]
    pub default_parent: Option<String>,
    /// Largest file accepted, in MiB (the API allows 64; a million grids need more).
    #[arg(long, default_value_t = 4096)]
    pub max_file_mib: usize,
}

#[derive(Debug, Args)]
pub struct ImportOrganizationsArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Check and report only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ImportRosterArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Check and report only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Largest file accepted, in MiB (the API allows 16).
    #[arg(long, default_value_t = 4096)]
    pub max_file_mib: usize,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Comma-separated services to run: intake, routing, escalation, supervision, admin, or all.
    #[arg(long)]
    pub services: Option<String>,
    /// Address HTTP (Open311, media, /healthz) listens on; port 0 picks a free one.
    #[arg(long)]
    pub http_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a signed token for a role and scope.
    Mint {
        /// resident, chief, command_center, organization or admin.
        #[arg(long)]
        role: Role,
        /// The caller's identity: a resident account, a chief's or an organization staff
        /// member's person id.
        #[arg(long, default_value = "admin")]
        subject: String,
        /// Codes the token acts for (command centers: subdistricts; chiefs: posts;
        /// organization staff: their organizations).
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
            http_listen: serve.and_then(|s| s.http_listen),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        };
        Config::load(self.config.as_deref(), &overrides)
    }
}

/// Runs `import-areas`: prints the report, fails if anything blocked the import.
pub async fn import_areas(config: &Config, args: &ImportAreasArgs) -> anyhow::Result<String> {
    use std::fmt::Write;
    let bytes = read_with_progress(&args.file)?;
    let phase = spinner("checking every feature, then writing all of them in one transaction");
    let options = wuzhang_import::areas::AreaOptions {
        default_level: args
            .default_level
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: wuzhang_domain::FieldError| {
                anyhow::anyhow!("--default-level: {}", e.reason)
            })?,
        default_parent_code: args
            .default_parent
            .as_deref()
            .map(AreaCode::new)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--default-parent: {}", e.reason))?,
        repair: args.repair,
        max_file_bytes: args.max_file_mib.saturating_mul(1 << 20),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let store = crate::app::open_store(config).await?;
    let outcome =
        wuzhang_admin::imports::import_areas(store.as_ref(), &bytes, &options, args.dry_run)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    phase.finish_and_clear();
    let mut out = String::new();
    for r in &outcome.repaired {
        let _ = writeln!(out, "repaired: {r}");
    }
    for w in &outcome.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for i in &outcome.issues {
        let _ = writeln!(out, "issue: {i}");
    }
    if !outcome.issues.is_empty() {
        anyhow::bail!("{out}{} issues: nothing written", outcome.issues.len());
    }
    let verb = if outcome.dry_run {
        "would import"
    } else {
        "imported"
    };
    let _ = write!(
        out,
        "{verb} {} areas ({} repaired, {} warnings) in {:.1?}",
        outcome.imported,
        outcome.repaired.len(),
        outcome.warnings.len(),
        started.elapsed()
    );
    Ok(out)
}

/// Reads a file with a progress bar on stderr (hidden when stderr is not a terminal).
fn read_with_progress(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template("reading {bytes}/{total_bytes} [{bar:30}] {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    bar.wrap_read(file)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    bar.finish_and_clear();
    Ok(bytes)
}

/// A spinner on stderr naming the phase a long command is in.
fn spinner(message: &'static str) -> indicatif::ProgressBar {
    let s = indicatif::ProgressBar::new_spinner().with_message(message);
    s.enable_steady_tick(std::time::Duration::from_millis(120));
    s
}

/// Runs `generate`: writes the tree and roster files, returns a summary.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<String> {
    let options = wuzhang_synth::Options {
        districts: (!args.districts.is_empty()).then(|| args.districts.clone()),
        target_grids: args.grids,
        cell_m: args.cell_m,
        buildings_per_grid: args.buildings_per_grid,
        units_per_building: args.units_per_building,
        vacancy_rate: args.vacancy_rate,
        seed: args.seed,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let tree = wuzhang_synth::generate_from_files(
        args.data.join("districts.geojson"),
        args.data.join("divisions.csv"),
        &options,
        SystemClock.now(),
    )?;
    std::fs::create_dir_all(&args.out)?;
    let areas = args.out.join("areas.geojson");
    let roster = args.out.join("roster.csv");
    wuzhang_synth::write_geojson(
        &tree,
        std::io::BufWriter::new(std::fs::File::create(&areas)?),
    )?;
    wuzhang_synth::write_roster_csv(
        &tree,
        std::io::BufWriter::new(std::fs::File::create(&roster)?),
    )?;
    Ok(format!(
        "{}\nwrote {} and {} in {:.1?}",
        tree.summary(),
        areas.display(),
        roster.display(),
        started.elapsed()
    ))
}

/// Runs `import-roster`: prints the report, fails if anything blocked the import.
pub async fn import_roster(config: &Config, args: &ImportRosterArgs) -> anyhow::Result<String> {
    let bytes = read_with_progress(&args.file)?;
    let phase = spinner("checking every row, then writing all of them in one transaction");
    let store = crate::app::open_store(config).await?;
    let o = wuzhang_admin::imports::import_roster(
        store.as_ref(),
        &bytes,
        args.dry_run,
        args.max_file_mib.saturating_mul(1 << 20),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    phase.finish_and_clear();
    let verb = import_verb(&o.issues, o.dry_run)?;
    Ok(format!(
        "{verb} {} persons and {} posts ({} vacant)",
        o.persons, o.posts, o.vacancies
    ))
}

/// An import's verb for its report, or the error listing its row issues (nothing was
/// written).
fn import_verb(issues: &[wuzhang_import::RowIssue], dry_run: bool) -> anyhow::Result<&'static str> {
    if !issues.is_empty() {
        let lines: Vec<String> = issues.iter().map(|i| format!("issue: {i}")).collect();
        anyhow::bail!(
            "{}\n{} issues: nothing written",
            lines.join("\n"),
            issues.len()
        );
    }
    Ok(if dry_run { "would import" } else { "imported" })
}

/// Runs `import-organizations`: prints the report, fails if anything blocked the import.
pub async fn import_organizations(
    config: &Config,
    args: &ImportOrganizationsArgs,
) -> anyhow::Result<String> {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let store = crate::app::open_store(config).await?;
    let o =
        wuzhang_admin::organizations::import_organizations(store.as_ref(), &bytes, args.dry_run)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let verb = import_verb(&o.issues, o.dry_run)?;
    Ok(format!("{verb} {} organizations", o.imported))
}

/// Runs a `token` subcommand, returning what to print.
pub fn token(config: &Config, command: &TokenCommand) -> anyhow::Result<String> {
    let keys = crate::app::load_keys(config)?;
    let now = crate::test_clock::process_clock()?.now();
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
