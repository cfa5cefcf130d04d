"""Properties on random small instances (hypothesis), each checked against code written
independently of the engine's: the hard rules restated with plain strings and sets, the
optimum from a MILP over every eligible pair (SciPy HiGHS), and a greedy assignment.

- candidates are exactly the pairs that pass every rule, each once;
- no need gets more than its quantity, no offer gives more than it has left, a single-offer
  need gets all of its quantity from one offer or nothing;
- no proposal breaks a rule;
- the priority-weighted coverage equals the MILP optimum, and the total score is optimal
  among assignments with that coverage (up to the engine's score resolution);
- it is never below what the greedy assignment covers.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from services.matching.engine import SCORE_RESOLUTION, Need, Offer, Organisation, match
from services.matching.engine.candidates import candidate_edges
from services.matching.engine.columns import build_columns
from services.matching.engine.model import Weights
from services.matching.engine.scoring import score_edges
from services.matching.engine.text import term_vectors

DAY0 = date(2027, 1, 1)
# Few regions, topics and kinds, wide windows and scarce capacity: pairs are common and needs
# compete for offers, so the solver has real choices to get wrong.
NEED_REGIONS = ["32.75.11.1004", "32.75.11.1001", "32.75.01.1002", "32.16.01.2001",
                "31.71.01.1001", "32.75.11"]
DELIVERY_REGIONS = ["32.75", "32.75.11.1004", "32.75.11.1001", "32.75.01.1002", "32.75.11",
                    "32.75.01", "32.16", "32", "31.71.01", "32.75.1"]
TOPICS = ["kewirausahaan", "pemasaran_digital", "manajemen_keuangan"]
GROUPS = [("trainer", "sessions"), ("funding", "rupiah"), ("module", "seats"),
          ("module", "sessions")]
ORGS = [Organisation(id=f"org-{i}", operating_regions=regions) for i, regions in enumerate(
    [("32.75.11",), ("32.75",), (), ("32.75.01.1002", "32.16")])]
WORDS = ["pelatihan", "pemasaran", "digital", "usaha", "mikro", "keuangan", "keluarga",
         "untuk", "dan", "kelas", "modul"]
MODE_SETS = [frozenset(s) for s in ({"onsite", "online", "hybrid"}, {"onsite"}, {"online"},
                                    {"hybrid"}, {"onsite", "online"}, {"onsite", "hybrid"})]
SETTINGS = settings(max_examples=250, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MORE = settings(SETTINGS, max_examples=500)


# --- instances ------------------------------------------------------------------------------

def _amount(draw: Any, unit: str, low: int, high: int) -> int:
    if unit == "rupiah":  # large, often without a common factor
        return draw(st.integers(low, high)) * 250_000 + draw(st.sampled_from([0, 0, 1, 7]))
    return draw(st.integers(low, high))


def _window(draw: Any) -> tuple[date, date]:
    start = draw(st.integers(0, 40))
    return DAY0 + timedelta(start), DAY0 + timedelta(start + draw(st.integers(10, 60)))


@st.composite
def instances(draw: Any) -> tuple[list[Need], list[Offer]]:
    groups = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2, unique=True))
    needs = []
    for i in range(draw(st.integers(2, 9))):
        kind, unit = draw(st.sampled_from(groups))
        start, end = _window(draw)
        needs.append(Need(
            id=f"n{i}", kind=kind, unit=unit,
            topics=tuple(draw(st.lists(st.sampled_from(TOPICS), min_size=1, max_size=3,
                                       unique=True))),
            quantity=_amount(draw, unit, 1, 12), window_start=start, window_end=end,
            region=draw(st.sampled_from(NEED_REGIONS)), priority=draw(st.integers(1, 5)),
            accepted_modes=draw(st.sampled_from(MODE_SETS)),
            single_offer=draw(st.integers(0, 2)) == 0,
            excluded_organisations=frozenset(draw(st.lists(
                st.sampled_from([o.id for o in ORGS]), max_size=1))),
            description=" ".join(draw(st.lists(st.sampled_from(WORDS), max_size=5)))))
    offers = []
    for j in range(draw(st.integers(1, 7))):
        kind, unit = draw(st.sampled_from(groups))
        start, end = _window(draw)
        offers.append(Offer(
            id=f"o{j}", kind=kind, unit=unit,
            topics=tuple(draw(st.lists(st.sampled_from(TOPICS), min_size=1, max_size=3,
                                       unique=True))),
            remaining=0 if draw(st.integers(0, 9)) == 0 else _amount(draw, unit, 1, 14),
            available_from=start, available_to=end,
            mode=draw(st.sampled_from(["onsite", "hybrid", "online"])),
            delivery_regions=tuple(draw(st.lists(st.sampled_from(DELIVERY_REGIONS),
                                                 min_size=1, max_size=2, unique=True))),
            organisation=draw(st.sampled_from(ORGS)),
            description=" ".join(draw(st.lists(st.sampled_from(WORDS), max_size=5)))))
    return needs, offers


# --- the rules and the optimum, independently -------------------------------------------------

def covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + ".")


def eligible(need: Need, offer: Offer) -> bool:
    """DESIGN §5's hard rules, as documented in services/matching/engine/candidates.py."""
    if (need.kind, need.unit) != (offer.kind, offer.unit) or offer.remaining <= 0:
        return False
    if need.single_offer and offer.remaining < need.quantity:
        return False
    if offer.available_from > need.window_end or offer.available_to < need.window_start:
        return False
    if not set(need.topics) & set(offer.topics):
        return False
    if offer.organisation.id in need.excluded_organisations:
        return False
    inside = any(covers(region, need.region) for region in offer.delivery_regions)
    modes = need.accepted_modes
    in_person = inside and ((offer.mode == "onsite" and "onsite" in modes)
                            or (offer.mode == "hybrid" and bool({"onsite", "hybrid"} & modes)))
    online = offer.mode in ("online", "hybrid") and "online" in modes
    return in_person or online


