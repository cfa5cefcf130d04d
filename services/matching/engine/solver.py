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
that; when its optimum already obeys it, it is optimal for the constrained problem too (a
relaxation's optimum that is feasible is optimal). Otherwise each connected part of the
candidate graph that holds a broken single-offer need is re-solved exactly as a MILP with
HiGHS (scipy.optimize.milp, zero gap): integer flows, one binary per single-offer edge, in
two stages (maximise weighted coverage; then, with coverage held at its optimum, the score).
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
    """The solver could not prove an optimum (never expected; says why)."""


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
                       resolution, weight)


def _milp_choice(need_local: np.ndarray, offer_local: np.ndarray, quantity: np.ndarray,
                 remaining: np.ndarray, priority: np.ndarray, single: np.ndarray,
                 points: np.ndarray, time_limit: float | None) -> np.ndarray:
    """Which single-offer edges an exact lexicographic optimum of one connected part uses.

    MILP (HiGHS, zero gap): a binary "take it all" per single-offer edge, a continuous flow
    per other edge. Once the binaries are fixed the rest is a network flow, whose optimal
    vertices are integral, so continuous flows lose nothing; the caller recomputes them
    exactly with a min-cost flow.
    """
    k = len(need_local)
    q = quantity[need_local].astype(np.float64)
    one = single[need_local]
    upper = np.where(one, 1.0, np.minimum(q, remaining[offer_local]))
    coverage = priority[need_local] * np.where(one, q, 1.0)
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

    def solve(objective: np.ndarray, extra: list[LinearConstraint]) -> np.ndarray:
        result = milp(-objective, integrality=one.astype(np.int64), bounds=Bounds(0, upper),
                      constraints=constraints + extra, options=options)
        if result.status != 0 or result.x is None:
            raise SolverError(f"HiGHS did not prove an optimum: {result.message}")
        return result.x

    x = solve(coverage, [])
    if points.any():
        # Hold the optimal coverage (an integer) and maximise the score.
        best = round(float(coverage @ x))
        x = solve(gain.astype(np.float64), [
            LinearConstraint(coverage.reshape(1, -1), best - 0.5, np.inf)])
    return one & (x > 0.5)


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
                            "method": "min_cost_flow"}
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
            # The flow already decided every single-offer need outside the broken parts
            # (whole, from one offer); inside them a MILP decides. Then, with those choices
            # fixed, one more min-cost flow places everything else exactly.
            taken = one[need_local] & (flows == qs[need_local])
            n, m = len(needs), len(offers)
            graph = coo_array((np.ones(len(edge)), (need_local, offer_local + n)),
                              shape=(n + m, n + m))
            _, label = connected_components(graph, directed=False)
            parts = np.unique(label[:n][broken])
            info["method"] = "min_cost_flow+milp"
            info["milp_parts"] = len(parts)
            info["milp_edges"] = 0
            points = np.rint(score * resolution).astype(np.int64)
            for part in parts:
                inside = np.flatnonzero(label[need_local] == part)
                part_needs, pn = np.unique(need_local[inside], return_inverse=True)
                part_offers, po = np.unique(offer_local[inside], return_inverse=True)
                taken[inside] = _milp_choice(pn, po, qs[part_needs], rs[part_offers],
                                             p[part_needs], one[part_needs], points[inside],
                                             milp_time_limit)
                info["milp_edges"] += len(inside)
            fixed = np.where(taken, qs[need_local], 0)
            free = np.flatnonzero(~one[need_local])
            _, rest = _min_cost_flow(
                group, edge[free], need_local[free], offer_local[free],
                np.where(one, 0, qs), rs - np.bincount(offer_local, fixed, m).astype(np.int64),
                p, score[free], scale, resolution)
            flows = fixed
            flows[free] = rest
    return GroupSolution(flows * scale, info)


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
