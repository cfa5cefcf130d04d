"""Why a proposal was made: each hard rule it passed, with the values that made it pass, and
each score component with its value and weight. Plain JSON-ready dicts, built only for the
edges that carry a proposal. Date windows are ISO 8601 intervals: "2027-03-01/2027-05-31".

Every value is first gathered for all chosen edges at once with NumPy into plain lists; one
comprehension then assembles the dicts.
"""
from __future__ import annotations

from datetime import date
from operator import attrgetter
from typing import Any

import numpy as np

from services.matching.engine.arrays import member
from services.matching.engine.candidates import Edges
from services.matching.engine.columns import ONLINE, Columns
from services.matching.engine.model import MODES, Weights
from services.matching.engine.regions import DEPTHS, LEVEL_NAMES
from services.matching.engine.scoring import COMPONENTS, PROXIMITY_LABELS
from services.matching.engine.text import TermVectors

EXPORT_SOURCE = "partners active-offer export (offer active, organisation verified)"


class _Dates(dict):
    """ISO date per ordinal, computed once each."""

    def __missing__(self, ordinal: int) -> str:
        value = self[ordinal] = date.fromordinal(ordinal).isoformat()
        return value


def _shared_terms(cols: Columns, text: TermVectors | None, need: np.ndarray,
                  offer: np.ndarray) -> list[list[str]]:
    """The kept terms each need text shares with its offer text."""
    if text is None:
        return [[] for _ in range(len(need))]
    a, b = text.ids[need], text.ids[offer + cols.n_needs]
    hit = ((a[:, :, None] == b[:, None, :]).any(axis=2) & (a >= 0))
    rows, slots = np.nonzero(hit)
    out: list[list[str]] = [[] for _ in range(len(need))]
    vocabulary = text.vocabulary
    for row, term in zip(rows.tolist(), a[rows, slots].tolist(), strict=True):
        out[row].append(vocabulary[term])
    for terms in out:
        terms.sort()
    return out


def _ring_regions(cols: Columns, need: np.ndarray, offer: np.ndarray) -> list[str | None]:
    """The organisation's operating region that covers the need (the narrowest), or None."""
    found = np.full(len(need), -1, dtype=np.int64)
    org_key = cols.o_org[offer] * len(cols.regions)
    for depth in range(DEPTHS):
        region = cols.n_ancestors[need, depth]
        hit = (region >= 0) & member(cols.ring_keys, org_key + region)
        found[hit] = region[hit]
    codes = cols.regions.codes
    return [codes[r] if r >= 0 else None for r in found.tolist()]


def _gather(values: list[Any], index: np.ndarray) -> list[Any]:
    """values[i] for each i in `index`, through a NumPy object array (one C-level pass)."""
    # fromiter keeps tuples whole (slice assignment would read equal-length ones as rows)
    return np.fromiter(values, dtype=object, count=len(values))[index].tolist()