def optimum(needs: list[Need], offers: list[Offer], pairs: list[tuple[int, int]],
            score: dict[tuple[int, int], float] | None = None,
            coverage: int | None = None) -> tuple[int, float]:
    """max priority-weighted coverage (or, given `coverage`, max score holding it)."""
    if not pairs:
        return 0, 0.0
    k = len(pairs)
    single = np.array([needs[n].single_offer for n, _ in pairs])
    q = np.array([needs[n].quantity for n, _ in pairs], dtype=float)
    r = np.array([offers[o].remaining for _, o in pairs], dtype=float)
    per_var = np.where(single, q, 1.0)                      # units carried by one unit of var
    upper = np.where(single, 1.0, np.minimum(q, r))
    cover = np.array([needs[n].priority for n, _ in pairs]) * per_var
    cols = np.arange(k)
    need_rows = csr_array((np.ones(k), ([n for n, _ in pairs], cols)), shape=(len(needs), k))
    offer_rows = csr_array((per_var, ([o for _, o in pairs], cols)), shape=(len(offers), k))
    need_cap = [1.0 if n.single_offer else float(n.quantity) for n in needs]
    constraints = [LinearConstraint(need_rows, -np.inf, need_cap),
                   LinearConstraint(offer_rows, -np.inf, [float(o.remaining) for o in offers])]
    objective = cover
    if coverage is not None:
        constraints.append(LinearConstraint(cover.reshape(1, -1), coverage - 0.5, np.inf))
        objective = np.array([score[p] for p in pairs]) * per_var  # type: ignore[index]
    result = milp(-objective, integrality=np.ones(k), bounds=Bounds(0, upper),
                  constraints=constraints, options={"mip_rel_gap": 0.0})
    assert result.status == 0, result.message
    x = np.rint(result.x)
    return round(float(cover @ x)), float((objective * x).sum())


def greedy(needs: list[Need], offers: list[Offer], pairs: list[tuple[int, int]]) -> int:
    """Highest priority first, take what is left; single-offer needs whole or not at all."""
    left_need = [n.quantity for n in needs]
    left_offer = [o.remaining for o in offers]
    covered = 0
    for n, o in sorted(pairs, key=lambda p: (-needs[p[0]].priority, p)):
        if needs[n].single_offer:
            take = needs[n].quantity if (left_need[n] == needs[n].quantity
                                         and left_offer[o] >= needs[n].quantity) else 0
        else:
            take = min(left_need[n], left_offer[o])
        left_need[n] -= take
        left_offer[o] -= take
        covered += needs[n].priority * take
    return covered


def engine_scores(needs: list[Need], offers: list[Offer]) -> dict[tuple[int, int], float]:
    """The engine's score of every candidate pair (the score stage needs the same scores)."""
    cols = build_columns(needs, offers)
    edges = candidate_edges(cols)
    text = term_vectors([n.description for n in needs]
                        + [f"{o.title} {o.description}" for o in offers])
    _, score = score_edges(cols, edges, Weights(), text)
    return dict(zip(zip(edges.need.tolist(), edges.offer.tolist(), strict=True),
                    score.tolist(), strict=True))


# --- properties ---------------------------------------------------------------------------------

