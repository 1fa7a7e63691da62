#!/usr/bin/env python3
"""Modbus/TCP throughput and latency: our generator PLC next to pymodbus's own async server.

Usage: python3 bench/modbus_vs_pymodbus.py [--connections 1000] [--seconds 10]

One command. It builds target/release/icsrange if missing, makes tests/peers/.venv (pymodbus)
if missing, then for each server in turn starts it, drives it with `icsrange bench modbus`
(1,000 concurrent connections, each with one Read Holding Registers in flight, as SCADA
masters poll) and stops it. Same request (unit 1, register 0, count 1), same load generator,
same machine; the two servers never run at once. Prints both lines and the ratio.
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
ctx = ModbusServerContext(devices={1: ModbusDeviceContext(hr=ModbusSequentialDataBlock(0, [1630] * 10))}, single=False)
print("ready", flush=True)
asyncio.run(StartAsyncTcpServer(context=ctx, address=(sys.argv[1], int(sys.argv[2]))))
"""


def wait_ready(proc):
    for line in proc.stdout:
        if line.startswith("ready"):
            return
    raise SystemExit("server exited before it was ready")


def load(target, label, args):
    out = subprocess.run(
        [str(EXE), "bench", "modbus", target, "--connections", str(args.connections), "--for", f"{args.seconds}s",
         "--label", label],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    print(out, flush=True)
    return float(re.search(r"requests/s\s+(\d+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    if not EXE.exists():
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "-r", str(ROOT / "tests/peers/requirements.txt")],
                       check=True)
    env = dict(os.environ, ICSRANGE_LOG="warn")

    ours = subprocess.Popen([str(EXE), "devices", "--grid", str(ROOT / "cases/case9.m"), "--base", "127.50.0.0"],
                            stdout=subprocess.PIPE, text=True, env=env)
    wait_ready(ours)
    try:
        ours_rps = load("127.50.0.2:502", "icsrange", args)
    finally:
        ours.send_signal(2)
        ours.wait()
    time.sleep(1)

    theirs = subprocess.Popen([str(VENV / "bin" / "python"), "-c", PYMODBUS_SERVER, "127.51.0.1", "5020"],
                              stdout=subprocess.PIPE, text=True)
    wait_ready(theirs)
    time.sleep(1)
    try:
        theirs_rps = load("127.51.0.1:5020", "pymodbus", args)
    finally:
        theirs.terminate()
        theirs.wait()
    print(f"ratio icsrange/pymodbus: {ours_rps / theirs_rps:.1f}x")


if __name__ == "__main__":
    main()
