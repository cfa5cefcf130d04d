"""Benchmark of the matching engine (services/matching/engine), on its own.

    .venv/bin/python bench/matching_engine.py                 all three sizes
    .venv/bin/python bench/matching_engine.py --sizes 1000:5000

For each size (needs, offers) = (1k, 5k), (10k, 50k), (50k, 200k), in a fresh subprocess
(so peak RSS is that size's own):
1. generates needs across Jawa Barat (Kota Bekasi first, then its neighbours, then the rest
   of the province, about ten needs per kelurahan) and offers of organisations nearby, as the
   partners export would give them, tuned to about 50 candidate offers per need;
2. runs `match` and reports its phases: prepare, candidates, scoring, solve, explanations;
3. times OR-Tools' SimpleMinCostFlow alone on the very graph the engine solved (build the
   arc arrays from the candidate edges, then a fresh solver: add arcs, set supplies, solve,
   read flows): the floor no engine can beat.
   Engine and floor alternate --repeat times (3; twice at 50k needs) and the best of each is
   reported, since the machine may be shared; every run's time is kept too;
4. compares priority-weighted coverage and score, per (kind, unit) group, with a greedy
   assignment (edges by priority, then score) and, up to --lp-up-to needs (1k and 10k),
   with the LP optimum from SciPy's HiGHS (coverage first, then score with coverage held);
   coverage_gap_vs_lp_pct is the worst group's gap, coverage_gain_vs_greedy_pct the mean
   over groups (their units differ: rupiah, sessions, seats, units);
5. writes bench/results/matching.json (one object per size) and prints a table.

Not timed as engine work: generating the instances and parsing them into Need/Offer
(`parse_s`). Peak RSS covers the whole subprocess, generated dicts included. The score gap
to the LP comes from the engine ranking scores in steps of 1/1000 (solver.py).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import KIND_SHARE, KIND_WORDS, KINDS, PHRASES, TOPICS_BY_KIND  # noqa: E402
from services.matching.engine import Need, Offer, TrackRecord, match

RESULTS = ROOT / "bench" / "results" / "matching.json"
WILAYAH = ROOT / "shared" / "data" / "wilayah.csv"
SIZES = [(1_000, 5_000), (10_000, 50_000), (50_000, 200_000)]
CITY = "32.75"  # Kota Bekasi
# Kabupaten/kota in the order the generator spreads out from Kota Bekasi.
NEAR_FIRST = ["32.75", "32.16", "32.76", "32.01", "32.71", "32.15", "32.14", "32.13", "32.04",
              "32.73", "32.77", "32.17", "32.03", "32.02", "32.72", "32.11", "32.10", "32.12",
              "32.09", "32.74", "32.08", "32.05", "32.06", "32.78", "32.07", "32.79", "32.18"]
NEEDS_PER_KELURAHAN = 10
CITY_WIDE = 200
YEAR_START = date(2027, 1, 1).toordinal()



def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- instances ------------------------------------------------------------------------------

def kelurahan_by_distance() -> list[tuple[str, str]]:
    """(kelurahan code, name) of Jawa Barat, Kota Bekasi first, then outward."""
    rows: dict[str, list[tuple[str, str]]] = {}
    with WILAYAH.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["level"] == "desa_kelurahan" and row["code"].startswith("32."):
                rows.setdefault(row["code"][:5], []).append((row["code"], row["name"]))
    return [k for city in NEAR_FIRST for k in sorted(rows.get(city, []))]


def parent(code: str) -> str:
    return code.rsplit(".", 1)[0]


def generate(n_needs: int, n_offers: int, seed: int = 7,
             single_share: float = 0.0) -> tuple[list[dict], list[dict], dict]:
    """Needs and offers (as the partners export shapes them) and track records."""
    rng = np.random.default_rng(seed)
    places = kelurahan_by_distance()
    k = min(len(places), max(60, n_needs // NEEDS_PER_KELURAHAN))
    places = places[:k]
    codes = [c for c, _ in places]
    by_kecamatan: dict[str, list[str]] = {}
    for code in codes:
        by_kecamatan.setdefault(parent(code), []).append(code)

    def day(ordinal: int) -> str:
        return date.fromordinal(int(ordinal)).isoformat()

    def topics_for(kind: str, count: int) -> list[str]:
        pool = TOPICS_BY_KIND[kind]
        return list(rng.choice(pool, size=min(count, len(pool)), replace=False))

    def text(kind: str, topics: list[str], extra: str) -> str:
        words = " ".join(PHRASES[t] for t in topics).split()
        picked = rng.choice(words, size=min(len(words), 6), replace=False)
        return f"{KIND_WORDS[kind]} {' '.join(picked)} {extra}"

    def quantity(kind: str, role: str) -> tuple[str, int]:
        # Offers are small next to needs (five offers per need), so that supply is about
        # demand in total but scarce in places: the assignment has real choices to make.
        if kind == "funding":
            step = 500_000
            return "rupiah", step * int(rng.integers(10, 300) if role == "need"
                                        else rng.integers(2, 60))
        if kind == "trainer":
            return "sessions", int(rng.integers(4, 25) if role == "need" else rng.integers(1, 5))
        if kind == "module":
            return "seats", 5 * int(rng.integers(4, 21) if role == "need" else rng.integers(1, 6))
        return "units", int(rng.integers(1, 11) if role == "need" else rng.integers(1, 3))

    # organisations: one per four offers, each with a home kelurahan and its ring 1
    n_orgs = max(10, n_offers // 4)
    orgs = []
    for i in range(n_orgs):
        home = codes[int(rng.integers(len(codes)))]
        kind = ("company", "university", "ngo")[int(rng.choice(3, p=(0.6, 0.25, 0.15)))]
        ring = [parent(home)] if kind != "university" else [parent(parent(home))]
        orgs.append({"id": f"org-{i:06d}", "kind": kind, "name": f"{kind.title()} {i}",
                     "address_region": home, "operating_regions": ring})
    records = {o["id"]: {"mean_rating": float(rng.uniform(2.5, 5.0)),
                         "ratings": int(rng.integers(0, 30)),
                         "fulfilled": int(rng.integers(0, 10)), "approved": 10}
               for o in orgs if rng.random() < 0.7}

    needs = []
    for i in range(n_needs):
        kind = KINDS[int(rng.choice(4, p=KIND_SHARE))]
        unit, q = quantity(kind, "need")
        start = YEAR_START + int(rng.integers(0, 300))
        modes = ["onsite", "hybrid"] + (["online"] if rng.random() < 0.3 else [])
        region, name = places[int(rng.integers(len(places)))]
        topics = topics_for(kind, int(rng.integers(1, 3)))
        needs.append({
            "id": f"need-{i:06d}", "kind": kind, "topics": topics, "quantity": q, "unit": unit,
            "window_start": day(start), "window_end": day(start + int(rng.integers(30, 121))),
            "region": region, "priority": int(rng.choice(5, p=(0.1, 0.2, 0.4, 0.2, 0.1))) + 1,
            "accepted_modes": modes, "single_offer": bool(rng.random() < single_share),
            "excluded_organisations": ([orgs[int(rng.integers(n_orgs))]["id"]]
                                       if rng.random() < 0.02 else []),
            "description": f"Kelas Sekoper Cinta Kelurahan {name} membutuhkan "
                           + text(kind, topics, "untuk peserta perempuan"),
        })

    # Online offers reach every need that accepts online, whatever its region: keep their
    # number fixed so they add about a handful of candidates per need at every size.
    online_share = min(0.2, 300 / n_offers)
    # Likewise city-wide offers: about CITY_WIDE of them reach each need, at every size.
    cities = {parent(parent(code)) for code in codes}
    city_share = min(0.2, CITY_WIDE * len(cities) / n_offers)
    offers = []
    for i in range(n_offers):
        kind = KINDS[int(rng.choice(4, p=KIND_SHARE))]
        org = orgs[int(rng.integers(n_orgs))]
        home = org["address_region"]
        unit, remaining = quantity(kind, "offer")
        roll = rng.random()
        if kind == "facility" or roll >= 2 * online_share:
            mode = "onsite"
        else:
            mode = "online" if roll < online_share else "hybrid"
        level = rng.random()
        if level < city_share:
            regions = [parent(parent(home))]  # its whole city
        elif level < 0.5:   # a few kelurahan of its kecamatan
            near = by_kecamatan[parent(home)]
            regions = sorted(set(rng.choice(near, size=min(len(near), 3), replace=False)))
        else:
            regions = [parent(home)]          # its kecamatan
        start = YEAR_START - 60 + int(rng.integers(0, 330))
        topics = topics_for(kind, int(rng.integers(1, 5)))
        offers.append({
            "id": f"offer-{i:06d}", "kind": kind, "title": f"{KIND_WORDS[kind].split()[0]} "
            f"{topics[0].replace('_', ' ')}", "description": text(kind, topics, org["name"]),
            "unit": unit, "remaining": remaining, "available_from": day(start),
            "available_to": day(start + int(rng.integers(90, 301))), "mode": mode,
            "language": "id", "topics": topics,
            "delivery_regions": regions if mode != "online" else [], "organisation": org,
        })
    return needs, offers, records


# --- baselines ------------------------------------------------------------------------------

def greedy(problem) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Edges by priority, then score (both descending): each takes as much as is left.
    (The bench has no single-offer needs unless asked; this greedy ignores the rule.)"""
    n_edges = len(problem.edge)
    n = int((problem.supplies > 0).sum())
    m = len(problem.supplies) - n - 1
    left_need = problem.supplies[:n].tolist()
    left_offer = problem.capacities[n_edges:n_edges + m].tolist()
    tails = problem.tails[:n_edges].tolist()
    heads = (problem.heads[:n_edges] - n).tolist()
    order = np.lexsort((-problem.score, -problem.priority)).tolist()
    flows = [0] * n_edges
    for e in order:
        t, h = tails[e], heads[e]
        take = min(left_need[t], left_offer[h])
        if take > 0:
            flows[e] = take
            left_need[t] -= take
            left_offer[h] -= take
    return np.asarray(flows, dtype=np.int64)


