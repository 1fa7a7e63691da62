#!/usr/bin/env python3
"""Writes cases/ukraine2015.m and cases/ukraine2015.dyn.toml: the distribution grid of the
Ukraine 2015 exercise.

Usage: python3 scripts/grids/ukraine2015.py

The grid is illustrative, not a survey of the real networks. It has the shape the incident
reports describe: three regional distribution companies (oblenergos), each with 110 kV and
35 kV substations feeding 10 kV feeders, fed from a 330 kV transmission ring. About 225,000
customers in all, as ICS-CERT reports lost supply.

- Transmission (area 4, the TSO): a ring of six 330 kV buses with a coal plant (Burshtyn-like,
  2 x 200 MW), a hydro plant (Dniester-like, 2 x 108 MW) and, at Kyiv, the rest of the
  interconnected system as one equivalent machine (20 GVA, H = 5 s, 5 % droop), the
  reference bus. Losing a distribution company's whole load moves frequency by millihertz,
  as it did in 2015.
- Each company (areas 1-3): a 330/110 kV substation with two autotransformers, three
  110/35/10 kV substations on a 110 kV loop, and six 35/10 kV substations fed radially at
  35 kV (two from each 110 kV substation): 9 substations, 27 feeders of 10 kV.
- Feeders: a customer count each (seeded pseudo-random around the company's average) and
  0.15 kW per customer at a 0.95 power factor: about 34 MW for the 225,000 customers. The
  record bounds it: at most 73 MWh not served (Wikipedia, "December 2015 Ukraine power grid
  cyberattack", 0.015 % of Ukraine's daily consumption) for outages of 1 to 6 hours (ICS-CERT;
  Kyivoblenergo 3 h, Prykarpattyaoblenergo 6 h per SANS and Reuters), so 73 MWh over
  225,000 customers off for about two hours on average is 0.16 kW each; the review of the
  first version (1.2 kW, 270 MW) found it eight times too high.
  Customers per company (the split is an assumption; the total is the reports'):
  Prykarpattyaoblenergo 80,000, Chernivtsioblenergo 65,000, Kyivoblenergo 80,000.
- Impedances from typical per-km values (330 kV: 0.03 + j0.30 ohm/km; 110 kV AC-185:
  0.16 + j0.40 ohm/km; 35 kV AC-150: 0.20 + j0.38 ohm/km; 10 kV: 0.25 + j0.33 ohm/km) and
  transformer impedances of 10.5 % on their rating, with on-load tap changers holding the
  secondaries about 5 % high; ratings are the conductors' and transformers' thermal limits.

Sources:
- ICS-CERT, IR-ALERT-H-16-056-01, "Cyber-Attack Against Ukrainian Critical Infrastructure",
  25 Feb 2016 (three companies, ~225,000 customers).
- E-ISAC and SANS ICS, "Analysis of the Cyber Attack on the Ukrainian Power Grid",
  Defense Use Case, 18 Mar 2016 (110 kV and 35 kV substations opened, manual restoration).
"""
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_MVA = 100.0

COMPANIES = [
    # (area, name, customers, 330 kV bus it hangs off, towns)
    (1, "Prykarpattyaoblenergo", 80_000, 2,
     ["Ivano-Frankivsk", "Kalush", "Kolomyia", "Nadvirna", "Dolyna", "Bolekhiv", "Yaremche", "Tysmenytsia", "Rohatyn"]),
    (2, "Chernivtsioblenergo", 65_000, 3,
     ["Chernivtsi", "Storozhynets", "Kitsman", "Zastavna", "Khotyn", "Novodnistrovsk", "Sokyriany", "Vyzhnytsia", "Hlyboka"]),
    (3, "Kyivoblenergo", 80_000, 6,
     ["Bila Tserkva", "Brovary", "Boryspil", "Irpin", "Fastiv", "Obukhiv", "Vasylkiv", "Bucha", "Vyshhorod"]),
]

RING = [
    # (bus, name)
    (1, "Burshtyn TPP 330"),
    (2, "Ivano-Frankivsk 330"),
    (3, "Chernivtsi 330"),
    (4, "Dniester HPP 330"),
    (5, "Khmelnytskyi 330"),
    (6, "Kyiv 330"),
]
RING_LINES = [(1, 2, 60), (2, 3, 120), (3, 4, 80), (4, 5, 150), (5, 6, 280), (6, 1, 420)]


def line(kv, km, r_ohm_km, x_ohm_km, b_us_km):
    z = kv * kv / BASE_MVA
    return r_ohm_km * km / z, x_ohm_km * km / z, b_us_km * 1e-6 * km * z


def transformer(mva, x_pct=10.5, r_pct=0.5):
    return r_pct / 100 * BASE_MVA / mva, x_pct / 100 * BASE_MVA / mva, 0.0


