#!/usr/bin/env python3
"""Time our Newton-Raphson power flow (`icsrange bench pf`) against Python anchors.

Usage:
    python3 bench/pf_vs_anchors.py [CASE.m ...] [--runs N] [--json OUT]
                                   [--no-build] [--anchors-only] [--bin PATH]

With no CASE, it runs case118, case300, case1354pegase and case2869pegase from
../shared/cases/ (relative to the repository root). A CASE that is not a file
is also looked up there, so `case9` or `case9.m` works.

Set-up, all automatic:
  1. The anchors run in their own venv, bench/.venv. The script creates it if it
     is missing, pip-installs bench/requirements.txt (again whenever that file
     changes), and re-executes itself with the venv's Python.
  2. target/release/icsrange is built with `cargo build --release -p cli` only
     if it does not exist (skip with --no-build; --bin PATH uses another binary).

What is timed. Everything runs single-threaded: OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, MKL_NUM_THREADS (and RAYON_NUM_THREADS, NUMBA_NUM_THREADS,
inherited by our binary) are set to 1 before numpy is imported. Every engine
solves the same .m file: NR, tolerance 1e-8 p.u., at most 30 iterations, flat
start (|V| = 1, angle 0; the reference bus keeps its Va from the .m file;
buses with an in-service generator start at Vg), reactive limits off.

  ours     `icsrange bench pf CASE.m ... --runs N`, one invocation for all cases.
           Its stdout contract: a header line starting with `case`, then one line
           per case with whitespace-separated columns, looked up by name:
           `case buses branches iterations median_ms cold_ms` (extra columns ok).
           median_ms and cold_ms are whatever the binary measures: repeated
           solves with caches kept, and solves from scratch.
  ls       lightsim2grid LSGrid.ac_pf, NR_KLU, model from
           lightsim2grid.network.init_from_matpower on the parsed .m. Caches
           (Ybus, symbolic factorisation) are kept between calls: the
           time-stepping case.
  ls_cold  the same, with LSGrid.prevent_cache_reuse() before every call
           (outside the timed region).
  pp       pandapower.runpp(algorithm="nr", init="flat", numba=False,
           lightsim2grid=False) on from_ppc(parsed .m, f_hz=50): pure
           numpy/scipy (SuperLU) plus pandapower's dataframe overhead.

Each anchor's time is the median wall time (time.perf_counter) of one power
flow over N runs after 2 warm-up runs; loading and converting the case is not
timed. The timing code is copied from ../shared/tools/pf_bench.py, which
produced the reference numbers in ../shared/research/powerflow.md. Per case the
order is always: ours (already run), ls, ls_cold, pp.

The table's ratios: ours/ls = median_ms / ls (both with caches kept),
ours_cold/ls_cold = cold_ms / ls_cold, pp/ours = pp / median_ms.
"""
import argparse
import copy
import hashlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "RAYON_NUM_THREADS")
for _var in THREAD_VARS:  # before numpy is imported, here and in the binary we start
    os.environ[_var] = "1"

BENCH_DIR = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(BENCH_DIR)
VENV = os.path.join(BENCH_DIR, ".venv")
REQUIREMENTS = os.path.join(BENCH_DIR, "requirements.txt")
REQ_STAMP = os.path.join(VENV, ".requirements.sha256")
CASES_DIR = os.path.normpath(os.path.join(REPO, "..", "shared", "cases"))
DEFAULT_CASES = ("case118", "case300", "case1354pegase", "case2869pegase")
DEFAULT_BIN = os.path.join(REPO, "target", "release", "icsrange")

TOL = 1e-8
MAX_IT = 30
ANCHORS = ("ls", "ls_cold", "pp")