def lp_optimum(problem) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Independent optimum with SciPy HiGHS (LP: the transportation polytope is integral):
    (weighted coverage, score total with that coverage held, seconds)."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_array, vstack

    n_edges = len(problem.edge)
    n = int((problem.supplies > 0).sum())
    m = len(problem.supplies) - n - 1
    tails, heads = problem.tails[:n_edges], problem.heads[:n_edges] - n
    cols = np.arange(n_edges)
    a = vstack([csr_array((np.ones(n_edges), (tails, cols)), shape=(n, n_edges)),
                csr_array((np.ones(n_edges), (heads, cols)), shape=(m, n_edges))]).tocsr()
    b = np.concatenate([problem.supplies[:n], problem.capacities[n_edges:n_edges + m]])
    bounds = np.stack([np.zeros(n_edges), problem.capacities[:n_edges]], axis=1)
    priority = problem.priority.astype(np.float64)
    started = time.perf_counter()
    first = linprog(-priority, A_ub=a, b_ub=b, bounds=bounds, method="highs")
    best = round(-first.fun)
    hold = vstack([a, csr_array(-priority.reshape(1, -1))]).tocsr()
    second = linprog(-problem.score, A_ub=hold, b_ub=np.concatenate([b, [-(best - 0.5)]]),
                     bounds=bounds, method="highs")
    seconds = time.perf_counter() - started
    return best * problem.scale, -second.fun * problem.scale, seconds


