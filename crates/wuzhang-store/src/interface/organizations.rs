//! [`OrganizationStore`]: departments, property companies and alliance units that hold
//! tickets beside the chain (条块协同).

use async_trait::async_trait;
use wuzhang_domain::organization::Organization;

use crate::error::Result;

/// Organizations, kept whole: a district has a few hundred, read whole by each process's
/// reference cache.
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// Inserts or replaces each organization by code, all in one transaction (all or
    /// nothing), and bumps the roster counter with it (organizations are people's posts
    /// too: caches of the roster drop them together). The caller has checked that their
    /// areas and staff exist.
    async fn upsert_organizations(&self, organizations: &[Organization]) -> Result<()>;

    /// Every organization, ordered by code.
    async fn organizations(&self) -> Result<Vec<Organization>>;
}
