"""The assignment: most priority-weighted demand covered first, then the best score; exact."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from scipy.optimize import OptimizeResult

from services.matching.engine import match
from services.matching.engine import solver as solver_module
from tests.matching.engine.factories import (
    JAKARTA,
    KOTA_BEKASI,
    MARGAHAYU,
    MUSTIKASARI,
    PADURENAN,
    make_need,
    make_offer,
    make_org,
    weighted_coverage,
)


def assigned(result) -> dict[tuple[str, str], int]:  # type: ignore[no-untyped-def]
    return {(p.need_id, p.offer_id): p.quantity for p in result.proposals}


def test_a_scarce_offer_goes_to_the_higher_priority_need_even_if_it_scores_lower() -> None:
    offer = make_offer(remaining=10, delivery_regions=[KOTA_BEKASI])
    urgent = make_need(priority=5, region=MARGAHAYU, description="kelas lain")
    close = make_need(priority=1, region=MUSTIKASARI,
                      description="Narasumber kewirausahaan usaha mikro")
    result = match([close, urgent], [offer])
    assert assigned(result) == {(urgent.id, offer.id): 10}
    assert result.covered == {urgent.id: 10, close.id: 0}


def test_coverage_is_never_traded_for_a_better_score() -> None:
    """Need A can only use offer X. Need B prefers X (its own kelurahan) but can use Y:
    the engine sends B to Y so that both are covered."""
    x = make_offer(remaining=10, delivery_regions=[MUSTIKASARI])
    y = make_offer(remaining=10, delivery_regions=[KOTA_BEKASI],
                   topics=["kewirausahaan", "parenting"], available_from=date(2027, 2, 1))
    a = make_need(region=MUSTIKASARI, window_start=date(2027, 1, 1),
                  window_end=date(2027, 1, 31))   # before Y is available
    b = make_need(region=MUSTIKASARI)
    result = match([a, b], [x, y])
    assert assigned(result) == {(a.id, x.id): 10, (b.id, y.id): 10}
    b_alone = match([b], [x, y])
    assert assigned(b_alone) == {(b.id, x.id): 10}  # on its own, B takes the closer offer


def test_between_equal_coverages_the_better_scoring_offer_wins() -> None:
    need = make_need(quantity=10, region=MUSTIKASARI)
    near = make_offer(remaining=10, delivery_regions=[MUSTIKASARI])
    far = make_offer(remaining=10, delivery_regions=[KOTA_BEKASI])
    assert assigned(match([need], [far, near])) == {(need.id, near.id): 10}


def test_a_need_is_split_across_offers_when_one_is_not_enough() -> None:
    need = make_need(quantity=10)
    a, b = make_offer(remaining=6), make_offer(remaining=6)
    result = match([need], [a, b])
    assert sum(assigned(result).values()) == 10
    assert set(assigned(result)) == {(need.id, a.id), (need.id, b.id)}
    assert result.covered[need.id] == 10


def test_no_offer_gives_more_than_it_has_left() -> None:
    offer = make_offer(remaining=7)
    needs = [make_need(quantity=5) for _ in range(3)]
    result = match(needs, [offer])
    assert sum(p.quantity for p in result.proposals) == 7
    assert result.stats["demand_covered"] == {"trainer/sessions": 7}
    assert result.stats["demand_total"] == {"trainer/sessions": 15}


def test_a_single_offer_need_comes_whole_from_one_offer_or_not_at_all() -> None:
    need = make_need(quantity=10, single_offer=True)
    small, big = make_offer(remaining=6), make_offer(remaining=12)
    assert assigned(match([need], [small, make_offer(remaining=6)])) == {}
    assert assigned(match([need], [small, big])) == {(need.id, big.id): 10}


def test_single_offer_needs_are_solved_exactly_where_the_flow_would_split_them() -> None:
    """Offers A and B have 10 each. S (single-offer, 10) can use either; N1 (5) only A, N2
    (5) only B. The plain flow covers all 20 by splitting S 5 + 5, which S forbids. The best
    allowed is S whole from one offer and the other small need from the other: 15."""
    a = make_offer(remaining=10, delivery_regions=[MUSTIKASARI, PADURENAN])
    b = make_offer(remaining=10, delivery_regions=[MUSTIKASARI, MARGAHAYU])
    s = make_need(quantity=10, single_offer=True, region=MUSTIKASARI)
    n1 = make_need(quantity=5, region=PADURENAN)
    n2 = make_need(quantity=5, region=MARGAHAYU)
    result = match([s, n1, n2], [a, b])
    proposals = assigned(result)
    assert sum(result.covered.values()) == 15
    assert result.covered[s.id] == 10
    assert sum(1 for need, _ in proposals if need == s.id) == 1
    assert result.stats["groups"][0]["method"] == "min_cost_flow+milp"


def test_single_offer_needs_and_priorities_together() -> None:
    """The MILP also puts priority first: the urgent single-offer need gets the big offer."""
    big = make_offer(remaining=10)
    urgent = make_need(quantity=10, single_offer=True, priority=5)
    others = [make_need(quantity=5, priority=2), make_need(quantity=5, priority=2)]
    result = match([*others, urgent], [big, make_offer(remaining=4)])
    assert result.covered[urgent.id] == 10
    assert weighted_coverage(result, [*others, urgent]) == 5 * 10 + 2 * 4


def test_rupiah_amounts_up_to_rp_100_miliar_are_exact() -> None:
    """Large funding amounts with no common factor: no overflow, exact optimum."""
    def fund(remaining: int, region: str = KOTA_BEKASI):  # type: ignore[no-untyped-def]
        return make_offer(kind="funding", unit="rupiah", remaining=remaining,
                          topics=["sarana_prasarana"], delivery_regions=[region])
    def need(quantity: int, priority: int):  # type: ignore[no-untyped-def]
        return make_need(kind="funding", unit="rupiah", quantity=quantity, priority=priority,
                         topics=["sarana_prasarana"])
    needs = [need(99_999_999_977, 5), need(73_000_000_001, 1), need(1_234_567, 3)]
    offers = [fund(100_000_000_000), fund(60_000_000_003), fund(7)]
    result = match(needs, offers)
    assert result.covered[needs[0].id] == 99_999_999_977
    assert result.covered[needs[2].id] == 1_234_567
    assert result.covered[needs[1].id] == 160_000_000_010 - 99_999_999_977 - 1_234_567
    assert result.stats["groups"][0]["scale"] == 1


def test_each_kind_and_unit_is_solved_on_its_own() -> None:
    needs = [make_need(), make_need(kind="module", unit="seats", quantity=30),
             make_need(kind="facility", unit="units", quantity=2,
                       topics=["sarana_prasarana"])]
    offers = [make_offer(), make_offer(kind="module", unit="seats", remaining=100),
              make_offer(kind="facility", unit="units", remaining=5,
                         topics=["sarana_prasarana"])]
    result = match(needs, offers)
    assert {(g["kind"], g["unit"]) for g in result.stats["groups"]} == {
        ("trainer", "sessions"), ("module", "seats"), ("facility", "units")}
    assert result.covered == {needs[0].id: 10, needs[1].id: 30, needs[2].id: 2}
    assert result.stats["objective"]["priority_weighted_coverage"] == {
        "trainer/sessions": 30, "module/seats": 90, "facility/units": 6}


def test_when_costs_are_out_of_range_the_score_resolution_drops_and_coverage_stays_exact(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = solver_module.run_min_cost_flow
    seen: list[int] = []

    def refusing(problem):  # type: ignore[no-untyped-def]
        seen.append(problem.score_resolution)
        if problem.score_resolution > 10:
            return int(solver_module._SMCF.BAD_COST_RANGE), None
        return real(problem)

    monkeypatch.setattr(solver_module, "run_min_cost_flow", refusing)
    offer = make_offer(remaining=10, delivery_regions=[KOTA_BEKASI])
    urgent, other = make_need(priority=4, region=MARGAHAYU), make_need(priority=2)
    result = match([other, urgent], [offer])
    assert seen == [1000, 100, 10]
    assert result.stats["groups"][0]["score_resolution"] == 10
    assert assigned(result) == {(urgent.id, offer.id): 10}


def test_progress_is_reported_phase_by_phase() -> None:
    calls: list[tuple[str, float]] = []
    match([make_need(), make_need(kind="module", unit="seats")],
          [make_offer(), make_offer(kind="module", unit="seats")],
          progress=lambda phase, fraction: calls.append((phase, fraction)))
    phases = list(dict.fromkeys(phase for phase, _ in calls))
    assert phases == ["prepare", "candidates", "scoring", "solve", "explanations"]
    for phase in phases:
        fractions = [f for p, f in calls if p == phase]
        assert fractions[0] == 0.0 and fractions[-1] == 1.0
        assert fractions == sorted(fractions)


def test_the_run_reports_its_figures() -> None:
    needs = [make_need(quantity=10), make_need(quantity=4, region=JAKARTA)]
    offers = [make_offer(remaining=6), make_offer(remaining=6, organisation=make_org())]
    stats = match(needs, offers).stats
    assert (stats["needs"], stats["offers"], stats["candidate_edges"]) == (2, 2, 2)
    assert stats["demand_total"] == {"trainer/sessions": 14}
    assert stats["demand_covered"] == {"trainer/sessions": 10}
    assert stats["needs_fully_covered"] == 1
    assert stats["objective"]["priority_weighted_coverage"] == {"trainer/sessions": 30}
    assert set(stats["seconds"]) == {"prepare", "candidates", "scoring", "solve",
                                     "explanations", "total"}
    assert all(value >= 0 for value in stats["seconds"].values())


def test_nothing_to_match() -> None:
    assert match([], []).proposals == []
    need = make_need()
    result = match([need], [])
    assert result.covered == {need.id: 0}
    assert result.stats["candidate_edges"] == 0
    assert match([], [make_offer()]).stats["demand_total"] == {}


def _split_instance() -> dict:  # type: ignore[type-arg]
    """Single-offer need S (10) on offers A or B (10 each); need N (5) only on A. Scores all
    equal. Local indices: needs S=0, N=1; offers A=0, B=1; edges S-A, S-B, N-A."""
    return {
        "group": ("trainer", "sessions"), "edge": np.arange(3),
        "need_local": np.array([0, 0, 1]), "offer_local": np.array([0, 1, 0]),
        "qs": np.array([10, 5]), "rs": np.array([10, 10]), "p": np.array([3, 3]),
        "one": np.array([True, False]), "broken": np.array([True, False]),
        "score": np.full(3, 0.5), "scale": 1, "resolution": 1000, "time_limit": None,
    }


def test_a_repair_that_reaches_the_flow_bound_is_optimal_without_a_milp() -> None:
    """The flow split S 4 + 6: moving it whole to B (which carried more) leaves A for N, and
    the value equals the flow's, which bounds every allowed assignment."""
    info: dict = {"proven_optimal": True}
    flows = solver_module._place_single_offer_needs(
        relaxed=np.array([4, 6, 5]), info=info, **_split_instance())
    assert flows.tolist() == [0, 10, 5]
    assert info["method"] == "min_cost_flow+repair"
    assert info["proven_optimal"] is True