def explain(cols: Columns, edges: Edges, chosen: np.ndarray, flows: np.ndarray,
            parts: dict[str, np.ndarray], score: np.ndarray, weights: Weights,
            text: TermVectors | None) -> list[dict[str, Any]]:
    """One explanation per chosen edge, in the order of `chosen`."""
    weight = weights.as_dict()
    total_weight = sum(weight.values())
    codes = cols.regions.codes
    need, offer = edges.need[chosen], edges.offer[chosen]
    org = cols.o_org[offer]
    dates = _Dates()

    # Track records of the organisations that carry a proposal, built once each.
    table = cols.org_track
    track: list[dict[str, Any]] = [{} for _ in cols.organisations]
    for o in np.unique(org).tolist():
        known = bool(table["known"][o])
        track[o] = {"ratings": int(table["ratings"][o]),
                    "mean_rating": float(table["mean_rating"][o]) if known else None,
                    "fulfilled": int(table["fulfilled"][o]),
                    "approved": int(table["approved"][o]),
                    "shrunk_rating": round(float(table["shrunk_rating"][o]), 3),
                    "shrunk_fulfilment": round(float(table["shrunk_fulfilment"][o]), 3)}
    # Accepted modes by the need's 3-bit mode mask.
    mode_sets = [tuple(m for i, m in enumerate(MODES) if mask >> i & 1)
                 for mask in range(1 << len(MODES))]
    mode_mask = cols.n_accepts[need] @ (1 << np.arange(len(MODES)))
    topic_lists: dict[tuple[int, ...], tuple[str, ...]] = {}
    shared = []
    for mask in map(tuple, (cols.n_topics[need] & cols.o_topics[offer]).tolist()):
        found = topic_lists.get(mask)
        if found is None:
            found = topic_lists[mask] = tuple(sorted(
                cols.topics[w * 64 + b] for w, word in enumerate(mask) for b in range(64)
                if word >> b & 1))
        shared.append(found)

    # Everything per proposal as a list, gathered with NumPy.
    start = np.maximum(cols.n_start[need], cols.o_start[offer])
    end = np.minimum(cols.n_end[need], cols.o_end[offer])

    def windows(first: np.ndarray, last: np.ndarray) -> list[str]:
        return [f"{dates[a]}/{dates[b]}" for a, b in zip(first.tolist(), last.tolist(),
                                                         strict=True)]

    cover = edges.cover[chosen]
    in_person = (cover >= 0) & (cols.o_mode[offer] != ONLINE)
    levels_up = np.where(in_person, cols.regions.depth[cols.n_region[need]]
                         - cols.regions.depth[np.maximum(cover, 0)], -1)
    level = np.where(in_person, cols.regions.depth[np.maximum(cover, 0)] - 1, len(LEVEL_NAMES))
    covered_by = _gather([*codes, None], np.where(cover >= 0, cover, len(codes)))
    near = _gather([*codes, None], np.where(in_person, cover, len(codes)))
    group_kind = [kind for kind, _ in cols.groups]
    group_unit = [unit for _, unit in cols.groups]
    n_group = cols.n_group[need]
    rows = zip(
        flows[chosen].tolist(), _gather(group_unit, n_group), _gather(group_kind, n_group),
        cols.o_remaining[offer].tolist(), cols.n_quantity[need].tolist(),
        cols.n_single[need].tolist(), windows(cols.n_start[need], cols.n_end[need]),
        windows(cols.o_start[offer], cols.o_end[offer]), windows(start, end),
        _gather(["region", "online"], edges.road[chosen]),
        _gather([n.region for n in cols.needs], need), covered_by,
        _gather(list(MODES), cols.o_mode[offer]), _gather(mode_sets, mode_mask), shared,
        _gather(cols.org_ids, org),
        _gather([len(n.excluded_organisations) for n in cols.needs], need),
        np.round(score[chosen], 4).tolist(),
        _gather(list(map(attrgetter("topics"), cols.needs)), need),
        _gather(list(map(attrgetter("topics"), cols.offers)), offer),
        _shared_terms(cols, text, need, offer), _gather([*LEVEL_NAMES, "online"], level),
        near, _gather([*PROXIMITY_LABELS, "online only"],
                      np.where(levels_up >= 0, np.minimum(levels_up, 3), 4)),
        _ring_regions(cols, need, offer),
        (cols.n_end[need] - cols.n_start[need] + 1).tolist(), (end - start + 1).tolist(),
        _gather(track, org),
        *(np.round(parts[name][chosen], 4).tolist() for name in COMPONENTS),
        *(np.round(weight[name] * parts[name][chosen] / total_weight, 4).tolist()
          for name in COMPONENTS),
        strict=True)
    w_topic, w_text, w_prox, w_ring, w_window, w_qty, w_track = (
        weight[name] for name in COMPONENTS)
    # One dict literal per proposal from plain lists: the cheapest way CPython builds them.
    return [
        {
            "quantity": quantity,
            "unit": unit,
            "rules": {
                "same_kind": {"passed": True, "kind": kind},
                "same_unit": {"passed": True, "unit": unit},
                "offer_active": {"passed": True, "source": EXPORT_SOURCE},
                "capacity": {"passed": True, "offer_remaining": remaining,
                             "need_quantity": wanted, "single_offer": single},
                "windows_overlap": {"passed": True, "need_window": need_window_,
                                    "offer_window": offer_window_, "overlap": overlap},
                "delivery": {"passed": True, "road": road, "need_region": region,
                             "covered_by": covered, "offer_mode": mode,
                             "accepted_modes": list(modes)},
                "shared_topic": {"passed": True, "shared": list(topics)},
                "not_excluded": {"passed": True, "organisation_id": org_id,
                                 "excluded_organisations": excluded},
            },
            "score": {"value": value, "components": {
                "topic_fit": {"value": v_topic, "weight": w_topic, "contribution": c_topic,
                              "need_topics": list(need_topics),
                              "offer_topics": list(offer_topics)},
                "text_fit": {"value": v_text, "weight": w_text, "contribution": c_text,
                             "shared_terms": terms},
                "proximity": {"value": v_prox, "weight": w_prox, "contribution": c_prox,
                              "level": level_name, "region": nearby, "relation": relation},
                "ring1": {"value": v_ring, "weight": w_ring, "contribution": c_ring,
                          "operating_region": ring},
                "window_fit": {"value": v_window, "weight": w_window,
                               "contribution": c_window, "need_days": need_days,
                               "covered_days": covered_days},
                "quantity_fit": {"value": v_qty, "weight": w_qty, "contribution": c_qty,
                                 "offer_remaining": remaining, "need_quantity": wanted},
                "track_record": {"value": v_track, "weight": w_track,
                                 "contribution": c_track, **record},
            }},
        }
        for (quantity, unit, kind, remaining, wanted, single, need_window_, offer_window_,
             overlap, road, region, covered, mode, modes, topics, org_id, excluded, value,
             need_topics, offer_topics, terms, level_name, nearby, relation, ring, need_days,
             covered_days, record, v_topic, v_text, v_prox, v_ring, v_window, v_qty, v_track,
             c_topic, c_text, c_prox, c_ring, c_window, c_qty, c_track) in rows
    ]
