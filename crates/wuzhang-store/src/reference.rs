//! The roster, the categories and the emergency modes, cached in memory in front of a
//! [`Store`]: they change rarely and are read on every submission.
//!
//! Posts (by area), persons (by id) and categories (by code) are filled lazily, as they
//! are asked for, so a city's hundreds of thousands of posts are never loaded whole. The
//! cache follows the store's [reference change counters](Store::reference_change_counters):
//! it reads them at most every `check_every`, and at once after this process's own store
//! committed a change ([`Store::reference_writes_here`]); a moved roster counter drops
//! posts, persons and organizations (read whole: a few hundred), a moved category counter
//! drops categories, a moved emergency counter the modes (read whole: a row per
//! subdistrict ever switched). So another process's change shows within `check_every`
//! (plus one counter read), and this process's own at once.
//!
//! Who acts for a post depends on the time (leave), so the cache keeps posts, never who
//! acts: callers ask [`Post::acting`] at their own now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wuzhang_domain::area::AreaCode;
use wuzhang_domain::category::{Category, CategoryCode};
use wuzhang_domain::chief::{Person, PersonId, Post};
use wuzhang_domain::emergency::EmergencyMode;
use wuzhang_domain::organization::Organization;

use crate::error::Result;
use crate::interface::Store;
use crate::model::ReferenceCounters;

/// How often the counters are read when nothing else says to.
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_millis(500);

/// Reads of the roster and categories through a cache that follows the store. Clones
/// share the cache.
#[derive(Debug, Clone)]
pub struct ReferenceCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    check_every: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The counters as of the last check; `None` before the first.
    seen: Option<ReferenceCounters>,
    /// [`Store::reference_writes_here`] at the last check.
    writes_here: u64,
    checked_at: Option<Instant>,
    /// Bumped whenever posts and persons are dropped: a fill read before the drop may
    /// hold what was dropped, and is thrown away.
    roster_generation: u64,
    /// The same for categories.
    category_generation: u64,
    /// `None`: the area has no post.
    posts: HashMap<AreaCode, Option<Post>>,
    /// `None`: no such person (a post naming someone not yet imported).
    persons: HashMap<PersonId, Option<Person>>,
    categories: HashMap<CategoryCode, Category>,
    /// The same for the emergency modes.
    emergency_generation: u64,
    /// Every subdistrict's mode as switched last; `None` until read.
    modes: Option<Arc<HashMap<AreaCode, EmergencyMode>>>,
    /// Every organization (they follow the roster counter); `None` until read.
    organizations: Option<Arc<Vec<Organization>>>,
}

