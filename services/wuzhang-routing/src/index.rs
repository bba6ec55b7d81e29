//! The in-memory indexes routing answers from, and how they follow the store.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wuzhang_domain::area::{Area, AreaCode, AreaLevel};
use wuzhang_spatial::GridIndex;
use wuzhang_spatial::wkb_io::from_wkb;
use wuzhang_store::{AreaRecord, Store, StoreError};

/// How often a refresh loads again because areas changed while it was loading, before it
/// settles for what it has (tagged with the older counter, so the next refresh rebuilds).
const LOAD_ATTEMPTS: usize = 3;

/// One consistent view of the areas: both indexes and the areas themselves come from the
/// same change counter, so an area the index finds is always in [`Snapshot::area`], with
/// the parents it had when the index was built.
#[derive(Debug)]
pub struct Snapshot {
    /// The store's area change counter this snapshot was built at; -1 before the first load.
    pub counter: i64,
    pub grids: GridIndex,
    pub buildings: GridIndex,
    /// Every area, without geometry, by code.
    areas: HashMap<AreaCode, Area>,
    /// Each area's children by code, in code order: the trees ListPosts walks.
    children: HashMap<AreaCode, Vec<AreaCode>>,
}

impl Snapshot {
    /// The area as of this snapshot.
    pub fn area(&self, code: &AreaCode) -> Option<&Area> {
        self.areas.get(code)
    }

    /// The area and its ancestors, itself first, up to the root, as the store's
    /// `lineage` gives them; `None` if the area is not in this snapshot.
    pub fn lineage(&self, code: &AreaCode) -> Option<Vec<Area>> {
        let mut chain = vec![self.areas.get(code)?.clone()];
        // Depth-bounded like the store's: levels strictly nest, so a real chain is short.
        while chain.len() < 17 {
            let Some(parent) = chain.last().and_then(|a| a.parent_code.as_ref()) else {
                break;
            };
            match self.areas.get(parent) {
                Some(p) => chain.push(p.clone()),
                None => break,
            }
        }
        Some(chain)
    }

    /// How many areas it holds.
    pub fn area_count(&self) -> usize {
        self.areas.len()
    }

    /// The area and every area below it, as of this snapshot (empty if the area is not in
    /// it), in no set order.
    pub fn subtree(&self, code: &AreaCode) -> Vec<&Area> {
        let mut out = Vec::new();
        let mut todo = vec![code];
        while let Some(c) = todo.pop() {
            let Some(area) = self.areas.get(c) else {
                continue;
            };
            out.push(area);
            if let Some(children) = self.children.get(c) {
                todo.extend(children);
            }
        }
        out
    }

    /// Every area of this snapshot, in no set order.
    pub fn areas(&self) -> impl Iterator<Item = &Area> {
        self.areas.values()
    }
}

/// The current [`Snapshot`], replaced whole when the store's areas change. Readers take
/// an `Arc` of the snapshot they started with, so a swap never disturbs a lookup.
#[derive(Debug, Clone)]
pub struct AreaIndex {
    current: Arc<ArcSwap<Snapshot>>,
    /// Held through a refresh: the follower and an import's own refresh (the admin
    /// service's) take turns, so a slower build of older areas never replaces a newer one,
    /// and areas are not loaded twice at once.
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

impl Default for AreaIndex {
    /// Empty, and never loaded: the first refresh always builds.
    fn default() -> Self {
        let empty = Snapshot {
            counter: -1,
            grids: GridIndex::default(),
            buildings: GridIndex::default(),
            areas: HashMap::new(),
            children: HashMap::new(),
        };
        Self {
            current: Arc::new(ArcSwap::from_pointee(empty)),
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

impl AreaIndex {
    /// An index built from the store's areas now.
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let index = Self::default();
        index.refresh(store).await?;
        Ok(index)
    }

    /// The snapshot to answer from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Rebuilds if the store's areas changed since the current snapshot; returns whether
    /// it swapped. When it returns, the snapshot holds every area change committed before
    /// it was called (a refresh under way waits for the one before it).
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let _turn = self.refreshing.lock().await;
        let mut counter = store.area_change_counter().await?;
        if counter == self.current.load().counter {
            return Ok(false);
        }
        // The levels kept without geometry: grids and buildings come with theirs.
        let other_levels: Vec<AreaLevel> = AreaLevel::ALL
            .into_iter()
            .filter(|l| !matches!(l, AreaLevel::Grid | AreaLevel::Building))
            .collect();
        let mut attempt = 0;
        let (grids, buildings, others) = loop {
            attempt += 1;
            let grids = store.load_area_records(&[AreaLevel::Grid]).await?;
            let buildings = store.load_area_records(&[AreaLevel::Building]).await?;
            let others = store.load_areas(&other_levels).await?;
            // Areas change in one transaction with the counter: if it did not move while
            // we loaded, the three reads saw the same areas.
            let after = store.area_change_counter().await?;
            if after == counter {
                break (grids, buildings, others);
            }
            if attempt == LOAD_ATTEMPTS {
                // Keep the older counter: the next refresh sees the change and rebuilds.
                tracing::warn!(counter, after, "areas kept changing during the index load");
                break (grids, buildings, others);
            }
            counter = after;
        };
        let snapshot = tokio::task::spawn_blocking(move || {
            let mut areas: HashMap<AreaCode, Area> =
                others.into_iter().map(|a| (a.code.clone(), a)).collect();
            areas.extend(
                grids
                    .iter()
                    .chain(&buildings)
                    .map(|r| (r.area.code.clone(), r.area.clone())),
            );
            let mut children: HashMap<AreaCode, Vec<AreaCode>> = HashMap::new();
            for a in areas.values() {
                if let Some(parent) = &a.parent_code {
                    children
                        .entry(parent.clone())
                        .or_default()
                        .push(a.code.clone());
                }
            }
            for list in children.values_mut() {
                list.sort();
            }
            Snapshot {
                counter,
                grids: build(grids),
                buildings: build(buildings),
                areas,
                children,
            }
        })
        .await
        .map_err(StoreError::internal)?;
        tracing::info!(
            counter,
            grids = snapshot.grids.len(),
            buildings = snapshot.buildings.len(),
            areas = snapshot.areas.len(),
            memory_bytes = snapshot.grids.memory_bytes() + snapshot.buildings.memory_bytes(),
            "area index rebuilt"
        );
        self.current.store(Arc::new(snapshot));
        Ok(true)
    }

    /// Follows the store: checks the change counter every `every` and rebuilds on change,
    /// until `shutdown` completes. Errors are logged and retried at the next tick.
    pub fn spawn_follower(
        &self,
        store: Arc<dyn Store>,
        every: Duration,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let index = self.clone();
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = tick.tick() => {
                        if let Err(e) = index.refresh(store.as_ref()).await {
                            tracing::warn!(error = %e, "area index refresh failed");
                        }
                    }
                }
            }
        })
    }
}

fn build(records: Vec<AreaRecord>) -> GridIndex {
    GridIndex::build(records.into_iter().filter_map(|r| {
        let wkb = r.geometry_wkb?;
        match from_wkb(r.area.code.clone(), &wkb) {
            Ok(pair) => Some(pair),
            Err(e) => {
                tracing::warn!(area = %r.area.code, error = %e, "geometry skipped: unreadable wkb");
                None
            }
        }
    }))
}
