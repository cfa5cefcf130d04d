"""The track-record component: coordinators' ratings and the share of approved proposals
that were fulfilled, each shrunk toward a prior (a Bayesian mean), so that a partner with no
history starts at the prior instead of at 0 or 1, and a long record counts for more than a
single rating.

    rating     = (RATING_PRIOR * RATING_STRENGTH + mean_rating * ratings)
                 / (RATING_STRENGTH + ratings)
    fulfilment = (FULFILMENT_PRIOR * FULFILMENT_STRENGTH + fulfilled)
                 / (FULFILMENT_STRENGTH + approved)
    value      = RATING_SHARE * (rating - 1) / 4 + (1 - RATING_SHARE) * fulfilment, in [0, 1]
"""
from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from services.matching.engine.model import TrackRecord

# A new partner counts as rated RATING_PRIOR (of 5) by RATING_STRENGTH coordinators, and as
# having fulfilled FULFILMENT_PRIOR of FULFILMENT_STRENGTH approved proposals.
RATING_PRIOR, RATING_STRENGTH = 3.5, 5.0
FULFILMENT_PRIOR, FULFILMENT_STRENGTH = 0.8, 5.0
RATING_SHARE = 0.7  # the rest is fulfilment

_NONE = TrackRecord()


def track_table(records: Sequence[TrackRecord | None]) -> dict[str, np.ndarray]:
    """Per organisation: the component (`value`) and what it is made of."""
    rows = [record or _NONE for record in records]

    def column(name: str) -> np.ndarray:
        return np.fromiter(map(attrgetter(name), rows), np.float64, len(rows))

    mean, ratings = column("mean_rating"), column("ratings")
    fulfilled, approved = column("fulfilled"), column("approved")
    rating = (RATING_PRIOR * RATING_STRENGTH + mean * ratings) / (RATING_STRENGTH + ratings)
    fulfilment = np.clip((FULFILMENT_PRIOR * FULFILMENT_STRENGTH + fulfilled)
                         / (FULFILMENT_STRENGTH + approved), 0.0, 1.0)
    value = np.clip(RATING_SHARE * (rating - 1.0) / 4.0 + (1.0 - RATING_SHARE) * fulfilment,
                    0.0, 1.0)
    return {"value": value, "shrunk_rating": rating, "shrunk_fulfilment": fulfilment,
            "mean_rating": mean, "ratings": ratings, "fulfilled": fulfilled,
            "approved": approved, "known": np.fromiter((r is not None for r in records), bool,
                                                       len(records))}
