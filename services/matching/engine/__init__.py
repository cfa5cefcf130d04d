"""The matching engine: candidate generation by the hard rules, scoring, an exact solver of
the transportation problem, and explanations. Pure Python/NumPy (plus OR-Tools and SciPy):
no Flask, database or Celery import, so it is tested and benchmarked on its own.

    result = match(needs, offers, weights={"proximity": 3}, track_records=records,
                   progress=lambda phase, fraction: ...)
"""
from services.matching.engine.match import PHASES, match
from services.matching.engine.model import (
    KINDS,
    MODES,
    UNITS,
    MatchResult,
    ModelError,
    Need,
    Offer,
    Organisation,
    Proposal,
    TrackRecord,
    Weights,
)
from services.matching.engine.scoring import COMPONENTS
from services.matching.engine.solver import SCORE_RESOLUTION, SolverError

__all__ = [
    "COMPONENTS", "KINDS", "MODES", "PHASES", "SCORE_RESOLUTION", "UNITS", "MatchResult",
    "ModelError", "Need", "Offer", "Organisation", "Proposal", "SolverError", "TrackRecord",
    "Weights", "match",
]
