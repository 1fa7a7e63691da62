//! The platform's durable state, on SQLite (embedded, WAL, the default) or PostgreSQL (when the
//! URL says `postgres://`), through one code path: sqlx's `any` driver, portable SQL (`TEXT`,
//! `BIGINT`, `DOUBLE PRECISION`, `$n` parameters), ids chosen by the caller (no
//! auto-increment, whose syntax differs).
//!
//! What is kept: organisations, users (argon2id PHC strings, never a password), sessions (a
//! hash of the token), runs (the exercise's text and files, so a run can be rebuilt anywhere),
//! staff and teams, team members, and each team's journal inputs (the start entry and every
//! input, in journal order, as the journal's JSON lines). A run is a pure function of its
//! exercise, seed and inputs, so any process holding this database can rebuild any run by
//! replay: nothing a run needs lives only in a process's memory.
//!
//! Migrations are compiled in (`MIGRATIONS`) and applied in order at `open`, each in its own
//! transaction, recorded in `schema_migrations`.
//!
//! This crate reads no clock and makes no ids: times (seconds since 1970) and ids come from
//! the caller.
//!
//! The modules follow what is kept: `schema` (the migrations), `model` (the rows, and the
//! words some columns hold as enums: `RunStatus`, `StaffRole`, `RunRole`, `TeamRole`,
//! `OrgKind`, stored as the same text as always), `accounts` (organisations, users, sessions,
//! invitations), `runs` (runs, staff, teams, members) and `inputs` (journal inputs, incident
//! reports, broadcasts). Columns are read by name; a value that does not decode is an
//! `Error`, never a panic.

use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, AnyRow, install_default_drivers};
use sqlx::{AnyPool, Row};

mod accounts;
mod inputs;
mod model;
mod runs;
mod schema;

pub use model::{
    Block, InputLine, Invite, Message, Org, OrgKind, Report, Run, RunRole, RunStatus, StaffRole, Team,
    TeamRole, UnknownValue, User,
};
pub use schema::MIGRATIONS;

/// What can go wrong; the message never reaches a user (the web layer logs it and answers
/// with a generic error).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("`{0}` is not a database URL this build knows (sqlite://PATH or postgres://...)")]
    Url(String),
    #[error("already exists")]
    Conflict,
    /// A stored word (a status, a role, a kind) this build does not know.
    #[error("stored value: {0}")]
    Value(#[from] UnknownValue),
    /// A request the store cannot keep as asked.
    #[error("{0}")]
    Invalid(&'static str),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Which database the URL named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A connection pool on the platform's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    pub kind: Kind,
}

fn conflict(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict,
        _ => Error::Db(e),
    }
}

/// A column holding one of a type's words (`RunStatus`, `StaffRole`...).
fn word<T: FromStr<Err = UnknownValue>>(r: &AnyRow, column: &str) -> Result<T> {
    Ok(r.try_get::<String, _>(column)?.parse()?)
}

impl Store {
    /// Connects (creating an SQLite file if needed) and applies the migrations.
    pub async fn open(url: &str) -> Result<Store> {
        install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            Kind::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Kind::Postgres
        } else {
            return Err(Error::Url(url.to_string()));
        };
        let mut options = AnyPoolOptions::new().max_connections(if kind == Kind::Sqlite { 4 } else { 8 });
        if kind == Kind::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL: readers do not block the writer; FULL: a commit survives power loss.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA foreign_keys = ON",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        let store = Store { pool, kind };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
            .execute(&self.pool)
            .await?;
        for (i, m) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            for stmt in m.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(stmt).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A statement outside the schema (tests create and drop databases with it).
    pub async fn exec_admin(&self, sql: &str) -> Result<()> {
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite's journal mode (`wal`); `None` on PostgreSQL.
    pub async fn pragma_journal_mode(&self) -> Result<String> {
        let r = sqlx::query("PRAGMA journal_mode").fetch_one(&self.pool).await?;
        Ok(r.try_get::<String, _>("journal_mode")?.to_lowercase())
    }
}
