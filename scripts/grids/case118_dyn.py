#!/usr/bin/env python3
"""Writes cases/case118.dyn.toml: the dynamics sidecar of IEEE 118 as a three-area regional grid.

Usage: python3 scripts/grids/case118_dyn.py [path/to/icsrange]   (default: target/release/icsrange)

What it decides, and why:
- Areas: the conventional three-area partition of the IEEE 118-bus one-line diagram
  (area 1: buses 1-23, 25-32, 113-115, 117; area 2: 33-67; area 3: 24, 68-112, 116, 118).
  The case file has every bus in area 1. Each area can be given to one team; the tie-lines
  between areas carry the interconnection.
- Units: the 35 units dispatched at 0 MW with Pmax 100 are synchronous condensers in the
  original data. The 19 real units get a type by size and role (coal steam with reheat,
  nuclear, hydro, gas). MATPOWER's mBase is 100 MVA for all of them, so the MVA base of the
  inertia is set from Pmax at a 0.9 power factor.
- Governor headroom: steam and nuclear units run near their ceiling (2 % margin, nuclear none);
  hydro and gas units carry the frequency-containment reserve. Total reserve is about 7 % of
  load, so losing the largest unit (bus 89, 607 MW, 14 % of generation) needs UFLS.
- Ratings: the case has none (rateA = 0). Each branch is rated N-1 secure, as a planner would:
  1.1x the largest current it carries in the base case, after any single branch outage, or
  after the loss of any large unit (its output picked up in proportion to inertia, as the
  simulator does), rounded up to 10 MVA, with a floor of 60 MVA at 138 kV and 400 MVA at
  345 kV. A single outage trips nothing; N-2 outages can overload neighbours and cascade.
- Frequency: IEEE 118 models a 60 Hz system; the range runs it at 50 Hz with ENTSO-E style
  protection (units trip at 47.5/51.5 Hz, UFLS 49.0/48.8/48.6/48.4 Hz, 12.5 % each), the
  settings of most course participants' grids.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "cases" / "case118.m"
OUT = ROOT / "cases" / "case118.dyn.toml"

AREA2 = range(33, 68)
AREA3 = [24, *range(68, 113), 116, 118]

# Type of each real unit, by bus.
TYPES = {
    10: "steam", 25: "steam", 26: "steam", 65: "steam", 66: "steam", 69: "steam", 100: "steam",
    80: "nuclear", 89: "nuclear",
    49: "hydro", 59: "hydro", 61: "hydro",
    12: "gas", 31: "gas", 46: "gas", 54: "gas", 87: "gas", 103: "gas", 111: "gas",
}


def rows(text, field):
    start = text.index(f"mpc.{field} = [")
    body = text[start:text.index("];", start)].split("[", 1)[1]
    out = []
    for line in body.splitlines():
        line = line.split("%")[0].strip().rstrip(";").strip()
        if line:
            out.append([float(x) for x in line.split()])
    return out


def replace_rows(text, field, new_rows):
    start = text.index(f"mpc.{field} = [")
    end = text.index("];", start)
    body = "\n".join("\t" + "\t".join(repr(x) for x in r) + ";" for r in new_rows)
    return text[:start] + f"mpc.{field} = [\n" + body + "\n" + text[end:]


def solve(exe, text):
    tmp = ROOT / "target" / "case118_variant.m"
    tmp.write_text(text)
    run = subprocess.run([exe, "pf", str(tmp), "--json"], capture_output=True)
    if run.returncode != 0:
        return None
    return json.loads(run.stdout)


def currents(sol):
    vm = {b["id"]: b["vm_pu"] for b in sol["bus"]}
    out = []
    for br in sol["branch"]:
        f, t = br["from"], br["to"]
        i_f = math.hypot(br["pf_mw"], br["qf_mvar"]) / vm[f] if vm[f] > 0 else 0
        i_t = math.hypot(br["pt_mw"], br["qt_mvar"]) / vm[t] if vm[t] > 0 else 0
        out.append(max(i_f, i_t))
    return out


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "icsrange")
    text = CASE.read_text()
    buses = {int(r[0]): r for r in rows(text, "bus")}
    gens = rows(text, "gen")
    branches = rows(text, "branch")
    sol = solve(exe, text)
    # N-1 envelope of branch currents (MVA at 1 p.u.).
    envelope = currents(sol)
    scenarios = []
    for k in range(len(branches)):
        variant = [r[:] for r in branches]
        variant[k][10] = 0
        scenarios.append(replace_rows(text, "branch", variant))
    h = {"steam": 5.0, "nuclear": 6.0, "hydro": 3.0, "gas": 4.0}
    weight = [h[TYPES[int(g[0])]] * math.ceil(g[8] / 0.9 / 10) * 10 if int(g[0]) in TYPES else 150.0 for g in gens]
    for lost, g in enumerate(gens):
        if g[1] < 200:
            continue
        variant = [r[:] for r in gens]
        variant[lost][7] = 0
        total = sum(w for i, w in enumerate(weight) if i != lost)
        for i, r in enumerate(variant):
            if i != lost:
                r[1] += g[1] * weight[i] / total
        scenarios.append(replace_rows(text, "gen", variant))
    for variant in scenarios:
        s = solve(exe, variant)
        if s is None:
            continue
        envelope = [max(a, b) for a, b in zip(envelope, currents(s))]

    out = [
        "# Dynamics of IEEE 118 as a three-area regional grid. Written by scripts/grids/case118_dyn.py;",
        "# the reasoning behind every number is in that script's docstring.",
        "format = 1",
        "f0_hz = 50.0",
        "load_damping = 1.0",
        "pf_interval_s = 1.0",
        "substep_s = 0.01",
        "default_unit = \"condenser\"",
        "customers_per_mw = 450",
        "",
        "[[area]]",
        "id = 1",
        "name = \"West\"",
        "buses = [" + ", ".join(str(b) for b in sorted(buses) if b not in AREA2 and b not in AREA3) + "]",
        "",
        "[[area]]",
        "id = 2",
        "name = \"Central\"",
        "buses = [" + ", ".join(str(b) for b in AREA2) + "]",
        "",
        "[[area]]",
        "id = 3",
        "name = \"East\"",
        "buses = [" + ", ".join(str(b) for b in AREA3) + "]",
        "",
    ]
    for row, g in enumerate(gens, start=1):
        bus, pg, pmax = int(g[0]), sol["gen"][row - 1]["pg_mw"], g[8]
        unit = TYPES.get(bus)
        if unit is None:
            out += ["[[gen]]", f"row = {row}", "unit = \"condenser\"", "pmax_mw = 0", "pmin_mw = 0", ""]
            continue
        mbase = math.ceil(pmax / 0.9 / 10) * 10
        if unit == "steam":
            ceiling = pg * 1.02
        elif unit == "nuclear":
            ceiling = pg
        elif unit == "hydro":
            ceiling = pg + 60
        else:
            ceiling = pg + 25
        out += [
            "[[gen]]",
            f"row = {row}",
            f"unit = \"{unit}\"",
            f"mbase_mva = {mbase}",
            f"pmax_mw = {ceiling:.1f}",
            "",
        ]
    out += [
        "[protection]",
        "pickup = 1.0",
        "curve = \"iec_standard\"",
        "tms = 0.1",
        "instantaneous = 2.0",
        "gen_under_hz = 47.5",
        "gen_over_hz = 51.5",
        "gen_delay_s = 0.1",
        "",
    ]
    for row, (br, i) in enumerate(zip(branches, envelope), start=1):
        f, t = int(br[0]), int(br[1])
        kv = max(buses[f][9], buses[t][9])
        floor = 400 if kv >= 300 else 60
        rating = max(math.ceil(1.1 * i / 10) * 10, floor)
        out += ["[[protection.branch]]", f"row = {row}", f"rating_mva = {rating}", ""]
    out += [
        "[[ufls]]", "f_hz = 49.0", "fraction = 0.125", "delay_s = 0.15", "",
        "[[ufls]]", "f_hz = 48.8", "fraction = 0.125", "delay_s = 0.15", "",
        "[[ufls]]", "f_hz = 48.6", "fraction = 0.125", "delay_s = 0.15", "",
        "[[ufls]]", "f_hz = 48.4", "fraction = 0.125", "delay_s = 0.15",
    ]
    OUT.write_text("\n".join(out) + "\n")
    ties = [(r, int(b[0]), int(b[1])) for r, b in enumerate(branches, 1)
            if area(int(b[0])) != area(int(b[1]))]
    print(f"wrote {OUT.relative_to(ROOT)}; tie-lines (row from to): {ties}")


def area(bus):
    return 2 if bus in AREA2 else 3 if bus in AREA3 else 1


if __name__ == "__main__":
    main()
