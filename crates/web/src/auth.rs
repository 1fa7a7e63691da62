//! Who is calling, and what they may do.
//!
//! Passwords are stored as argon2id PHC strings; sessions are random 256-bit tokens in an
//! HttpOnly, SameSite=Strict cookie (Secure under TLS), kept in the database as their SHA-256
//! (a leaked table opens no session); every state-changing request carries the session's CSRF
//! token in `x-csrf-token`. Every route declares its `Access` in the route table
//! (`api::ROUTES`), and `check` enforces it before the handler runs: the router is built
//! from that table only, so no route exists without a check.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, App};

/// argon2id with OWASP's minimum (19 MiB, 2 passes, 1 lane).
fn argon() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    fill(&mut salt);
    // Encoding 16 bytes and hashing with valid parameters cannot fail; an empty string
    // (which verifies nothing) keeps the function total.
    SaltString::encode_b64(&salt)
        .ok()
        .and_then(|salt| argon().hash_password(password.as_bytes(), &salt).ok().map(|h| h.to_string()))
        .unwrap_or_default()
}

/// Password checks and hashes at a time: argon2 costs 19 MiB and tens of milliseconds each, on
/// the blocking pool, never on the workers that serve pages and live views.
static ARGON_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// `verify_password` off the async workers, at most two at once.
pub async fn verify_blocking(password: String, phc: String) -> bool {
    let Ok(_slot) = ARGON_SLOTS.acquire().await else { return false };
    tokio::task::spawn_blocking(move || verify_password(&password, &phc)).await.unwrap_or(false)
}

/// `hash_password` off the async workers, at most two at once.
pub async fn hash_blocking(password: String) -> String {
    let Ok(_slot) = ARGON_SLOTS.acquire().await else { return String::new() };
    tokio::task::spawn_blocking(move || hash_password(&password)).await.unwrap_or_default()
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon().verify_password(password.as_bytes(), &h).is_ok())
}

/// Random bytes from the OS (a failure of the OS's generator is not survivable).
pub fn fill(buf: &mut [u8]) {
    if getrandom::getrandom(buf).is_err() {
        // Never hand out a predictable token.
        std::process::abort();
    }
}

pub fn token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A password to print once: 20 characters from an alphabet without look-alikes (~114 bits).
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 20];
    fill(&mut b);
    b.iter().map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char).collect()
}

/// SHA-256 of a session token, hex (the database keeps only this).
pub fn token_hash(token: &str) -> String {
    sha256(token.as_bytes()).iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

pub const COOKIE: &str = "icsrange_session";
/// A session lasts a course day.
pub const SESSION_SECS: i64 = 12 * 3600;

/// The signed-in user of a request, put in its extensions by `check`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: store::User,
    pub csrf: String,
    pub token_hash: String,
}

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the login page and call, the OpenAPI document, static assets).
    Public,
    /// Any signed-in user.
    User,
    /// A platform administrator.
    Admin,
    /// An administrator or course staff (creates runs).
    Staff,
    /// `{run}`: an administrator, or an instructor or observer of the run.
    RunRead,
    /// `{run}`: an administrator or an instructor of the run.
    RunWrite,
    /// `{team}`: a member of the team, or an administrator, instructor or observer of its run.
    TeamRead,
    /// `{team}`: a member of the team (instructors watch teams read-only).
    TeamWrite,
    /// `{team}`: an administrator, instructor or observer of its run (the journal's truth).
    TeamStaff,
    /// `{team}`: an administrator or an instructor of its run (grades).
    TeamInstructor,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::User => "user",
            Access::Admin => "admin",
            Access::Staff => "staff",
            Access::RunRead => "run-read",
            Access::RunWrite => "run-write",
            Access::TeamRead => "team-read",
            Access::TeamWrite => "team-write",
            Access::TeamStaff => "team-staff",
            Access::TeamInstructor => "team-instructor",
        }
    }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').map(str::trim).find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')))
}

/// The signed-in user, from the session cookie.
pub async fn caller(app: &App, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let Some(token) = cookie_value(headers, COOKIE) else { return Ok(None) };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = token_hash(token);
    let found = app.store.session(&hash, crate::now_s()).await?;
    Ok(found.map(|(user, csrf)| Caller { user, csrf, token_hash: hash }))
}

/// The path parameter `name` of a request whose route is `pattern` (`/api/teams/{team}/...`).
pub fn path_param<'a>(pattern: &str, path: &'a str, name: &str) -> Option<&'a str> {
    let want = format!("{{{name}}}");
    pattern.split('/').zip(path.split('/')).find_map(|(p, v)| (p == want).then_some(v))
}

