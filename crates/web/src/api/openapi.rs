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

/// The body of `POST /api/teams/{team}/actions`: the actions a team may send, from the type
/// the handler reads (`ActionJson::FORMS`, without the instructors' controls, which it refuses):
/// `do` among their tags, and one schema per tag with its fields.
pub(super) fn action_schema() -> Value {
    use journal_format::action::{ActionJson, Field};
    let field = |f: Field| match f {
        Field::Count { max } => json!({"type": "integer", "minimum": 0, "maximum": max}),
        Field::Bool => json!({"type": "boolean"}),
        Field::Text => json!({"type": "string"}),
        Field::Word(words) => json!({"enum": words}),
        Field::Offset => {
            let byte = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
            // A device's offset `x.y`, or its full address in the team's block.
            json!({"type": "string", "pattern": format!("^({byte}\\.{byte}\\.)?{byte}\\.{byte}$")})
        }
        Field::OptionalNumber => json!({"type": ["number", "null"]}),
        Field::TextList => {
            json!({"type": "array", "maxItems": 1000, "items": {"type": "string", "maxLength": 64}})
        }
    };
    let forms: Vec<_> = ActionJson::FORMS.iter().filter(|f| !f.control).collect();
    let one_of: Vec<Value> = forms
        .iter()
        .map(|f| {
            let mut props = serde_json::Map::new();
            props.insert("do".into(), json!({"const": f.tag}));
            let mut required = vec!["do"];
            for (name, ty) in f.fields {
                props.insert(name.to_string(), field(*ty));
                if ty.required() {
                    required.push(name);
                }
            }
            json!({"type": "object", "properties": props, "required": required})
        })
        .collect();
    json!({"type": "object", "required": ["do"],
           "properties": {"do": {"enum": forms.iter().map(|f| f.tag).collect::<Vec<_>>()}},
           "oneOf": one_of})
}

pub(super) fn request_schema(d: &RouteDef) -> Option<Value> {
    let s = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
    let text = json!({"type": "string"});
    // The store's words, as the handlers parse them.
    let roles = json!({"enum": RunRole::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>()});
    let team_roles = json!({"enum": TeamRole::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>()});
    let kinds = json!({"enum": OrgKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()});
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
            json!({"name": text, "role": roles, "team": text,
                   "team_role": team_roles, "org": text, "country": text}),
            &["name", "role"],
        ),
        ("POST", "/api/runs/{run}/control") => s(
            json!({"op": {"enum": ["start", "pause", "resume", "speed", "fire_inject", "skip_step", "trigger_step"]},
                   "factor": {"type": "number"}, "id": text, "team": text}),
            &["op"],
        ),
        ("POST", "/api/teams/{team}/actions") => action_schema(),
        ("POST", "/api/runs/{run}/invites") => {
            s(json!({"role": roles, "team": text, "team_role": team_roles}), &["role"])
        }
        ("POST", "/api/invites/{token}") => {
            s(json!({"name": text, "password": text, "org": text, "country": text}), &["name", "password"])
        }
        ("POST", "/api/runs/{run}/broadcast") => s(json!({"text": text}), &["text"]),
        ("POST", "/api/orgs") => s(
            json!({"name": text, "country": {"type": "string", "pattern": "^[A-Z]{2}$"}, "kind": kinds}),
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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use journal_format::action::{ActionJson, action_from};

    use super::*;

    fn body(doc: &Value, path: &str) -> Value {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"].clone()
    }

    fn words(v: &Value) -> Vec<String> {
        let Some(a) = v["enum"].as_array() else { panic!("no enum: {v}") };
        a.iter().map(|w| w.as_str().unwrap_or_else(|| panic!("{w}")).to_string()).collect()
    }

    /// The served document's action schema against `ActionJson`: every action a team may send
    /// (the four pipeline actions too), none of the instructors' controls, and each `do`'s
    /// schema read back by the handler's type.
    #[test]
    fn the_action_schema_is_the_action_type() {
        let schema = body(&openapi(), "/api/teams/{team}/actions");
        let tags = words(&schema["properties"]["do"]);
        let team: Vec<&str> = ActionJson::FORMS.iter().filter(|f| !f.control).map(|f| f.tag).collect();
        assert_eq!(tags, team);
        for t in ["pump", "valve", "sis_key", "sis_restore", "operate", "report"] {
            assert!(tags.iter().any(|x| x == t), "{t}");
        }
        let Some(one_of) = schema["oneOf"].as_array() else { panic!("no oneOf: {schema}") };
        let consts: Vec<&str> =
            one_of.iter().filter_map(|s| s["properties"]["do"]["const"].as_str()).collect();
        assert_eq!(consts, team);
        for s in one_of {
            // A body from the schema alone: the least each property allows.
            let mut obj = serde_json::Map::new();
            for (name, p) in s["properties"].as_object().into_iter().flatten() {
                let v = if let Some(c) = p.get("const") {
                    c.clone()
                } else if let Some(e) = p.get("enum") {
                    e[0].clone()
                } else {
                    match p["type"].as_str() {
                        Some("integer") => json!(p["maximum"]),
                        Some("boolean") => json!(true),
                        Some("string") => json!("1.2"),
                        Some("array") => json!([]),
                        _ => Value::Null,
                    }
                };
                obj.insert(name.clone(), v);
            }
            let required: Vec<&str> =
                s["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            assert!(required.iter().all(|r| obj.contains_key(*r)), "{s}");
            let a: ActionJson = serde_json::from_value(Value::Object(obj.clone()))
                .unwrap_or_else(|e| panic!("{}: {e}", Value::Object(obj.clone())));
            let action = action_from(a).unwrap_or_else(|e| panic!("{}: {e}", Value::Object(obj.clone())));
            assert!(!action.is_control(), "{}", Value::Object(obj));
        }
    }

    /// The document's other enums against the store's words, which the handlers parse.
    #[test]
    fn the_other_enums_are_their_types_words() {
        let doc = openapi();
        let role = |p: &str| words(&body(&doc, p)["properties"]["role"]);
        let team_role = |p: &str| words(&body(&doc, p)["properties"]["team_role"]);
        let all = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let roles: Vec<&str> = RunRole::ALL.iter().map(|r| r.as_str()).collect();
        let team_roles: Vec<&str> = TeamRole::ALL.iter().map(|r| r.as_str()).collect();
        for p in ["/api/runs/{run}/accounts", "/api/runs/{run}/invites"] {
            assert_eq!(role(p), all(&roles), "{p}");
            assert_eq!(team_role(p), all(&team_roles), "{p}");
        }
        let kinds: Vec<&str> = OrgKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(words(&body(&doc, "/api/orgs")["properties"]["kind"]), all(&kinds));
        for r in &team_roles {
            assert!(Role::parse(r).is_some(), "team role {r}: the journal's role");
            assert!(TeamRole::from_str(r).is_ok());
        }
    }
}
