//! [`CampaignStore`]: campaigns (专项行动) and their tasks. A task is an ordinary ticket
//! (written with its events and timers as any new ticket) plus a row that links it to its
//! campaign, says where it lies, and keeps the result its chief reported.

use async_trait::async_trait;
use wuzhang_domain::campaign::{Campaign, CampaignId};
use wuzhang_domain::ticket::TicketId;

use crate::error::Result;
use crate::model::{CampaignTaskRow, IdempotencyRecord, NewCampaignTask};

/// Campaigns and their tasks.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Writes a campaign, every task's ticket (with its events and timers) and task row,
    /// and the idempotency record, in one transaction: all or nothing, set-wise whatever
    /// the number of tasks. AlreadyExists (entity `campaign`, `ticket` or `idempotency`)
    /// if the campaign's id, a ticket's id or the key is taken; Invalid as
    /// [`create_ticket`](crate::TicketStore::create_ticket) for a bad ticket.
    async fn create_campaign(
        &self,
        campaign: &Campaign,
        tasks: &[NewCampaignTask],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()>;

    /// NotFound if absent.
    async fn get_campaign(&self, id: &CampaignId) -> Result<Campaign>;

    /// The campaign `ticket` is a task of, if it is one.
    async fn campaign_of_task(&self, ticket: &TicketId) -> Result<Option<Campaign>>;

    /// Every task of the campaign with its ticket's state and deadlines and its result,
    /// ordered by area code (none for an unknown campaign).
    async fn campaign_tasks(&self, id: &CampaignId) -> Result<Vec<CampaignTaskRow>>;
}
