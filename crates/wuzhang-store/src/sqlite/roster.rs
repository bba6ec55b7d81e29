//! [`RosterStore`] on SQLite: persons and posts, checked against stored areas and persons
//! under the write lock; a change bumps the roster counter in the same transaction.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::{Person, PersonId, Post};

use super::areas::area_levels;
use super::rows::{person, post};
use super::{SqliteStore, json_list};
use crate::codec::PostColumns;
use crate::error::{Result, StoreError};
use crate::interface::RosterStore;
use crate::validate;

#[async_trait]
impl RosterStore for SqliteStore {
    #[tracing::instrument(skip_all, level = "debug", fields(persons = persons.len(), posts = posts.len()))]
    async fn upsert_roster(&self, persons: &[Person], posts: &[Post]) -> Result<()> {
        let needs = validate::roster_batch(persons, posts)?;
        let post_cols = posts
            .iter()
            .map(PostColumns::new)
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.begin_write().await?;
        let levels = area_levels(&mut tx, &needs.area_codes).await?;
        let mut stored_persons = HashSet::new();
        if !needs.person_ids.is_empty() {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM persons WHERE id IN (SELECT value FROM json_each(?1))",
            )
            .bind(json_list(needs.person_ids.iter().map(String::as_str)))
            .fetch_all(&mut *tx)
            .await?;
            stored_persons.extend(ids);
        }
        validate::check_posts(posts, persons, &levels, &stored_persons)?;
        for p in persons {
            sqlx::query(
                "INSERT INTO persons (id, name, phone) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone",
            )
            .bind(p.id.as_str())
            .bind(&p.name)
            .bind(&p.phone)
            .execute(&mut *tx)
            .await?;
        }
        for p in post_cols {
            sqlx::query(
                "INSERT INTO posts (area_code, level, holder, deputy, leave) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (area_code) DO UPDATE SET level = excluded.level, \
                     holder = excluded.holder, deputy = excluded.deputy, leave = excluded.leave",
            )
            .bind(p.area_code)
            .bind(p.level)
            .bind(p.holder)
            .bind(p.deputy)
            .bind(p.leave)
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
        let row = sqlx::query("SELECT id, name, phone FROM persons WHERE id = ?1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("person", id))?;
        person(&row)
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = ids.len()))]
    async fn get_persons(&self, ids: &[PersonId]) -> Result<Vec<Person>> {
        let rows = sqlx::query(
            "SELECT id, name, phone FROM persons \
             WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )
        .bind(json_list(ids.iter().map(PersonId::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(person).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(count = codes.len()))]
    async fn posts_for_areas(&self, codes: &[AreaCode]) -> Result<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT area_code, level, holder, deputy, leave FROM posts \
             WHERE area_code IN (SELECT value FROM json_each(?1)) ORDER BY area_code",
        )
        .bind(json_list(codes.iter().map(AreaCode::as_str)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }

    #[tracing::instrument(skip_all, level = "debug", fields(person = %id))]
    async fn posts_of_person(&self, id: &PersonId) -> Result<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT area_code, level, holder, deputy, leave FROM posts \
             WHERE holder = ?1 OR deputy = ?1 ORDER BY area_code",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }
}