def test_when_the_repair_falls_short_the_milp_decides() -> None:
    """Split 5 + 5, the repair tries A first and strands N: the MILP finds B for S."""
    info: dict = {"proven_optimal": True}
    flows = solver_module._place_single_offer_needs(
        relaxed=np.array([5, 5, 5]), info=info, **_split_instance())
    assert flows.tolist() == [0, 10, 5]
    assert info["method"] == "min_cost_flow+milp"
    assert info["proven_optimal"] is True


def test_a_milp_cut_short_by_its_time_limit_is_reported_not_hidden(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_time(*args, **kwargs):  # type: ignore[no-untyped-def]
        return OptimizeResult(status=1, x=None, message="Time limit reached")

    monkeypatch.setattr(solver_module, "milp", out_of_time)
    info: dict = {"proven_optimal": True}
    flows = solver_module._place_single_offer_needs(
        relaxed=np.array([5, 5, 5]), info=info, **{**_split_instance(), "time_limit": 1.0})
    assert flows.tolist() == [10, 0, 0]  # the repair stands: S whole from A
    assert info["proven_optimal"] is False
    assert info["coverage_proven_optimal"] is False
    assert info["coverage_gap_bound_pct"] == pytest.approx(100 * (45 - 30) / 45, abs=1e-4)


def test_the_run_says_whether_it_is_proven_optimal() -> None:
    result = match([make_need()], [make_offer()])
    assert result.stats["proven_optimal"] is True
    assert all(group["proven_optimal"] for group in result.stats["groups"])


def test_when_the_repair_keeps_coverage_the_milp_only_improves_the_score() -> None:
    """Coverage already at the bound after the repair: the MILP holds it and picks the
    assignment with the best score (S from A, N from B)."""
    instance = {
        **_split_instance(),
        "edge": np.arange(4),
        "need_local": np.array([0, 0, 1, 1]), "offer_local": np.array([0, 1, 0, 1]),
        "rs": np.array([10, 20]), "score": np.array([0.9, 0.1, 0.1, 0.9]),
    }
    info: dict = {"proven_optimal": True}
    flows = solver_module._place_single_offer_needs(
        relaxed=np.array([5, 5, 0, 5]), info=info, **instance)
    assert flows.tolist() == [10, 0, 0, 5]
    assert info["method"] == "min_cost_flow+milp"
    assert info["proven_optimal"] is True
