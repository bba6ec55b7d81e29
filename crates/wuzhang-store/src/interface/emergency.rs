//! [`EmergencyStore`]: each subdistrict's emergency mode (战时) as switched last, every
//! switch in order, and the open tickets a switch has still to carry over.

use async_trait::async_trait;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::emergency::{ClockRate, EmergencyMode};
use wuzhang_domain::ticket::Ticket;

use crate::error::Result;

/// Emergency modes and their switches.
#[async_trait]
pub trait EmergencyStore: Send + Sync {
    /// Makes `mode` the subdistrict's mode and appends it to the switches, in one
    /// transaction.
    async fn switch_emergency_mode(&self, sub: &AreaCode, mode: &EmergencyMode) -> Result<()>;

    /// Every subdistrict's mode as switched last (none for one never switched), ordered
    /// by subdistrict: a handful of rows, read whole by each process's cache.
    async fn emergency_modes(&self) -> Result<Vec<(AreaCode, EmergencyMode)>>;

    /// One subdistrict's mode as switched last (`None`: never switched, peacetime).
    async fn emergency_mode(&self, sub: &AreaCode) -> Result<Option<EmergencyMode>> {
        Ok(self
            .emergency_modes()
            .await?
            .into_iter()
            .find(|(code, _)| code == sub)
            .map(|(_, m)| m))
    }

    /// Every switch of every subdistrict, by subdistrict then oldest first: a few rows
    /// a year, read whole by evaluation's fold.
    async fn emergency_switches(&self) -> Result<Vec<(AreaCode, EmergencyMode)>>;

    /// Up to `limit` open tickets of the subdistrict whose clocks do not run at `rate`
    /// (those a switch to `rate` has still to carry over), in no set order.
    async fn tickets_off_rate(
        &self,
        sub: &AreaCode,
        rate: ClockRate,
        limit: u32,
    ) -> Result<Vec<Ticket>>;
}
