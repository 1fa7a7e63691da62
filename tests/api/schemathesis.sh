#!/usr/bin/env bash
# schemathesis against the served OpenAPI document, signed in as a trainee of the demo run:
# no answer may be a server error, and every answer must match the document (status, content
# type, schema). The trainee's own team and run are the path parameters' examples, so the
# examples phase reaches real resources; the coverage and fuzzing phases try everything else.
# The WebSocket (not an HTTP exchange OpenAPI can describe) and logout (it would end the
# session under test) are left out.
#
# Usage: tests/api/schemathesis.sh (ICSRANGE_BIN: the binary; default target/debug/icsrange)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${ICSRANGE_BIN:-$here/../../target/debug/icsrange}"
venv="$here/.venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
fi
data="$(mktemp -d)"
"$bin" demo --data "$data" --bind 127.0.0.1:0 --first-block 245 >"$data/demo.out" 2>"$data/demo.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 600); do
  grep -q '^ready$' "$data/demo.out" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { cat "$data/demo.err" >&2; exit 1; }
  sleep 0.1
done
base="$(grep -o 'http://[0-9.:]*' "$data/demo.out" | head -1)"
line="$(grep -E '^ +trainee, team Blue' "$data/demo.out")"
name="$(echo "$line" | awk '{print $4}')"
password="$(echo "$line" | awk '{print $5}')"
team="$(echo "$line" | sed 's#.*/teams/##')"
"$venv/bin/python" - "$base" "$name" "$password" "$team" "$data" <<'PY'
import json, sys, urllib.request
base, name, password, team, data = sys.argv[1:]
req = urllib.request.Request(f"{base}/api/login", data=json.dumps({"name": name, "password": password}).encode(),
                             headers={"content-type": "application/json"}, method="POST")
with urllib.request.urlopen(req) as r:
    cookie = r.headers["set-cookie"].split(";")[0]
    csrf = json.load(r)["csrf"]
req = urllib.request.Request(f"{base}/api/teams/{team}", headers={"cookie": cookie})
with urllib.request.urlopen(req) as r:
    run = json.load(r)["run"]["id"]
with urllib.request.urlopen(f"{base}/api/openapi.json") as r:
    doc = json.load(r)
for path in doc["paths"].values():
    for op in path.values():
        for p in op.get("parameters", []):
            if p["in"] == "path":
                p["example"] = {"team": team, "run": run}.get(p["name"], "x")
json.dump(doc, open(f"{data}/openapi.json", "w"))
open(f"{data}/auth", "w").write(f"{cookie}\n{csrf}\n")
PY
cookie="$(sed -n 1p "$data/auth")"
csrf="$(sed -n 2p "$data/auth")"
# schemathesis keeps a per-project cache (with crash files for `schemathesis replay`) in
# ./.schemathesis unless told otherwise: it goes to this run's temporary directory (and the
# run works from there), so a test run leaves the tree as it found it. A failing run's crash
# files are copied to target/schemathesis-crashes.
printf '[cache]\ndirectory = "%s"\n' "$data/cache" >"$data/schemathesis.toml"
status=0
(cd "$data" && "$venv/bin/schemathesis" --config-file "$data/schemathesis.toml" run "$data/openapi.json" \
  --url "$base" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path-regex '(/live|/logout)$' \
  -H "Cookie: $cookie" -H "x-csrf-token: $csrf" \
  --max-examples 25 --generation-deterministic --no-color) || status=$?
if [ "$status" -ne 0 ] && [ -d "$data/cache/crashes" ]; then
  keep="$here/../../target/schemathesis-crashes"
  rm -rf "$keep" && mkdir -p "$keep" && cp -r "$data/cache/crashes/." "$data/openapi.json" "$keep/"
  echo "crash files kept in $keep (replay against a server: schemathesis replay $keep" \
    "--schema-location $keep/openapi.json --url URL -H 'Cookie: ...')" >&2
fi
exit "$status"
