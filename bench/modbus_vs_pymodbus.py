#!/usr/bin/env python3
"""Modbus/TCP throughput and latency: our generator PLC next to pymodbus's own async server.

Usage: python3 bench/modbus_vs_pymodbus.py [--connections 1000] [--seconds 10] [--pipeline 1,8]

One command. It builds target/release/icsrange if missing, makes tests/peers/.venv (pymodbus)
if missing, then for each server in turn starts it, drives it with `icsrange bench modbus`
(1,000 concurrent connections, each with one Read Holding Registers in flight, as SCADA
masters poll; then with 8 in flight per connection, sent in one write, which Modbus/TCP allows)
and stops it. Same request (unit 1, register 0, count 1), same load generator,
same machine; the two servers never run at once. Prints both lines, each server's CPU time per
request (from /proc), and the ratios.
"""
import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = ROOT / "target" / "release" / "icsrange"
VENV = ROOT / "tests" / "peers" / ".venv"

PYMODBUS_SERVER = r"""
import asyncio, sys
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusDeviceContext, ModbusServerContext
from pymodbus.server import StartAsyncTcpServer
ctx = ModbusServerContext(devices={1: ModbusDeviceContext(hr=ModbusSequentialDataBlock(1, [1630] * 10))}, single=False)
print("ready", flush=True)
asyncio.run(StartAsyncTcpServer(context=ctx, address=(sys.argv[1], int(sys.argv[2]))))
"""


def wait_ready(proc):
    for line in proc.stdout:
        if line.startswith("ready"):
            return
    raise SystemExit("server exited before it was ready")


def cpu_seconds(pid):
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(target, label, args, pid, depth):
    cpu0 = cpu_seconds(pid)
    run = subprocess.run(
        [str(EXE), "bench", "modbus", target, "--connections", str(args.connections), "--for", f"{args.seconds}s",
         "--label", label, "--pipeline", str(depth)],
        capture_output=True, text=True,
    )
    if run.returncode != 0:
        print(f"{label:<10} pipeline {depth:>2}: {run.stderr.strip()}", flush=True)
        return None
    out = run.stdout.strip()
    cpu = cpu_seconds(pid) - cpu0
    rps = float(re.search(r"requests/s\s+(\d+)", out).group(1))
    # The load runs 1 s of warm-up plus the measured time; CPU is over both.
    per_request_us = cpu / (rps * (args.seconds + 1)) * 1e6
    print(f"{out}  server CPU {cpu:.1f} s = {per_request_us:.1f} us/request", flush=True)
    return rps, per_request_us


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--pipeline", default="1,8", help="requests in flight per connection, a list")
    args = ap.parse_args()
    if not EXE.exists():
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "-r", str(ROOT / "tests/peers/requirements.txt")],
                       check=True)
    env = dict(os.environ, ICSRANGE_LOG="warn")

    depths = [int(d) for d in args.pipeline.split(",")]
    ours_proc = subprocess.Popen([str(EXE), "devices", "--grid", str(ROOT / "cases/case9.m"), "--base", "127.50.0.0"],
                            stdout=subprocess.PIPE, text=True, env=env)
    wait_ready(ours_proc)
    try:
        ours = {d: load("127.50.0.2:502", "icsrange", args, ours_proc.pid, d) for d in depths}
    finally:
        ours_proc.send_signal(2)
        ours_proc.wait()
    time.sleep(1)

    theirs = subprocess.Popen([str(VENV / "bin" / "python"), "-c", PYMODBUS_SERVER, "127.51.0.1", "5020"],
                              stdout=subprocess.PIPE, text=True)
    wait_ready(theirs)
    time.sleep(1)
    try:
        theirs_results = {d: load("127.51.0.1:5020", "pymodbus", args, theirs.pid, d) for d in depths}
    finally:
        theirs.terminate()
        theirs.wait()
    for d in depths:
        if ours[d] is None or theirs_results[d] is None:
            print(f"ratio icsrange/pymodbus, pipeline {d}: none (a server did not answer)")
            continue
        (ours_rps, ours_cpu), (theirs_rps, theirs_cpu) = ours[d], theirs_results[d]
        print(f"ratio icsrange/pymodbus, pipeline {d}: throughput {ours_rps / theirs_rps:.1f}x, "
              f"server CPU per request {theirs_cpu / ours_cpu:.1f}x less")
    print("(one 2-core machine: the load generator and the server share it; pymodbus saturates its "
          "one core first, so the CPU ratio is the servers' cost, the throughput ratio the machine's)")


if __name__ == "__main__":
    main()
