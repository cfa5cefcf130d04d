"""`match`: needs and offers in, explained optimal proposals and the run's figures out."""
from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from services.matching.engine.candidates import candidate_edges
from services.matching.engine.columns import build_columns
from services.matching.engine.explain import explain
from services.matching.engine.model import (
    MatchResult,
    Need,
    Offer,
    Proposal,
    TrackRecord,
    Weights,
)
from services.matching.engine.scoring import score_edges
from services.matching.engine.solver import SCORE_RESOLUTION, solve
from services.matching.engine.text import term_vectors

Progress = Callable[[str, float], None]
PHASES = ("prepare", "candidates", "scoring", "solve", "explanations")  # in run order


def _gather_ids(items: Sequence[Need] | Sequence[Offer], index: np.ndarray) -> list[str]:
    ids = np.fromiter(map(attrgetter("id"), items), dtype=object, count=len(items))
    return ids[index].tolist()


def _group_name(group: tuple[str, str]) -> str:
    return f"{group[0]}/{group[1]}"


def match(needs: Sequence[Need], offers: Sequence[Offer],
          weights: Weights | Mapping[str, float] | None = None,
          track_records: Mapping[str, TrackRecord | Mapping[str, Any]] | None = None,
          progress: Progress | None = None, *, score_resolution: int = SCORE_RESOLUTION,
          milp_time_limit: float | None = None, keep_problems: bool = False) -> MatchResult:
    """Propose who gives what to whom: maximum priority-weighted coverage, then score.

    The result is optimal (stats["proven_optimal"]) unless `milp_time_limit` (seconds per
    MILP solve, used only for single-offer needs the flow alone cannot place) cut a MILP
    short: then its best assignment found is used and the group's stats give the gap.

    `weights` maps score component names to weights (defaults: `Weights()`);
    `track_records` maps organisation ids to their track record; `progress(phase, fraction)`
    is called as each phase starts, advances and ends. `keep_problems` keeps the min-cost
    flow arrays on the result (for benchmarks).
    """
    # The run allocates about a million small objects (the explanations) and frees none of
    # them: Python's cyclic garbage collector would rescan all that is alive, over and over,
    # for nothing. So it is paused during the run, and what the run built is then moved
    # straight to the oldest generation (freeze, then unfreeze) rather than traversed by the
    # next young collection in the caller. Reference counting still frees it all as usual.
    collecting = gc.isenabled()
    gc.disable()
    try:
        result = _match(needs, offers, weights, track_records, progress, score_resolution,
                        milp_time_limit, keep_problems)
        gc.freeze()
        gc.unfreeze()
        return result
    finally:
        if collecting:
            gc.enable()