def solver_floor(problem) -> tuple[float, int, np.ndarray]:  # type: ignore[no-untyped-def]
    """OR-Tools alone on the engine's graph: build the arc arrays from the candidate edges
    (need -> offer, offer -> sink, need -> sink), then a fresh SimpleMinCostFlow: add arcs,
    set supplies, solve, read flows. Exactly the arcs and costs the engine solved."""
    from ortools.graph.python import min_cost_flow

    n_edges = len(problem.edge)
    n = int((problem.supplies > 0).sum())
    m = len(problem.supplies) - n - 1
    # the inputs: per edge (tail, head, capacity, cost), per need its quantity, per offer
    # what it has left
    edge_tails, edge_heads = problem.tails[:n_edges].copy(), problem.heads[:n_edges].copy()
    edge_caps, edge_costs = problem.capacities[:n_edges].copy(), problem.costs[:n_edges].copy()
    quantity = problem.supplies[:n].copy()
    remaining = problem.capacities[n_edges:n_edges + m].copy()

    started = time.perf_counter()
    sink = n + m
    need_nodes, offer_nodes = np.arange(n), np.arange(n, n + m)
    tails = np.concatenate([edge_tails, offer_nodes, need_nodes])
    heads = np.concatenate([edge_heads, np.full(m, sink), np.full(n, sink)])
    capacities = np.concatenate([edge_caps, remaining, quantity])
    costs = np.concatenate([edge_costs, np.zeros(m + n, dtype=np.int64)])
    supplies = np.concatenate([quantity, np.zeros(m, dtype=np.int64), [-quantity.sum()]])
    solver = min_cost_flow.SimpleMinCostFlow()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    solver.set_nodes_supplies(np.arange(n + m + 1), supplies)
    status = solver.solve()
    flows = solver.flows(arcs)
    return time.perf_counter() - started, int(status), flows


