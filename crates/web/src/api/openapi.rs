//! The OpenAPI document, from the route table.

use super::*;

pub(super) async fn openapi_handler() -> Json {
    axum::Json(openapi())
}

/// The OpenAPI 3.1 document of the JSON API, from the route table.
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for (d, _) in routes() {
        if !d.path.starts_with("/api/") {
            continue;
        }
        let path = paths.entry(d.path.to_string()).or_insert_with(|| json!({}));
        let params: Vec<Value> = d
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": d.summary,
            "x-access": d.access.as_str(),
            "parameters": params,
            "responses": responses(&d),
        });
        if d.access != Access::Public {
            op["security"] = json!([{"session": []}]);
        }
        if let Some(schema) = request_schema(&d) {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
        }
        if d.path.ends_with("/events")
            || d.path.ends_with("/journal")
            || d.path.ends_with("/live")
            || d.path.ends_with("/messages")
        {
            if let Some(a) = op["parameters"].as_array_mut() {
                a.push(json!({"name": "since", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}}));
            }
        }
        path[d.method.as_str().to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "icsrange training platform", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Everything the pages do. Sign in with POST /api/login; send the returned csrf token as x-csrf-token on every POST."},
        "paths": paths,
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": auth::COOKIE}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}, "problems": {"type": "array"}}}},
        },
    })
}

pub(super) fn responses(d: &RouteDef) -> Value {
    let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let ok = if d.websocket {
        json!({"101": {"description": "WebSocket: JSON messages with t, points, events, score, supply, paused, ended"}})
    } else if d.path.ends_with(".pcap") {
        json!({"200": {"description": "pcap file", "content": {"application/vnd.tcpdump.pcap": {"schema": {"type": "string", "format": "binary"}}}}})
    } else if d.path.ends_with(".svg") {
        json!({"200": {"description": "SVG", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}})
    } else {
        let code = if d.method == Method::POST
            && matches!(
                d.path,
                "/api/runs"
                    | "/api/runs/{run}/teams"
                    | "/api/runs/{run}/accounts"
                    | "/api/teams/{team}/reports"
                    | "/api/runs/{run}/invites"
                    | "/api/invites/{token}"
                    | "/api/runs/{run}/broadcast"
                    | "/api/orgs"
            ) {
            "201"
        } else {
            "200"
        };
        json!({code: {"description": "ok", "content": {"application/json": {"schema": {}}}}})
    };
    let mut r = ok;
    for code in ["401", "403", "404", "409", "422", "429", "503"] {
        r[code] = err.clone();
    }
    r
}

pub(super) fn request_schema(d: &RouteDef) -> Option<Value> {
    let s = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
    let text = json!({"type": "string"});
    Some(match (d.method.as_str(), d.path) {
        ("POST", "/api/login") => s(json!({"name": text, "password": text}), &["name", "password"]),
        ("POST", "/api/runs") => s(
            json!({"name": text, "exercise": text, "text": text, "file_name": text,
                   "files": {"type": "object", "additionalProperties": {"type": "string"}},
                   "seed": {"type": "integer", "minimum": 0}, "speed": {"type": "number"}}),
            &["name"],
        ),
        ("POST", "/api/runs/{run}/teams") => s(json!({"name": text}), &["name"]),
        ("POST", "/api/runs/{run}/accounts") => s(
            json!({"name": text, "role": {"enum": ["trainee", "observer", "instructor"]}, "team": text,
                   "team_role": {"enum": ["operator", "analyst", "lead"]}, "org": text, "country": text}),
            &["name", "role"],
        ),
        ("POST", "/api/runs/{run}/control") => s(
            json!({"op": {"enum": ["start", "pause", "resume", "speed", "fire_inject", "skip_step", "trigger_step"]},
                   "factor": {"type": "number"}, "id": text, "team": text}),
            &["op"],
        ),
        ("POST", "/api/teams/{team}/actions") => {
            json!({"type": "object", "required": ["do"], "properties": {"do": {"enum": [
            "operate", "close_opened", "dispatch_crew", "block", "disable_account", "clean", "restore_firmware", "ups_on",
            "ack_alarms", "local", "reboot", "hint", "answer", "report"]}}})
        }
        ("POST", "/api/runs/{run}/invites") => s(
            json!({"role": {"enum": ["trainee", "observer", "instructor"]}, "team": text, "team_role": {"enum": ["operator", "analyst", "lead"]}}),
            &["role"],
        ),
        ("POST", "/api/invites/{token}") => {
            s(json!({"name": text, "password": text, "org": text, "country": text}), &["name", "password"])
        }
        ("POST", "/api/runs/{run}/broadcast") => s(json!({"text": text}), &["text"]),
        ("POST", "/api/orgs") => s(
            json!({"name": text, "country": {"type": "string", "pattern": "^[A-Z]{2}$"}, "kind": {"enum": ["host", "participant"]}}),
            &["name", "country", "kind"],
        ),
        ("POST", "/api/teams/{team}/reports/{report}/grade") => s(
            json!({"time": {"type": "number", "minimum": 0, "maximum": 5}, "asset": {"type": "number", "minimum": 0, "maximum": 5},
                   "technique": {"type": "number", "minimum": 0, "maximum": 5}, "impact": {"type": "number", "minimum": 0, "maximum": 5},
                   "action": {"type": "number", "minimum": 0, "maximum": 5}}),
            &["time", "asset", "technique", "impact", "action"],
        ),
        ("POST", "/api/teams/{team}/reports") => s(
            json!({"time": text, "asset": text, "technique": text, "impact": text, "action": text}),
            &["time", "asset", "technique", "impact", "action"],
        ),
        _ => return None,
    })
}
