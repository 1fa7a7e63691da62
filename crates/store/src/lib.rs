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

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

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
}

pub type Result<T> = std::result::Result<T, Error>;

/// The schema, one migration per entry, never edited once released: add a new one.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    org TEXT REFERENCES orgs(id),
    hash TEXT NOT NULL,
    admin BIGINT NOT NULL,
    staff BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    created BIGINT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    exercise TEXT NOT NULL,
    exercise_text TEXT NOT NULL,
    files TEXT NOT NULL,
    seed BIGINT NOT NULL,
    speed DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created BIGINT NOT NULL
);
CREATE TABLE staff (
    run TEXT NOT NULL REFERENCES runs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    PRIMARY KEY (run, user_id)
);
CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    run TEXT NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    base TEXT NOT NULL,
    UNIQUE (run, name)
);
CREATE TABLE members (
    run TEXT NOT NULL REFERENCES runs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    team TEXT NOT NULL REFERENCES teams(id),
    role TEXT NOT NULL,
    PRIMARY KEY (run, user_id)
);
CREATE TABLE inputs (
    team TEXT NOT NULL REFERENCES teams(id),
    seq BIGINT NOT NULL,
    t_us BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (team, seq)
);
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    team TEXT NOT NULL REFERENCES teams(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    grade DOUBLE PRECISION,
    created BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    run TEXT NOT NULL REFERENCES runs(id),
    role TEXT NOT NULL,
    team TEXT REFERENCES teams(id),
    team_role TEXT NOT NULL,
    expires BIGINT NOT NULL,
    used BIGINT NOT NULL
);
CREATE TABLE messages (
    run TEXT NOT NULL REFERENCES runs(id),
    seq BIGINT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (run, seq)
);
"#,
];

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

#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub country: String,
    /// `host` (a co-host of the course) or `participant`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub org: Option<String>,
    pub hash: String,
    /// Platform administrator.
    pub admin: bool,
    /// Course staff: may create runs (and becomes their instructor).
    pub staff: bool,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub name: String,
    /// The exercise's name (built-in) or the uploaded file's name.
    pub exercise: String,
    pub exercise_text: String,
    /// Uploaded grid files: a JSON object of name → text (empty for built-in grids).
    pub files: String,
    pub seed: i64,
    pub speed: f64,
    /// `draft` (not started), `running`, `paused`, `ended`.
    pub status: String,
    /// The devices' clock at simulated time 0 (ms since 2000-01-01 UTC); fixed at creation so
    /// a replay gives the same time tags.
    pub start_ms: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: String,
    pub run: String,
    pub name: String,
    /// The team's address block, `127.N.0.0`.
    pub base: String,
}

/// One journal line kept: the start entry (seq 0) or an input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLine {
    pub seq: i64,
    pub t_us: i64,
    pub line: String,
}

/// A one-time invitation to a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    pub run: String,
    /// trainee, observer or instructor.
    pub role: String,
    pub team: Option<String>,
    pub team_role: String,
    pub expires: i64,
}

/// An instructor's broadcast to a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub seq: i64,
    pub author: String,
    pub body: String,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: String,
    pub team: String,
    pub user_id: String,
    pub body: String,
    pub grade: Option<f64>,
    pub created: i64,
}

