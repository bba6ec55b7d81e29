//! CreateCampaign fanning a task out to tens of thousands of chiefs in one call, over gRPC
//! against the release server (issue 22: a campaign of 40,000 tasks written in ≤ 5 s).
//!
//! ```text
//! cargo build --release -p wuzhang -p wuzhang-bench
//! target/release/campaign-load --pg-url postgres://postgres@127.0.0.1:5432/wuzhang_test \
//!     [--sqlite] [--district 220102] [--level unit|building|grid] [--runs 3] \
//!     [--buildings-per-grid 2] [--units-per-building 4]
//! ```
//!
//! The synthetic tree of one real Changchun district (`wuzhang generate`'s, with vacancies,
//! deputies and leave) is written to a scratch Postgres schema (or a SQLite file with
//! `--sqlite`); the server is started on it; an admin asks for `--runs` campaigns over the
//! subdistrict with the most posts of `--level`, each timed from the call to its answer
//! (every task's ticket, events, timers and task row committed). Printed per run: tasks,
//! vacant posts, seconds, tasks per second.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, PgPool};
use wuzhang_bench::server::{Server, authed};
use wuzhang_domain::area::{AreaCode, AreaLevel};
use wuzhang_domain::chief::ChiefLevel;
use wuzhang_domain::clock::Clock;
use wuzhang_proto::v1::supervision_service_client::SupervisionServiceClient;
use wuzhang_proto::v1::{ChiefLevel as WireLevel, CreateCampaignRequest};
use wuzhang_store::{PostgresStore, SqliteStore, Store};

struct Args {
    pg_url: Option<String>,
    sqlite: bool,
    district: String,
    level: ChiefLevel,
    runs: usize,
    buildings_per_grid: u32,
    units_per_building: u32,
    wuzhang: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        pg_url: None,
        sqlite: false,
        district: "220102".into(),
        level: ChiefLevel::Unit,
        runs: 3,
        buildings_per_grid: 2,
        units_per_building: 4,
        wuzhang: std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("wuzhang"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().context("a value");
        match a.as_str() {
            "--pg-url" => args.pg_url = Some(value()?),
            "--sqlite" => args.sqlite = true,
            "--district" => args.district = value()?,
            "--level" => {
                args.level = match value()?.as_str() {
                    "unit" => ChiefLevel::Unit,
                    "building" => ChiefLevel::Building,
                    "grid" => ChiefLevel::Grid,
                    other => bail!("--level {other}: unit, building or grid"),
                }
            }
            "--runs" => args.runs = value()?.parse()?,
            "--buildings-per-grid" => args.buildings_per_grid = value()?.parse()?,
            "--units-per-building" => args.units_per_building = value()?.parse()?,
            "--wuzhang" => args.wuzhang = value()?.into(),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let now = wuzhang_domain::clock::SystemClock.now();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/changchun");
    let started = Instant::now();
    let tree = wuzhang_synth::generate_from_files(
        data.join("districts.geojson"),
        data.join("divisions.csv"),
        &wuzhang_synth::Options {
            districts: Some(vec![args.district.clone()]),
            buildings_per_grid: args.buildings_per_grid,
            units_per_building: args.units_per_building,
            ..Default::default()
        },
        now,
    )?;
    // The subdistrict with the most posts of the level.
    let parent: HashMap<&AreaCode, (&AreaCode, AreaLevel)> = tree
        .areas
        .iter()
        .filter_map(|r| {
            r.area
                .parent_code
                .as_ref()
                .map(|p| (&r.area.code, (p, r.area.level)))
        })
        .collect();
    let level_of: HashMap<&AreaCode, AreaLevel> = tree
        .areas
        .iter()
        .map(|r| (&r.area.code, r.area.level))
        .collect();
    let subdistrict_of = |code: &AreaCode| -> Option<AreaCode> {
        let mut c = code;
        for _ in 0..16 {
            if level_of.get(c) == Some(&AreaLevel::Subdistrict) {
                return Some(c.clone());
            }
            c = parent.get(c)?.0;
        }
        None
    };
    let mut per_sub: HashMap<AreaCode, usize> = HashMap::new();
    for p in tree.posts.iter().filter(|p| p.level == args.level) {
        if let Some(s) = subdistrict_of(&p.area_code) {
            *per_sub.entry(s).or_default() += 1;
        }
    }
    let (sub, posts) = per_sub
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .context("no posts of that level")?;
    println!(
        "tree: {} areas, {} posts; subdistrict {sub}: {posts} {} posts (generated in {:.1} s)",
        tree.areas.len(),
        tree.posts.len(),
        args.level,
        started.elapsed().as_secs_f64()
    );

    // The store, seeded directly, then the server on it.
    let scratch = tempfile::tempdir()?;
    let (database_url, schema) = if args.sqlite {
        let path = scratch.path().join("wuzhang.db");
        let store = SqliteStore::open(path.to_str().context("path")?).await?;
        store.migrate().await?;
        seed(&store, &tree).await?;
        (format!("sqlite://{}", path.display()), None)
    } else {
        let base = args.pg_url.clone().context("--pg-url (or --sqlite)")?;
        let schema = format!("cmp_{:016x}", rand::random::<u64>());
        let admin = PgPool::connect(&base).await?;
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await?;
        let options: sqlx::postgres::PgConnectOptions = base.parse()?;
        let options = options.options([("search_path", format!("{schema},public"))]);
        let store = PostgresStore::connect_with(options, 8).await?;
        store.migrate().await?;
        seed(&store, &tree).await?;
        let sep = if base.contains('?') { '&' } else { '?' };
        (
            format!("{base}{sep}options=-c%20search_path%3D{schema}%2Cpublic"),
            Some((base, schema)),
        )
    };
    let server = Server::start(&args.wuzhang, Some(database_url))?;
    let admin_token = server.mint(&args.wuzhang, "admin", "bench-admin")?;
    let mut cc = SupervisionServiceClient::new(server.channel().await?);
    let level = match args.level {
        ChiefLevel::Unit => WireLevel::Unit,
        ChiefLevel::Building => WireLevel::Building,
        _ => WireLevel::Grid,
    };
    for run in 0..args.runs {
        let request = CreateCampaignRequest {
            request_id: format!("campaign-load-{run}"),
            area_code: sub.to_string(),
            level: level as i32,
            title: format!("燃气安全入户排查 {run}"),
            instructions: "逐户检查燃气报警器和软管".into(),
            category_code: "C0104".into(),
            deadline: Some(wuzhang_proto::convert::timestamp(
                now + time::Duration::days(3),
            )),
            checklist: vec!["燃气报警器".into(), "软管老化".into()],
            counts: vec!["入户数".into(), "隐患数".into()],
        };
        let t = Instant::now();
        let campaign = cc
            .create_campaign(authed(&admin_token, request))
            .await?
            .into_inner();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "run {run}: {} tasks ({} posts vacant) in {secs:.2} s: {:.0} tasks/s",
            campaign.tasks,
            campaign.vacant_posts,
            f64::from(campaign.tasks) / secs
        );
    }
    drop(server);
    if let Some((base, schema)) = schema {
        let admin = PgPool::connect(&base).await?;
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await?;
    }
    Ok(())
}

async fn seed(store: &dyn Store, tree: &wuzhang_synth::Tree) -> anyhow::Result<()> {
    let t = Instant::now();
    store.upsert_areas(&tree.areas).await?;
    store.upsert_roster(&tree.persons, &tree.posts).await?;
    println!("seeded in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}
