//! The only place that issues SQL. One module per aggregate.
//!
//! Both backends run the same statements through sqlx's `Any` driver: `$1` placeholders,
//! times as integer milliseconds, flags as 0/1 integers. Where the two differ (transaction
//! start, migrations, connection set-up) [`Db`] hides it.

pub mod appeals;
pub mod blind;
pub mod calibration;
pub mod flags;
pub mod grading;
pub mod listening;
pub mod login_failures;
pub mod media;
pub mod notifications;
pub mod publication;
pub mod recordings;
pub mod sampling;
pub mod score_jobs;
pub mod scoring;
pub mod scratch;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Transaction};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite has one writer at a time. Its busy handler makes a waiting writer sleep in
    /// growing steps (up to 100 ms) instead of waking it when the lock frees, so writers of
    /// this process queue here first, in order, and SQLite's lock is only ever contended by
    /// other processes (a CLI import beside the server).
    write_turn: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction (and, on SQLite, this process's write turn until it ends). Derefs to
/// the connection, like sqlx's `Transaction`.
pub struct Tx {
    inner: Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    backend: Backend,
}

impl Tx {
    /// Holds an agent against a concurrent publication of their month until this
    /// transaction ends, so that "the month is not published for them" stays true until it
    /// commits (a submission or a pull checks it). Publishing takes the same rows
    /// exclusively ([`Tx::hold_agents_for_publication`]). On PostgreSQL at READ COMMITTED a
    /// check and a concurrent publication could otherwise both pass; SQLite has one writer
    /// at a time, so there is nothing to do.
    pub async fn hold_agent(&mut self, agent_id: i64) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR SHARE")
                .bind(agent_id)
                .fetch_optional(&mut *self.inner)
                .await?;
        }
        Ok(())
    }

    /// The exclusive side of [`Tx::hold_agent`], for publishing: every active agent (or
    /// those of the teams given), locked in id order so two publications cannot deadlock.
    pub async fn hold_agents_for_publication(
        &mut self,
        team_ids: Option<&[i64]>,
    ) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres && team_ids != Some(&[]) {
            // Ids are integers of our own rows, not input text.
            let teams: Vec<String> = team_ids
                .unwrap_or_default()
                .iter()
                .map(i64::to_string)
                .collect();
            let condition = if team_ids.is_some() {
                format!(" AND team_id IN ({})", teams.join(","))
            } else {
                String::new()
            };
            let sql = format!(
                "SELECT id FROM users WHERE role = 'agent' AND active = 1{condition} \
                 ORDER BY id FOR NO KEY UPDATE"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut *self.inner)
                .await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Db {
    /// Opens the database (PostgreSQL when a URL is given, else `data_dir/callgrade.db`) and
    /// brings its schema up to date.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<Db> {
        install_default_drivers();
        let db = match database_url {
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await
                    .context("connecting to PostgreSQL")?;
                Db {
                    pool,
                    backend: Backend::Postgres,
                    write_turn: Arc::default(),
                }
            }
            Some(url) if url.starts_with("sqlite:") => Self::open_sqlite(url).await?,
            Some(other) => {
                let scheme = other.split(':').next().unwrap_or_default();
                anyhow::bail!(
                    "unsupported database URL scheme {scheme:?} (use postgres:// or sqlite:)"
                )
            }
            None => {
                std::fs::create_dir_all(data_dir)
                    .with_context(|| format!("creating data dir {}", data_dir.display()))?;
                let path = data_dir.join("callgrade.db");
                Self::open_sqlite(&format!("sqlite://{}?mode=rwc", path.display())).await?
            }
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn open_sqlite(url: &str) -> anyhow::Result<Db> {
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer (also a second process such
                    // as `callgrade import` while the server runs); synchronous=FULL makes an
                    // acknowledged commit survive a power cut, not just a process crash.
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await
            .with_context(|| format!("opening SQLite database {url}"))?;
        Ok(Db {
            pool,
            backend: Backend::Sqlite,
            write_turn: Arc::default(),
        })
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .context("running database migrations")
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that upgrades later can fail with
    /// SQLITE_BUSY without ever waiting on the busy timeout.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = self.write_turn.clone().lock_owned().await;
                Ok(Tx {
                    inner: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                    backend: Backend::Sqlite,
                })
            }
            Backend::Postgres => Ok(Tx {
                inner: self.pool.begin().await?,
                _turn: None,
                backend: Backend::Postgres,
            }),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// True when the error is a unique-constraint violation (on either backend); callers map it
/// to their own conflict error where the query runs.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db_err) => {
            matches!(db_err.kind(), sqlx::error::ErrorKind::UniqueViolation)
        }
        _ => false,
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