/// The middleware every route goes through: who calls, what the route requires, CSRF on
/// state-changing requests.
pub async fn check(
    State((app, access, pattern)): State<(App, Access, &'static str)>,
    mut req: Request,
    next: Next,
) -> Response {
    match authorise(&app, access, pattern, &mut req).await {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn authorise(app: &App, access: Access, pattern: &str, req: &mut Request) -> Result<(), ApiError> {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD);
    // A WebSocket handshake is a GET that opens a channel: it must come from our own pages
    // too (SameSite=Strict already keeps the cookie off a cross-site one).
    let websocket = req.headers().get(header::UPGRADE).is_some();
    if (changes || websocket) && !same_origin(req.headers()) {
        return Err(ApiError::Forbidden("cross-site request"));
    }
    if access == Access::Public {
        return Ok(());
    }
    let caller = caller(app, req.headers()).await?.ok_or(ApiError::Unauthorised)?;
    if changes {
        let sent = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !constant_eq(sent.as_bytes(), caller.csrf.as_bytes()) {
            return Err(ApiError::Forbidden("missing or wrong CSRF token"));
        }
    }
    let path = req.uri().path().to_string();
    let u = &caller.user;
    let allowed = match access {
        Access::Public | Access::User => true,
        Access::Admin => u.admin,
        Access::Staff => u.admin || u.staff,
        Access::RunRead | Access::RunWrite => {
            let run = path_param(pattern, &path, "run").ok_or(ApiError::NotFound)?;
            let role = app.store.staff_role(run, &u.id).await?;
            u.admin
                || match access {
                    Access::RunRead => role.is_some(),
                    _ => role == Some(store::StaffRole::Instructor),
                }
        }
        Access::TeamRead | Access::TeamWrite | Access::TeamStaff | Access::TeamInstructor => {
            let team = path_param(pattern, &path, "team").ok_or(ApiError::NotFound)?;
            let Some(t) = app.store.team(team).await? else {
                // Not found and not yours look the same.
                return Err(ApiError::NotFound);
            };
            let member = app.store.membership(&t.run, &u.id).await?.is_some_and(|(team, _)| team == t.id);
            let role = app.store.staff_role(&t.run, &u.id).await?;
            let staff = u.admin || role.is_some();
            match access {
                Access::TeamWrite => member,
                Access::TeamStaff => staff,
                Access::TeamInstructor => u.admin || role == Some(store::StaffRole::Instructor),
                _ => member || staff,
            }
        }
    };
    if !allowed {
        // A resource one may not see is reported as absent.
        return Err(if matches!(access, Access::Admin | Access::Staff) {
            ApiError::Forbidden("not allowed")
        } else {
            ApiError::NotFound
        });
    }
    req.extensions_mut().insert(caller);
    Ok(())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && !b.is_empty() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A state-changing request must come from our own pages: an `Origin` (or, without one, a
/// `Referer`) naming another site is refused; SameSite=Strict already keeps the cookie off.
fn same_origin(h: &HeaderMap) -> bool {
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = h.get(header::ORIGIN).or_else(|| h.get(header::REFERER)).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (None, _) => true,
        (Some("null"), _) => false,
        (Some(o), Some(host)) => {
            let rest = o.split_once("://").map_or(o, |(_, r)| r);
            rest.split('/').next() == Some(host)
        }
        (Some(_), None) => false,
    }
}

/// Failed logins per source address and per account name: at most 10 per 5 minutes each;
/// answers: 30 per minute per team.
#[derive(Debug, Default)]
pub struct Limiter {
    hits: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Limiter {
    /// Records a hit on `key` and says whether it is within `max` per `window`.
    pub fn allow(&self, key: &str, max: usize, window: Duration) -> bool {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() > 100_000 {
            hits.retain(|_, v| v.last().is_some_and(|t| now.duration_since(*t) < window));
        }
        let v = hits.entry(key.to_string()).or_default();
        v.retain(|t| now.duration_since(*t) < window);
        if v.len() >= max {
            return false;
        }
        v.push(now);
        true
    }

    /// Takes back the last hit on `key` (an attempt that turned out right).
    pub fn refund(&self, key: &str) {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = hits.get_mut(key) {
            v.pop();
        }
    }

    /// Forgets every hit on `key`.
    pub fn clear(&self, key: &str) {
        self.hits.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    /// Whether `key` is over its limit, without recording a hit.
    pub fn blocked(&self, key: &str, max: usize, window: Duration) -> bool {
        let now = Instant::now();
        let hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        hits.get(key).is_some_and(|v| v.iter().filter(|t| now.duration_since(**t) < window).count() >= max)
    }
}

/// The session cookie.
pub fn session_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_cookie(secure: bool) -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}", if secure { "; Secure" } else { "" })
}

pub fn status_of(e: &ApiError) -> StatusCode {
    e.status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_fips_180_examples() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hex(sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            hex(sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let p = new_password();
        assert_eq!(p.len(), 20);
        let h = hash_password(&p);
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(&p, &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password(&p, "not a hash"));
    }

    #[test]
    fn path_params_follow_the_pattern() {
        assert_eq!(path_param("/api/teams/{team}/hmi", "/api/teams/t1/hmi", "team"), Some("t1"));
        assert_eq!(path_param("/api/runs/{run}", "/api/runs/r9", "team"), None);
    }
}
