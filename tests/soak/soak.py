#!/usr/bin/env python3
"""Soak test of the training platform against hostile participants (issue 24).

What it checks, and why
-----------------------
The platform must hold when some participants misbehave: a trainee who floods their own
team's field devices, an anonymous client that opens connections and trickles request
bodies, trainees who hammer the API. The security review
(../shared/research/reviews/platform-security.md) found two ways this went wrong:

* H2: slow-body requests (``POST /api/login`` with ``Content-Length: 100000``, one byte every
  few seconds) are never closed, so a client exhausts the server's file handles: HTTP and
  every device service go down.
* H3: every byte of device traffic is journaled without bound: memory, database and the
  replay at restart grow with the traffic of a single client.

This script runs ``icsrange serve`` on loopback with one run of a built-in exercise for
10 teams, and for ``--seconds`` (60 by default) at the same time:

* per team, 2 threads flood the team's OWN Modbus/TCP devices with FC3 requests, back to
  back (a refused or closed connection is the server enforcing a budget: counted, not a
  failure);
* 200 slow-body connections to the web server (reopened when the server closes them);
* 4 threads, as trainees of teams 2..10, loop ``GET /api/teams/{team}`` and
  ``GET /api/teams/{team}/hmi`` as fast as they are answered;
* one legitimate trainee (team 1) reads their team page and HMI every 0.5 s and acts
  (``ack_alarms``) every 5 s; each request's latency is recorded (a failed request, or one
  over 5 s, counts as 5 s). It runs in a process of its own, so that its latency is the
  server's and not this script's threads' contention for the interpreter lock;
* a sampler reads the server's resident memory, open file descriptors and database size
  every second.

Then it SIGKILLs the server, restarts it on the same data directory and measures the time
until it prints ``ready`` and until the legitimate trainee's team page answers 200 again.

It prints a summary and checks it against ``BOUNDS`` below: exit status 0 when every bound
holds, 1 when some bound is broken (each is listed), 2 when the test itself could not run
(server did not start, setup request refused, ...).

Exercise: ``colonial2021`` by default (``--exercise``). The pipeline exercises are the
lightest with Modbus/TCP devices: their grid (``station-supply``, 2 buses) has no devices on
the network, and the pipeline plant has 3 station PLCs (Modbus, block offsets 6.1-6.3), 3 line
RTUs (DNP3, 7.1-7.3) and the SIS controller (Modbus, 8.1): 7 listeners per team, where a grid
exercise has hundreds (ukraine2015: a PLC per generator, a relay per branch and a UPS per
substation on Modbus, an RTU per bus on IEC 104, a recloser per load on DNP3), which would
by themselves put 10 teams near the file-descriptor bound. Of the three pipeline exercises
colonial2021's attack stays in IT (VPN login, exfiltration, ransomware): no attacker
traffic on the device network, so device traffic is only the flood and the range's own
SCADA polling.

Standard library only; run from the repository root:

    python3 tests/soak/soak.py --bin target/debug/icsrange [--seconds 60] [--keep]

``--skip modbus,slow,http`` leaves loads out, to tell which one breaks a bound (diagnosis
only: the bounds are those of the whole soak).

Every loop is bounded in time, an overall deadline kills everything, and the server is
killed on every exit path (finally, atexit, signals, and PR_SET_PDEATHSIG on Linux).
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import http.client
import json
import multiprocessing
import os
import queue
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

# The bounds checked at the end, as stated in the closing note of issue 24. Measured on a
# debug build on 2 cores (60 s): p99 0.08-0.3 s, RSS +35 MB, database +8 MB (10 teams' own
# journals and 10 floods paced at 50 inputs/s each), restart 2-3 s, 333 handles, slow bodies
# closed at 30 s (the header timeout's grace). Before the limits: p99 5 s (timeouts), RSS
# +190-280 MB and database +31-49 MB in 30 s, restart 9-12 s, slow bodies never closed.
BOUNDS = {
    "p99_latency_s": 1.0,  # legitimate trainee's request latency, 99th percentile
    "rss_growth_mb": 150.0,  # server resident memory: max during the soak minus at its start
    "db_growth_mb": 24.0,  # icsrange.db + icsrange.db-wal: end of the soak minus its start
    "restart_s": 15.0,  # SIGKILL -> restart -> team page answers 200 again
    "fd_max": 1500,  # server's open file descriptors, maximum sampled
    "slow_body_life_s": 40.0,  # the longest a trickled body was held (closed, or still open)
}

TEAMS = 10
FIRST_BLOCK = 60
MODBUS_PORT = 502
MODBUS_THREADS_PER_TEAM = 2
SLOW_BODY_CONNECTIONS = 200
SLOW_BODY_EVERY_S = 5.0
SLOW_BODY_LENGTH = 100_000
HTTP_FLOOD_THREADS = 4
LEGIT_EVERY_S = 0.5
LEGIT_ACTION_EVERY_S = 5.0
LEGIT_ACTION = {"do": "ack_alarms"}
FAIL_LATENCY_S = 5.0  # a failed or slow request of the legitimate trainee counts as this
SAMPLE_EVERY_S = 1.0
SETUP_BUDGET_S = 180.0  # admin, server start, run creation, devices listening
WIND_DOWN_BUDGET_S = 30.0  # load threads joining after the soak
SPEED = 1.0
SEED = 3

# Modbus/TCP devices of each exercise: offsets "x.y" in a team's block (base + x*256 + y).
# Pipeline exercises: crates/devices/src/pipeline.rs `plant` (station PLCs in block 6, the SIS
# at 8.1). Grid exercises: crates/devices/src/lib.rs `default_devices` (generator PLCs in
# block 0; relays in block 3 and UPSs in block 5 are Modbus too, the PLCs suffice here).
PIPELINE_MODBUS = ["6.1", "6.2", "6.3", "8.1"]
MODBUS_DEVICES = {
    "colonial2021": PIPELINE_MODBUS,
    "triton2017": PIPELINE_MODBUS,
    "triton2017-trip": PIPELINE_MODBUS,
    "ukraine2015": ["0.1", "0.2", "0.3", "0.4", "0.5"],
}
DEFAULT_EXERCISE = "colonial2021"


class HarnessError(Exception):
    """The test itself could not run (exit status 2)."""


# Helper processes this script started (the legitimate trainee): killed on every exit path.
HELPERS: list = []


# --------------------------------------------------------------------------------------------
# The server process


class Server:
    """`icsrange serve` as a child process: stdout drained to the log (and watched for the
    address and `ready`), stderr straight to the log file, killed on every exit path."""

    def __init__(self, binary: str, data: str, log_path: str):
        self.binary, self.data, self.log_path = binary, data, log_path
        self.proc: subprocess.Popen | None = None
        self.addr: tuple[str, int] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self._log = None

    def args(self) -> list[str]:
        return [
            self.binary, "serve", "--bind", "127.0.0.1:0", "--data", self.data,
            "--devices", "true", "--first-block", str(FIRST_BLOCK),
        ]

    def start(self, ready_timeout: float) -> tuple[float, float]:
        """Starts the server; returns (seconds to the address line, seconds to `ready`).
        Raises HarnessError if it does not get ready in time (the process is killed)."""
        self.addr = None
        self.lines = queue.Queue()
        self._log = open(self.log_path, "ab", buffering=0)
        self._log.write(f"\n=== {time.strftime('%H:%M:%S')} start: {' '.join(self.args())}\n".encode())
        env = dict(os.environ, ICSRANGE_LOG="warn")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            self.args(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
            env=env, preexec_fn=_die_with_parent,
        )
        threading.Thread(target=self._drain, args=(self.proc.stdout, self._log, self.lines),
                         daemon=True).start()
        t_addr = None
        deadline = t0 + ready_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise HarnessError(f"the server was not ready within {ready_timeout:.0f} s")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise HarnessError(f"the server exited with status {self.proc.returncode} before `ready`")
                continue
            if line is None:
                self.proc.wait(timeout=5)
                raise HarnessError(f"the server closed its stdout (status {self.proc.returncode}) before `ready`")
            line = line.strip()
            if line.startswith("icsrange serving on ") and "://" in line:
                hostport = line.split("://", 1)[1].split("/", 1)[0]
                host, port = hostport.rsplit(":", 1)
                self.addr = (host, int(port))
                t_addr = time.monotonic() - t0
            if line == "ready":
                if self.addr is None:
                    raise HarnessError("`ready` without an address line")
                return t_addr or 0.0, time.monotonic() - t0

    @staticmethod
    def _drain(pipe, log, lines: queue.Queue) -> None:
        # Runs until the process closes its stdout (it dies with it): the pipe never fills.
        try:
            for raw in iter(pipe.readline, b""):
                log.write(raw)
                lines.put(raw.decode(errors="replace"))
        except (OSError, ValueError):
            pass
        finally:
            lines.put(None)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL (idempotent), and reap."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGKILL)
            except OSError:
                pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if this script dies (Linux PR_SET_PDEATHSIG). The
    server is started from the main thread, which lives as long as the script."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1


# --------------------------------------------------------------------------------------------
# HTTP (fresh connection per request unless a connection is passed in)


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Session:
    addr: tuple[str, int]
    cookie: str | None = None
    csrf: str | None = None

    def request(self, method: str, path: str, body=None, timeout: float = 10.0,
                conn: http.client.HTTPConnection | None = None) -> Reply:
        own = conn is None
        if own:
            conn = http.client.HTTPConnection(*self.addr, timeout=timeout)
        headers = {}
        data = None
        if body is not None or method != "GET":
            data = json.dumps(body if body is not None else {}).encode()
            headers["Content-Type"] = "application/json"
        if own:
            headers["Connection"] = "close"
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.csrf and method != "GET":
            headers["x-csrf-token"] = self.csrf
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return Reply(r.status, r.getheaders(), r.read())
        finally:
            if own:
                conn.close()

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body, **kw) -> Reply:
        return self.request("POST", path, body, **kw)

    @staticmethod
    def login(addr: tuple[str, int], name: str, password: str, timeout: float = 30.0) -> "Session":
        s = Session(addr)
        r = s.post("/api/login", {"name": name, "password": password}, timeout=timeout)
        if r.status != 200:
            raise HarnessError(f"login {name}: {r.status} {r.body[:200]!r}")
        cookie = r.header("set-cookie")
        if not cookie:
            raise HarnessError(f"login {name}: no Set-Cookie")
        s.cookie = cookie.split(";", 1)[0]
        s.csrf = (r.json() or {}).get("csrf")
        return s


def expect(r: Reply, status: int, what: str):
    if r.status != status:
        raise HarnessError(f"{what}: expected {status}, got {r.status}: {r.body[:300]!r}")
    return r.json()


# --------------------------------------------------------------------------------------------
# Load generators. Each thread owns its counters (no locks); totals are summed at the end.


@dataclass
class ModbusStats:
    connections: int = 0
    requests: int = 0
    answers: int = 0
    refused: int = 0  # connect refused or timed out
    closed: int = 0  # closed or reset by the server mid-stream
    timeouts: int = 0  # no answer within the socket timeout


def recv_exact(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def modbus_flooder(devices: list[str], start: int, stats: ModbusStats, stop: threading.Event) -> None:
    """FC3 (read holding register 0) back to back to the team's own devices; a new device on
    each reconnect."""
    k = start
    while not stop.is_set():
        host = devices[k % len(devices)]
        k += 1
        try:
            s = socket.create_connection((host, MODBUS_PORT), timeout=2.0)
        except OSError:
            stats.refused += 1
            stop.wait(0.05)
            continue
        stats.connections += 1
        tid = 0
        try:
            while not stop.is_set():
                tid = (tid + 1) & 0xFFFF
                s.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, 0, 1))
                stats.requests += 1
                head = recv_exact(s, 7)
                if head is None:
                    stats.closed += 1
                    break
                length = struct.unpack(">H", head[4:6])[0]
                if length < 1 or recv_exact(s, length - 1) is None:
                    stats.closed += 1
                    break
                stats.answers += 1
        except socket.timeout:
            stats.timeouts += 1
        except OSError:
            stats.closed += 1
        finally:
            s.close()


@dataclass
class SlowStats:
    opened: int = 0
    connect_failures: int = 0
    closed_by_server: int = 0
    lifetimes: list = field(default_factory=list)  # seconds, of connections the server closed
    answered: dict = field(default_factory=dict)  # first status line the server sent -> count
    open_at_end: int = 0
    open_at_end_ages: list = field(default_factory=list)


def slow_bodies(addr: tuple[str, int], n: int, stats: SlowStats, stop: threading.Event) -> None:
    """`n` slots, each a POST /api/login with Content-Length 100000 and then one byte every
    5 s; a slot whose connection the server closes reopens (at most every 0.5 s)."""
    head = (f"POST /api/login HTTP/1.1\r\nHost: {addr[0]}:{addr[1]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {SLOW_BODY_LENGTH}\r\n\r\n{{").encode()
    sel = selectors.DefaultSelector()
    slots: list[dict | None] = [None] * n
    reopen_at = [0.0] * n
    got: dict[int, bytes] = {}

    def close(i: int, by_server: bool) -> None:
        c = slots[i]
        if c is None:
            return
        try:
            sel.unregister(c["sock"])
        except (KeyError, ValueError):
            pass
        c["sock"].close()
        now = time.monotonic()
        if by_server:
            stats.closed_by_server += 1
            stats.lifetimes.append(now - c["opened"])
            first = got.pop(i, b"").split(b"\r\n", 1)[0].decode(errors="replace")[:40] or "(nothing)"
            stats.answered[first] = stats.answered.get(first, 0) + 1
        slots[i] = None
        got.pop(i, None)
        reopen_at[i] = max(now, c["opened"] + 0.5)

    try:
        while not stop.is_set():
            now = time.monotonic()
            opened_now = 0
            for i in range(n):
                # At most 50 opens and 0.5 s per pass, so the sends below are not starved.
                if (slots[i] is None and reopen_at[i] <= now and opened_now < 50
                        and time.monotonic() - now < 0.5 and not stop.is_set()):
                    opened_now += 1
                    try:
                        s = socket.create_connection(addr, timeout=1.0)
                        s.sendall(head)
                        s.setblocking(False)
                    except OSError:
                        stats.connect_failures += 1
                        reopen_at[i] = now + 0.5
                        continue
                    stats.opened += 1
                    t = time.monotonic()
                    slots[i] = {"sock": s, "opened": t, "next": t + SLOW_BODY_EVERY_S * (0.2 + 0.8 * i / n)}
                    sel.register(s, selectors.EVENT_READ, i)
            for key, _ in sel.select(timeout=0.2):
                i = key.data
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    got[i] = got.get(i, b"") + data[:200]
                else:
                    close(i, by_server=True)
            now = time.monotonic()
            for i, c in enumerate(slots):
                if c is not None and c["next"] <= now:
                    try:
                        c["sock"].send(b" ")
                        c["next"] = now + SLOW_BODY_EVERY_S
                    except BlockingIOError:
                        c["next"] = now + SLOW_BODY_EVERY_S
                    except OSError:
                        close(i, by_server=True)
    finally:
        now = time.monotonic()
        for i, c in enumerate(slots):
            if c is not None:
                stats.open_at_end += 1
                stats.open_at_end_ages.append(now - c["opened"])
                close(i, by_server=False)
        sel.close()


@dataclass
class FloodStats:
    requests: int = 0
    statuses: dict = field(default_factory=dict)
    errors: int = 0


def http_flooder(addr: tuple[str, int], who: list[tuple[Session, str]], stats: FloodStats,
                 stop: threading.Event) -> None:
    """GET team page and HMI as fast as answered, over keep-alive, cycling its trainees."""
    conn = None
    k = 0
    while not stop.is_set():
        sess, team = who[k % len(who)]
        k += 1
        for path in (f"/api/teams/{team}", f"/api/teams/{team}/hmi"):
            if stop.is_set():
                break
            if conn is None:
                conn = http.client.HTTPConnection(*addr, timeout=10.0)
            try:
                r = sess.get(path, conn=conn)
                stats.requests += 1
                stats.statuses[r.status] = stats.statuses.get(r.status, 0) + 1
                if r.header("connection") == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                stats.errors += 1
                conn.close()
                conn = None
                stop.wait(0.05)
    if conn is not None:
        conn.close()


@dataclass
class LegitStats:
    latencies: list = field(default_factory=list)  # every request; failures count as 5 s
    kinds: dict = field(default_factory=dict)  # kind -> [latencies]
    failures: dict = field(default_factory=dict)  # "kind status/error" -> count
    relogins: int = 0

    def record(self, kind: str, dt: float, failure: str | None) -> None:
        self.latencies.append(dt)
        self.kinds.setdefault(kind, []).append(dt)
        if failure:
            self.failures[failure] = self.failures.get(failure, 0) + 1


class Legit:
    """The legitimate trainee of team 1: fresh connection per request, 5 s timeout. Runs in a
    process of its own (`legit_process`), so that its latencies are the server's, not this
    script's threads' contention for the interpreter lock; each request is reported to
    `record(kind, seconds, failure or None)`."""

    def __init__(self, sess: Session, team: str, name: str, password: str, record):
        self.sess, self.team, self.name, self.password, self.record = sess, team, name, password, record
        self.relogins = 0

    def timed(self, kind: str, method: str, path: str, body=None) -> int | None:
        t0 = time.monotonic()
        status = None
        try:
            r = self.sess.request(method, path, body, timeout=FAIL_LATENCY_S)
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            why = type(e).__name__
        dt = time.monotonic() - t0
        answered = status is not None and 200 <= status < 300
        failure = None
        if not answered or dt > FAIL_LATENCY_S:
            dt = FAIL_LATENCY_S
            failure = f"{kind} {'over 5 s' if answered else status if status is not None else why}"
            if status == 401:
                self.relogin()
        self.record(kind, dt, failure)
        return status

    def relogin(self) -> None:
        try:
            self.sess = Session.login(self.sess.addr, self.name, self.password, timeout=FAIL_LATENCY_S)
            self.relogins += 1
        except (HarnessError, OSError, http.client.HTTPException):
            pass

    def run(self, stop, deadline: float) -> None:
        next_action = time.monotonic() + 1.0
        while not stop.is_set() and time.monotonic() < deadline:
            t0 = time.monotonic()
            self.timed("team", "GET", f"/api/teams/{self.team}")
            self.timed("hmi", "GET", f"/api/teams/{self.team}/hmi")
            if time.monotonic() >= next_action and not stop.is_set():
                self.timed("action", "POST", f"/api/teams/{self.team}/actions", LEGIT_ACTION)
                next_action = time.monotonic() + LEGIT_ACTION_EVERY_S
            stop.wait(max(0.0, LEGIT_EVERY_S - (time.monotonic() - t0)))


def legit_process(addr, cookie, csrf, team, name, password, seconds, stop, out) -> None:
    """The legitimate trainee's process: streams ("req", kind, seconds, failure) to `out`,
    then ("done", cookie, csrf, relogins). Bounded by its own deadline too."""
    legit = Legit(Session(tuple(addr), cookie, csrf), team, name, password,
                  lambda kind, dt, failure: out.put(("req", kind, dt, failure)))
    try:
        legit.run(stop, time.monotonic() + seconds + WIND_DOWN_BUDGET_S)
    finally:
        out.put(("done", legit.sess.cookie, legit.sess.csrf, legit.relogins))


@dataclass
class Sample:
    t: float
    rss_mb: float | None
    fds: int | None
    db_mb: float
    threads: int | None
    cpu_s: float | None


def db_mb(data: str) -> float:
    total = 0
    for name in ("icsrange.db", "icsrange.db-wal"):
        try:
            total += os.path.getsize(os.path.join(data, name))
        except OSError:
            pass
    return total / 1e6


def sample(pid: int | None, data: str, t0: float) -> Sample:
    rss = threads = fds = cpu = None
    if pid is not None:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) / 1024  # kB -> MiB
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
    return Sample(time.monotonic() - t0, rss, fds, db_mb(data), threads, cpu)


# --------------------------------------------------------------------------------------------
# Helpers


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def in_block(base: str, offset: str) -> str:
    b = [int(x) for x in base.split(".")]
    x, y = (int(v) for v in offset.split("."))
    return f"{b[0]}.{b[1]}.{b[2] + x}.{b[3] + y}"


def listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1.0).close()
        return True
    except OSError:
        return False


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def join_all(threads: list[threading.Thread], budget: float) -> list[str]:
    deadline = time.monotonic() + budget
    stuck = []
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            stuck.append(t.name)
    return stuck


def raise_nofile() -> None:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


# --------------------------------------------------------------------------------------------
# The test


def setup(binary: str, server: Server, data: str, exercise: str) -> dict:
    out = subprocess.run([binary, "admin", "create", "boss", "--data", data], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, ICSRANGE_LOG="warn"))
    if out.returncode != 0:
        raise HarnessError(f"admin create: status {out.returncode}: {out.stderr.strip()[-300:]}")
    admin_pw = out.stdout.strip().split()[-1]

    t_addr, t_ready = server.start(ready_timeout=60)
    log(f"server pid {server.pid} on {server.addr[0]}:{server.addr[1]} (ready after {t_ready:.2f} s)")
    addr = server.addr
    admin = Session.login(addr, "boss", admin_pw)
    names = [e.get("name") for e in expect(admin.get("/api/exercises"), 200, "GET /api/exercises")]
    log(f"built-in exercises: {', '.join(map(str, names))}; chosen: {exercise}")
    if exercise not in names:
        raise HarnessError(f"exercise {exercise!r} not in GET /api/exercises")

    run = expect(admin.post("/api/runs", {"name": "soak", "exercise": exercise, "speed": SPEED,
                                          "seed": SEED}), 201, "create run")["id"]
    teams = []
    for k in range(1, TEAMS + 1):
        t = expect(admin.post(f"/api/runs/{run}/teams", {"name": f"Team {k}"}), 201, f"team {k}")
        pw = expect(admin.post(f"/api/runs/{run}/accounts",
                               {"name": f"trainee{k}", "role": "trainee", "team": t["id"]}),
                    201, f"account trainee{k}")["password"]
        teams.append({"k": k, "id": t["id"], "name": f"trainee{k}", "password": pw})
    expect(admin.post(f"/api/runs/{run}/control", {"op": "start"}), 200, "start the run")
    detail = expect(admin.get(f"/api/runs/{run}"), 200, "GET run")
    bases = {t["id"]: t["base"] for t in detail.get("teams", [])}
    for t in teams:
        if t["id"] not in bases:
            raise HarnessError(f"team {t['k']} has no base in GET /api/runs/{run}")
        t["base"] = bases[t["id"]]
        t["modbus"] = [in_block(t["base"], off) for off in MODBUS_DEVICES[exercise]]
        t["session"] = Session.login(addr, t["name"], t["password"])

    # The ranges bind their devices as they start: wait until every team's first device listens.
    deadline = time.monotonic() + 60
    for t in teams:
        while not listening(t["modbus"][0], MODBUS_PORT):
            if time.monotonic() > deadline:
                raise HarnessError(f"team {t['k']}: no Modbus listener at {t['modbus'][0]}:{MODBUS_PORT}")
            time.sleep(0.2)
    up = sum(listening(h, MODBUS_PORT) for t in teams for h in t["modbus"])
    total = sum(len(t["modbus"]) for t in teams)
    log(f"run {run} started: {TEAMS} teams at {teams[0]['base']}..{teams[-1]['base']}; "
        f"Modbus devices listening {up}/{total} ({', '.join(MODBUS_DEVICES[exercise])} per block)")
    return {"run": run, "teams": teams, "admin": admin}


def soak(server: Server, data: str, world: dict, seconds: float, skip: set[str]) -> dict:
    addr = server.addr
    teams = world["teams"]
    stop = threading.Event()
    threads: list[threading.Thread] = []

    mb_stats = []
    for t in [] if "modbus" in skip else teams:
        for j in range(MODBUS_THREADS_PER_TEAM):
            st = ModbusStats()
            mb_stats.append(st)
            threads.append(threading.Thread(target=modbus_flooder, args=(t["modbus"], j, st, stop),
                                            name=f"modbus-{t['k']}-{j}", daemon=True))
    slow = SlowStats()
    if "slow" not in skip:
        threads.append(threading.Thread(target=slow_bodies, args=(addr, SLOW_BODY_CONNECTIONS, slow, stop),
                                        name="slow-bodies", daemon=True))
    flood_stats = []
    others = [(t["session"], t["id"]) for t in teams[1:]]
    for j in range(0 if "http" in skip else HTTP_FLOOD_THREADS):
        st = FloodStats()
        flood_stats.append(st)
        mine = others[j::HTTP_FLOOD_THREADS]
        threads.append(threading.Thread(target=http_flooder, args=(addr, mine, st, stop),
                                        name=f"http-flood-{j}", daemon=True))
    legit_stats = LegitStats()
    t1 = teams[0]
    ctx = multiprocessing.get_context("spawn")
    legit_stop, legit_out = ctx.Event(), ctx.Queue()
    legit_proc = ctx.Process(
        target=legit_process, name="legit", daemon=True,
        args=(addr, t1["session"].cookie, t1["session"].csrf, t1["id"], t1["name"], t1["password"],
              seconds, legit_stop, legit_out))
    legit_final = {"cookie": t1["session"].cookie, "csrf": t1["session"].csrf}
    HELPERS.append(legit_proc)

    def drain_legit(timeout: float = 0.0) -> bool:
        """Moves the trainee's reports into `legit_stats`; True once it said "done"."""
        end = time.monotonic() + timeout
        while True:
            try:
                m = legit_out.get(timeout=max(0.0, end - time.monotonic())) if timeout else legit_out.get_nowait()
            except queue.Empty:
                return False
            if m[0] == "req":
                legit_stats.record(*m[1:])
            else:
                legit_final.update(cookie=m[1], csrf=m[2])
                legit_stats.relogins = m[3]
                return True

    t0 = time.monotonic()
    cpu0 = os.times()
    samples = [sample(server.pid, data, t0)]
    log(f"soak for {seconds:.0f} s: {len(mb_stats)} Modbus flooders, "
        f"{0 if 'slow' in skip else SLOW_BODY_CONNECTIONS} slow bodies, {len(flood_stats)} HTTP flooders, "
        f"1 legitimate trainee")
    legit_proc.start()
    for th in threads:
        th.start()
    end = t0 + seconds
    next_sample = t0 + SAMPLE_EVERY_S
    next_report = t0 + 10
    while True:
        now = time.monotonic()
        if now >= end:
            break
        time.sleep(max(0.0, min(next_sample, end) - now))
        if time.monotonic() >= next_sample:
            samples.append(sample(server.pid, data, t0))
            next_sample += SAMPLE_EVERY_S
        drain_legit()
        if time.monotonic() >= next_report:
            s = samples[-1]
            lat = legit_stats.latencies
            log(f"t={s.t:5.1f}s rss={s.rss_mb or 0:.0f}MB fds={s.fds} db={s.db_mb:.1f}MB "
                f"modbus req={sum(m.requests for m in mb_stats)} ans={sum(m.answers for m in mb_stats)} "
                f"refused={sum(m.refused for m in mb_stats)} closed={sum(m.closed for m in mb_stats)} "
                f"slow open={slow.opened - slow.closed_by_server} closed={slow.closed_by_server} "
                f"legit n={len(lat)} p50={pct(lat, 50):.3f}s max={max(lat, default=0):.3f}s")
            next_report += 10
        if not server.alive():
            log("the server died during the soak")
            break
    stop.set()
    legit_stop.set()
    elapsed = time.monotonic() - t0
    cpu1 = os.times()
    stuck = join_all(threads, WIND_DOWN_BUDGET_S)
    if not drain_legit(timeout=WIND_DOWN_BUDGET_S / 2):
        stuck.append("legit (process)")
    legit_proc.join(timeout=5)
    if legit_proc.is_alive():
        legit_proc.kill()
        legit_proc.join(timeout=5)
    if stuck:
        log(f"still running after the wind-down budget: {', '.join(stuck)}")
    samples.append(sample(server.pid, data, t0))
    legit = Legit(Session(addr, legit_final["cookie"], legit_final["csrf"]), t1["id"], t1["name"],
                  t1["password"], legit_stats.record)
    return {"samples": samples, "modbus": mb_stats, "slow": slow, "flood": flood_stats,
            "legit": legit_stats, "legit_obj": legit, "elapsed": elapsed, "died": not server.alive(), "skip": sorted(skip),
            "client_cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)}


def restart(server: Server, legit: Legit, budget: float) -> dict:
    """SIGKILL, restart on the same data directory, time `ready` and the first 200."""
    server.kill()
    t0 = time.monotonic()
    out = {"ready_s": None, "page_s": None, "error": None, "relogin": False}
    try:
        _, out["ready_s"] = server.start(ready_timeout=budget)
    except HarnessError as e:
        out["error"] = str(e)
        return out
    legit.sess.addr = server.addr
    deadline = t0 + budget
    while time.monotonic() < deadline:
        try:
            r = legit.sess.get(f"/api/teams/{legit.team}", timeout=FAIL_LATENCY_S)
            if r.status == 200:
                out["page_s"] = time.monotonic() - t0
                return out
            if r.status == 401:
                legit.sess = Session.login(server.addr, legit.name, legit.password, timeout=FAIL_LATENCY_S)
                out["relogin"] = True
                continue
        except (OSError, http.client.HTTPException, HarnessError):
            pass
        time.sleep(0.1)
    out["error"] = f"team page not answered 200 within {budget:.0f} s of the restart"
    return out


def summarise(exercise: str, seconds: float, res: dict, rs: dict, server_log: str) -> tuple[list[str], dict]:
    samples: list[Sample] = res["samples"]
    lat = res["legit"].latencies
    rss = [s.rss_mb for s in samples if s.rss_mb is not None]
    fds = [s.fds for s in samples if s.fds is not None]
    mb = res["modbus"]
    slow: SlowStats = res["slow"]
    flood = res["flood"]
    measured = {
        "p99_latency_s": pct(lat, 99) if lat else float("inf"),
        "rss_growth_mb": (max(rss) - rss[0]) if rss else float("inf"),
        "db_growth_mb": samples[-1].db_mb - samples[0].db_mb,
        "restart_s": rs["page_s"] if rs["page_s"] is not None else float("inf"),
        "fd_max": max(fds) if fds else float("inf"),
        "slow_body_life_s": max(list(slow.lifetimes) + list(slow.open_at_end_ages), default=0.0),
    }
    L = []
    L.append(f"== soak summary: exercise {exercise}, {TEAMS} teams, speed {SPEED}, "
             f"{seconds:.0f} s asked, {res['elapsed']:.1f} s ran ==")
    if res["skip"]:
        L.append(f"!! loads left out (--skip): {', '.join(res['skip'])}: not the soak's figures")
    if res["died"]:
        L.append("!! the server died during the soak")
    fails = res["legit"].failures
    relogins = res["legit"].relogins
    L.append(f"legitimate trainee (team 1): {len(lat)} requests, {sum(fails.values())} failed/slow "
             f"(counted as {FAIL_LATENCY_S:.0f} s)" + (f": {fails}" if fails else "")
             + (f", {relogins} re-logins" if relogins else ""))
    L.append(f"  latency p50 {pct(lat, 50):.3f} s  p95 {pct(lat, 95):.3f} s  p99 {pct(lat, 99):.3f} s  "
             f"max {max(lat, default=float('nan')):.3f} s")
    for kind, xs in sorted(res["legit"].kinds.items()):
        L.append(f"    {kind:<7} n={len(xs):<4} p50 {pct(xs, 50):.3f} s  p99 {pct(xs, 99):.3f} s  "
                 f"max {max(xs):.3f} s")
    if rss:
        L.append(f"server RSS: start {rss[0]:.0f} MB, max {max(rss):.0f} MB, end {rss[-1]:.0f} MB "
                 f"(growth to max {max(rss) - rss[0]:+.0f} MB)")
    if fds:
        L.append(f"server open fds: start {fds[0]}, max {max(fds)}, end {fds[-1]}")
    cpu = [(s.t, s.cpu_s) for s in samples if s.cpu_s is not None]
    if len(cpu) >= 2 and cpu[-1][0] > cpu[0][0]:
        used, span = cpu[-1][1] - cpu[0][1], cpu[-1][0] - cpu[0][0]
        L.append(f"server CPU: {used:.1f} s in {span:.0f} s ({used / span * 100:.0f}% of one core); "
                 f"threads max {max((s.threads or 0) for s in samples)}; this script's load threads: "
                 f"{res['client_cpu_s']:.1f} s CPU in {res['elapsed']:.0f} s (the machine has "
                 f"{os.cpu_count()} cores)")
    L.append(f"database (icsrange.db + -wal): start {samples[0].db_mb:.1f} MB, end {samples[-1].db_mb:.1f} MB "
             f"(growth {samples[-1].db_mb - samples[0].db_mb:+.1f} MB)")
    req, ans = sum(m.requests for m in mb), sum(m.answers for m in mb)
    L.append(f"modbus flood ({len(mb)} threads): {req} requests, {ans} answers "
             f"({ans / max(res['elapsed'], 1e-9):.0f}/s), {sum(m.connections for m in mb)} connections, "
             f"{sum(m.refused for m in mb)} refused at connect, {sum(m.closed for m in mb)} closed by the server, "
             f"{sum(m.timeouts for m in mb)} timed out")
    statuses: dict = {}
    for f in flood:
        for k, v in f.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    L.append(f"http flood ({len(flood)} threads, teams 2..{TEAMS}): {sum(f.requests for f in flood)} answers "
             f"{dict(sorted(statuses.items()))}, {sum(f.errors for f in flood)} connection errors")
    med = f"{statistics.median(slow.lifetimes):.1f} s" if slow.lifetimes else "n/a"
    L.append(f"slow bodies ({SLOW_BODY_CONNECTIONS} slots, a byte every {SLOW_BODY_EVERY_S:.0f} s): "
             f"{slow.opened} opened, {slow.closed_by_server} closed by the server (median lifetime {med}), "
             f"{slow.open_at_end} still open at the end"
             + (f" (oldest {max(slow.open_at_end_ages):.0f} s)" if slow.open_at_end_ages else "")
             + f", {slow.connect_failures} connect failures"
             + (f"; answers: {slow.answered}" if slow.answered else ""))
    if rs["error"]:
        ready = f" (ready after {rs['ready_s']:.2f} s)" if rs["ready_s"] is not None else ""
        L.append(f"restart after SIGKILL: FAILED: {rs['error']}{ready}")
    else:
        L.append(f"restart after SIGKILL: `ready` after {rs['ready_s']:.2f} s, team page 200 after "
                 f"{rs['page_s']:.2f} s{' (logged in again)' if rs['relogin'] else ''}")
    try:
        with open(server_log, errors="replace") as f:
            text = f.read()
        emfile = ", says Too many open files" if "Too many open files" in text else ""
        L.append(f"server log: {text.count(' WARN ')} WARN, {text.count(' ERROR ')} ERROR lines{emfile}")
    except OSError:
        pass
    return L, measured


def main() -> int:
    started = time.monotonic()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/debug/icsrange", help="the icsrange binary")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the soak (default 60)")
    ap.add_argument("--exercise", default=DEFAULT_EXERCISE, choices=sorted(MODBUS_DEVICES))
    ap.add_argument("--restart-budget", type=float, default=300.0,
                    help="longest wait for the restarted server (default 300 s)")
    ap.add_argument("--keep", action="store_true", help="keep the data directory and server log")
    ap.add_argument("--skip", default="", help="loads to leave out, for diagnosis: a comma-separated "
                    "subset of modbus,slow,http (the bounds are then not those of the soak)")
    a = ap.parse_args()

    skip = {x for x in a.skip.split(",") if x}
    if skip - {"modbus", "slow", "http"}:
        ap.error(f"--skip: unknown {', '.join(sorted(skip - {'modbus', 'slow', 'http'}))}")
    binary = os.path.abspath(a.bin)
    if not os.access(binary, os.X_OK):
        print(f"soak: no executable at {binary}", file=sys.stderr)
        return 2
    raise_nofile()
    work = tempfile.mkdtemp(prefix="icsrange-soak-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    server_log = os.path.join(work, "server.log")
    server = Server(binary, data, server_log)
    outcome = {"status": 2}

    def cleanup() -> None:
        # The database may be hundreds of MB: kept only with --keep; the log is kept on failure.
        server.kill()
        for p in HELPERS:
            try:
                if p.is_alive():
                    p.kill()
            except (OSError, ValueError, AssertionError):
                pass
        if not a.keep:
            shutil.rmtree(data, ignore_errors=True)
            if outcome["status"] == 0:
                shutil.rmtree(work, ignore_errors=True)

    atexit.register(cleanup)

    def on_signal(signum, _frame):
        print(f"soak: stopped by signal {signum}; server killed", file=sys.stderr, flush=True)
        cleanup()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # Overall deadline: whatever happens, the script ends (and the server with it).
    overall = SETUP_BUDGET_S + a.seconds + WIND_DOWN_BUDGET_S + a.restart_budget + 60

    def watchdog():
        time.sleep(overall)
        print(f"soak: overall deadline of {overall:.0f} s passed: killing the server, exit 2",
              file=sys.stderr, flush=True)
        cleanup()
        os._exit(2)

    threading.Thread(target=watchdog, name="watchdog", daemon=True).start()
    log(f"binary {binary} (modified {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(os.path.getmtime(binary)))}); "
        f"work dir {work}")

    try:
        world = setup(binary, server, data, a.exercise)
        res = soak(server, data, world, a.seconds, skip)
        log("SIGKILL and restart")
        rs = restart(server, res["legit_obj"], a.restart_budget)
        server.kill()
        lines, measured = summarise(a.exercise, a.seconds, res, rs, server_log)
    except HarnessError as e:
        server.kill()
        print(f"soak: could not run: {e}", file=sys.stderr)
        try:
            with open(server_log, errors="replace") as f:
                tail = f.readlines()[-30:]
            print("server log (last lines):\n" + "".join(tail), file=sys.stderr)
        except OSError:
            pass
        print(f"soak: server log kept: {server_log}", file=sys.stderr)
        return 2
    finally:
        server.kill()

    broken = []
    lines.append("bounds:")
    for name, bound in BOUNDS.items():
        v = measured[name]
        ok = v <= bound
        if not ok:
            broken.append(f"{name}: {v:.3f} > {bound}")
        lines.append(f"  {name:<14} bound {bound:>8}  measured {v:>10.3f}  {'ok' if ok else 'BROKEN'}")
    total = time.monotonic() - started
    lines.append(f"whole script: {total:.1f} s")
    if broken:
        lines.append(f"FAIL: {len(broken)} bound(s) broken: " + "; ".join(broken))
    else:
        lines.append("PASS: every bound holds")
    print("\n".join(lines), flush=True)
    outcome["status"] = 1 if broken else 0
    if a.keep:
        print(f"soak: work dir kept (data, server.log): {work}", flush=True)
    elif outcome["status"] != 0:
        print(f"soak: server log kept: {server_log}", flush=True)
    return outcome["status"]


if __name__ == "__main__":
    sys.exit(main())