# --- one size -------------------------------------------------------------------------------

def run_one(n_needs: int, n_offers: int, lp: bool, single_share: float,
            repeat: int) -> dict[str, Any]:
    started = time.perf_counter()
    need_rows, offer_rows, record_rows = generate(n_needs, n_offers, single_share=single_share)
    generate_s = time.perf_counter() - started

    started = time.perf_counter()
    needs = [Need.from_dict(row) for row in need_rows]
    offers = [Offer.from_export(row) for row in offer_rows]
    records = {org: TrackRecord.from_dict(r) for org, r in record_rows.items()}
    parse_s = time.perf_counter() - started
    del need_rows, offer_rows

    # The engine and the floor alternate `repeat` times; the best of each counts (the
    # machine may be shared: the minimum is the least disturbed measurement).
    engine_runs, floor_runs, best = [], [], None
    for _ in range(repeat):
        result = None
        started = time.perf_counter()
        result = match(needs, offers, track_records=records, keep_problems=True)
        engine_runs.append(time.perf_counter() - started)
        if len(engine_runs) == 1:  # later runs overlap with the best result kept
            peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if best is None or engine_runs[-1] == min(engine_runs):
            best = result
        floor_s, statuses, floor_coverage = 0.0, [], {}
        for problem in result.problems:
            seconds, status, flows = solver_floor(problem)
            floor_s += seconds
            statuses.append(status)
            floor_coverage[f"{problem.group[0]}/{problem.group[1]}"] = int(
                problem.priority @ flows[:len(problem.edge)]) * problem.scale
        floor_runs.append(floor_s)
        del result
    result = best
    stats = result.stats

    by_group: dict[str, dict[str, Any]] = {}
    for problem in result.problems:
        name = f"{problem.group[0]}/{problem.group[1]}"
        flows = greedy(problem) * problem.scale
        row = by_group[name] = {
            "edges": len(problem.edge),
            "engine_coverage": stats["objective"]["priority_weighted_coverage"][name],
            "engine_score": stats["objective"]["score_total"][name],
            "greedy_coverage": int(problem.priority @ flows),
            "greedy_score": round(float(problem.score @ flows), 4),
        }
        row["coverage_gain_vs_greedy_pct"] = round(
            100 * (row["engine_coverage"] - row["greedy_coverage"]) / row["greedy_coverage"], 4)
        if lp:
            coverage, score, seconds = lp_optimum(problem)
            row.update(lp_coverage=coverage, lp_score=round(score, 4), lp_s=round(seconds, 3))
            row["coverage_gap_vs_lp_pct"] = round(
                100 * (coverage - row["engine_coverage"]) / coverage, 6)
            row["score_gap_vs_lp_pct"] = round(100 * (score - row["engine_score"]) / score, 6)
    gains = [g["coverage_gain_vs_greedy_pct"] for g in by_group.values()]
    seconds = stats["seconds"]
    engine_s, floor_s = min(engine_runs), min(floor_runs)
    return {
        "needs": n_needs, "offers": n_offers, "edges": stats["candidate_edges"],
        "edges_per_need": round(stats["candidate_edges"] / n_needs, 1),
        "proposals": stats["proposals"],
        "engine_s": round(engine_s, 3),
        "solver_floor_s": round(floor_s, 3),
        "engine_over_floor": round(engine_s / floor_s, 2),
        "phases_s": {k: round(v, 3) for k, v in seconds.items()},
        "engine_runs_s": [round(x, 3) for x in engine_runs],
        "solver_floor_runs_s": [round(x, 3) for x in floor_runs],
        # worst group: 0 means every group's priority-weighted coverage is the LP optimum
        "coverage_gap_vs_lp_pct": (max(g["coverage_gap_vs_lp_pct"] for g in by_group.values())
                                   if lp else None),
        "score_gap_vs_lp_pct": (max(g["score_gap_vs_lp_pct"] for g in by_group.values())
                                if lp else None),
        # mean over groups (kind/unit) of the gain in priority-weighted coverage
        "coverage_gain_vs_greedy_pct": round(sum(gains) / len(gains), 4),
        "coverage_gain_vs_greedy_pct_range": [min(gains), max(gains)],
        "by_group": by_group,
        "demand_covered_share": {
            k: round(stats["demand_covered"][k] / v, 4) for k, v in stats["demand_total"].items()},
        "solver": stats["groups"],
        "solver_status": statuses,
        # the floor solved the same problem: same optimal coverage (no single-offer needs)
        "floor_same_coverage": floor_coverage == stats["objective"][
            "priority_weighted_coverage"],
        "proven_optimal": stats["proven_optimal"],
        "single_offer_share": single_share,
        "generate_s": round(generate_s, 3),
        "parse_s": round(parse_s, 3),
        "peak_rss_mib": round(peak_rss_mib, 1),  # after the first run: generation + one run
    }


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    import ortools
    import scipy
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__,
            "ortools": ortools.__version__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="*", default=[f"{n}:{m}" for n, m in SIZES],
                        help="needs:offers pairs")
    parser.add_argument("--lp-up-to", type=int, default=10_000,
                        help="solve the independent LP for sizes up to this many needs")
    parser.add_argument("--single-offer-share", type=float, default=0.0,
                        help="share of needs that must come from one offer (the LP and the "
                             "greedy baseline then ignore that rule)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per size (best counts); at most 2 above 10k needs")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    if args.one:
        n, m = (int(x) for x in args.one.split(":"))
        repeat = args.repeat if n <= 10_000 else min(args.repeat, 2)
        print(json.dumps(run_one(n, m, n <= args.lp_up_to, args.single_offer_share, repeat)))
        return 0

    results = []
    for size in args.sizes:
        n, m = (int(x) for x in size.split(":"))
        log(f"size needs={n} offers={m} (subprocess)")
        done = subprocess.run(
            [sys.executable, __file__, "--one", size, "--lp-up-to", str(args.lp_up_to),
             "--single-offer-share", str(args.single_offer_share),
             "--repeat", str(args.repeat)],
            capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return done.returncode
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        row["machine"] = machine()
        results.append(row)
        log(f"  edges={row['edges']} engine={row['engine_s']}s floor={row['solver_floor_s']}s "
            f"x{row['engine_over_floor']} phases={row['phases_s']} "
            f"gap_vs_lp={row['coverage_gap_vs_lp_pct']}% "
            f"gain_vs_greedy={row['coverage_gain_vs_greedy_pct']}% "
            f"rss={row['peak_rss_mib']}MiB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    header = ("needs", "offers", "edges", "engine_s", "floor_s", "x floor", "gap vs LP %",
              "gain vs greedy %", "peak RSS MiB")
    rows = [(str(r["needs"]), str(r["offers"]), str(r["edges"]), str(r["engine_s"]),
             str(r["solver_floor_s"]), str(r["engine_over_floor"]),
             str(r["coverage_gap_vs_lp_pct"]), str(r["coverage_gain_vs_greedy_pct"]),
             str(r["peak_rss_mib"])) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"results: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
