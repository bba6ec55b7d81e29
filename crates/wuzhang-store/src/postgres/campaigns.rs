//! [`CampaignStore`] on Postgres: a campaign's tickets go in with the group commit's own
//! set-wise statement ([`super::batch::write_batch`]), a few thousand per statement, all
//! in the campaign's transaction.

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;
use wuzhang_domain::campaign::{Campaign, CampaignId};
use wuzhang_domain::evaluation::Place;
use wuzhang_domain::ticket::{TicketId, TicketState};

use super::PostgresStore;
use super::batch::{EncodedBatch, encode_batch, normalize_new_ticket};
use super::idempotency::insert_idempotency;
use crate::codec::{code, from_json, normalize_idempotency, parse, to_json};
use crate::error::{Result, StoreError, unique_as};
use crate::interface::CampaignStore;
use crate::model::{CampaignTaskRow, IdempotencyRecord, NewCampaignTask, NewTicket};
use crate::validate;

/// Tickets per statement: large enough that 40,000 tasks take a handful of round trips,
/// small enough that one statement's arrays stay a few megabytes.
const TICKETS_PER_STATEMENT: usize = 5_000;

#[async_trait]
impl CampaignStore for PostgresStore {
    #[tracing::instrument(skip_all, fields(campaign = %campaign.id, tasks = tasks.len()))]
    async fn create_campaign(
        &self,
        campaign: &Campaign,
        tasks: &[NewCampaignTask],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()> {
        // Chunks are normalised, checked and encoded on a blocking thread, each while the
        // chunk before it is written: the encoding was about a third of each chunk's time
        // on the connection (statement log of a campaign of 29,762 tasks).
        let encode = |chunk: &[NewCampaignTask]| {
            let news: Vec<NewTicket> = chunk.iter().map(|t| normalize_new_ticket(&t.new)).collect();
            tokio::task::spawn_blocking(move || -> Result<EncodedBatch> {
                for new in &news {
                    validate::ticket_write(&new.ticket, Some(&new.timers))?;
                }
                let refs: Vec<&NewTicket> = news.iter().collect();
                encode_batch(&refs)
            })
        };
        let mut chunks = tasks.chunks(TICKETS_PER_STATEMENT);
        let mut next = chunks.next().map(encode);
        let mut tx = self.pool.begin().await?;
        if let Some(r) = idempotency {
            insert_idempotency(&mut tx, &normalize_idempotency(r)).await?;
        }
        sqlx::query(
            "INSERT INTO campaigns (subdistrict_code, id, campaign, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(campaign.subdistrict_code.as_str())
        .bind(campaign.id.as_uuid())
        .bind(to_json(campaign)?)
        .bind(campaign.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as(e, "campaign", campaign.id))?;
        while let Some(encoding) = next.take() {
            let batch = encoding.await.map_err(StoreError::internal)??;
            next = chunks.next().map(encode);
            if let Some(Err(e)) = batch.run(&mut tx).await?.into_iter().find(Result::is_err) {
                return Err(e);
            }
        }
        let mut subs = Vec::with_capacity(tasks.len());
        let mut ids = Vec::with_capacity(tasks.len());
        let mut areas = Vec::with_capacity(tasks.len());
        let mut grids = Vec::with_capacity(tasks.len());
        let mut lanes = Vec::with_capacity(tasks.len());
        let mut streets = Vec::with_capacity(tasks.len());
        for t in tasks {
            subs.push(t.new.ticket.subdistrict_code.as_str().to_owned());
            ids.push(t.new.ticket.id.as_uuid());
            areas.push(t.area_code.as_str().to_owned());
            grids.push(t.place.grid.as_ref().map(|c| c.as_str().to_owned()));
            lanes.push(t.place.lane.as_ref().map(|c| c.as_str().to_owned()));
            streets.push(t.place.street.as_ref().map(|c| c.as_str().to_owned()));
        }
        sqlx::query(
            "INSERT INTO campaign_tasks (subdistrict_code, ticket_id, campaign_id, area_code, \
               grid_code, lane_code, street_code) \
             SELECT s, t, $7, a, g, l, st \
             FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], \
               $6::text[]) AS x(s, t, a, g, l, st)",
        )
        .bind(subs)
        .bind(ids)
        .bind(areas)
        .bind(grids)
        .bind(lanes)
        .bind(streets)
        .bind(campaign.id.as_uuid())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_campaign(&self, id: &CampaignId) -> Result<Campaign> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT campaign FROM campaigns WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        let text = text.ok_or_else(|| StoreError::not_found("campaign", id))?;
        from_json("campaign", &text)
    }

    async fn campaign_of_task(&self, ticket: &TicketId) -> Result<Option<Campaign>> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT c.campaign FROM campaign_tasks t \
             JOIN campaigns c ON c.subdistrict_code = t.subdistrict_code AND c.id = t.campaign_id \
             WHERE t.ticket_id = $1",
        )
        .bind(ticket.as_uuid())
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
             WHERE t.campaign_id = $1 ORDER BY t.area_code",
        )
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let opt = |c: &'static str| -> Result<Option<wuzhang_domain::area::AreaCode>> {
                    r.try_get::<Option<String>, _>(c)?
                        .map(|v| code(c, v))
                        .transpose()
                };
                let ticket: Uuid = r.try_get("ticket_id")?;
                Ok(CampaignTaskRow {
                    ticket_id: TicketId::from_uuid(ticket),
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
                    accept_due_at: r.try_get("accept_due_at")?,
                    resolve_due_at: r.try_get("resolve_due_at")?,
                    result: r
                        .try_get::<Option<String>, _>("result")?
                        .map(|t| from_json("result", &t))
                        .transpose()?,
                })
            })
            .collect()
    }
}
