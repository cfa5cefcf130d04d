"""Needs and offers as columns of integers, the form every later phase works on.

This is the only place that walks the input objects one by one; everything after it is
array work. Codes (kinds, units, topics, regions, organisations) become small integers.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from services.matching.engine.arrays import member
from services.matching.engine.model import MODES, Need, Offer, Organisation, TrackRecord
from services.matching.engine.regions import RegionTable

ONSITE, ONLINE, HYBRID = (MODES.index(mode) for mode in ("onsite", "online", "hybrid"))


def _bitsets(rows: np.ndarray, bits: np.ndarray, n_rows: int, words: int) -> np.ndarray:
    """A (n_rows, words) uint64 bit set from (row, bit) pairs."""
    out = np.zeros((n_rows, words), dtype=np.uint64)
    if len(rows):
        flat = out.reshape(-1)
        slots = rows * words + bits // 64
        values = np.left_shift(np.uint64(1), (bits % 64).astype(np.uint64))
        np.bitwise_or.at(flat, slots, values)
    return out


def _ragged(lengths: list[int]) -> np.ndarray:
    """The owner of every item of a flattened list of lists, from the lists' lengths."""
    return np.repeat(np.arange(len(lengths), dtype=np.int64),
                     np.asarray(lengths, dtype=np.int64))


@dataclass
class Columns:
    """The run's needs and offers as arrays, with the code tables that number them."""

    needs: Sequence[Need]
    offers: Sequence[Offer]
    groups: list[tuple[str, str]]          # (kind, unit) per group id
    topics: list[str]                      # topic code per topic id
    words: int                             # uint64 words per topic bit set
    regions: RegionTable
    org_ids: list[str]
    organisations: list[Organisation]
    # needs
    n_group: np.ndarray
    n_quantity: np.ndarray
    n_priority: np.ndarray
    n_start: np.ndarray
    n_end: np.ndarray
    n_region: np.ndarray
    n_ancestors: np.ndarray                # (needs, 4) region ids, -1 where none
    n_accepts: np.ndarray                  # (needs, 3) bool by MODES
    n_single: np.ndarray
    n_topics: np.ndarray                   # (needs, words) bit sets
    nt_need: np.ndarray                    # one row per (need, topic)
    nt_topic: np.ndarray
    excluded: np.ndarray                   # sorted need * orgs + org
    # offers
    o_group: np.ndarray
    o_remaining: np.ndarray
    o_start: np.ndarray
    o_end: np.ndarray
    o_mode: np.ndarray
    o_org: np.ndarray
    o_topics: np.ndarray
    ot_offer: np.ndarray                   # one row per (offer, topic)
    ot_topic: np.ndarray
    od_offer: np.ndarray                   # one row per (offer, delivery region), nested
    od_region: np.ndarray                  # regions of the same offer removed
    delivery_keys: np.ndarray              # sorted offer * regions + region
    ring_keys: np.ndarray                  # sorted org * regions + operating region
    org_ring_depths: np.ndarray            # per org, bit d set: operates at depth d + 1
    org_track: np.ndarray                  # track-record component per org

    @property
    def n_needs(self) -> int:
        return len(self.needs)

    @property
    def n_offers(self) -> int:
        return len(self.offers)


