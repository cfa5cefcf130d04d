"""Score components of a candidate edge, each in [0, 1], and their weighted mean.

- topic_fit: Jaccard overlap of the need's and the offer's topics (purposes for funding).
- text_fit: TF-IDF cosine of the need's description and the offer's title and description.
- proximity: how close the delivery is: the offer delivers to the need's own region 1.0,
  to the region one level up (kelurahan → its kecamatan) 0.75, two levels up (the city)
  0.5, three (the province) 0.25; reached only online 0.1.
- ring1: 1.0 when the need lies in one of the organisation's operating regions (a
  company's ring 1, where CSR usually goes first), else 0.
- window_fit: share of the need's window (days, inclusive) that the offer's window covers.
- quantity_fit: min(remaining, quantity) / quantity: how much of the need one offer can carry.
- track_record: coordinators' ratings and the share of approved proposals fulfilled, each
  shrunk toward a prior, so a new partner starts at the prior instead of at 0 or 1.
"""
from __future__ import annotations

import numpy as np

from services.matching.engine.arrays import member
from services.matching.engine.candidates import Edges
from services.matching.engine.columns import ONLINE, Columns
from services.matching.engine.model import TrackRecord, Weights
from services.matching.engine.regions import DEPTHS
from services.matching.engine.text import TermVectors, pair_cosine

COMPONENTS = ("topic_fit", "text_fit", "proximity", "ring1", "window_fit", "quantity_fit",
              "track_record")
PROXIMITY_BY_LEVELS_UP = (1.0, 0.75, 0.5, 0.25)
PROXIMITY_ONLINE = 0.1
PROXIMITY_LABELS = ("same region", "one level up", "two levels up", "three levels up")

# Track-record priors: a new partner is taken as rated RATING_PRIOR by RATING_STRENGTH
# coordinators and as having fulfilled FULFILMENT_PRIOR of FULFILMENT_STRENGTH approvals.
RATING_PRIOR, RATING_STRENGTH = 3.5, 5.0
FULFILMENT_PRIOR, FULFILMENT_STRENGTH = 0.8, 5.0
RATING_SHARE = 0.7  # the rest is fulfilment


def track_details(record: TrackRecord | None) -> dict[str, float]:
    """The shrunk rating and fulfilment rate behind the track-record component."""
    record = record or TrackRecord()
    rating = ((RATING_PRIOR * RATING_STRENGTH + record.mean_rating * record.ratings)
              / (RATING_STRENGTH + record.ratings))
    fulfilment = ((FULFILMENT_PRIOR * FULFILMENT_STRENGTH + record.fulfilled)
                  / (FULFILMENT_STRENGTH + record.approved))
    fulfilment = min(1.0, max(0.0, fulfilment))
    value = RATING_SHARE * (rating - 1.0) / 4.0 + (1.0 - RATING_SHARE) * fulfilment
    return {"value": min(1.0, max(0.0, value)), "shrunk_rating": rating,
            "shrunk_fulfilment": fulfilment}


def track_score(record: TrackRecord | None) -> float:
    """The track-record component of an organisation."""
    return track_details(record)["value"]


def topic_fit(cols: Columns, need: np.ndarray, offer: np.ndarray) -> np.ndarray:
    """Jaccard overlap of topic sets, from their bit sets."""
    a, b = cols.n_topics[need], cols.o_topics[offer]
    shared = np.bitwise_count(a & b).sum(axis=1, dtype=np.int64)
    either = np.bitwise_count(a | b).sum(axis=1, dtype=np.int64)
    return shared / np.maximum(either, 1)


def proximity(cols: Columns, edges: Edges) -> np.ndarray:
    """Proximity from how many levels above the need's region the covering region sits."""
    covered = (edges.cover >= 0) & (cols.o_mode[edges.offer] != ONLINE)
    levels_up = (cols.regions.depth[cols.n_region[edges.need]]
                 - cols.regions.depth[np.maximum(edges.cover, 0)])
    table = np.asarray(PROXIMITY_BY_LEVELS_UP)
    return np.where(covered, table[np.clip(levels_up, 0, len(table) - 1)], PROXIMITY_ONLINE)


def ring1(cols: Columns, need: np.ndarray, offer: np.ndarray) -> np.ndarray:
    """1.0 where an operating region of the offer's organisation covers the need's region."""
    out = np.zeros(len(need), dtype=np.float64)
    org = cols.o_org[offer]
    for depth in range(DEPTHS):
        # Only edges whose organisation operates at this depth at all need a look-up.
        rows = np.flatnonzero(cols.org_ring_depths[org] & (1 << depth))
        region = cols.n_ancestors[need[rows], depth]
        hit = (region >= 0) & member(cols.ring_keys, org[rows] * len(cols.regions) + region)
        out[rows[hit]] = 1.0
    return out


def window_fit(cols: Columns, need: np.ndarray, offer: np.ndarray) -> np.ndarray:
    """Share of the need's window inside the offer's window."""
    start = np.maximum(cols.n_start[need], cols.o_start[offer])
    end = np.minimum(cols.n_end[need], cols.o_end[offer])
    return np.clip(end - start + 1, 0, None) / (cols.n_end[need] - cols.n_start[need] + 1)


def quantity_fit(cols: Columns, need: np.ndarray, offer: np.ndarray) -> np.ndarray:
    """How much of the need the offer alone can carry."""
    quantity = cols.n_quantity[need]
    return np.minimum(cols.o_remaining[offer], quantity) / quantity


def score_edges(cols: Columns, edges: Edges, weights: Weights,
                text: TermVectors) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every component for every edge, and the weighted mean score."""
    need, offer = edges.need, edges.offer
    values = weights.as_dict()
    parts: dict[str, np.ndarray] = {}
    for name in COMPONENTS:
        if name == "topic_fit":
            parts[name] = topic_fit(cols, need, offer)
        elif name == "text_fit":
            parts[name] = (pair_cosine(text, need, text, offer + cols.n_needs)
                           if values[name] else np.zeros(len(need)))
        elif name == "proximity":
            parts[name] = proximity(cols, edges)
        elif name == "ring1":
            parts[name] = ring1(cols, need, offer)
        elif name == "window_fit":
            parts[name] = window_fit(cols, need, offer)
        elif name == "quantity_fit":
            parts[name] = quantity_fit(cols, need, offer)
        else:
            parts[name] = cols.org_track[cols.o_org[offer]]
    total = sum(values.values())
    score = np.zeros(len(need), dtype=np.float64)
    for name, part in parts.items():
        if values[name]:
            score += values[name] * part
    return parts, np.clip(score / total, 0.0, 1.0)
