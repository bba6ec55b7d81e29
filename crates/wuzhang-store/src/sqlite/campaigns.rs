//! [`CampaignStore`] on SQLite: a campaign's tickets go in with the group commit's own
//! multi-row INSERTs ([`insert_new`]), a few hundred tickets per statement (SQLite binds
//! at most 32,766 values), all in one write transaction.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::campaign::{Campaign, CampaignId};
use wuzhang_domain::evaluation::Place;
use wuzhang_domain::ticket::{TicketId, TicketState};

use super::SqliteStore;
use super::batch::insert_new;
use super::idempotency::insert_idempotency;
use crate::codec::{
    code, from_json, normalize_idempotency, normalize_ticket, parse, to_json, to_micros, uuid_text,
};
use crate::error::{Result, StoreError, unique_as};
use crate::interface::CampaignStore;
use crate::model::{CampaignTaskRow, IdempotencyRecord, NewCampaignTask, NewTicket};
use crate::validate;

/// Tickets per statement: each binds its ticket's columns, two events and three timers,
/// about 80 values, well under SQLite's limit at 200.
const TICKETS_PER_STATEMENT: usize = 200;

fn ticket_id(text: &str) -> Result<TicketId> {
    uuid::Uuid::parse_str(text)
        .map(TicketId::from_uuid)
        .map_err(|e| StoreError::internal(format!("column ticket_id: {e}")))
}

fn time_opt(r: &SqliteRow, c: &'static str) -> Result<Option<time::OffsetDateTime>> {
    r.try_get::<Option<i64>, _>(c)?
        .map(|m| crate::codec::from_micros(c, m))
        .transpose()
}

#[async_trait]
impl CampaignStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(campaign = %campaign.id, tasks = tasks.len()))]
    async fn create_campaign(
        &self,
        campaign: &Campaign,
        tasks: &[NewCampaignTask],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()> {
        let news: Vec<NewTicket> = tasks
            .iter()
            .map(|t| NewTicket {
                ticket: normalize_ticket(&t.new.ticket),
                ..t.new.clone()
            })
            .collect();
        for new in &news {
            validate::ticket_write(&new.ticket, Some(&new.timers))?;
        }
        let mut tx = self.begin_write().await?;
        if let Some(r) = idempotency {
            insert_idempotency(&mut tx, &normalize_idempotency(r)).await?;
        }
        sqlx::query(
            "INSERT INTO campaigns (subdistrict_code, id, campaign, created_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(campaign.subdistrict_code.as_str())
        .bind(uuid_text(campaign.id.as_uuid()))
        .bind(to_json(campaign)?)
        .bind(to_micros(campaign.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as(e, "campaign", campaign.id))?;
        for chunk in news.chunks(TICKETS_PER_STATEMENT) {
            let refs: Vec<&NewTicket> = chunk.iter().collect();
            // Task ids are new v7 UUIDs; the unique index on ids still guards them.
            insert_new(&mut tx, &refs, "", "").await?;
        }
        for t in tasks {
            sqlx::query(
                "INSERT INTO campaign_tasks (subdistrict_code, ticket_id, campaign_id, \
                   area_code, grid_code, lane_code, street_code) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .bind(t.new.ticket.subdistrict_code.as_str())
            .bind(uuid_text(t.new.ticket.id.as_uuid()))
            .bind(uuid_text(campaign.id.as_uuid()))
            .bind(t.area_code.as_str())
            .bind(t.place.grid.as_ref().map(AreaCode::as_str))
            .bind(t.place.lane.as_ref().map(AreaCode::as_str))
            .bind(t.place.street.as_ref().map(AreaCode::as_str))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_campaign(&self, id: &CampaignId) -> Result<Campaign> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT campaign FROM campaigns WHERE id = ?1")
                .bind(uuid_text(id.as_uuid()))
                .fetch_optional(&self.pool)
                .await?;
        let text = text.ok_or_else(|| StoreError::not_found("campaign", id))?;
        from_json("campaign", &text)
    }

    async fn campaign_of_task(&self, ticket: &TicketId) -> Result<Option<Campaign>> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT c.campaign FROM campaign_tasks t \
             JOIN campaigns c ON c.subdistrict_code = t.subdistrict_code AND c.id = t.campaign_id \
             WHERE t.ticket_id = ?1",
        )
        .bind(uuid_text(ticket.as_uuid()))
        .fetch_optional(&self.pool)
        .await?;
        text.map(|t| from_json("campaign", &t)).transpose()
    }

    async fn campaign_tasks(&self, id: &CampaignId) -> Result<Vec<CampaignTaskRow>> {
        let rows = sqlx::query(
            "SELECT t.ticket_id, t.area_code, t.grid_code, t.lane_code, t.street_code, t.result, \
               k.state, k.accept_due_at, k.resolve_due_at, k.subdistrict_code \
             FROM campaign_tasks t \
             JOIN tickets k ON k.subdistrict_code = t.subdistrict_code AND k.id = t.ticket_id \
             WHERE t.campaign_id = ?1 ORDER BY t.area_code",
        )
        .bind(uuid_text(id.as_uuid()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let opt = |c: &'static str| -> Result<Option<AreaCode>> {
                    r.try_get::<Option<String>, _>(c)?
                        .map(|v| code(c, v))
                        .transpose()
                };
                Ok(CampaignTaskRow {
                    ticket_id: ticket_id(r.try_get("ticket_id")?)?,
                    area_code: code("area_code", r.try_get("area_code")?)?,
                    place: Place {
                        grid: opt("grid_code")?,
                        lane: opt("lane_code")?,
                        street: opt("street_code")?,
                        subdistrict: Some(code(
                            "subdistrict_code",
                            r.try_get("subdistrict_code")?,
                        )?),
                    },
                    state: parse::<TicketState>("state", r.try_get("state")?)?,
                    accept_due_at: time_opt(r, "accept_due_at")?,
                    resolve_due_at: time_opt(r, "resolve_due_at")?,
                    result: r
                        .try_get::<Option<String>, _>("result")?
                        .map(|t| from_json("result", &t))
                        .transpose()?,
                })
            })
            .collect()
    }
}
