//! [`RosterStore`] on PostgreSQL: persons and posts, checked against stored areas and
//! persons, written with UNNEST; a change bumps the roster counter in the same transaction.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::{Person, PersonId, Post};

use super::areas::area_levels;
use super::rows::{person, post};
use super::{PostgresStore, strings};
use crate::codec::PostColumns;
use crate::error::{Result, StoreError};
use crate::interface::RosterStore;
use crate::validate;

#[async_trait]
impl RosterStore for PostgresStore {
    #[tracing::instrument(skip_all, level = "debug", fields(persons = persons.len(), posts = posts.len()))]
    async fn upsert_roster(&self, persons: &[Person], posts: &[Post]) -> Result<()> {
        let needs = validate::roster_batch(persons, posts)?;
        let post_cols = posts
            .iter()
            .map(PostColumns::new)
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.pool.begin().await?;
        let levels = area_levels(&mut tx, &needs.area_codes).await?;
        let mut stored_persons = HashSet::new();
        if !needs.person_ids.is_empty() {
            let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM persons WHERE id = ANY($1)")
                .bind(&needs.person_ids)
                .fetch_all(&mut *tx)
                .await?;
            stored_persons.extend(ids);
        }
        validate::check_posts(posts, persons, &levels, &stored_persons)?;
        if !persons.is_empty() {
            sqlx::query(
                "INSERT INTO persons (id, name, phone) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) \
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone",
            )
            .bind(strings(persons.iter().map(|p| p.id.as_str())))
            .bind(persons.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
            .bind(persons.iter().map(|p| p.phone.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        if !post_cols.is_empty() {
            let mut cols: (Vec<_>, Vec<_>, Vec<_>, Vec<_>, Vec<_>) = Default::default();
            for p in post_cols {
                cols.0.push(p.area_code);
                cols.1.push(p.level);
                cols.2.push(p.holder);
                cols.3.push(p.deputy);
                cols.4.push(p.leave);
            }
            sqlx::query(
                "INSERT INTO posts (area_code, level, holder, deputy, leave) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                 ON CONFLICT (area_code) DO UPDATE SET level = EXCLUDED.level, \
                     holder = EXCLUDED.holder, deputy = EXCLUDED.deputy, leave = EXCLUDED.leave",
            )
            .bind(cols.0)
            .bind(cols.1)
            .bind(cols.2)
            .bind(cols.3)
            .bind(cols.4)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE reference_changes SET roster = roster + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reference_writes.fetch_add(1, Ordering::Release);
        Ok(())
    }

    #[tracing::instrument(skip_all, level = "debug", fields(person = %id))]
    async fn get_person(&self, id: &PersonId) -> Result<Person> {
        let row = sqlx::query("SELECT id, name, phone FROM persons WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("person", id))?;
        person(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = ids.len()))]
    async fn get_persons(&self, ids: &[PersonId]) -> Result<Vec<Person>> {
        let rows =
            sqlx::query("SELECT id, name, phone FROM persons WHERE id = ANY($1) ORDER BY id")
                .bind(strings(ids.iter().map(PersonId::as_str)))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(person).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = codes.len()))]
    async fn posts_for_areas(&self, codes: &[AreaCode]) -> Result<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT area_code, level, holder, deputy, leave FROM posts \
             WHERE area_code = ANY($1) ORDER BY area_code",
        )
        .bind(strings(codes.iter().map(AreaCode::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(person = %id))]
    async fn posts_of_person(&self, id: &PersonId) -> Result<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT area_code, level, holder, deputy, leave FROM posts \
             WHERE holder = $1 OR deputy = $1 ORDER BY area_code",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }
}
