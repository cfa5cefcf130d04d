"""Why a proposal was made: each hard rule it passed, with the values that made it pass, and
each score component with its value and weight. Plain JSON-ready dicts, built only for the
edges that carry a proposal.

Everything that can be is computed for all chosen edges at once with NumPy; the loop at the
end only assembles dicts from lists, with per-need, per-offer and per-date caches.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from services.matching.engine.arrays import member
from services.matching.engine.candidates import ONLINE_ROAD, Edges
from services.matching.engine.columns import ONLINE, Columns
from services.matching.engine.model import MODES, TrackRecord, Weights
from services.matching.engine.regions import DEPTHS, LEVEL_NAMES
from services.matching.engine.scoring import COMPONENTS, PROXIMITY_LABELS, track_details
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


def explain(cols: Columns, edges: Edges, chosen: np.ndarray, flows: np.ndarray,
            parts: dict[str, np.ndarray], score: np.ndarray, weights: Weights,
            text: TermVectors | None,
            track_records: dict[str, TrackRecord]) -> list[dict[str, Any]]:
    """One explanation per chosen edge, in the order of `chosen`."""
    weight = weights.as_dict()
    total_weight = sum(weight.values())
    codes = cols.regions.codes
    need, offer = edges.need[chosen], edges.offer[chosen]

    # --- everything per edge, vectorised
    start = np.maximum(cols.n_start[need], cols.o_start[offer])
    end = np.minimum(cols.n_end[need], cols.o_end[offer])
    cover = edges.cover[chosen]
    in_person = (cover >= 0) & (cols.o_mode[offer] != ONLINE)
    levels_up = np.where(in_person, cols.regions.depth[cols.n_region[need]]
                         - cols.regions.depth[np.maximum(cover, 0)], -1)
    shared_masks = [tuple(row) for row in (cols.n_topics[need] & cols.o_topics[offer]).tolist()]
    values = {name: np.round(parts[name][chosen], 4).tolist() for name in COMPONENTS}
    contributions = {name: np.round(weight[name] * parts[name][chosen] / total_weight,
                                    4).tolist() for name in COMPONENTS}
    rows = zip(need.tolist(), offer.tolist(), edges.road[chosen].tolist(), cover.tolist(),
               levels_up.tolist(), start.tolist(), end.tolist(), flows[chosen].tolist(),
               np.round(score[chosen], 4).tolist(), shared_masks,
               _shared_terms(cols, text, need, offer), _ring_regions(cols, need, offer),
               strict=True)

    # --- caches: what depends on the need alone or the offer alone is built once each
    dates = _Dates()
    topic_lists: dict[tuple[int, ...], tuple[str, ...]] = {}
    track_cache: dict[str, dict[str, Any]] = {}
    need_facts: dict[int, tuple] = {}
    offer_facts: dict[int, tuple] = {}

    def need_of(n: int) -> tuple:
        nd = cols.needs[n]
        start, end = nd.window_start.toordinal(), nd.window_end.toordinal()
        facts = need_facts[n] = (
            nd.kind, nd.unit, nd.quantity, nd.single_offer, nd.region,
            tuple(m for m in MODES if m in nd.accepted_modes), nd.topics,
            (dates[start], dates[end]), end - start + 1, len(nd.excluded_organisations))
        return facts

    def offer_of(o: int) -> tuple:
        od = cols.offers[o]
        facts = offer_facts[o] = (
            od.remaining, od.mode, od.topics,
            (dates[od.available_from.toordinal()], dates[od.available_to.toordinal()]),
            od.organisation.id)
        return facts

    def topics_of(mask: tuple[int, ...]) -> tuple[str, ...]:
        found = topic_lists[mask] = tuple(sorted(
            cols.topics[w * 64 + b] for w, word in enumerate(mask) for b in range(64)
            if word >> b & 1))
        return found

    def track(org_id: str) -> dict[str, Any]:
        record = track_records.get(org_id)
        details = track_details(record)
        found = track_cache[org_id] = {
            "ratings": record.ratings if record else 0,
            "mean_rating": record.mean_rating if record else None,
            "fulfilled": record.fulfilled if record else 0,
            "approved": record.approved if record else 0,
            "shrunk_rating": round(details["shrunk_rating"], 3),
            "shrunk_fulfilment": round(details["shrunk_fulfilment"], 3)}
        return found

    v_topic, v_text, v_prox, v_ring, v_window, v_qty, v_track = (
        values[name] for name in COMPONENTS)
    c_topic, c_text, c_prox, c_ring, c_window, c_qty, c_track = (
        contributions[name] for name in COMPONENTS)
    w_topic, w_text, w_prox, w_ring, w_window, w_qty, w_track = (
        weight[name] for name in COMPONENTS)
    online_only = {"level": "online", "region": None, "relation": "online only"}
    out = []
    append = out.append
    for i, (n, o, road, cov, up, s, e, q, value, mask, terms, ring) in enumerate(rows):
        (kind, unit, quantity, single, region, accepted, need_topics, need_window, need_days,
         excluded) = need_facts.get(n) or need_of(n)
        remaining, mode, offer_topics, offer_window, org_id = offer_facts.get(o) or offer_of(o)
        shared = topic_lists.get(mask) or topics_of(mask)
        covered_by = codes[cov] if cov >= 0 else None
        if up >= 0:
            where = {"level": LEVEL_NAMES[covered_by.count(".")], "region": covered_by,
                     "relation": PROXIMITY_LABELS[min(up, 3)]}
        else:
            where = dict(online_only)
        append({
            "quantity": {"proposed": q, "need_quantity": quantity,
                         "offer_remaining": remaining, "unit": unit},
            "rules": {
                "same_kind": {"passed": True, "kind": kind},
                "same_unit": {"passed": True, "unit": unit},
                "offer_active": {"passed": True, "source": EXPORT_SOURCE},
                "capacity": {"passed": True, "offer_remaining": remaining,
                             "need_quantity": quantity, "single_offer": single},
                "windows_overlap": {
                    "passed": True, "need_window": list(need_window),
                    "offer_window": list(offer_window), "overlap": [dates[s], dates[e]]},
                "delivery": {
                    "passed": True, "road": "online" if road == ONLINE_ROAD else "region",
                    "need_region": region, "covered_by": covered_by, "offer_mode": mode,
                    "accepted_modes": list(accepted)},
                "shared_topic": {"passed": True, "shared": list(shared)},
                "not_excluded": {"passed": True, "organisation_id": org_id,
                                 "excluded_organisations": excluded},
            },
            "score": {"value": value, "components": {
                "topic_fit": {"value": v_topic[i], "weight": w_topic,
                              "contribution": c_topic[i], "need_topics": list(need_topics),
                              "offer_topics": list(offer_topics), "shared": list(shared)},
                "text_fit": {"value": v_text[i], "weight": w_text,
                             "contribution": c_text[i], "shared_terms": terms},
                "proximity": {"value": v_prox[i], "weight": w_prox,
                              "contribution": c_prox[i], **where},
                "ring1": {"value": v_ring[i], "weight": w_ring, "contribution": c_ring[i],
                          "operating_region": ring},
                "window_fit": {"value": v_window[i], "weight": w_window,
                               "contribution": c_window[i], "need_days": need_days,
                               "covered_days": e - s + 1},
                "quantity_fit": {"value": v_qty[i], "weight": w_qty,
                                 "contribution": c_qty[i], "offer_remaining": remaining,
                                 "need_quantity": quantity},
                "track_record": {"value": v_track[i], "weight": w_track,
                                 "contribution": c_track[i],
                                 **(track_cache.get(org_id) or track(org_id))},
            }},
        })
    return out
