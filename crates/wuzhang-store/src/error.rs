//! The one error type of the store, classified by what the caller can do about it.

use std::borrow::Cow;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist (or was never visible to this store).
    #[error("{entity} {key} not found")]
    NotFound { entity: &'static str, key: String },

    /// A unique key is taken: an area code, an idempotency key, …
    #[error("{entity} {key} already exists")]
    AlreadyExists { entity: &'static str, key: String },

    /// Optimistic concurrency: the object changed since the caller read it. The caller
    /// re-reads (the current version is given) and decides again.
    #[error("{entity} {key} was changed concurrently (now at version {current_version})")]
    Conflict {
        entity: &'static str,
        key: String,
        current_version: i64,
    },

    /// The request breaks a rule the store enforces: a missing parent, a bad page token.
    #[error("{field}: {reason}")]
    Invalid {
        field: Cow<'static, str>,
        reason: String,
    },

    /// The database cannot be reached or is overloaded; retrying later may work.
    #[error("store unavailable: {source}")]
    Unavailable {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Anything else: a bug or corrupt data. Not the caller's fault.
    #[error("store internal error: {source}")]
    Internal {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// The request id is taken: another request wrote its idempotency record first.
    pub fn is_taken_request_id(&self) -> bool {
        matches!(self, Self::AlreadyExists { entity, .. } if *entity == crate::IdempotencyRecord::ENTITY)
    }

    /// A rule broken by the request, naming the field so edges can report a field violation.
    pub fn invalid(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A bug or corrupt data, with whatever explains it.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal {
            source: source.into(),
        }
    }

    /// The named object is absent.
    pub fn not_found(entity: &'static str, key: impl ToString) -> Self {
        Self::NotFound {
            entity,
            key: key.to_string(),
        }
    }

    /// The named unique key is taken.
    pub fn already_exists(entity: &'static str, key: impl ToString) -> Self {
        Self::AlreadyExists {
            entity,
            key: key.to_string(),
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// SQLSTATE classes and codes that say "the database cannot serve this now", not "the
/// request is wrong": connection exceptions (08), insufficient resources (53), operator
/// intervention such as a shutdown (57P0x), and serialization failures or deadlocks
/// (40001, 40P01), which a retry resolves.
fn postgres_code_is_transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P0")
        || code == "40001"
        || code == "40P01"
}

/// SQLite primary result codes SQLITE_BUSY (5) and SQLITE_LOCKED (6): another connection
/// holds the lock past the busy timeout.
fn sqlite_code_is_transient(code: &str) -> bool {
    code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable {
                source: Box::new(e),
            },
            sqlx::Error::Database(db) => {
                let transient = db.code().is_some_and(|code| {
                    if db
                        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                        .is_some()
                    {
                        postgres_code_is_transient(&code)
                    } else {
                        sqlite_code_is_transient(&code)
                    }
                });
                if transient {
                    Self::Unavailable {
                        source: Box::new(sqlx::Error::Database(db)),
                    }
                } else if db.is_unique_violation() {
                    // Call sites that know the entity map this themselves; this is the fallback.
                    let key = db.constraint().unwrap_or_else(|| db.message()).to_owned();
                    Self::AlreadyExists { entity: "row", key }
                } else {
                    Self::Internal {
                        source: Box::new(sqlx::Error::Database(db)),
                    }
                }
            }
            other => Self::Internal {
                source: Box::new(other),
            },
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => inner.into(),
            other => Self::Internal {
                source: Box::new(other),
            },
        }
    }
}

/// Maps a unique violation of one statement to AlreadyExists for the entity it writes;
/// anything else maps as usual.
pub(crate) fn unique_as(e: sqlx::Error, entity: &'static str, key: impl ToString) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::already_exists(entity, key)
        }
        _ => e.into(),
    }
}
