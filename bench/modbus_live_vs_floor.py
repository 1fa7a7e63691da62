#!/usr/bin/env python3
"""Modbus/TCP through the live runtime next to the kernel's floor, in one run; and the CPU
of live ranges.

Usage: python3 bench/modbus_live_vs_floor.py [--connections 1000] [--seconds 10] [--ranges 1,10,50]

One command. It builds target/release/icsrange if missing and compiles
../shared/tools/modbus_floor.c (a C epoll responder that does nothing but answer) into
target/. Then, in turn, never at once, for each of --rounds rounds (alternated, because a shared
machine's speed drifts from one run to the next; the median ratio is the figure):
- the floor on 127.52.0.1:5020, driven by `icsrange bench modbus` (N connections, one Read
  Holding Registers in flight each);
- `icsrange live ukraine2015 --speed 1x`: the whole range (SCADA master, campaign, IDS on
  every payload, every request journaled as an input, the capture written), driven the same
  way at a generator PLC (127.10.0.1:502);
- `icsrange bench live --ranges K --speed 1x` for each K: CPU of K live ranges in one process.
Prints each line, each server's CPU per request (from /proc), and the ratios.
"""
import argparse
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = ROOT / "target" / "release" / "icsrange"
FLOOR_C = ROOT.parent / "shared" / "tools" / "modbus_floor.c"
FLOOR = ROOT / "target" / "modbus_floor"


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(target, label, args, pid):
    cpu0 = cpu_seconds(pid)
    run = subprocess.run(
        [str(EXE), "bench", "modbus", target, "--connections", str(args.connections), "--for", f"{args.seconds}s",
         "--label", label],
        capture_output=True, text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"{label}: {run.stderr.strip()}")
    out = run.stdout.strip()
    cpu = cpu_seconds(pid) - cpu0
    rps = float(re.search(r"requests/s\s+(\d+)", out).group(1))
    p99 = re.search(r"p99\s+([\d.]+\s*\S+)", out)
    per_request_us = cpu / (rps * (args.seconds + 1)) * 1e6
    print(f"{out}  server CPU {cpu:.1f} s = {per_request_us:.1f} us/request", flush=True)
    return rps, per_request_us, p99.group(1) if p99 else "?"


def floor_run(args):
    floor = subprocess.Popen([str(FLOOR), "127.52.0.1", "5020"])
    time.sleep(0.5)
    try:
        return load("127.52.0.1:5020", "floor", args, floor.pid)
    finally:
        floor.terminate()
        floor.wait()


def live_run(args, env):
    out = ROOT / "target" / "bench-live"
    live = subprocess.Popen([str(EXE), "live", "ukraine2015", "--speed", "1x", "--out", str(out)],
                            stdout=subprocess.PIPE, text=True, env=env)
    first = live.stdout.readline()
    for line in live.stdout:
        if line.startswith("ready"):
            break
    port = 10502 if "port + 10000" in first else 502
    lines = []
    drain = threading.Thread(target=lambda: lines.extend(live.stdout), daemon=True)
    drain.start()
    try:
        return load(f"127.10.0.1:{port}", "live", args, live.pid)
    finally:
        live.send_signal(signal.SIGINT)
        live.wait(timeout=120)
        drain.join(timeout=5)
        print(lines[-1].strip() if lines else "(live printed nothing at exit)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--ranges", default="1,10,50")
    ap.add_argument("--rounds", type=int, default=3,
                    help="floor and live runs, alternated (a shared machine's speed drifts between runs)")
    args = ap.parse_args()
    if not EXE.exists():
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    subprocess.run(["gcc", "-O2", "-o", str(FLOOR), str(FLOOR_C)], check=True)
    env = dict(os.environ, ICSRANGE_LOG="warn")

    ratios = []
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds}", flush=True)
        f_rps, f_cpu, f_p99 = floor_run(args)
        time.sleep(1)
        l_rps, l_cpu, l_p99 = live_run(args, env)
        ratios.append(l_rps / f_rps)
        print(f"ratio live/floor: throughput {l_rps / f_rps:.2f}x, server CPU per request {l_cpu / f_cpu:.1f}x, "
              f"p99 {l_p99} (live) vs {f_p99} (floor)", flush=True)
    ratios.sort()
    print(f"throughput live/floor over {args.rounds} rounds: median {ratios[len(ratios) // 2]:.2f}x "
          f"(min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x)", flush=True)

    for k in [int(x) for x in args.ranges.split(",") if x]:
        run = subprocess.run([str(EXE), "bench", "live", "--ranges", str(k), "--for", "20s"],
                             capture_output=True, text=True, env=env)
        print(run.stdout.strip() or run.stderr.strip(), flush=True)


if __name__ == "__main__":
    main()
