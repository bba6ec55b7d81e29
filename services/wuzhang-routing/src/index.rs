//! The in-memory indexes routing answers from, and how they follow the store.

use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;
use wuzhang_domain::area::AreaLevel;
use wuzhang_spatial::GridIndex;
use wuzhang_spatial::wkb_io::from_wkb;
use wuzhang_store::{AreaRecord, Store, StoreError};

/// One consistent view of the areas: both indexes come from the same change counter.
#[derive(Debug)]
pub struct Snapshot {
    /// The store's area change counter this snapshot was built at; -1 before the first load.
    pub counter: i64,
    pub grids: GridIndex,
    pub buildings: GridIndex,
}

/// The current [`Snapshot`], replaced whole when the store's areas change. Readers take
/// an `Arc` of the snapshot they started with, so a swap never disturbs a lookup.
#[derive(Debug, Clone)]
pub struct AreaIndex {
    current: Arc<ArcSwap<Snapshot>>,
}

impl Default for AreaIndex {
    /// Empty, and never loaded: the first refresh always builds.
    fn default() -> Self {
        let empty = Snapshot {
            counter: -1,
            grids: GridIndex::default(),
            buildings: GridIndex::default(),
        };
        Self {
            current: Arc::new(ArcSwap::from_pointee(empty)),
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
    /// it swapped.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let counter = store.area_change_counter().await?;
        if counter == self.current.load().counter {
            return Ok(false);
        }
        // Read the counter first: a change that lands while we load is seen next time.
        let grids = store.load_area_records(&[AreaLevel::Grid]).await?;
        let buildings = store.load_area_records(&[AreaLevel::Building]).await?;
        let snapshot = tokio::task::spawn_blocking(move || Snapshot {
            counter,
            grids: build(grids),
            buildings: build(buildings),
        })
        .await
        .map_err(StoreError::internal)?;
        tracing::info!(
            counter,
            grids = snapshot.grids.len(),
            buildings = snapshot.buildings.len(),
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
