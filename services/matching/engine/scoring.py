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
  shrunk toward a prior, so a new partner starts at the prior instead of at 0 or 1
  (track.py).
"""
from __future__ import annotations

import numpy as np

from services.matching.engine.arrays import member
from services.matching.engine.candidates import Edges
from services.matching.engine.columns import ONLINE, Columns
from services.matching.engine.model import Weights
from services.matching.engine.regions import DEPTHS
from services.matching.engine.text import TermVectors, pair_cosine

COMPONENTS = ("topic_fit", "text_fit", "proximity", "ring1", "window_fit", "quantity_fit",
              "track_record")
PROXIMITY_BY_LEVELS_UP = (1.0, 0.75, 0.5, 0.25)
PROXIMITY_ONLINE = 0.1
PROXIMITY_LABELS = ("same region", "one level up", "two levels up", "three levels up")


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
                text: TermVectors | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every component for every edge, and the weighted mean score."""
    need, offer = edges.need, edges.offer
    parts = {
        "topic_fit": topic_fit(cols, need, offer),
        "text_fit": (pair_cosine(text, need, text, offer + cols.n_needs) if text is not None
                     else np.zeros(len(need))),
        "proximity": proximity(cols, edges),
        "ring1": ring1(cols, need, offer),
        "window_fit": window_fit(cols, need, offer),
        "quantity_fit": quantity_fit(cols, need, offer),
        "track_record": cols.org_track["value"][cols.o_org[offer]],
    }
    values = weights.as_dict()
    score = np.zeros(len(need), dtype=np.float64)
    for name in COMPONENTS:
        if values[name]:
            score += values[name] * parts[name]
    return parts, np.clip(score / sum(values.values()), 0.0, 1.0)
