"""The exact assignment: a transportation problem per (kind, unit), solved to optimality.

Objective, lexicographic: first the covered demand weighted by priority (sum of priority ×
quantity assigned), then the total score (sum of score × quantity assigned).

Min-cost flow (OR-Tools SimpleMinCostFlow): each need is a node supplying its quantity; an
arc need → offer per candidate edge; offer → sink limited by the offer's remaining; and a
free need → sink "left uncovered" arc, so every supply can always reach the sink. An edge
costs -(priority × M + s) per unit, where s = round(score × S) is the score in 1/S steps
(S = SCORE_RESOLUTION) and M = S × min(needs, offers) + 1.

Why that M can never trade coverage for score: a flow that does not maximise weighted
coverage has a residual cycle that raises it by at least 1 per unit (priorities are
integers). On a simple cycle every need → offer arc travelled backwards has its own need and
its own offer, so there are at most min(needs, offers) of them and the cycle loses at most
S × min(needs, offers) < M of score per unit: its cost is negative, so the flow was not
min-cost. Hence a min-cost flow maximises weighted coverage, and among those the score.
M does not depend on quantities, so rupiah amounts up to Rp 10^11 are fine: OR-Tools needs
only |cost| × (nodes + 1) within int64 (here about 5·S·min(needs, offers)·nodes); if it
still reports BAD_COST_RANGE the score resolution S is cut tenfold and the flow re-solved,
down to S = 0 (coverage only), so coverage stays exact in every case. Quantities are first
divided by their greatest common divisor (rupiah amounts usually share a factor of 1000s).

Single-offer needs take all of their quantity from one offer or nothing. The flow ignores
that, so its value bounds every assignment that obeys it; when the flow already obeys it,
it is optimal. Otherwise (some single-offer need split or partly served):
1. repair: each such need goes whole to the offer that carried most of it (or another with
   room), and a min-cost flow places everything else; reaching the flow's value (coverage
   and score) proves this optimal;
2. else each connected part of the candidate graph holding such a need is solved as a MILP
   with HiGHS (scipy.optimize.milp, zero gap): a binary per single-offer edge, integer
   flows elsewhere, in two stages (weighted coverage; then the score with coverage held;
   the first is skipped when the repair already reached the bound's coverage). With its
   choices fixed, a last min-cost flow places everything else exactly.
The MILP can be slow when single-offer needs sit in large connected parts (tens of
thousands of edges). `milp_time_limit` caps each MILP solve; if it strikes, the best
assignment found is kept and the group's stats say "proven_optimal": false, with how far
coverage and score can at most be from optimal (against the flow's bound).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import connected_components

SCORE_RESOLUTION = 1000
_SMCF = min_cost_flow.SimpleMinCostFlow


class SolverError(RuntimeError):
    """A solver failed outright (never expected; says why)."""


@dataclass
class FlowProblem:
    """One group's min-cost-flow arrays, exactly as handed to OR-Tools.

    Nodes: needs 0..n-1, offers n..n+m-1, sink n+m. Arcs: the candidate edges first (in
    the order of `edge`), then offer → sink, then need → sink (uncovered).
    """

    group: tuple[str, str]
    edge: np.ndarray
    tails: np.ndarray
    heads: np.ndarray
    capacities: np.ndarray
    costs: np.ndarray
    supplies: np.ndarray
    scale: int
    score_resolution: int
    coverage_weight: int
    priority: np.ndarray       # per edge arc, for baselines
    score: np.ndarray          # per edge arc, unrounded


@dataclass
class GroupSolution:
    """Assigned quantity per edge of a group (original units), and how it was found."""

    flows: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def run_min_cost_flow(problem: FlowProblem) -> tuple[int, np.ndarray]:
    """Solve the arrays with a fresh SimpleMinCostFlow: (status, flow per arc)."""
    solver = _SMCF()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(
        problem.tails, problem.heads, problem.capacities, problem.costs)
    solver.set_nodes_supplies(np.arange(len(problem.supplies)), problem.supplies)
    status = solver.solve()
    if status != _SMCF.OPTIMAL:
        return int(status), np.zeros(0, dtype=np.int64)
    return int(status), solver.flows(arcs)


def build_flow_problem(group: tuple[str, str], edge: np.ndarray, need_local: np.ndarray,
                       offer_local: np.ndarray, quantity: np.ndarray, remaining: np.ndarray,
                       priority: np.ndarray, score: np.ndarray, scale: int,
                       resolution: int) -> FlowProblem:
    """The min-cost-flow arrays of one group (quantities already divided by `scale`)."""
    n, m = len(quantity), len(remaining)
    sink = n + m
    weight = resolution * min(n, m) + 1
    points = np.rint(score * resolution).astype(np.int64)
    need_nodes = np.arange(n, dtype=np.int64)
    offer_nodes = np.arange(n, n + m, dtype=np.int64)
    tails = np.concatenate([need_local, offer_nodes, need_nodes])
    heads = np.concatenate([offer_local + n, np.full(m, sink, dtype=np.int64),
                            np.full(n, sink, dtype=np.int64)])
    capacities = np.concatenate([np.minimum(quantity[need_local], remaining[offer_local]),
                                 remaining, quantity])
    costs = np.concatenate([-(priority[need_local] * weight + points),
                            np.zeros(m + n, dtype=np.int64)])
    supplies = np.concatenate([quantity, np.zeros(m, dtype=np.int64),
                               [-int(quantity.sum())]]).astype(np.int64)
    return FlowProblem(group, edge, tails, heads, capacities, costs, supplies, scale,
                       resolution, weight, priority[need_local], score)


def _milp_choice(need_local: np.ndarray, offer_local: np.ndarray, quantity: np.ndarray,
                 remaining: np.ndarray, priority: np.ndarray, single: np.ndarray,
                 points: np.ndarray, time_limit: float | None,
                 report: dict[str, Any], coverage: int | None = None) -> np.ndarray | None:
    """Which single-offer edges an exact lexicographic optimum of one connected part uses.

    MILP (HiGHS, zero gap): a binary "take it all" per single-offer edge, an integer flow
    per other edge; coverage first, then the score with coverage held at its optimum. Only
    the binaries are used: with them fixed the caller places everything else exactly with
    a min-cost flow. `coverage`, when known to be optimal, skips the first stage. With a
    time limit, HiGHS's best assignment so far is used (None if it has none) and `report`
    says that optimality was not proven.
    """
    k = len(need_local)
    q = quantity[need_local].astype(np.float64)
    one = single[need_local]
    upper = np.where(one, 1.0, np.minimum(q, remaining[offer_local]))
    weight = priority[need_local] * np.where(one, q, 1.0)
    gain = points * np.where(one, q, 1.0)
    columns = np.arange(k)
    need_rows = csr_array((np.ones(k), (need_local, columns)), shape=(len(quantity), k))
    offer_rows = csr_array((np.where(one, q, 1.0), (offer_local, columns)),
                           shape=(len(remaining), k))
    need_cap = np.where(single, 1.0, quantity.astype(np.float64))
    constraints = [LinearConstraint(need_rows, -np.inf, need_cap),
                   LinearConstraint(offer_rows, -np.inf, remaining.astype(np.float64))]
    options: dict[str, Any] = {"mip_rel_gap": 0.0}
    if time_limit:
        options["time_limit"] = time_limit

    def solve(objective: np.ndarray, extra: list[LinearConstraint]) -> np.ndarray | None:
        result = milp(-objective, integrality=np.ones(k), bounds=Bounds(0, upper),
                      constraints=constraints + extra, options=options)
        if result.status == 0:
            return result.x
        if result.status == 1:  # time limit: the best assignment so far, if any
            report["proven_optimal"] = False
            if not extra:
                report["coverage_cut_short"] = True
            return result.x
        raise SolverError(f"HiGHS failed: {result.message}")

    x = None
    if coverage is None:
        x = solve(weight, [])
        if x is None:
            return None
        if not points.any():
            return one & (x > 0.5)
        coverage = round(float(weight @ x))
    elif not points.any():
        return None  # coverage is all there is, and the caller already has it
    # Hold the optimal coverage (an integer) and maximise the score.
    better = solve(gain.astype(np.float64), [
        LinearConstraint(weight.reshape(1, -1), coverage - 0.5, np.inf)])
    x = x if better is None else better
    return None if x is None else one & (x > 0.5)


def _renumber(index: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of `index` (ascending) and each entry's position among them;
    np.unique without the sort."""
    used = np.zeros(size, dtype=bool)
    used[index] = True
    position = np.cumsum(used) - 1
    return np.flatnonzero(used), position[index]


