//! Organisations, invitations, broadcasts and report grades.

use super::*;

/// ISO 3166-1's officially assigned alpha-2 codes (249), in order.
pub const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA",
    "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV",
    "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU",
    "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES",
    "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM",
    "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE",
    "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM",
    "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
    "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT",
    "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU",
    "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA",
    "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM",
    "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL",
    "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE",
    "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// A country as ISO 3166-1 alpha-2 (upper case), or why not.
pub(super) fn country(code: &str) -> Result<String> {
    let code = code.trim();
    if COUNTRIES.binary_search(&code).is_ok() {
        Ok(code.to_string())
    } else {
        Err(ApiError::BadRequest("country: an ISO 3166-1 alpha-2 code such as JP, UA or PH".into()))
    }
}

pub(super) async fn list_orgs(State(app): State<App>) -> Result<Json> {
    let v: Vec<Value> = app
        .store
        .orgs()
        .await?
        .into_iter()
        .map(|o| json!({"id": o.id, "name": o.name, "country": o.country, "kind": o.kind.as_str()}))
        .collect();
    Ok(axum::Json(json!(v)))
}

#[derive(Deserialize)]
pub(super) struct NewOrg {
    name: String,
    country: String,
    kind: String,
}

pub(super) async fn create_org(State(app): State<App>, raw: axum::body::Bytes) -> Result<Response> {
    let b: NewOrg = body(&raw)?;
    check_name(&b.name, "name")?;
    let country = country(&b.country)?;
    let kind: OrgKind =
        b.kind.parse().map_err(|_| ApiError::BadRequest("kind: host or participant".into()))?;
    let o = store::Org { id: auth::token(8), name: b.name.trim().to_string(), country, kind };
    app.store.create_org(&o).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"id": o.id, "name": o.name, "country": o.country, "kind": o.kind.as_str()})),
    )
        .into_response())
}

// ---- invitations, broadcasts, grades

#[derive(Deserialize)]
pub(super) struct NewInvite {
    role: String,
    team: Option<String>,
    team_role: Option<String>,
}

pub(super) async fn create_invite(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: NewInvite = body(&raw)?;
    run_of(&app, &id).await?;
    let role: RunRole =
        b.role.parse().map_err(|_| ApiError::BadRequest("role: trainee, observer or instructor".into()))?;
    // An instructor is course staff (creates runs): only an administrator invites one.
    if role == RunRole::Instructor && !c.user.admin {
        return Err(ApiError::Forbidden("only an administrator invites instructors"));
    }
    let team = match (role.staff(), &b.team) {
        (None, Some(t)) => Some(
            app.store
                .team(t)
                .await?
                .filter(|t| t.run == id)
                .ok_or(ApiError::BadRequest("no such team in this run".into()))?
                .id,
        ),
        (None, None) => return Err(ApiError::BadRequest("a trainee needs `team`".into())),
        (Some(_), _) => None,
    };
    let team_role: TeamRole = match &b.team_role {
        Some(r) => {
            r.parse().map_err(|_| ApiError::BadRequest("team_role: operator, analyst or lead".into()))?
        }
        None => TeamRole::Lead,
    };
    let token = auth::token(32);
    let expires = crate::now_s() + 7 * 24 * 3600;
    app.store
        .create_invite(&auth::token_hash(&token), &store::Invite { run: id, role, team, team_role, expires })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"url": format!("/invite/{token}"), "expires": expires})))
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct AcceptInvite {
    name: String,
    password: String,
    org: Option<String>,
    country: Option<String>,
}

