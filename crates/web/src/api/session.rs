//! Signing in and out, who one is, the built-in exercises.

use super::*;

#[derive(Deserialize)]
pub(super) struct Login {
    name: String,
    password: String,
}

/// The client a request comes from: the peer, or behind the configured trusted proxy the
/// address it appended last to `X-Forwarded-For` (what a client puts there itself comes
/// before it, and is not believed).
pub(super) fn client_of(app: &App, peer: SocketAddr, headers: &HeaderMap) -> std::net::IpAddr {
    if Some(peer.ip()) != app.limits.trusted_proxy {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .next_back()
        .unwrap_or(peer.ip())
}

/// Sign-in attempts per client address in `LOGIN_WINDOW` (right ones are given back).
const PER_CLIENT: usize = 30;
/// Wrong passwords for one account from one client address in `LOGIN_WINDOW`: a stranger's
/// guesses lock out the stranger, never the account's owner elsewhere; a right password
/// starts the count again.
const PER_ACCOUNT_AND_CLIENT: usize = 10;
const LOGIN_WINDOW: Duration = Duration::from_secs(300);

pub(super) async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: Login = body(&raw)?;
    if b.name.len() > 64 || b.password.len() > 1024 {
        return Err(ApiError::WrongPassword);
    }
    let client = client_of(&app, peer, &headers);
    let (by_client, by_account) = (format!("login-ip:{client}"), format!("login-fail:{client}:{}", b.name));
    // Every attempt counts before the (costly) verification, so parallel guesses cannot slip
    // past the limit; a right one is given back.
    if !app.limiter.allow(&by_client, PER_CLIENT, LOGIN_WINDOW) {
        return Err(ApiError::TooMany);
    }
    if !app.limiter.allow(&by_account, PER_ACCOUNT_AND_CLIENT, LOGIN_WINDOW) {
        app.limiter.refund(&by_client);
        return Err(ApiError::TooMany);
    }
    let user = app.store.user_by_name(&b.name).await?;
    // Verify against some hash even for an unknown name, so timing does not tell names.
    let phc = match &user {
        Some(u) if !u.disabled => u.hash.clone(),
        _ => DUMMY_HASH.to_string(),
    };
    let ok = auth::verify_blocking(b.password, phc).await && user.as_ref().is_some_and(|u| !u.disabled);
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::WrongPassword);
    };
    app.limiter.refund(&by_client);
    app.limiter.clear(&by_account);
    let token = auth::token(32);
    let csrf = auth::token(32);
    app.store
        .create_session(&auth::token_hash(&token), &user.id, &csrf, crate::now_s() + auth::SESSION_SECS)
        .await?;
    let mut r =
        axum::Json(json!({"name": user.name, "admin": user.admin, "staff": user.staff, "csrf": csrf}))
            .into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::session_cookie(&token, app.secure_cookies))
            .map_err(|_| ApiError::Internal)?,
    );
    Ok(r)
}

/// An argon2id hash of a random password nobody knows (for unknown user names).
pub(super) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1Zm7yJ6d3aGkP0l0oX3mKjz6Xr8u1Qm0v2oVq4Vh8cU";

pub(super) async fn logout(State(app): State<App>, Extension(c): Extension<Caller>) -> Result<Response> {
    app.store.delete_session(&c.token_hash).await?;
    let mut r = axum::Json(json!({"ok": true})).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::clear_cookie(app.secure_cookies)).map_err(|_| ApiError::Internal)?,
    );
    Ok(r)
}

pub(super) async fn me(State(app): State<App>, Extension(c): Extension<Caller>) -> Result<Json> {
    let mut parts = Vec::new();
    for (run, role, team) in app.store.parts(&c.user.id).await? {
        let run_name = app.store.run(&run).await?.map(|r| r.name).unwrap_or_default();
        let team_name = match &team {
            Some(t) => app.store.team(t).await?.map(|t| t.name),
            None => None,
        };
        parts.push(
            json!({"run": run, "run_name": run_name, "role": role.as_str(), "team": team, "team_name": team_name}),
        );
    }
    Ok(axum::Json(json!({
        "name": c.user.name, "admin": c.user.admin, "staff": c.user.staff, "csrf": c.csrf, "parts": parts,
    })))
}

pub(super) async fn exercises() -> Json {
    let list: Vec<Value> = exercise::catalogue::EXERCISES
        .iter()
        .filter_map(|(name, text)| {
            let ex = exercise::load(text, &exercise::catalogue::Builtin).ok()?;
            Some(json!({"name": name, "id": ex.id, "title": ex.title, "summary": ex.summary, "duration_s": ex.duration.0 / 1_000_000}))
        })
        .collect();
    axum::Json(json!(list))
}