def solve_group(group: tuple[str, str], edge: np.ndarray, need: np.ndarray,
                offer: np.ndarray, quantity: np.ndarray, remaining: np.ndarray,
                priority: np.ndarray, single: np.ndarray, score: np.ndarray,
                resolution: int = SCORE_RESOLUTION, milp_time_limit: float | None = None,
                problems: list[FlowProblem] | None = None) -> GroupSolution:
    """Optimal quantities on the edges of one (kind, unit) group.

    `need`/`offer` are run-wide indices of the edges; `quantity`, `priority`, `single` are
    indexed by run-wide need, `remaining` by run-wide offer.
    """
    needs, need_local = _renumber(need, len(quantity))
    offers, offer_local = _renumber(offer, len(remaining))
    q, r = quantity[needs], remaining[offers]
    scale = int(np.gcd.reduce(np.concatenate([q, r])))
    qs, rs, p = q // scale, r // scale, priority[needs]
    info: dict[str, Any] = {"kind": group[0], "unit": group[1], "needs": len(needs),
                            "offers": len(offers), "edges": len(edge), "scale": scale,
                            "method": "min_cost_flow", "proven_optimal": True}
    problem, flows = _min_cost_flow(group, edge, need_local, offer_local, qs, rs, p, score,
                                    scale, resolution)
    if problems is not None:
        problems.append(problem)
    resolution = problem.score_resolution
    info["score_resolution"] = resolution

    one = single[needs]
    if one.any():
        got = np.bincount(need_local, flows, len(needs)).astype(np.int64)
        used = np.bincount(need_local, flows > 0, len(needs))
        broken = one & ((used > 1) | ((got > 0) & (got < qs)))
        if broken.any():
            flows = _place_single_offer_needs(
                group, edge, need_local, offer_local, qs, rs, p, one, broken, flows, score,
                scale, resolution, milp_time_limit, info)
    return GroupSolution(flows * scale, info)