# --------------------------------------------------------------------------- venv
def in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def ensure_venv_and_reexec():
    """Create bench/.venv and install the requirements if needed, then exec ourselves in it."""
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        print("pf_vs_anchors: creating %s" % VENV, file=sys.stderr, flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    with open(REQUIREMENTS, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    have = open(REQ_STAMP).read().strip() if os.path.exists(REQ_STAMP) else None
    if have != want:
        print("pf_vs_anchors: installing %s (takes a few minutes the first time)" % REQUIREMENTS,
              file=sys.stderr, flush=True)
        subprocess.check_call([py, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS])
        with open(REQ_STAMP, "w") as f:
            f.write(want + "\n")
    if os.environ.get("PF_VS_ANCHORS_REEXEC") == "1":
        raise SystemExit("pf_vs_anchors: re-executed but not running inside %s" % VENV)
    os.environ["PF_VS_ANCHORS_REEXEC"] = "1"
    os.execv(py, [py, os.path.realpath(__file__)] + sys.argv[1:])


# --------------------------------------------------------------------------- MATPOWER .m reader
def parse_m(path):
    """Minimal MATPOWER v2 case reader (as in pf_bench.py): dict(baseMVA, bus, gen, branch[, gencost]).

    Handles comments (%), row separators (; or newline), and ragged rows (zero padded).
    Cell arrays such as mpc.bus_name are ignored."""
    import numpy as np
    txt = open(path, encoding="utf-8", errors="replace").read()
    out = {"version": "2"}
    m = re.search(r"mpc\.baseMVA\s*=\s*([0-9.eE+-]+)", txt)
    out["baseMVA"] = float(m.group(1))
    for key in ("bus", "gen", "branch", "gencost"):
        m = re.search(r"mpc\.%s\s*=\s*\[(.*?)\];" % key, txt, re.S)
        if not m:
            continue
        rows = []
        for line in m.group(1).split("\n"):
            line = line.split("%")[0]
            for part in line.split(";"):
                part = part.strip()
                if part:
                    rows.append([float(x) for x in part.replace(",", " ").split()])
        width = max(len(r) for r in rows)
        arr = np.zeros((len(rows), width))
        for i, r in enumerate(rows):
            arr[i, : len(r)] = r
        out[key] = arr
    return out


def resolve_case(spec):
    if os.path.isfile(spec):
        return os.path.abspath(spec)
    name = spec if spec.endswith(".m") else spec + ".m"
    path = os.path.join(CASES_DIR, name)
    if os.path.isfile(path):
        return path
    raise SystemExit("pf_vs_anchors: no such case: %s (nor %s)" % (spec, path))


def case_name(path):
    base = os.path.basename(path)
    return base[:-2] if base.endswith(".m") else base


# --------------------------------------------------------------------------- timing (from pf_bench.py)
def timed(fn, runs, warmup, before=None):
    for _ in range(warmup):
        if before:
            before()
        fn()
    ts, extra = [], None
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        extra = fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(ts), 1e3 * min(ts), extra


def eng_lightsim(ppc, runs, warmup, cold):
    """LSGrid.ac_pf with NR_KLU, flat start; caches kept, or dropped before every call if cold."""
    import numpy as np
    import lightsim2grid.network as lsn
    from lightsim2grid.algorithm import AlgorithmType
    model = lsn.init_from_matpower(copy.deepcopy(ppc))
    bus, gen = ppc["bus"], ppc["gen"]
    row = {b: i for i, b in enumerate(bus[:, 0].astype(int))}
    v0 = np.ones(bus.shape[0], dtype=complex)
    ref = bus[:, 1] == 3
    v0[ref] = np.exp(1j * np.deg2rad(bus[ref, 8]))
    for g in gen[gen[:, 7] > 0]:
        i = row[int(g[0])]
        v0[i] = g[5] * v0[i] / abs(v0[i])
    model.change_algorithm(AlgorithmType.NR_KLU)
    core = []

    def run():
        V = model.ac_pf(v0.copy(), MAX_IT, TOL)
        core.append(model.get_computation_time())
        return int(model.get_algo().get_nb_iter()), V.shape[0] > 0

    before = model.prevent_cache_reuse if cold else None
    med, mn, (it, ok) = timed(run, runs, warmup, before)
    # get_computation_time() is cumulative in some versions: use per-run differences if growing
    c = np.array(core[-runs:])
    if np.all(np.diff(c) > 0) and len(c) > 2 and c[-1] > 2 * c[0]:
        c = np.diff(c)
    return dict(iterations=it if ok else -1, median_ms=med, min_ms=mn, core_ms=1e3 * float(np.median(c)))


def eng_pandapower(ppc, runs, warmup):
    """pandapower.runpp, numba off, lightsim2grid off, flat start, on from_ppc(.m, f_hz=50)."""
    import pandapower as pp
    from pandapower.converter.pypower.from_ppc import from_ppc
    net = from_ppc(copy.deepcopy(ppc), f_hz=50)
    core = []

    def run():
        pp.runpp(net, algorithm="nr", init="flat", numba=False, lightsim2grid=False,
                 tolerance_mva=TOL, max_iteration=MAX_IT, calculate_voltage_angles=True)
        core.append(net._ppc.get("et", float("nan")))
        return int(net._ppc["iterations"]), bool(net.converged)

    med, mn, (it, ok) = timed(run, runs, warmup)
    return dict(iterations=it if ok else -1, median_ms=med, min_ms=mn,
                core_ms=1e3 * statistics.median(core[-runs:]))


def run_anchor(name, ppc, runs, warmup):
    if name == "ls":
        return eng_lightsim(ppc, runs, warmup, cold=False)
    if name == "ls_cold":
        return eng_lightsim(ppc, runs, warmup, cold=True)
    if name == "pp":
        return eng_pandapower(ppc, runs, warmup)
    raise ValueError(name)


# --------------------------------------------------------------------------- our binary
def build_if_missing(binary, allowed):
    if os.path.exists(binary):
        return
    if not allowed:
        raise SystemExit("pf_vs_anchors: %s is missing (it is built only when --bin and --no-build "
                         "are not given)" % binary)
    cmd = ["cargo", "build", "--release", "-p", "cli"]
    print("pf_vs_anchors: %s missing; running %s" % (binary, " ".join(cmd)), file=sys.stderr, flush=True)
    subprocess.check_call(cmd, cwd=REPO)
    if not os.path.exists(binary):
        raise SystemExit("pf_vs_anchors: cargo build succeeded but %s does not exist" % binary)


def parse_ours(stdout):
    """Rows of `icsrange bench pf` output, keyed by case name; columns looked up by header name."""
    lines = [ln.split() for ln in stdout.splitlines() if ln.strip()]
    start = next((i for i, t in enumerate(lines) if t[0] == "case"), None)
    if start is None:
        raise ValueError("no header line starting with 'case' in:\n" + stdout)
    header = lines[start]
    need = ("case", "buses", "branches", "iterations", "median_ms", "cold_ms")
    missing = [c for c in need if c not in header]
    if missing:
        raise ValueError("header lacks column(s) %s: %s" % (", ".join(missing), " ".join(header)))
    col = {c: header.index(c) for c in need}
    rows = {}
    for toks in lines[start + 1:]:
        if len(toks) < len(header) or toks[0] == "case":
            continue  # not a data row (a trailing note, a repeated header)
        try:
            rows[case_name(toks[col["case"]])] = dict(
                buses=int(toks[col["buses"]]), branches=int(toks[col["branches"]]),
                iterations=int(toks[col["iterations"]]), median_ms=float(toks[col["median_ms"]]),
                cold_ms=float(toks[col["cold_ms"]]))
        except ValueError:
            continue
    return rows


def run_ours(binary, paths, runs):
    cmd = [binary, "bench", "pf"] + paths + ["--runs", str(runs)]
    print("pf_vs_anchors: " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)  # its stderr passes through
    if p.returncode != 0:
        raise RuntimeError("exit code %d, stdout:\n%s" % (p.returncode, p.stdout))
    return parse_ours(p.stdout), cmd


# --------------------------------------------------------------------------- report
def fmt(x, spec="%.3f"):
    return "n/a" if x is None else spec % x


def ratio(a, b):
    return a / b if a is not None and b else None


def print_table(results):
    cols = [("case", "%-16s"), ("buses", "%6s"), ("branches", "%8s"), ("iters", "%5s"),
            ("median_ms", "%10s"), ("cold_ms", "%9s"), ("ls_ms", "%9s"), ("ls_cold_ms", "%10s"),
            ("pp_ms", "%9s"), ("ours/ls", "%8s"), ("cold/ls_cold", "%12s"), ("pp/ours", "%8s")]
    print(" ".join(f % name for name, f in cols))
    for r in results:
        o = r["ours"] or {}
        a = r["anchors"]
        vals = [r["case"], str(r["buses"]), str(r["branches"]), fmt(o.get("iterations"), "%d"),
                fmt(o.get("median_ms")), fmt(o.get("cold_ms")),
                fmt(a["ls"]["median_ms"]), fmt(a["ls_cold"]["median_ms"]), fmt(a["pp"]["median_ms"], "%.2f"),
                fmt(r["ratios"]["ours_over_ls"], "%.2f"), fmt(r["ratios"]["ours_cold_over_ls_cold"], "%.2f"),
                fmt(r["ratios"]["pp_over_ours"], "%.1f")]
        print(" ".join(f % v for (_, f), v in zip(cols, vals)))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
    except OSError:
        return platform.processor() or None


def versions():
    import importlib.metadata as md
    out = {"python": platform.python_version()}
    for pkg in ("pandapower", "lightsim2grid", "numpy", "scipy", "numba"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


# --------------------------------------------------------------------------- main
def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="*", metavar="CASE.m",
                    help="MATPOWER files (default: %s from %s)" % (", ".join(DEFAULT_CASES), CASES_DIR))
    ap.add_argument("--runs", type=int, default=15, help="timed runs per engine and case (default 15)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs before the anchors' timed runs (default 2)")
    ap.add_argument("--json", metavar="OUT", help="also write all results to this JSON file")
    ap.add_argument("--no-build", action="store_true", help="never run cargo build; fail if the binary is missing")
    ap.add_argument("--anchors-only", action="store_true", help="time only the Python anchors")
    ap.add_argument("--bin", default=DEFAULT_BIN, help="our binary (default: target/release/icsrange, "
                    "built if missing)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def main():
    args = parse_args()  # before the venv, so that --help and bad arguments cost nothing
    if not in_venv():
        ensure_venv_and_reexec()  # does not return

    import warnings
    import logging
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    paths = [resolve_case(c) for c in (args.cases or DEFAULT_CASES)]
    explicit_bin = args.bin != DEFAULT_BIN
    ours, ours_cmd, failed = {}, None, False
    if not args.anchors_only:
        build_if_missing(args.bin, allowed=not args.no_build and not explicit_bin)
        try:
            ours, ours_cmd = run_ours(args.bin, paths, args.runs)
        except (RuntimeError, ValueError, OSError) as e:
            print("pf_vs_anchors: our binary failed: %s" % e, file=sys.stderr, flush=True)
            failed = True

    results = []
    for path in paths:
        name = case_name(path)
        ppc = parse_m(path)
        n_bus, n_branch = ppc["bus"].shape[0], ppc["branch"].shape[0]
        o = ours.get(name)
        if not args.anchors_only and not failed and o is None:
            print("pf_vs_anchors: no row for %s in our output" % name, file=sys.stderr, flush=True)
            failed = True
        if o is not None and (o["buses"], o["branches"]) != (n_bus, n_branch):
            print("pf_vs_anchors: %s: ours reports %d buses / %d branches, the .m has %d / %d"
                  % (name, o["buses"], o["branches"], n_bus, n_branch), file=sys.stderr, flush=True)
        anchors = {}
        for eng in ANCHORS:
            try:
                anchors[eng] = run_anchor(eng, ppc, args.runs, args.warmup)
            except Exception as e:  # keep going on engine failures, as pf_bench.py does
                print("pf_vs_anchors: %s %s failed: %r" % (name, eng, e), file=sys.stderr, flush=True)
                anchors[eng] = dict(iterations=None, median_ms=None, min_ms=None, core_ms=None)
                failed = True
            print("pf_vs_anchors: %-16s %-8s %s ms, %s iterations"
                  % (name, eng, fmt(anchors[eng]["median_ms"]), fmt(anchors[eng]["iterations"], "%d")),
                  file=sys.stderr, flush=True)
        med = o["median_ms"] if o else None
        cold = o["cold_ms"] if o else None
        results.append(dict(
            case=name, path=path, buses=n_bus, branches=n_branch, ours=o, anchors=anchors,
            ratios=dict(ours_over_ls=ratio(med, anchors["ls"]["median_ms"]),
                        ours_cold_over_ls_cold=ratio(cold, anchors["ls_cold"]["median_ms"]),
                        pp_over_ours=ratio(anchors["pp"]["median_ms"], med))))

    print_table(results)
    if args.json:
        meta = dict(runs=args.runs, warmup=args.warmup, tolerance=TOL, max_iterations=MAX_IT, start="flat",
                    ours_command=ours_cmd, cpu=cpu_model(), cpu_count=os.cpu_count(),
                    threads={v: os.environ.get(v) for v in THREAD_VARS},
                    openblas_coretype=os.environ.get("OPENBLAS_CORETYPE"), versions=versions(),
                    time=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        with open(args.json, "w") as f:
            json.dump(dict(meta=meta, results=results), f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