fn conflict(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict,
        _ => Error::Db(e),
    }
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

    // ---- organisations

    pub async fn create_org(&self, o: &Org) -> Result<()> {
        sqlx::query("INSERT INTO orgs (id, name, country, kind) VALUES ($1, $2, $3, $4)")
            .bind(&o.id)
            .bind(&o.name)
            .bind(&o.country)
            .bind(&o.kind)
            .execute(&self.pool)
            .await
            .map_err(conflict)?;
        Ok(())
    }

    pub async fn orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query("SELECT id, name, country, kind FROM orgs ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Org { id: r.get(0), name: r.get(1), country: r.get(2), kind: r.get(3) })
            .collect())
    }

    pub async fn org_by_name(&self, name: &str) -> Result<Option<Org>> {
        let r = sqlx::query("SELECT id, name, country, kind FROM orgs WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| Org { id: r.get(0), name: r.get(1), country: r.get(2), kind: r.get(3) }))
    }

    // ---- users

    pub async fn create_user(&self, u: &User, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, name, org, hash, admin, staff, disabled, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(u.org.clone())
        .bind(&u.hash)
        .bind(u.admin as i64)
        .bind(u.staff as i64)
        .bind(u.disabled as i64)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        Ok(())
    }

    fn user_of(r: &sqlx::any::AnyRow) -> User {
        User {
            id: r.get(0),
            name: r.get(1),
            org: r.get(2),
            hash: r.get(3),
            admin: r.get::<i64, _>(4) != 0,
            staff: r.get::<i64, _>(5) != 0,
            disabled: r.get::<i64, _>(6) != 0,
        }
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let r = sqlx::query("SELECT id, name, org, hash, admin, staff, disabled FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(Store::user_of))
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>> {
        let r = sqlx::query("SELECT id, name, org, hash, admin, staff, disabled FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(Store::user_of))
    }

    pub async fn set_disabled(&self, id: &str, disabled: bool) -> Result<()> {
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled as i64)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- sessions

    pub async fn create_session(&self, token_hash: &str, user: &str, csrf: &str, expires: i64) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf, expires) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user)
            .bind(csrf)
            .bind(expires)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The session's user (enabled) and CSRF token, if the session exists and has not expired.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<(User, String)>> {
        let r = sqlx::query(
            "SELECT u.id, u.name, u.org, u.hash, u.admin, u.staff, u.disabled, s.csrf FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires > $2 AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| (Store::user_of(&r), r.get(7))))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- runs

    pub async fn create_run(&self, r: &Run, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO runs (id, name, exercise, exercise_text, files, seed, speed, status, start_ms, created_by, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.exercise)
        .bind(&r.exercise_text)
        .bind(&r.files)
        .bind(r.seed)
        .bind(r.speed)
        .bind(&r.status)
        .bind(r.start_ms)
        .bind(&r.created_by)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        sqlx::query("INSERT INTO staff (run, user_id, role) VALUES ($1, $2, 'instructor')")
            .bind(&r.id)
            .bind(&r.created_by)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    fn run_of(r: &sqlx::any::AnyRow) -> Run {
        Run {
            id: r.get(0),
            name: r.get(1),
            exercise: r.get(2),
            exercise_text: r.get(3),
            files: r.get(4),
            seed: r.get(5),
            speed: r.get(6),
            status: r.get(7),
            start_ms: r.get(8),
            created_by: r.get(9),
        }
    }

    const RUN_COLUMNS: &'static str =
        "id, name, exercise, exercise_text, files, seed, speed, status, start_ms, created_by";

    pub async fn run(&self, id: &str) -> Result<Option<Run>> {
        let q = format!("SELECT {} FROM runs WHERE id = $1", Store::RUN_COLUMNS);
        let r = sqlx::query(&q).bind(id).fetch_optional(&self.pool).await?;
        Ok(r.as_ref().map(Store::run_of))
    }

    pub async fn runs(&self) -> Result<Vec<Run>> {
        let q = format!("SELECT {} FROM runs ORDER BY created, id", Store::RUN_COLUMNS);
        let rows = sqlx::query(&q).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(Store::run_of).collect())
    }

    pub async fn set_run_status(&self, id: &str, status: &str, speed: f64) -> Result<()> {
        sqlx::query("UPDATE runs SET status = $1, speed = $2 WHERE id = $3")
            .bind(status)
            .bind(speed)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn add_staff(&self, run: &str, user: &str, role: &str) -> Result<()> {
        sqlx::query("INSERT INTO staff (run, user_id, role) VALUES ($1, $2, $3)")
            .bind(run)
            .bind(user)
            .bind(role)
            .execute(&self.pool)
            .await
            .map_err(conflict)?;
        Ok(())
    }

    /// `instructor` or `observer`, if the user is staff of the run.
    pub async fn staff_role(&self, run: &str, user: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT role FROM staff WHERE run = $1 AND user_id = $2")
            .bind(run)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| r.get(0)))
    }

    /// Every run the user has a part in: (run id, `instructor`/`observer`/`trainee`, team).
    pub async fn parts(&self, user: &str) -> Result<Vec<(String, String, Option<String>)>> {
        let mut out: Vec<(String, String, Option<String>)> =
            sqlx::query("SELECT run, role FROM staff WHERE user_id = $1 ORDER BY run")
                .bind(user)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), None))
                .collect();
        let rows = sqlx::query("SELECT run, team FROM members WHERE user_id = $1 ORDER BY run")
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        out.extend(rows.iter().map(|r| (r.get(0), "trainee".to_string(), Some(r.get(1)))));
        Ok(out)
    }

    // ---- teams

    pub async fn create_team(&self, t: &Team) -> Result<()> {
        sqlx::query("INSERT INTO teams (id, run, name, base) VALUES ($1, $2, $3, $4)")
            .bind(&t.id)
            .bind(&t.run)
            .bind(&t.name)
            .bind(&t.base)
            .execute(&self.pool)
            .await
            .map_err(conflict)?;
        Ok(())
    }

    pub async fn teams(&self, run: &str) -> Result<Vec<Team>> {
        let rows = sqlx::query("SELECT id, run, name, base FROM teams WHERE run = $1 ORDER BY name")
            .bind(run)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| Team { id: r.get(0), run: r.get(1), name: r.get(2), base: r.get(3) })
            .collect())
    }

    pub async fn team(&self, id: &str) -> Result<Option<Team>> {
        let r = sqlx::query("SELECT id, run, name, base FROM teams WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| Team { id: r.get(0), run: r.get(1), name: r.get(2), base: r.get(3) }))
    }

    /// Address blocks held by teams of runs that have not ended.
    pub async fn bases_in_use(&self) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT t.base FROM teams t JOIN runs r ON r.id = t.run WHERE r.status <> 'ended'")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Makes the user a member of the team (one team per run: a second is a conflict).
    pub async fn add_member(&self, run: &str, team: &str, user: &str, role: &str) -> Result<()> {
        sqlx::query("INSERT INTO members (run, user_id, team, role) VALUES ($1, $2, $3, $4)")
            .bind(run)
            .bind(user)
            .bind(team)
            .bind(role)
            .execute(&self.pool)
            .await
            .map_err(conflict)?;
        Ok(())
    }

    /// The user's team in the run and role in it.
    pub async fn membership(&self, run: &str, user: &str) -> Result<Option<(String, String)>> {
        let r = sqlx::query("SELECT team, role FROM members WHERE run = $1 AND user_id = $2")
            .bind(run)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| (r.get(0), r.get(1))))
    }

    /// A team's members: (user id, name, role).
    pub async fn members(&self, team: &str) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT u.id, u.name, m.role FROM members m JOIN users u ON u.id = m.user_id WHERE m.team = $1 ORDER BY u.name",
        )
        .bind(team)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    // ---- journal inputs

    /// Appends journal lines (in one transaction: all or none).
    pub async fn append_inputs(&self, team: &str, lines: &[InputLine]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for l in lines {
            sqlx::query("INSERT INTO inputs (team, seq, t_us, line) VALUES ($1, $2, $3, $4)")
                .bind(team)
                .bind(l.seq)
                .bind(l.t_us)
                .bind(&l.line)
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A team's kept journal lines, in order.
    pub async fn inputs(&self, team: &str) -> Result<Vec<InputLine>> {
        let rows = sqlx::query("SELECT seq, t_us, line FROM inputs WHERE team = $1 ORDER BY seq")
            .bind(team)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| InputLine { seq: r.get(0), t_us: r.get(1), line: r.get(2) }).collect())
    }

    // ---- incident reports

    pub async fn create_report(&self, r: &Report) -> Result<()> {
        sqlx::query(
            "INSERT INTO reports (id, team, user_id, body, grade, created) VALUES ($1, $2, $3, $4, NULL, $5)",
        )
        .bind(&r.id)
        .bind(&r.team)
        .bind(&r.user_id)
        .bind(&r.body)
        .bind(r.created)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn reports(&self, team: &str) -> Result<Vec<Report>> {
        let rows =
            sqlx::query("SELECT id, team, user_id, body, grade, created FROM reports WHERE team = $1 ORDER BY created, id")
                .bind(team)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| Report {
                id: r.get(0),
                team: r.get(1),
                user_id: r.get(2),
                body: r.get(3),
                grade: r.get(4),
                created: r.get(5),
            })
            .collect())
    }

    pub async fn grade_report(&self, team: &str, id: &str, grade: f64) -> Result<bool> {
        let r = sqlx::query("UPDATE reports SET grade = $1 WHERE id = $2 AND team = $3")
            .bind(grade)
            .bind(id)
            .bind(team)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

impl Store {
    // ---- invitations

    pub async fn create_invite(&self, token_hash: &str, i: &Invite) -> Result<()> {
        sqlx::query(
            "INSERT INTO invites (token_hash, run, role, team, team_role, expires, used) VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(token_hash)
        .bind(&i.run)
        .bind(&i.role)
        .bind(i.team.clone())
        .bind(&i.team_role)
        .bind(i.expires)
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        Ok(())
    }

    /// An invitation that is neither used nor expired, without using it.
    pub async fn invite(&self, token_hash: &str, now: i64) -> Result<Option<Invite>> {
        let r = sqlx::query(
            "SELECT run, role, team, team_role, expires FROM invites WHERE token_hash = $1 AND used = 0 AND expires > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| Invite {
            run: r.get(0),
            role: r.get(1),
            team: r.get(2),
            team_role: r.get(3),
            expires: r.get(4),
        }))
    }

    /// Uses an invitation and creates its account in one transaction: a second use, an
    /// expired invitation or a taken name change nothing.
    pub async fn accept_invite(&self, token_hash: &str, now: i64, user: &User) -> Result<Option<Invite>> {
        let mut tx = self.pool.begin().await?;
        let used =
            sqlx::query("UPDATE invites SET used = 1 WHERE token_hash = $1 AND used = 0 AND expires > $2")
                .bind(token_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        let r = sqlx::query("SELECT run, role, team, team_role, expires FROM invites WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_one(&mut *tx)
            .await?;
        let inv =
            Invite { run: r.get(0), role: r.get(1), team: r.get(2), team_role: r.get(3), expires: r.get(4) };
        sqlx::query(
            "INSERT INTO users (id, name, org, hash, admin, staff, disabled, created) VALUES ($1, $2, $3, $4, 0, $5, 0, $6)",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(user.org.clone())
        .bind(&user.hash)
        .bind(user.staff as i64)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        match &inv.team {
            Some(team) => {
                sqlx::query("INSERT INTO members (run, user_id, team, role) VALUES ($1, $2, $3, $4)")
                    .bind(&inv.run)
                    .bind(&user.id)
                    .bind(team)
                    .bind(&inv.team_role)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
            }
            None => {
                sqlx::query("INSERT INTO staff (run, user_id, role) VALUES ($1, $2, $3)")
                    .bind(&inv.run)
                    .bind(&user.id)
                    .bind(&inv.role)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
            }
        }
        tx.commit().await?;
        Ok(Some(inv))
    }

    // ---- broadcasts

    /// Appends a message to the run's broadcasts; its number comes back. One statement takes
    /// the next number and writes (SQLite in WAL would refuse a read-then-write transaction
    /// that another writer overtook, without waiting).
    pub async fn add_message(&self, run: &str, author: &str, body: &str, now: i64) -> Result<i64> {
        sqlx::query(
            "INSERT INTO messages (run, seq, author, body, created) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM messages WHERE run = $5",
        )
        .bind(run)
        .bind(author)
        .bind(body)
        .bind(now)
        .bind(run)
        .execute(&self.pool)
        .await
        .map_err(conflict)?;
        let r = sqlx::query("SELECT MAX(seq) FROM messages WHERE run = $1 AND author = $2")
            .bind(run)
            .bind(author)
            .fetch_one(&self.pool)
            .await?;
        Ok(r.get::<Option<i64>, _>(0).unwrap_or(0))
    }

    pub async fn messages(&self, run: &str, after: i64) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT seq, author, body, created FROM messages WHERE run = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(run)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Message { seq: r.get(0), author: r.get(1), body: r.get(2), created: r.get(3) })
            .collect())
    }

    /// A statement outside the schema (tests create and drop databases with it).
    pub async fn exec_admin(&self, sql: &str) -> Result<()> {
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite's journal mode (`wal`); `None` on PostgreSQL.
    pub async fn pragma_journal_mode(&self) -> Result<String> {
        let r = sqlx::query("PRAGMA journal_mode").fetch_one(&self.pool).await?;
        Ok(r.get::<String, _>(0).to_lowercase())
    }
}