pub(super) async fn accept_invite(
    State(app): State<App>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Result<Response> {
    // Guessing tokens costs the same as guessing passwords.
    let key = format!("invite-ip:{}", client_of(&app, peer, &headers));
    if !app.limiter.allow(&key, 20, Duration::from_secs(300)) {
        return Err(ApiError::TooMany);
    }
    let b: AcceptInvite = body(&raw)?;
    check_name(&b.name, "name")?;
    if b.password.chars().count() < 12 || b.password.len() > 1024 {
        return Err(ApiError::BadRequest("password: 12 characters at least".into()));
    }
    let hash = auth::token_hash(&token);
    let pending = app.store.invite(&hash, crate::now_s()).await?.ok_or(ApiError::NotFound)?;
    // Everything is checked first, and the organisation, the account and the invitation's
    // use are one transaction: a refused acceptance leaves nothing behind and the invitation
    // valid. A taken name is told as any refusal is, with the same words for a taken
    // organisation (no list of who exists).
    let mut new_org = None;
    let org = match b.org.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => {
            check_name(name, "org")?;
            match app.store.org_by_name(name).await? {
                Some(o) => Some(o.id),
                None => {
                    let o = store::Org {
                        id: auth::token(8),
                        name: name.to_string(),
                        country: country(b.country.as_deref().unwrap_or_default())?,
                        kind: OrgKind::Participant,
                    };
                    let id = o.id.clone();
                    new_org = Some(o);
                    Some(id)
                }
            }
        }
        None => None,
    };
    let user = store::User {
        id: auth::token(8),
        name: b.name.trim().to_string(),
        org,
        hash: auth::hash_blocking(b.password).await,
        admin: false,
        staff: pending.role == RunRole::Instructor,
        disabled: false,
    };
    let inv = match app.store.accept_invite(&hash, crate::now_s(), &user, new_org.as_ref()).await {
        Ok(Some(inv)) => inv,
        Ok(None) => return Err(ApiError::NotFound),
        Err(store::Error::Conflict) => return Err(ApiError::Conflict("choose another name")),
        Err(e) => return Err(e.into()),
    };
    Ok((StatusCode::CREATED, axum::Json(json!({"name": user.name, "role": inv.role.as_str()})))
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct Broadcast {
    text: String,
}

pub(super) async fn broadcast(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<Response> {
    let b: Broadcast = body(&raw)?;
    if b.text.trim().is_empty() || b.text.len() > 2000 {
        return Err(ApiError::BadRequest("text: 1 to 2000 characters".into()));
    }
    run_of(&app, &id).await?;
    let seq = app.store.add_message(&id, &c.user.name, b.text.trim(), crate::now_s()).await?;
    app.broadcasts.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), seq);
    Ok((StatusCode::CREATED, axum::Json(json!({"seq": seq}))).into_response())
}

/// Who a broadcast is from, as trainees see it: exercise control, never a login name.
pub const EXERCISE_CONTROL: &str = "Exercise control";

pub(super) async fn messages(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Result<Json> {
    let since = since_of(q)?.unwrap_or(0) as i64;
    let team = app.store.team(&id).await?.ok_or(ApiError::NotFound)?;
    let staff = is_staff(&app, &c, &team).await?;
    let m: Vec<Value> = app
        .store
        .messages(&team.run, since)
        .await?
        .into_iter()
        .map(|m| {
            let from = if staff { m.author.as_str() } else { EXERCISE_CONTROL };
            json!({"seq": m.seq, "from": from, "text": m.body, "at": m.created})
        })
        .collect();
    Ok(axum::Json(json!(m)))
}

/// The rubric an incident report is graded on: each field 0-5.
pub const RUBRIC: &[&str] = &["time", "asset", "technique", "impact", "action"];

pub(super) async fn grade_report(
    State(app): State<App>,
    Path((team, report)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> Result<Json> {
    let b: serde_json::Map<String, Value> = body(&raw)?;
    let mut total = 0.0;
    for field in RUBRIC {
        let v = b.get(*field).and_then(Value::as_f64).filter(|v| (0.0..=5.0).contains(v));
        total += v.ok_or_else(|| ApiError::BadRequest(format!("{field}: a mark from 0 to 5")))?;
    }
    let grade = total / (5.0 * RUBRIC.len() as f64);
    if !app.store.grade_report(&team, &report, grade).await? {
        return Err(ApiError::NotFound);
    }
    Ok(axum::Json(json!({"grade": grade})))
}