# Off-nominal ratio of step-down transformers: on-load tap changers hold the secondary
# a few per cent above nominal, as distribution companies run them (5 % at the ends of
# 35 kV lines, 3 % per stage at the 110 kV substations).
TAP = 0.95

# Average demand per customer at the time of the attack (see the docstring).
KW_PER_CUSTOMER = 0.15


def main():
    rng = random.Random(2015)
    buses = []      # (id, type, pd, qd, area, kv, name)
    branches = []   # (f, t, r, x, b, rate)
    loads = []      # (bus, customers, substation, feeder)
    stations = []   # (name, buses, area): what the operators' displays show as one substation
    ring_station = {1: "Burshtyn TPP 330", 4: "Dniester HPP 330", 5: "Khmelnytskyi 330"}
    for bus, name in ring_station.items():
        stations.append((name, [bus], 4))
    for bus, name in RING:
        buses.append([bus, 1, 0.0, 0.0, 4, 330, name])
    for f, t, km in RING_LINES:
        branches.append((f, t, *line(330, km, 0.03, 0.30, 3.8), 800, 0))

    for area, company, customers, hv_bus, towns in COMPANIES:
        base = 1000 * area
        nxt = iter(range(base + 1, base + 1000))
        hub = next(nxt)
        buses.append([hub, 1, 0.0, 0.0, area, 110, f"{towns[0]} 330/110 (110 kV side)"])
        for _ in range(2):
            branches.append((hv_bus, hub, *transformer(200), 200, 0.97))
        stations.append((f"{towns[0]} 330/110", [hv_bus, hub], 4))
        # Customers per feeder around the company's average, summing exactly.
        weights = [rng.uniform(0.6, 1.4) for _ in range(27)]
        counts = [int(customers * w / sum(weights)) for w in weights]
        counts[0] += customers - sum(counts)
        feeder_no = 0

        def feeders(sub_name, mv_bus):
            nonlocal feeder_no
            fbs = []
            for k in range(3):
                c = counts[feeder_no]
                feeder_no += 1
                fb = next(nxt)
                p = c * KW_PER_CUSTOMER * 1e-3
                q = p * 0.329  # pf 0.95
                buses.append([fb, 1, round(p, 3), round(q, 3), area, 10, f"{sub_name} feeder {k + 1}"])
                branches.append((mv_bus, fb, *line(10, rng.uniform(1.5, 4), 0.25, 0.33, 0.0), 12, 0))
                loads.append((fb, c, sub_name, f"{sub_name} F{k + 1}"))
                fbs.append(fb)
            return fbs

        mains = []
        for m in range(3):
            town = towns[m]
            sub = f"{town} 110/35/10"
            b110, b35, b10 = next(nxt), next(nxt), next(nxt)
            buses.append([b110, 1, 0.0, 0.0, area, 110, f"{sub} (110 kV)"])
            buses.append([b35, 1, 0.0, 0.0, area, 35, f"{sub} (35 kV)"])
            buses.append([b10, 1, 0.0, 0.0, area, 10, f"{sub} (10 kV)"])
            branches.append((b110, b35, *transformer(63), 63, 0.97))
            branches.append((b35, b10, *transformer(25), 25, 0.97))
            stations.append((sub, [b110, b35, b10] + feeders(sub, b10), area))
            mains.append((b110, b35))
        # 110 kV loop: hub - M1 - M3 - M2 - hub.
        for f, t, km in [(hub, mains[0][0], 15), (mains[0][0], mains[2][0], 20),
                         (mains[2][0], mains[1][0], 25), (mains[1][0], hub, 12)]:
            branches.append((f, t, *line(110, km, 0.16, 0.40, 2.8), 120, 0))
        # 35/10 kV substations, two from each 110 kV substation.
        for s in range(6):
            town = towns[3 + s]
            sub = f"{town} 35/10"
            b35, b10 = next(nxt), next(nxt)
            buses.append([b35, 1, 0.0, 0.0, area, 35, f"{sub} (35 kV)"])
            buses.append([b10, 1, 0.0, 0.0, area, 10, f"{sub} (10 kV)"])
            branches.append((mains[s // 2][1], b35, *line(35, rng.uniform(5, 12), 0.20, 0.38, 2.9), 30, 0))
            branches.append((b35, b10, *transformer(16), 16, TAP))
            stations.append((sub, [b35, b10] + feeders(sub, b10), area))

    total_load = sum(b[2] for b in buses)
    # Units: (bus, pg, pmax, vg, name)
    gens = [
        (1, 200.0, 210.0, 1.03, "Burshtyn TPP unit 1"),
        (1, 200.0, 210.0, 1.03, "Burshtyn TPP unit 2"),
        (4, 100.0, 108.0, 1.02, "Dniester HPP unit 1"),
        (4, 100.0, 108.0, 1.02, "Dniester HPP unit 2"),
        (6, 0.0, 3000.0, 1.03, "Rest of the interconnected system"),
    ]
    for b in buses:
        if b[0] in (1, 4):
            b[1] = 2
        if b[0] == 6:
            b[1] = 3

    m = ["function mpc = ukraine2015",
         "%UKRAINE2015  Distribution grid of the Ukraine 2015 exercise (icsrange).",
         "%   Three distribution companies (areas 1-3) with 110/35/10 kV substations fed",
         "%   from a 330 kV transmission ring (area 4). Illustrative, not a survey of the",
         f"%   real networks. {sum(l[1] for l in loads)} customers on {len(loads)} feeders, {total_load:.1f} MW.",
         "%   Written by scripts/grids/ukraine2015.py; sources and assumptions are there.",
         "",
         "mpc.version = '2';",
         f"mpc.baseMVA = {BASE_MVA:g};",
         "",
         "%% bus data",
         "%\tbus_i\ttype\tPd\tQd\tGs\tBs\tarea\tVm\tVa\tbaseKV\tzone\tVmax\tVmin",
         "mpc.bus = ["]
    for b in buses:
        m.append(f"\t{b[0]}\t{b[1]}\t{b[2]:g}\t{b[3]:g}\t0\t0\t{b[4]}\t1\t0\t{b[5]}\t1\t1.1\t0.9;")
    m += ["];", "", "%% generator data",
          "%\tbus\tPg\tQg\tQmax\tQmin\tVg\tmBase\tstatus\tPmax\tPmin\tPc1\tPc2\tQc1min\tQc1max\tQc2min\tQc2max\tramp_agc\tramp_10\tramp_30\tramp_q\tapf",
          "mpc.gen = ["]
    for bus, pg, pmax, vg, _ in gens:
        pmin = -3000 if bus == 6 else 0
        qlim = 3000 if bus == 6 else 150
        mbase = 20000 if bus == 6 else round(pmax / 0.85)
        m.append(f"\t{bus}\t{pg:g}\t0\t{qlim}\t{-qlim}\t{vg}\t{mbase}\t1\t{pmax:g}\t{pmin}\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0;")
    m += ["];", "", "%% branch data",
          "%\tfbus\ttbus\tr\tx\tb\trateA\trateB\trateC\tratio\tangle\tstatus\tangmin\tangmax",
          "mpc.branch = ["]
    for f, t, r, x, b, rate, tap in branches:
        m.append(f"\t{f}\t{t}\t{r:.6f}\t{x:.6f}\t{b:.6f}\t{rate}\t{rate}\t{rate}\t{tap:g}\t0\t1\t-360\t360;")
    m += ["];", "", "%% bus names", "mpc.bus_name = {"]
    for b in buses:
        m.append(f"\t'{b[6]}';")
    m += ["};", ""]
    (ROOT / "cases" / "ukraine2015.m").write_text("\n".join(m))

    d = ["# Dynamics of the Ukraine 2015 exercise grid. Written by scripts/grids/ukraine2015.py.",
         "format = 1",
         "f0_hz = 50.0",
         "load_damping = 1.0",
         "pf_interval_s = 1.0",
         "substep_s = 0.01",
         "",
         "[[area]]", "id = 1", "name = \"Prykarpattyaoblenergo\"", "",
         "[[area]]", "id = 2", "name = \"Chernivtsioblenergo\"", "",
         "[[area]]", "id = 3", "name = \"Kyivoblenergo\"", "",
         "[[area]]", "id = 4", "name = \"Ukrenergo (transmission)\"", ""]
    for row, (bus, pg, pmax, vg, name) in enumerate(gens, start=1):
        unit = {1: "steam", 4: "hydro", 6: "equivalent"}[bus]
        d += ["[[gen]]", f"row = {row}", f"name = \"{name}\"", f"unit = \"{unit}\""]
        if bus == 6:
            d += ["h_s = 5.0", "droop = 0.05"]
        d.append("")
    for bus, c, sub, feeder in loads:
        d += ["[[load]]", f"bus = {bus}", f"customers = {c}", f"substation = \"{sub}\"", f"feeder = \"{feeder}\"", ""]
    for name, sbuses, area in stations:
        d += ["[[station]]", f"name = \"{name}\"", f"buses = {sbuses}", f"area = {area}", ""]
    d += ["[protection]", "pickup = 1.0", "curve = \"iec_standard\"", "tms = 0.1", "instantaneous = 2.0",
          "gen_under_hz = 47.5", "gen_over_hz = 51.5", "gen_delay_s = 0.1", ""]
    (ROOT / "cases" / "ukraine2015.dyn.toml").write_text("\n".join(d))
    print(f"wrote cases/ukraine2015.m ({len(buses)} buses, {len(branches)} branches, {len(loads)} feeders, "
          f"{sum(l[1] for l in loads)} customers, {total_load:.1f} MW) and cases/ukraine2015.dyn.toml")


if __name__ == "__main__":
    main()
