//! The training platform: an HTTP server (axum) with a JSON API, server-rendered pages and
//! WebSocket live views, holding one range driver per team (`platform`).
//!
//! - `auth`: passwords (argon2id), sessions, CSRF, the `Access` every route declares and the
//!   middleware that enforces it, rate limits.
//! - `api`: the route table (`api::routes`: method, path, access, summary, handler) from which
//!   the router, the OpenAPI document and the authorisation test are all built; handlers.
//! - `views`: what each audience may see of a team's journal: trainees get evidence (alerts,
//!   the HMI's own records, injects, their actions), never attribution (`by`, steps);
//!   instructors get the journal.
//! - `platform`: runs and their team ranges, journal inputs written before an action is
//!   acknowledged, recovery by replay at start.
//! - `displays`: the grid operator's displays (overview, station one-lines, point names),
//!   laid out on the server.
//! - `pages`: the HTML pages and the embedded JavaScript and CSS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub mod admin;
pub mod api;
pub mod auth;
pub mod displays;
pub mod line;
pub mod pages;
pub mod platform;
pub mod register;
pub mod reply;
pub mod tls;
pub mod views;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; default: an SQLite file in the data directory.
    pub database_url: Option<String>,
    /// Device services of team ranges on real loopback sockets.
    pub listen_devices: bool,
    /// Team address blocks start at 127.N.0.0.
    pub first_block: u8,
    /// Cookies marked Secure (set when serving TLS, or behind a TLS proxy).
    pub secure_cookies: bool,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// What a client of the web server may hold (header and body deadlines, connections per
    /// address, the trusted proxy).
    pub limits: tls::Limits,
    /// What one instructor may take of the platform.
    pub quotas: Quotas,
}

/// What one instructor may take of the platform (the address blocks are shared by all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Runs not yet ended that one instructor (not an administrator) may have created.
    pub runs_per_instructor: usize,
    /// Teams in one run.
    pub teams_per_run: usize,
    /// Address blocks held by the teams of the runs one instructor (not an administrator)
    /// created: two courses' worth, of about 240 blocks in all.
    pub blocks_per_instructor: usize,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas { runs_per_instructor: 10, teams_per_run: 40, blocks_per_instructor: 80 }
    }
}

/// The server's shared state.
#[derive(Debug, Clone)]
pub struct App(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: store::Store,
    pub data: PathBuf,
    pub ranges: platform::Ranges,
    pub limiter: auth::Limiter,
    pub listen_devices: bool,
    pub first_block: u8,
    pub secure_cookies: bool,
    /// `Config::limits`, for `serve` and `serve_tls`, and the login limits (trusted proxy).
    pub limits: tls::Limits,
    pub quotas: Quotas,
    /// Held while a run starts: two starts of one run (or a start and a team's deletion) never
    /// interleave.
    pub starting: tokio::sync::Mutex<()>,
    /// The last broadcast number per run, so live views ask the database only when there is
    /// something new.
    pub broadcasts: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// Each run's exercise, loaded once (a run's exercise never changes): pages read it,
    /// they never parse the file again (`platform::exercise`).
    pub exercises: platform::Exercises,
}

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Seconds since 1970 (the shell's clock; the store and the ranges take time from here).
pub fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// An error answered to a client: a status and a short message, never a stack trace, never
/// SQL (database errors are logged and answered as a generic 500).
#[derive(Debug)]
pub enum ApiError {
    Unauthorised,
    /// A sign-in with a wrong name or password (401, in those words).
    WrongPassword,
    Forbidden(&'static str),
    NotFound,
    BadRequest(String),
    /// An exercise that does not load: its problems, with line and column.
    Invalid(Vec<exercise::Diagnostic>),
    Conflict(&'static str),
    TooMany,
    Unavailable,
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorised | ApiError::WrongPassword => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooMany => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> ApiError {
        match e {
            store::Error::Conflict => ApiError::Conflict("already exists"),
            e => {
                tracing::error!(error = %e, "store");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            ApiError::Unauthorised => "sign in first".to_string(),
            ApiError::WrongPassword => "wrong name or password".to_string(),
            ApiError::Forbidden(m) | ApiError::Conflict(m) => m.to_string(),
            ApiError::NotFound => "not found".to_string(),
            ApiError::BadRequest(m) => m.clone(),
            ApiError::Invalid(_) => "the exercise does not load".to_string(),
            ApiError::TooMany => "too many attempts; wait a few minutes".to_string(),
            ApiError::Unavailable => {
                "the action was applied but its record is not yet stored; check before repeating it"
                    .to_string()
            }
            ApiError::Internal => "internal error".to_string(),
        };
        let mut body = serde_json::json!({ "error": message });
        if let ApiError::Invalid(d) = &self {
            body["problems"] = d
                .iter()
                .map(|d| serde_json::json!({"line": d.line, "col": d.col, "message": d.message}))
                .collect();
        }
        let mut r = (self.status(), axum::Json(body)).into_response();
        if matches!(self, ApiError::Unauthorised) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Cookie"));
        }
        r
    }
}

/// Opens the database and the data directory, brings back the runs that had begun.
///
/// The data directory holds the exercise's answers, password hashes and every team's
/// capture: it is the server's own (0700), its files 0600, whatever the umask.
pub async fn open(cfg: &Config) -> anyhow_like::Result<App> {
    let io = |e: std::io::Error| anyhow_like::Error(format!("{}: {e}", cfg.data_dir.display()));
    std::fs::create_dir_all(&cfg.data_dir).map_err(io)?;
    private_dir(&cfg.data_dir).map_err(io)?;
    let url = match &cfg.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}?mode=rwc", cfg.data_dir.join("icsrange.db").display()),
    };
    let store = store::Store::open(&url).await.map_err(|e| anyhow_like::Error(e.to_string()))?;
    // SQLite's files, made with the umask's modes (its WAL and shared memory too).
    for f in ["icsrange.db", "icsrange.db-wal", "icsrange.db-shm"] {
        private_file(&cfg.data_dir.join(f)).map_err(io)?;
    }
    let app = App(Arc::new(Inner {
        store,
        data: cfg.data_dir.clone(),
        ranges: platform::Ranges::default(),
        limiter: auth::Limiter::default(),
        listen_devices: cfg.listen_devices,
        first_block: cfg.first_block,
        secure_cookies: cfg.secure_cookies,
        limits: cfg.limits,
        quotas: cfg.quotas,
        starting: tokio::sync::Mutex::new(()),
        broadcasts: Default::default(),
        exercises: Default::default(),
    }));
    let n = platform::recover(&app).await.map_err(|e| anyhow_like::Error(e.to_string()))?;
    if n > 0 {
        tracing::info!(teams = n, "runs recovered by replay, paused");
    }
    Ok(app)
}

/// Makes a directory the server's own: 0700.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Makes a file, if it exists, the server's own: 0600.
pub fn private_file(file: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = app.limits;
    tls::serve(api::router(app), listener, None, limits, shutdown).await
}

/// Serves HTTPS until `shutdown` completes.
pub async fn serve_tls(
    app: App,
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = app.limits;
    tls::serve(api::router(app), listener, Some(acceptor), limits, shutdown).await
}

/// A small error type for the shell (the binary turns it into its own).
pub mod anyhow_like {
    #[derive(Debug)]
    pub struct Error(pub String);
    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Error {}
    pub type Result<T> = std::result::Result<T, Error>;
}
