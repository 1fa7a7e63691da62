#!/usr/bin/env python3
"""One team's `GET /api/teams/{team}` latency while another team's client hammers it.

Finding L1 of the platform security review (issue 23): `GET /api/teams/{team}` re-parses the
run's exercise text on every request, so with an uploaded 3.9 MB exercise (ukraine2015 plus
14,000 injects) each request costs ~0.18 s of CPU, and one trainee looping it on 8
connections slows every other team down. This measures that, for one or several server
binaries one after another (so the figures are side by side):

  for each --bin: `BIN admin create`, `BIN serve` on a fresh data dir (SQLite, a free port on
  127.0.0.1, no device sockets); through the JSON API an administrator creates a run from the
  big exercise with teams A and B and a trainee in each and starts it; then A's trainee asks
  for A's team page N times in a row (after a warm-up), first quiet, then while B's trainee
  asks for B's on 8 keep-alive connections. It prints p50, p99 and max of A's latencies and
  how many requests B completed meanwhile, and one JSON line per binary.

  python3 bench/team_page.py --bin OLD/icsrange --bin target/release/icsrange

Python 3.11 standard library only.
"""

import argparse
import http.client
import json
import math
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parent.parent


def big_exercise(text: str, injects: int, target: int) -> str:
    """The exercise with `injects` extra injects after its own, padded to about `target` bytes.

    Each is due at 2h50m of the 3 h run, so none fires while we measure (the run plays at
    its time compression, 3x: 2h50m is ~57 minutes away)."""
    lines = text.splitlines(keepends=True)
    i = lines.index("injects:\n") + 1
    while i < len(lines) and lines[i].startswith("  - "):
        i += 1
    head = '  - {id: bench-%05d, at: 2h50m, channel: email, from: Bench, subject: "Padding %05d", body: "'
    tail = '"}\n'
    pad = max(0, (target - len(text.encode())) // injects - len(head % (0, 0)) - len(tail))
    words = ("Status update from the field: nothing new to report on this feeder. " * 8)[:pad]
    extra = [head % (k, k) + words + tail for k in range(injects)]
    return "".join(lines[:i] + extra + lines[i:])


class Client:
    """A keep-alive HTTP/1.1 connection with a session: cookie, CSRF token, same-origin POSTs."""

    def __init__(self, addr, cookie="", csrf=""):
        self.addr, self.cookie, self.csrf = addr, cookie, csrf
        self.conn = http.client.HTTPConnection(*addr, timeout=300)

    def call(self, method, path, body=None):
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if method != "GET":
            headers |= {"Origin": "http://%s:%d" % self.addr, "x-csrf-token": self.csrf,
                        "Content-Type": "application/json"}
            data = json.dumps(body).encode()
        for attempt in (0, 1):  # the server closes idle connections (30 s): reconnect once
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()
                if attempt or method != "GET":
                    raise
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {raw[:300]!r}")
        if r.getheader("set-cookie"):
            self.cookie = r.getheader("set-cookie").split(";")[0]
        return json.loads(raw) if raw else None

    def login(self, name, password):
        self.csrf = self.call("POST", "/api/login", {"name": name, "password": password})["csrf"]
        return self


def cpu_s(pid):
    """The process's user + system CPU seconds (Linux)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(lat_s):
    s = sorted(lat_s)
    rank = lambda q: s[min(len(s) - 1, math.ceil(q * len(s)) - 1)] * 1000
    return {"n": len(s), "p50_ms": round(rank(0.5), 2), "p99_ms": round(rank(0.99), 2),
            "max_ms": round(s[-1] * 1000, 2)}


def sequential(client, path, n):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        client.call("GET", path)
        lat.append(time.perf_counter() - t)
    return lat


def hammer(addr, b, path, stop, counts, k):
    c = Client(addr, b.cookie, b.csrf)
    while not stop.is_set():
        try:
            c.call("GET", path)
            counts[k] += 1
        except Exception:  # noqa: BLE001 - counted, not fatal: the load is what matters
            counts[-1] += 1
            c.conn.close()


def measure(binary, text, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICSRANGE_")}
    env["ICSRANGE_LOG"] = "warn"
    data = tempfile.mkdtemp(prefix="icsrange-team-page-")
    server = None
    try:
        out = subprocess.run([binary, "admin", "create", "bench", "--data", data], env=env,
                             check=True, capture_output=True, text=True).stdout
        password = out.split("password")[-1].split()[0]
        opts = ["--bind", "127.0.0.1:0", "--data", data]
        if "--devices" in subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout:
            opts += ["--devices", "false"]  # no device sockets: the range runs, the API is the same
        server = subprocess.Popen([binary, "serve", *opts], env=env, stdout=subprocess.PIPE, text=True)
        addr = None
        for line in server.stdout:
            if line.startswith("icsrange serving on http://"):
                host, port = line.split("http://")[1].split("/")[0].rsplit(":", 1)
                addr = (host, int(port))
            if line.strip() == "ready":
                break
        if addr is None:
            raise RuntimeError(f"{binary} serve did not start")
        threading.Thread(target=server.stdout.read, daemon=True).start()

        admin = Client(addr).login("bench", password)
        t = time.perf_counter()
        new_run = {"name": "team page", "text": text, "file_name": "big.yaml"}
        run = admin.call("POST", "/api/runs", new_run)["id"]
        created_s = time.perf_counter() - t
        teams, trainees = {}, {}
        for name in ("A", "B"):
            teams[name] = admin.call("POST", f"/api/runs/{run}/teams", {"name": name})["id"]
            acc = admin.call("POST", f"/api/runs/{run}/accounts",
                             {"name": f"trainee{name}", "role": "trainee", "team": teams[name]})
            trainees[name] = (acc["name"], acc["password"])
        admin.call("POST", f"/api/runs/{run}/control", {"op": "start"})
        a, b = (Client(addr).login(*trainees[n]) for n in ("A", "B"))
        path_a, path_b = f"/api/teams/{teams['A']}", f"/api/teams/{teams['B']}"

        sequential(a, path_a, args.warmup)
        cpu0 = cpu_s(server.pid)
        quiet = summary(sequential(a, path_a, args.requests))
        quiet["server_cpu_s"] = round(cpu_s(server.pid) - cpu0, 2)

        stop, counts = threading.Event(), [0] * (args.connections + 1)  # the last: errors
        threads = [threading.Thread(target=hammer, args=(addr, b, path_b, stop, counts, k))
                   for k in range(args.connections)]
        for th in threads:
            th.start()
        time.sleep(args.ramp)
        done0, cpu0, t0 = sum(counts[:-1]), cpu_s(server.pid), time.perf_counter()
        hammered = summary(sequential(a, path_a, args.requests))
        elapsed = time.perf_counter() - t0
        hammered |= {"server_cpu_s": round(cpu_s(server.pid) - cpu0, 2),
                     "b_requests": sum(counts[:-1]) - done0,
                     "b_per_s": round((sum(counts[:-1]) - done0) / elapsed, 2), "b_errors": counts[-1],
                     "seconds": round(elapsed, 1)}
        stop.set()
        for th in threads:
            th.join()
        return {"bin": binary, "exercise_bytes": len(text.encode()), "run_created_s": round(created_s, 2),
                "connections": args.connections, "quiet": quiet, "hammered": hammered}
    finally:
        if server is not None:
            for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                server.send_signal(sig)
                try:
                    server.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    print(f"  {binary} did not stop on {sig.name}")
        shutil.rmtree(data, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", action="append", required=True, help="an icsrange binary (repeat to compare)")
    p.add_argument("--requests", "-n", type=int, default=200, help="A's requests per phase")
    p.add_argument("--warmup", type=int, default=10, help="A's requests before measuring")
    p.add_argument("--connections", type=int, default=8, help="B's concurrent connections")
    p.add_argument("--ramp", type=float, default=2.0, help="seconds of B's load before measuring A")
    p.add_argument("--injects", type=int, default=14_000, help="extra injects in the exercise")
    p.add_argument("--bytes", type=int, default=3_900_000, help="the exercise's size, about")
    p.add_argument("--exercise", default=REPO / "exercises/ukraine2015.yaml", type=pathlib.Path)
    p.add_argument("--json", type=pathlib.Path, help="also append the JSON lines to this file")
    args = p.parse_args()

    text = big_exercise(args.exercise.read_text(), args.injects, args.bytes)
    print(f"exercise: {args.exercise.name} + {args.injects} injects = {len(text.encode()) / 1e6:.2f} MB")
    for binary in args.bin:
        r = measure(binary, text, args)
        q, h = r["quiet"], r["hammered"]
        print(f"{binary} (run created in {r['run_created_s']} s)")
        print(f"  quiet:     A p50 {q['p50_ms']} ms, p99 {q['p99_ms']} ms, max {q['max_ms']} ms "
              f"({q['n']} requests, server CPU {q['server_cpu_s']} s)")
        print(f"  B on {args.connections}: A p50 {h['p50_ms']} ms, p99 {h['p99_ms']} ms, "
              f"max {h['max_ms']} ms; "
              f"B completed {h['b_requests']} ({h['b_per_s']}/s, {h['b_errors']} errors) "
              f"in {h['seconds']} s, server CPU {h['server_cpu_s']} s")
        line = json.dumps(r)
        print(line, flush=True)
        if args.json:
            with args.json.open("a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
