//! Turning a [`Config`] into the parts a server runs on.

use anyhow::Context;
use std::sync::Arc;
use wuzhang_auth::{Authenticator, Keys};
use wuzhang_domain::clock::Clock;
use wuzhang_domain::deadline::CalendarBook;
use wuzhang_feed::EventHub;
use wuzhang_intake::{IntakeConfig, IntakeCore};
use wuzhang_routing::{AreaIndex, Locator};
use wuzhang_store::{PageRequest, ReferenceCache, Store};

use crate::config::Config;
use crate::server::ServerParts;

/// Opens the configured store and applies its migrations. The SQLite file (and its
/// directory) is created on first use.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
    }
    let store = wuzhang_store::connect::connect(&url, config.max_db_connections)
        .await
        .with_context(|| format!("cannot open store {}", wuzhang_store::connect::redact(&url)))?;
    store.migrate().await.context("migrations failed")?;
    Ok(store)
}

/// The signing key: the configured secret, else the key file (created on first start).
pub fn load_keys(config: &Config) -> anyhow::Result<Keys> {
    if let Some(secret) = &config.jwt_secret {
        return Keys::from_base64(secret).context("jwt_secret is not a usable key");
    }
    let path = config.jwt_key_file();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create key directory {}", dir.display()))?;
    }
    wuzhang_auth::load_or_create_key_file(&path)
        .with_context(|| format!("cannot load signing key {}", path.display()))
}

/// A fresh store gets the default categories, so residents can report from the first
/// minute. A store with any category is left alone: the administrator's edits stand.
pub async fn seed_categories(store: &dyn Store) -> anyhow::Result<usize> {
    if !store
        .list_categories(&PageRequest::first(1))
        .await?
        .items
        .is_empty()
    {
        return Ok(0);
    }
    let defaults = wuzhang_domain::taxonomy::default_categories();
    for c in &defaults {
        store.upsert_category(c).await?;
    }
    tracing::info!(categories = defaults.len(), "default categories installed");
    Ok(defaults.len())
}

/// Everything `serve` needs, built from the configuration.
pub async fn build(config: &Config) -> anyhow::Result<ServerParts> {
    build_with_clock(config, crate::test_clock::process_clock()?).await
}

/// As [`build`], with an injected clock (tests move time by hand).
pub async fn build_with_clock(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<ServerParts> {
    let keys = Arc::new(load_keys(config)?);
    let store = open_store(config).await?;
    seed_categories(store.as_ref())
        .await
        .context("cannot install the default categories")?;
    let index = AreaIndex::load(store.as_ref())
        .await
        .context("cannot load the area index")?;
    // One cache for the process: intake's categories and the locator's roster.
    let reference = ReferenceCache::new(
        Arc::clone(&store),
        std::time::Duration::from_millis(config.reference_refresh_ms),
    );
    let locator = Locator::new(
        Arc::clone(&store),
        index,
        reference.clone(),
        Arc::clone(&clock),
        config.locate_tolerance_m,
    );
    let media_location = config.media_store();
    let media = wuzhang_media::open(&media_location)
        .with_context(|| format!("cannot open the media store {media_location}"))?;
    // One live-event hub for the process: intake wakes it, the command center follows
    // it, the server runs its reader.
    let hub = EventHub::new();
    // Deadlines count on these: the shipped calendars with the administrator's years.
    let calendars = Arc::new(CalendarBook::new(
        wuzhang_admin::calendars::load(store.as_ref())
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the working calendars: {e}"))?,
    ));
    let intake = IntakeCore::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        locator.clone(),
        reference.clone(),
        Arc::clone(&calendars),
        hub.clone(),
        IntakeConfig::default(),
    );
    Ok(ServerParts {
        locator,
        reference,
        reference_refresh: std::time::Duration::from_millis(config.reference_refresh_ms),
        index_refresh: std::time::Duration::from_millis(config.index_refresh_ms),
        event_poll: std::time::Duration::from_millis(config.event_poll_ms),
        idempotency_ttl: time::Duration::hours(
            i64::try_from(config.idempotency_ttl_hours).unwrap_or(i64::MAX / 3600),
        ),
        intake,
        hub,
        calendars,
        timer_workers: config.timer_workers,
        timer_poll: std::time::Duration::from_millis(config.timer_poll_ms),
        rollups: wuzhang_app::rollups::Rollups::new(Arc::clone(&store)),
        rollup_poll: std::time::Duration::from_millis(config.rollup_poll_ms),
        evaluation_weights: config.evaluation_weights,
        grid_light: config.grid_light,
        media,
        public_url: config.public_url.clone(),
        open311_keys: config.open311_keys()?,
        cors_origins: config.cors_origins()?,
        store,
        authenticator: Authenticator::new(keys, Arc::clone(&clock)),
        clock,
        services: config.services(),
    })
}
