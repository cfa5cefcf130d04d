"""The matching engine: candidate generation by the hard rules, scoring, an exact solver of
the transportation problem, and explanations. Pure Python/NumPy (with OR-Tools and SciPy):
no Flask, database or Celery import, so it is tested and benchmarked on its own.

    result = match(needs, offers, weights={"proximity": 3}, track_records=records,
                   progress=lambda phase, fraction: ...)
    result.proposals   # need_id, offer_id, quantity, score, explanation (JSON-ready)
    result.covered     # need id -> quantity covered
    result.stats       # counts, demand, objective, seconds per phase, weights, solver notes

Phases, in order (`progress` reports each): prepare (inputs to columns), candidates
(candidates.py: the hard rules, as bucketed joins), scoring (scoring.py, text.py, track.py),
solve (solver.py), explanations (explain.py).

Decisions worth knowing:
- Units: a need only meets offers counted in its unit (module needs in seats do not meet
  module offers in sessions), and each (kind, unit) is solved on its own.
- Hybrid offers count as onsite for the region rule and as online for the online rule, so
  they pass where either would; accepted modes are honoured on both roads (candidates.py).
- Lexicographic objective in one min-cost flow: priority-weighted coverage is weighted by
  M = S·min(needs, offers) + 1 against scores in 1/S steps (S = 1000), which provably never
  trades coverage for score and does not grow with quantities (solver.py).
- Single-offer needs get all of their quantity from one offer or nothing: offers that cannot
  carry it all are not candidates; where the flow splits one, a repair or an exact MILP
  (HiGHS) decides (solver.py).
"""
from services.matching.engine.match import PHASES, candidates, match
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
    "Weights", "candidates", "match",
]