def build_columns(needs: Sequence[Need], offers: Sequence[Offer],
                  track_records: dict[str, TrackRecord] | None,
                  track_score) -> Columns:  # type: ignore[no-untyped-def]
    """Number every code and lay the inputs out as arrays."""
    group_ids: dict[tuple[str, str], int] = {}
    topic_ids: dict[str, int] = {}
    org_ids: dict[str, int] = {}
    organisations: list[Organisation] = []
    regions = RegionTable()

    def group(kind: str, unit: str) -> int:
        return group_ids.setdefault((kind, unit), len(group_ids))

    def topic(code: str) -> int:
        return topic_ids.setdefault(code, len(topic_ids))

    def org(organisation: Organisation) -> int:
        found = org_ids.get(organisation.id)
        if found is None:
            found = org_ids[organisation.id] = len(organisations)
            organisations.append(organisation)
        return found

    # --- needs
    n_group = np.fromiter((group(n.kind, n.unit) for n in needs), np.int64, len(needs))
    n_quantity = np.fromiter((n.quantity for n in needs), np.int64, len(needs))
    n_priority = np.fromiter((n.priority for n in needs), np.int64, len(needs))
    n_start = np.fromiter((n.window_start.toordinal() for n in needs), np.int64, len(needs))
    n_end = np.fromiter((n.window_end.toordinal() for n in needs), np.int64, len(needs))
    n_region = regions.add_all(n.region for n in needs)
    n_accepts = np.array([[mode in n.accepted_modes for mode in MODES] for n in needs],
                         dtype=bool).reshape(len(needs), len(MODES))
    n_single = np.fromiter((n.single_offer for n in needs), bool, len(needs))
    nt_need = _ragged([len(n.topics) for n in needs])
    nt_topic = np.fromiter((topic(t) for t in chain.from_iterable(n.topics for n in needs)),
                           np.int64, len(nt_need))

    # --- offers
    o_group = np.fromiter((group(o.kind, o.unit) for o in offers), np.int64, len(offers))
    o_remaining = np.fromiter((o.remaining for o in offers), np.int64, len(offers))
    o_start = np.fromiter((o.available_from.toordinal() for o in offers), np.int64, len(offers))
    o_end = np.fromiter((o.available_to.toordinal() for o in offers), np.int64, len(offers))
    mode_index = {mode: i for i, mode in enumerate(MODES)}
    o_mode = np.fromiter((mode_index[o.mode] for o in offers), np.int64, len(offers))
    o_org = np.fromiter((org(o.organisation) for o in offers), np.int64, len(offers))
    ot_offer = _ragged([len(o.topics) for o in offers])
    ot_topic = np.fromiter((topic(t) for t in chain.from_iterable(o.topics for o in offers)),
                           np.int64, len(ot_offer))
    od_offer = _ragged([len(o.delivery_regions) for o in offers])
    od_region = regions.add_all(chain.from_iterable(o.delivery_regions for o in offers))
    ring_org = _ragged([len(o.operating_regions) for o in organisations])
    ring_region = regions.add_all(
        chain.from_iterable(o.operating_regions for o in organisations))
    regions.freeze()
    n_regions = len(regions)

    # Drop a delivery region that another delivery region of the same offer already covers:
    # then at most one of an offer's regions covers any need, and the join below meets each
    # (need, offer) pair through one region only.
    delivery_keys = np.unique(od_offer * n_regions + od_region)
    od_offer, od_region = delivery_keys // n_regions, delivery_keys % n_regions
    nested = np.zeros(len(od_offer), dtype=bool)
    up = regions.parent[od_region] if len(od_region) else od_region
    while len(up) and (up >= 0).any():
        has = up >= 0
        nested[has] |= member(delivery_keys, od_offer[has] * n_regions + up[has])
        up = np.where(has, regions.parent[np.maximum(up, 0)], -1)
    od_offer, od_region = od_offer[~nested], od_region[~nested]
    delivery_keys = od_offer * n_regions + od_region

    words = max(1, -(-len(topic_ids) // 64))
    n_topics = _bitsets(nt_need, nt_topic, len(needs), words)
    o_topics = _bitsets(ot_offer, ot_topic, len(offers), words)

    excluded_pairs = [(i, org_ids[o]) for i, n in enumerate(needs)
                      for o in n.excluded_organisations if o in org_ids]
    excluded = np.unique(np.asarray([i * len(organisations) + o for i, o in excluded_pairs],
                                    dtype=np.int64))
    org_ring_depths = np.zeros(len(organisations), dtype=np.int64)
    if len(ring_org):
        np.bitwise_or.at(org_ring_depths, ring_org,
                         np.left_shift(1, regions.depth[ring_region] - 1))
    records = track_records or {}
    org_track = np.asarray([track_score(records.get(o.id)) for o in organisations],
                           dtype=np.float64)

    return Columns(
        needs=needs, offers=offers, groups=list(group_ids), topics=list(topic_ids),
        words=words, regions=regions, org_ids=list(org_ids), organisations=organisations,
        n_group=n_group, n_quantity=n_quantity, n_priority=n_priority, n_start=n_start,
        n_end=n_end, n_region=n_region, n_ancestors=regions.ancestor_matrix(n_region),
        n_accepts=n_accepts, n_single=n_single, n_topics=n_topics, nt_need=nt_need,
        nt_topic=nt_topic, excluded=excluded,
        o_group=o_group, o_remaining=o_remaining, o_start=o_start, o_end=o_end,
        o_mode=o_mode, o_org=o_org, o_topics=o_topics, ot_offer=ot_offer, ot_topic=ot_topic,
        od_offer=od_offer, od_region=od_region, delivery_keys=delivery_keys,
        ring_keys=np.unique(ring_org * n_regions + ring_region),
        org_ring_depths=org_ring_depths, org_track=org_track,
    )