def _place_single_offer_needs(group: tuple[str, str], edge: np.ndarray, need_local: np.ndarray,
                              offer_local: np.ndarray, qs: np.ndarray, rs: np.ndarray,
                              p: np.ndarray, one: np.ndarray, broken: np.ndarray,
                              relaxed: np.ndarray, score: np.ndarray, scale: int,
                              resolution: int, time_limit: float | None,
                              info: dict[str, Any]) -> np.ndarray:
    """The optimum when the flow split some single-offer needs (`broken`).

    The flow (`relaxed`) ignores the single-offer rule, so its value (weighted coverage,
    score points) bounds every assignment that obeys it. First a repair: each broken need
    goes whole to the offer that carried most of it (or another with room), then a
    min-cost flow places the rest; reaching the bound proves it optimal. Otherwise each
    connected part holding a broken need is solved as a MILP (`_milp_choice`), and with
    its choices fixed a last min-cost flow places the rest.
    """
    n, m = len(qs), len(rs)
    points = np.rint(score * resolution).astype(np.int64)
    per_edge_priority = p[need_local]

    def value(flows: np.ndarray) -> tuple[int, int]:
        return int(per_edge_priority @ flows), int(points @ flows)

    def complete(taken: np.ndarray) -> np.ndarray:
        """Single-offer needs as `taken` says (whole or nothing); the rest by min-cost flow."""
        fixed = np.where(taken, qs[need_local], 0)
        free = np.flatnonzero(~one[need_local])
        _, rest = _min_cost_flow(
            group, edge[free], need_local[free], offer_local[free], np.where(one, 0, qs),
            rs - np.bincount(offer_local, fixed, m).astype(np.int64), p, score[free], scale,
            resolution)
        fixed[free] = rest
        return fixed

    bound = value(relaxed)
    info["relaxation"] = {"priority_weighted_coverage": bound[0] * scale,
                          "score_points": bound[1] * scale}
    # Repair: keep the single-offer needs the flow placed whole; move each broken one whole
    # to the offer that carried most of it, or else to another with room.
    repaired = one[need_local] & (relaxed == qs[need_local])
    room = rs - np.bincount(offer_local, np.where(repaired, qs[need_local], 0),
                            m).astype(np.int64)
    unplaced = broken.copy()
    order = np.lexsort((-points, -relaxed, -per_edge_priority))
    for e in order[unplaced[need_local[order]]].tolist():
        need, offer = need_local[e], offer_local[e]
        if unplaced[need] and room[offer] >= qs[need]:
            repaired[e], unplaced[need] = True, False
            room[offer] -= qs[need]
    best = complete(repaired)
    info["method"] = "min_cost_flow+repair"
    if value(best) == bound:
        return best

    # Exact: a MILP per connected part that holds a broken need. When the repair already
    # reaches the bound's coverage, that coverage is optimal and only the score is left.
    coverage_known = value(best)[0] == bound[0]
    info["method"] = "min_cost_flow+milp"
    graph = coo_array((np.ones(len(edge)), (need_local, offer_local + n)), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    parts = np.unique(label[:n][broken])
    info["milp_parts"], info["milp_edges"] = len(parts), 0
    taken = repaired.copy()
    for part in parts:
        inside = np.flatnonzero(label[need_local] == part)
        part_needs, pn = np.unique(need_local[inside], return_inverse=True)
        part_offers, po = np.unique(offer_local[inside], return_inverse=True)
        hold = int(per_edge_priority[inside] @ relaxed[inside]) if coverage_known else None
        choice = _milp_choice(pn, po, qs[part_needs], rs[part_offers], p[part_needs],
                              one[part_needs], points[inside], time_limit, info, hold)
        if choice is not None:  # else (time limit, nothing found): the repair stands
            taken[inside] = choice
        info["milp_edges"] += len(inside)
    chosen = complete(taken)
    if value(chosen) >= value(best):
        best = chosen
    if not info["proven_optimal"]:
        # What is known: the bound limits how much better any assignment could be.
        got = value(best)
        info["coverage_gap_bound_pct"] = round(100 * (bound[0] - got[0]) / max(1, bound[0]), 6)
        info["score_gap_bound_pct"] = round(100 * (bound[1] - got[1]) / max(1, bound[1]), 6)
        info["coverage_proven_optimal"] = (got[0] == bound[0]
                                           or info.pop("coverage_cut_short", None) is None)
    return best


def _min_cost_flow(group: tuple[str, str], edge: np.ndarray, need_local: np.ndarray,
                   offer_local: np.ndarray, quantity: np.ndarray, remaining: np.ndarray,
                   priority: np.ndarray, score: np.ndarray, scale: int,
                   resolution: int) -> tuple[FlowProblem, np.ndarray]:
    """Solve, cutting the score resolution tenfold while OR-Tools finds the costs too large."""
    while True:
        problem = build_flow_problem(group, edge, need_local, offer_local, quantity, remaining,
                                     priority, score, scale, resolution)
        status, arc_flows = run_min_cost_flow(problem)
        if status == _SMCF.OPTIMAL:
            return problem, arc_flows[:len(edge)].astype(np.int64)
        if status != _SMCF.BAD_COST_RANGE or resolution == 0:
            raise SolverError(f"min-cost flow failed with status {status}")
        resolution //= 10


def solve(groups: list[tuple[str, str]], edge_group: np.ndarray, need: np.ndarray,
          offer: np.ndarray, quantity: np.ndarray, remaining: np.ndarray,
          priority: np.ndarray, single: np.ndarray, score: np.ndarray,
          resolution: int = SCORE_RESOLUTION, milp_time_limit: float | None = None,
          problems: list[FlowProblem] | None = None,
          progress: Callable[[float], None] | None = None) -> tuple[np.ndarray, list[dict]]:
    """Optimal quantity per edge over all groups, and what each group's solve did."""
    flows = np.zeros(len(need), dtype=np.int64)
    order = np.argsort(edge_group, kind="stable")
    bounds = np.searchsorted(edge_group[order], np.arange(len(groups) + 1))
    infos = []
    work = max(1, len(need))
    done = 0
    for g, group in enumerate(groups):
        edge = order[bounds[g]:bounds[g + 1]]
        if len(edge) == 0:
            continue
        solution = solve_group(group, edge, need[edge], offer[edge], quantity, remaining,
                               priority, single, score[edge], resolution, milp_time_limit,
                               problems)
        flows[edge] = solution.flows
        infos.append(solution.info)
        done += len(edge)
        if progress:
            progress(done / work)
    return flows, infos