def _match(needs: Sequence[Need], offers: Sequence[Offer],
           weights: Weights | Mapping[str, float] | None,
           track_records: Mapping[str, TrackRecord | Mapping[str, Any]] | None,
           progress: Progress | None, score_resolution: int, milp_time_limit: float | None,
           keep_problems: bool) -> MatchResult:
    weights = weights if isinstance(weights, Weights) else Weights.from_dict(weights)
    records = {org: r if isinstance(r, TrackRecord) else TrackRecord.from_dict(r)
               for org, r in (track_records or {}).items()}
    seconds: dict[str, float] = {}
    current: str | None = None
    started = time.perf_counter()

    def phase(name: str | None) -> None:
        nonlocal current, started
        now = time.perf_counter()
        if current:
            seconds[current] = round(now - started, 6)
            if progress:
                progress(current, 1.0)
        current, started = name, now
        if name and progress:
            progress(name, 0.0)

    phase("prepare")
    cols = build_columns(needs, offers, records)
    phase("candidates")
    edges = candidate_edges(cols)
    phase("scoring")
    text = None
    if weights.text_fit > 0:
        text = term_vectors([n.description for n in needs]
                            + [f"{o.title} {o.description}" for o in offers])
    parts, score = score_edges(cols, edges, weights, text)
    phase("solve")
    problems: list[Any] | None = [] if keep_problems else None
    flows, groups = solve(
        cols.groups, cols.n_group[edges.need], edges.need, edges.offer, cols.n_quantity,
        cols.o_remaining, cols.n_priority, cols.n_single, score, score_resolution,
        milp_time_limit, problems,
        (lambda fraction: progress("solve", fraction)) if progress else None)
    phase("explanations")
    chosen = np.flatnonzero(flows > 0)
    chosen = chosen[np.lexsort((-score[chosen], edges.need[chosen]))]
    explanations = explain(cols, edges, chosen, flows, parts, score, weights, text)
    proposals = list(map(Proposal, _gather_ids(cols.needs, edges.need[chosen]),
                         _gather_ids(cols.offers, edges.offer[chosen]), flows[chosen].tolist(),
                         np.round(score[chosen], 4).tolist(), explanations))
    covered_by_need = np.bincount(edges.need, flows, cols.n_needs) if len(edges) else (
        np.zeros(cols.n_needs))
    covered_by_need = np.rint(covered_by_need).astype(np.int64)
    phase(None)

    names = [_group_name(g) for g in cols.groups]
    demand_total = {name: 0 for name in names}
    demand_covered = {name: 0 for name in names}
    for g, name in enumerate(names):
        mine = cols.n_group == g
        demand_total[name] = int(cols.n_quantity[mine].sum())
        demand_covered[name] = int(covered_by_need[mine].sum())
    edge_group = cols.n_group[edges.need]
    weighted = {name: int(np.dot(cols.n_priority[edges.need][edge_group == g],
                                 flows[edge_group == g]))
                for g, name in enumerate(names)}
    score_total = {name: round(float(np.dot(score[edge_group == g], flows[edge_group == g])), 4)
                   for g, name in enumerate(names)}
    seconds["total"] = round(sum(seconds.values()), 6)
    stats = {
        "needs": cols.n_needs,
        "offers": cols.n_offers,
        "candidate_edges": len(edges),
        "proposals": len(proposals),
        "demand_total": {k: v for k, v in demand_total.items() if v},
        "demand_covered": {k: v for k, v in demand_covered.items() if demand_total[k]},
        "needs_fully_covered": int((covered_by_need == cols.n_quantity).sum()),
        "objective": {
            "priority_weighted_coverage": {k: v for k, v in weighted.items() if demand_total[k]},
            "score_total": {k: v for k, v in score_total.items() if demand_total[k]},
        },
        "proven_optimal": all(g["proven_optimal"] for g in groups),
        "seconds": seconds,
        "weights": weights.as_dict(),
        "groups": groups,
    }
    covered = {need.id: int(c) for need, c in zip(needs, covered_by_need.tolist(), strict=True)}
    return MatchResult(proposals, covered, stats, problems or [])


def candidates(needs: Sequence[Need], offers: Sequence[Offer],
               weights: Weights | Mapping[str, float] | None = None,
               track_records: Mapping[str, TrackRecord | Mapping[str, Any]] | None = None,
               ) -> list[Proposal]:
    """Every candidate pair (all hard rules hold), scored and explained, without solving:
    per need, best score first. `quantity` is what the offer alone could give the need
    (the smaller of the need's quantity and the offer's remaining capacity). The review
    page shows these as the alternatives to what a run proposed."""
    weights = weights if isinstance(weights, Weights) else Weights.from_dict(weights)
    records = {org: r if isinstance(r, TrackRecord) else TrackRecord.from_dict(r)
               for org, r in (track_records or {}).items()}
    cols = build_columns(needs, offers, records)
    edges = candidate_edges(cols)
    if not len(edges):
        return []
    text = None
    if weights.text_fit > 0:
        text = term_vectors([n.description for n in needs]
                            + [f"{o.title} {o.description}" for o in offers])
    parts, score = score_edges(cols, edges, weights, text)
    every = np.arange(len(edges))
    order = every[np.lexsort((-score, edges.need))]
    flows = np.minimum(cols.n_quantity[edges.need], cols.o_remaining[edges.offer])
    explanations = explain(cols, edges, order, flows, parts, score, weights, text)
    return list(map(Proposal, _gather_ids(cols.needs, edges.need[order]),
                    _gather_ids(cols.offers, edges.offer[order]), flows[order].tolist(),
                    np.round(score[order], 4).tolist(), explanations))