@SETTINGS
@given(instances())
def test_candidates_are_exactly_the_pairs_that_pass_every_rule(
        instance: tuple[list[Need], list[Offer]]) -> None:
    needs, offers = instance
    edges = candidate_edges(build_columns(needs, offers))
    found = list(zip(edges.need.tolist(), edges.offer.tolist(), strict=True))
    expected = {(i, j) for i, n in enumerate(needs) for j, o in enumerate(offers)
                if eligible(n, o)}
    assert len(found) == len(set(found))
    assert set(found) == expected


@MORE
@given(instances())
def test_the_assignment_is_feasible_lawful_optimal_and_beats_greedy(
        instance: tuple[list[Need], list[Offer]]) -> None:
    needs, offers = instance
    result = match(needs, offers)
    need_at = {n.id: i for i, n in enumerate(needs)}
    offer_at = {o.id: j for j, o in enumerate(offers)}

    # feasible
    given_to: dict[str, list[int]] = {}
    taken: dict[str, int] = {}
    for p in result.proposals:
        assert p.quantity > 0
        given_to.setdefault(p.need_id, []).append(p.quantity)
        taken[p.offer_id] = taken.get(p.offer_id, 0) + p.quantity
    for need in needs:
        got = given_to.get(need.id, [])
        assert sum(got) <= need.quantity
        assert result.covered[need.id] == sum(got)
        if need.single_offer:
            assert got in ([], [need.quantity])
    for offer in offers:
        assert taken.get(offer.id, 0) <= offer.remaining

    # lawful
    for p in result.proposals:
        assert eligible(needs[need_at[p.need_id]], offers[offer_at[p.offer_id]])

    # optimal: coverage first, then score with coverage held
    pairs = [(i, j) for i, n in enumerate(needs) for j, o in enumerate(offers) if eligible(n, o)]
    best, _ = optimum(needs, offers, pairs)
    engine = sum(needs[need_at[p.need_id]].priority * p.quantity for p in result.proposals)
    assert engine == best
    if pairs:
        score = engine_scores(needs, offers)
        _, best_score = optimum(needs, offers, pairs, score, best)
        engine_score = sum(score[need_at[p.need_id], offer_at[p.offer_id]] * p.quantity
                           for p in result.proposals)
        slack = sum(n.quantity for n in needs) / SCORE_RESOLUTION + 1e-6 * (1 + best_score)
        assert engine_score >= best_score - slack

    # never below greedy
    baseline = greedy(needs, offers, pairs)
    assert engine >= baseline
    # what the instance exercised (pytest --hypothesis-show-statistics)
    event(f"proposals: {min(len(result.proposals), 5)}+")
    if engine > baseline:
        event("greedy below the optimum")
    for group in result.stats["groups"]:
        if group["method"] != "min_cost_flow":
            event(f"single-offer needs placed by {group['method']}")
    if len(pairs) > len(needs):
        event("needs compete for offers")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_bucketed_candidates_match_brute_force_on_larger_instances(seed: int) -> None:
    rng = np.random.default_rng(seed)
    needs, offers = [], []
    for i in range(60):
        kind, unit = GROUPS[rng.integers(2)]
        start = DAY0 + timedelta(int(rng.integers(0, 60)))
        needs.append(Need(
            id=f"n{i}", kind=kind, unit=unit, quantity=int(rng.integers(1, 9)),
            topics=tuple(rng.choice(TOPICS, size=int(rng.integers(1, 4)), replace=False)),
            window_start=start, window_end=start + timedelta(int(rng.integers(0, 40))),
            region=NEED_REGIONS[rng.integers(len(NEED_REGIONS))],
            accepted_modes=MODE_SETS[rng.integers(len(MODE_SETS))],
            single_offer=bool(rng.random() < 0.2),
            excluded_organisations=frozenset([ORGS[rng.integers(len(ORGS))].id]
                                             if rng.random() < 0.2 else [])))
    for j in range(80):
        kind, unit = GROUPS[rng.integers(2)]
        start = DAY0 + timedelta(int(rng.integers(0, 60)))
        offers.append(Offer(
            id=f"o{j}", kind=kind, unit=unit, remaining=int(rng.integers(0, 9)),
            topics=tuple(rng.choice(TOPICS, size=int(rng.integers(1, 4)), replace=False)),
            available_from=start, available_to=start + timedelta(int(rng.integers(0, 40))),
            mode=["onsite", "online", "hybrid"][rng.integers(3)],
            delivery_regions=tuple(rng.choice(DELIVERY_REGIONS, size=int(rng.integers(0, 4)),
                                              replace=False)),
            organisation=ORGS[rng.integers(len(ORGS))]))
    edges = candidate_edges(build_columns(needs, offers))
    found = list(zip(edges.need.tolist(), edges.offer.tolist(), strict=True))
    assert len(found) == len(set(found))
    assert set(found) == {(i, j) for i, n in enumerate(needs) for j, o in enumerate(offers)
                          if eligible(n, o)}
