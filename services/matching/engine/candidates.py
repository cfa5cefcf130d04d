"""Candidate edges: every (need, offer) pair that passes all hard rules of DESIGN §5.

The rules:
- same kind, and the same unit (quantities of different units cannot be added up);
- remaining capacity above zero (and, for a single-offer need, at least the need's quantity:
  the whole need must come from that one offer);
- the windows overlap (dates inclusive);
- delivery: the need's region lies inside one of the offer's delivery regions (by code
  prefix), or the offer is online and the need accepts online. A hybrid offer counts as
  onsite for the region rule and as online for the online rule, so it passes where either
  would. Accepted modes count on both roads: an onsite offer needs a need that accepts
  onsite; a hybrid offer through its regions needs one that accepts onsite or hybrid;
  online delivery (online or hybrid offer) needs one that accepts online;
- at least one shared topic (a funding need's topics are its purposes);
- the offering organisation is not excluded by the need.
"Offer active, organisation verified" holds for everything in the partners export.

Nothing here loops over need × offer. Each road is an equi-join on a bucket key:
(group, region, topic) for the region road, where a need is entered once per ancestor of
its region and an offer once per delivery region, and (group, topic) for the online road.
A pair sharing several topics meets once per shared topic; only the meeting through the
lowest shared topic is kept, which leaves each pair exactly once per road, and the region
road leaves out what the online road finds, so every pair appears once overall.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.matching.engine.arrays import expand_groups, join, member
from services.matching.engine.columns import HYBRID, ONLINE, ONSITE, Columns
from services.matching.engine.regions import DEPTHS

REGION_ROAD, ONLINE_ROAD = 0, 1


@dataclass
class Edges:
    """Candidate pairs as parallel arrays."""

    need: np.ndarray
    offer: np.ndarray
    road: np.ndarray       # REGION_ROAD or ONLINE_ROAD
    cover: np.ndarray      # the offer's delivery region that covers the need's region, or -1

    def __len__(self) -> int:
        return len(self.need)


def _lowest_shared_topic(cols: Columns, need: np.ndarray, offer: np.ndarray,
                         topic: np.ndarray) -> np.ndarray:
    """Whether `topic` is the lowest-numbered topic the need and the offer share."""
    word, bit = topic // 64, (topic % 64).astype(np.uint64)
    below = np.left_shift(np.uint64(1), bit) - np.uint64(1)
    if cols.words == 1:  # the usual case: up to 64 topics
        return (cols.n_topics[need, 0] & cols.o_topics[offer, 0] & below) == 0
    keep = np.ones(len(need), dtype=bool)
    full = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
    for w in range(cols.words):
        shared = cols.n_topics[need, w] & cols.o_topics[offer, w]
        mask = np.where(word > w, full, np.where(word == w, below, np.uint64(0)))
        keep &= (shared & mask) == 0
    return keep


def _offer_topic_rows(cols: Columns, offers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each entry of `offers` (repeats allowed): one row per topic of that offer,
    as (entry index, topic)."""
    starts = np.searchsorted(cols.ot_offer, offers, side="left")
    counts = np.searchsorted(cols.ot_offer, offers, side="right") - starts
    entry, position = expand_groups(starts, counts)
    return entry, cols.ot_topic[position]


def _common_filter(cols: Columns, need: np.ndarray, offer: np.ndarray) -> np.ndarray:
    """The rules both roads check after the join: windows, capacity, exclusion."""
    keep = (cols.o_start[offer] <= cols.n_end[need]) & (cols.o_end[offer] >= cols.n_start[need])
    single = cols.n_single[need]
    if single.any():
        keep &= ~single | (cols.o_remaining[offer] >= cols.n_quantity[need])
    if len(cols.excluded):
        keep &= ~member(cols.excluded, need * len(cols.org_ids) + cols.o_org[offer])
    return keep