impl ReferenceCache {
    /// An empty cache over `store` that reads the counters at most every `check_every`
    /// (`Duration::ZERO`: before every read).
    pub fn new(store: Arc<dyn Store>, check_every: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                check_every,
                state: Mutex::default(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, but a poisoned cache is still a cache.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the counters now and drops what they say changed; returns whether anything
    /// was dropped.
    pub async fn refresh(&self) -> Result<bool> {
        // Read the local count first: a write committed after it is seen next time.
        let writes_here = self.inner.store.reference_writes_here();
        let counters = self.inner.store.reference_change_counters().await?;
        let mut s = self.state();
        let mut dropped = false;
        match s.seen {
            None => s.seen = Some(counters),
            Some(seen) => {
                // Counters only grow; a check that read them earlier but got the lock
                // later must not take them back.
                if counters.roster > seen.roster {
                    s.posts.clear();
                    s.persons.clear();
                    s.organizations = None;
                    s.roster_generation += 1;
                    dropped = true;
                }
                if counters.categories > seen.categories {
                    s.categories.clear();
                    s.category_generation += 1;
                    dropped = true;
                }
                if counters.emergency > seen.emergency {
                    s.modes = None;
                    s.emergency_generation += 1;
                    dropped = true;
                }
                s.seen = Some(ReferenceCounters {
                    roster: counters.roster.max(seen.roster),
                    categories: counters.categories.max(seen.categories),
                    emergency: counters.emergency.max(seen.emergency),
                });
            }
        }
        s.writes_here = s.writes_here.max(writes_here);
        s.checked_at = Some(Instant::now());
        Ok(dropped)
    }

    /// Checks the counters if it is time, or if this process changed the roster or
    /// categories since the last check.
    async fn follow(&self) -> Result<()> {
        let due = {
            let s = self.state();
            s.writes_here != self.inner.store.reference_writes_here()
                || s.checked_at
                    .is_none_or(|at| at.elapsed() >= self.inner.check_every)
        };
        if due {
            self.refresh().await?;
        }
        Ok(())
    }

    /// As [`RosterStore::posts_for_areas`](crate::RosterStore::posts_for_areas): the posts
    /// of these areas, in no set order.
    pub async fn posts_for_areas(&self, codes: &[AreaCode]) -> Result<Vec<Post>> {
        self.follow().await?;
        let mut found = Vec::with_capacity(codes.len());
        let mut missing = Vec::new();
        let generation = {
            let s = self.state();
            for code in codes {
                match s.posts.get(code) {
                    Some(post) => found.extend(post.iter().cloned()),
                    None => missing.push(code.clone()),
                }
            }
            s.roster_generation
        };
        if missing.is_empty() {
            return Ok(found);
        }
        let fetched = self.inner.store.posts_for_areas(&missing).await?;
        self.remember_posts(missing, &fetched, generation);
        found.extend(fetched);
        Ok(found)
    }

    /// Reads into the cache the posts of these areas it does not hold yet (one query at
    /// most), returning none: for a caller that will ask for them one by one later.
    pub async fn load_posts(&self, codes: &[AreaCode]) -> Result<()> {
        self.follow().await?;
        let (missing, generation) = {
            let s = self.state();
            let mut seen = std::collections::HashSet::new();
            let missing: Vec<AreaCode> = codes
                .iter()
                .filter(|c| !s.posts.contains_key(*c) && seen.insert(*c))
                .cloned()
                .collect();
            (missing, s.roster_generation)
        };
        if !missing.is_empty() {
            let fetched = self.inner.store.posts_for_areas(&missing).await?;
            self.remember_posts(missing, &fetched, generation);
        }
        Ok(())
    }

    /// Keeps what was read for `asked` (an area without a post as `None`), unless the
    /// roster was dropped since `generation`: the read may predate the change.
    fn remember_posts(&self, asked: Vec<AreaCode>, fetched: &[Post], generation: u64) {
        let mut s = self.state();
        if s.roster_generation == generation {
            let by_area: HashMap<&AreaCode, &Post> =
                fetched.iter().map(|p| (&p.area_code, p)).collect();
            for code in asked {
                // `get`, not `remove`: a code asked twice must not be kept as postless.
                let post = by_area.get(&code).map(|p| (*p).clone());
                s.posts.insert(code, post);
            }
        }
    }

    /// As [`RosterStore::get_persons`](crate::RosterStore::get_persons): persons by id,
    /// ids not found left out.
    pub async fn get_persons(&self, ids: &[PersonId]) -> Result<Vec<Person>> {
        self.follow().await?;
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        let generation = {
            let s = self.state();
            for id in ids {
                match s.persons.get(id) {
                    Some(person) => found.extend(person.iter().cloned()),
                    None => missing.push(id.clone()),
                }
            }
            s.roster_generation
        };
        if missing.is_empty() {
            return Ok(found);
        }
        let fetched = self.inner.store.get_persons(&missing).await?;
        let mut s = self.state();
        if s.roster_generation == generation {
            let mut by_id: HashMap<&PersonId, &Person> =
                fetched.iter().map(|p| (&p.id, p)).collect();
            for id in missing {
                let person = by_id.remove(&id).cloned();
                s.persons.insert(id, person);
            }
        }
        drop(s);
        found.extend(fetched);
        Ok(found)
    }

    /// As [`CategoryStore::get_category`](crate::CategoryStore::get_category); NotFound if
    /// absent (an unknown code is not cached, so made-up codes cannot grow the cache).
    pub async fn get_category(&self, code: &CategoryCode) -> Result<Category> {
        self.follow().await?;
        let generation = {
            let s = self.state();
            if let Some(c) = s.categories.get(code) {
                return Ok(c.clone());
            }
            s.category_generation
        };
        let category = self.inner.store.get_category(code).await?;
        let mut s = self.state();
        if s.category_generation == generation {
            s.categories.insert(code.clone(), category.clone());
        }
        Ok(category)
    }

    /// The subdistrict's emergency mode as switched last (`None`: never switched, which
    /// is peacetime).
    pub async fn emergency_mode(&self, sub: &AreaCode) -> Result<Option<EmergencyMode>> {
        self.follow().await?;
        let generation = {
            let s = self.state();
            if let Some(modes) = &s.modes {
                return Ok(modes.get(sub).cloned());
            }
            s.emergency_generation
        };
        let modes: Arc<HashMap<AreaCode, EmergencyMode>> = Arc::new(
            self.inner
                .store
                .emergency_modes()
                .await?
                .into_iter()
                .collect(),
        );
        let mode = modes.get(sub).cloned();
        let mut s = self.state();
        if s.emergency_generation == generation {
            s.modes = Some(modes);
        }
        Ok(mode)
    }

    /// Every organization, ordered by code (read whole: a district has a few hundred).
    pub async fn organizations(&self) -> Result<Arc<Vec<Organization>>> {
        self.follow().await?;
        let generation = {
            let s = self.state();
            if let Some(o) = &s.organizations {
                return Ok(Arc::clone(o));
            }
            s.roster_generation
        };
        let all = Arc::new(self.inner.store.organizations().await?);
        let mut s = self.state();
        if s.roster_generation == generation {
            s.organizations = Some(Arc::clone(&all));
        }
        Ok(all)
    }
}
