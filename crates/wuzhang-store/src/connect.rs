//! Opening a store from the one setting operators give: a database URL. The scheme picks
//! the backend, so the binary and tests never name an implementation.

use std::sync::Arc;

use crate::error::Result;
use crate::interface::Store;
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;

/// Pool size for Postgres when the URL is all we have: enough for every service of one
/// process plus the timer worker, well under the server's default of 100 connections.
pub const DEFAULT_PG_MAX_CONNECTIONS: u32 = 16;

/// Opens the store `url` names: `postgres://…` or `postgresql://…` for PostgreSQL,
/// `sqlite:…` or a plain file path for SQLite (created if missing; `:memory:` gives a
/// private temporary database). `max_connections` sizes the Postgres pool (0 means
/// [`DEFAULT_PG_MAX_CONNECTIONS`]). Does not migrate: callers run [`Store::migrate`].
pub async fn connect(url: &str, max_connections: u32) -> Result<Arc<dyn Store>> {
    if is_postgres(url) {
        let max = if max_connections == 0 {
            DEFAULT_PG_MAX_CONNECTIONS
        } else {
            max_connections
        };
        let store = PostgresStore::connect(url, max).await?;
        tracing::debug!(url = %redact(url), "connected to postgres");
        Ok(Arc::new(store))
    } else {
        let store = SqliteStore::open(url).await?;
        tracing::debug!(url = %redact(url), "opened sqlite");
        Ok(Arc::new(store))
    }
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres(url: &str) -> bool {
    let lower = url.get(..13).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` with its password hidden, for logs and error messages: the password of the
/// user-info part (`postgres://user:***@host/db`) and of `password=` / `sslpassword=`
/// query parameters. Anything that is not a URL comes back unchanged.
pub fn redact(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push_str(":***");
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _))
                    if k.eq_ignore_ascii_case("password")
                        || k.eq_ignore_ascii_case("sslpassword") =>
                {
                    format!("{k}=***")
                }
                _ => kv.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::Backend;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://wz:s3cr3t@db.example:5432/wuzhang"),
            "postgres://wz:***@db.example:5432/wuzhang"
        );
        assert_eq!(
            redact("postgresql://wz:p@ss@db/wz?sslmode=require&password=x"),
            "postgresql://wz:***@db/wz?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/wz"),
            "postgres://postgres@127.0.0.1/wz"
        );
        assert_eq!(
            redact("sqlite://data/wuzhang.db"),
            "sqlite://data/wuzhang.db"
        );
        assert_eq!(redact("data/wuzhang.db"), "data/wuzhang.db");
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn scheme_picks_the_backend() {
        assert!(is_postgres("postgres://x/y"));
        assert!(is_postgres("PostgreSQL://x/y"));
        assert!(!is_postgres("sqlite://x.db"));
        assert!(!is_postgres("postgres.db"));
        assert!(!is_postgres("目录/x.db"));
    }

    #[tokio::test]
    async fn paths_and_sqlite_urls_open_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new-dir").join("a.db");
        let store = connect(path.to_str().unwrap(), 0).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        store.migrate().await.unwrap();
        assert!(path.exists(), "the file and its directory are created");
        let url = format!("sqlite://{}", dir.path().join("b.db").display());
        let store = connect(&url, 0).await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.area_change_counter().await.unwrap(), 0);
        let store = connect("sqlite::memory:", 0).await.unwrap();
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn an_unreachable_postgres_is_unavailable() {
        // Port 1 on localhost refuses at once; a short acquire timeout keeps the test quick.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_millis(300))
            .connect_lazy("postgres://u:pw@127.0.0.1:1/db")
            .unwrap();
        let store = PostgresStore::from_pool(pool);
        let err = store.ping().await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
}