def _region_road(cols: Columns) -> Edges:
    n_regions, n_topics = len(cols.regions), max(1, len(cols.topics))
    # Needs, once per (topic, ancestor of their region).
    eligible = cols.n_accepts[:, ONSITE] | cols.n_accepts[:, HYBRID]
    rows = np.flatnonzero(eligible[cols.nt_need])
    need = np.repeat(cols.nt_need[rows], DEPTHS)
    topic = np.repeat(cols.nt_topic[rows], DEPTHS)
    region = cols.n_ancestors[need, np.tile(np.arange(DEPTHS), len(rows))]
    present = region >= 0
    need, topic, region = need[present], topic[present], region[present]
    need_keys = (cols.n_group[need] * n_regions + region) * n_topics + topic

    # Offers delivered onsite, once per (delivery region, topic).
    onsite = (cols.o_mode[cols.od_offer] != ONLINE) & (cols.o_remaining[cols.od_offer] > 0)
    d_offer, d_region = cols.od_offer[onsite], cols.od_region[onsite]
    entry, o_topic = _offer_topic_rows(cols, d_offer)
    o_offer, o_region = d_offer[entry], d_region[entry]
    offer_keys = (cols.o_group[o_offer] * n_regions + o_region) * n_topics + o_topic

    left, right = join(need_keys, offer_keys)
    need, topic, cover, offer = need[left], topic[left], region[left], o_offer[right]
    keep = _lowest_shared_topic(cols, need, offer, topic)
    mode, accepts = cols.o_mode[offer], cols.n_accepts[need]
    keep &= np.where(mode == ONSITE, accepts[:, ONSITE],
                     (accepts[:, ONSITE] | accepts[:, HYBRID]) & ~accepts[:, ONLINE])
    need, offer, cover = need[keep], offer[keep], cover[keep]
    keep = _common_filter(cols, need, offer)
    need, offer, cover = need[keep], offer[keep], cover[keep]
    return Edges(need, offer, np.full(len(need), REGION_ROAD, dtype=np.int8), cover)


def _online_road(cols: Columns) -> Edges:
    n_topics = max(1, len(cols.topics))
    rows = np.flatnonzero(cols.n_accepts[cols.nt_need, ONLINE])
    need, topic = cols.nt_need[rows], cols.nt_topic[rows]
    need_keys = cols.n_group[need] * n_topics + topic

    rows = np.flatnonzero((cols.o_mode[cols.ot_offer] != ONSITE)
                          & (cols.o_remaining[cols.ot_offer] > 0))
    offer_all, offer_topic = cols.ot_offer[rows], cols.ot_topic[rows]
    offer_keys = cols.o_group[offer_all] * n_topics + offer_topic

    left, right = join(need_keys, offer_keys)
    need, topic, offer = need[left], topic[left], offer_all[right]
    keep = _lowest_shared_topic(cols, need, offer, topic)
    need, offer = need[keep], offer[keep]
    keep = _common_filter(cols, need, offer)
    need, offer = need[keep], offer[keep]

    # A hybrid offer reached online may still come in person where the need accepts that:
    # note the covering region (proximity and the explanation use it).
    cover = np.full(len(need), -1, dtype=np.int64)
    accepts = cols.n_accepts[need]
    hybrid = np.flatnonzero((cols.o_mode[offer] == HYBRID)
                            & (accepts[:, ONSITE] | accepts[:, HYBRID]))
    if len(hybrid):
        n_regions = len(cols.regions)
        for depth in range(DEPTHS):
            region = cols.n_ancestors[need[hybrid], depth]
            hit = (region >= 0) & member(cols.delivery_keys,
                                         offer[hybrid] * n_regions + np.maximum(region, 0))
            cover[hybrid[hit]] = region[hit]
    return Edges(need, offer, np.full(len(need), ONLINE_ROAD, dtype=np.int8), cover)


def candidate_edges(cols: Columns) -> Edges:
    """All pairs that pass every hard rule, each exactly once."""
    by_region, online = _region_road(cols), _online_road(cols)
    return Edges(*(np.concatenate([getattr(by_region, name), getattr(online, name)])
                   for name in ("need", "offer", "road", "cover")))
