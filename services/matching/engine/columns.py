"""Needs and offers as columns of integers, the form every later phase works on.

This is the only place that walks the input objects one by one; everything after it is
array work. Codes (kinds, units, topics, regions, organisations) become small integers.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from operator import attrgetter, methodcaller
from typing import Any

import numpy as np

from services.matching.engine.arrays import member
from services.matching.engine.model import MODES, Need, Offer, Organisation, TrackRecord
from services.matching.engine.regions import RegionTable
from services.matching.engine.track import track_table

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


def _ragged(lists: list) -> np.ndarray:  # type: ignore[type-arg]
    """The owner of every item of a flattened list of lists."""
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    return np.repeat(np.arange(len(lists), dtype=np.int64), lengths)


def _numbering(values: Iterable[Hashable]) -> dict[Any, int]:
    """Each distinct value → 0, 1, 2, ... in order of first appearance."""
    return {value: i for i, value in enumerate(dict.fromkeys(values))}


def _codes(values: Iterable[Hashable], numbers: dict[Any, int], count: int = -1) -> np.ndarray:
    """The number of each value."""
    return np.fromiter(map(numbers.__getitem__, values), np.int64, count)


def _ints(values: Iterable[int], count: int) -> np.ndarray:
    return np.fromiter(values, np.int64, count)


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
    org_track: dict[str, np.ndarray]       # track-record component and its parts per org

    @property
    def n_needs(self) -> int:
        return len(self.needs)

    @property
    def n_offers(self) -> int:
        return len(self.offers)


def build_columns(needs: Sequence[Need], offers: Sequence[Offer],
                  track_records: dict[str, TrackRecord] | None = None) -> Columns:
    """Number every code and lay the inputs out as arrays."""
    # Every column is read with map() over C-level getters: no Python frame per record.
    regions = RegionTable()
    kind_unit = attrgetter("kind", "unit")
    need_groups, offer_groups = list(map(kind_unit, needs)), list(map(kind_unit, offers))
    group_ids = _numbering(chain(need_groups, offer_groups))
    need_topics = list(map(attrgetter("topics"), needs))
    offer_topics = list(map(attrgetter("topics"), offers))
    topic_ids = _numbering(chain(chain.from_iterable(need_topics),
                                 chain.from_iterable(offer_topics)))
    by_org = dict(zip(map(attrgetter("organisation.id"), offers),
                      map(attrgetter("organisation"), offers), strict=True))
    org_ids = {org_id: i for i, org_id in enumerate(by_org)}
    organisations = list(by_org.values())

    # --- needs
    n_group = _codes(need_groups, group_ids)
    n_quantity = _ints(map(attrgetter("quantity"), needs), len(needs))
    n_priority = _ints(map(attrgetter("priority"), needs), len(needs))
    n_start = _ints(map(date.toordinal, map(attrgetter("window_start"), needs)), len(needs))
    n_end = _ints(map(date.toordinal, map(attrgetter("window_end"), needs)), len(needs))
    n_region = regions.add_all(list(map(attrgetter("region"), needs)))
    accepted = list(map(attrgetter("accepted_modes"), needs))
    n_accepts = np.zeros((len(needs), len(MODES)), dtype=bool)
    for i, mode in enumerate(MODES):
        n_accepts[:, i] = np.fromiter(map(methodcaller("__contains__", mode), accepted), bool,
                                      len(needs))
    n_single = np.fromiter(map(attrgetter("single_offer"), needs), bool, len(needs))
    nt_need = _ragged(need_topics)
    nt_topic = _codes(chain.from_iterable(need_topics), topic_ids, len(nt_need))

    # --- offers
    o_group = _codes(offer_groups, group_ids)
    o_remaining = _ints(map(attrgetter("remaining"), offers), len(offers))
    o_start = _ints(map(date.toordinal, map(attrgetter("available_from"), offers)), len(offers))
    o_end = _ints(map(date.toordinal, map(attrgetter("available_to"), offers)), len(offers))
    o_mode = _codes(map(attrgetter("mode"), offers), {m: i for i, m in enumerate(MODES)},
                    len(offers))
    o_org = _codes(map(attrgetter("organisation.id"), offers), org_ids, len(offers))
    ot_offer = _ragged(offer_topics)
    ot_topic = _codes(chain.from_iterable(offer_topics), topic_ids, len(ot_offer))
    delivery = list(map(attrgetter("delivery_regions"), offers))
    od_offer = _ragged(delivery)
    od_region = regions.add_all(list(chain.from_iterable(delivery)))
    operating = list(map(attrgetter("operating_regions"), organisations))
    ring_org = _ragged(operating)
    ring_region = regions.add_all(list(chain.from_iterable(operating)))
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
    org_track = track_table([records.get(org_id) for org_id in org_ids])

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
