"""`candidates`: every pair the hard rules allow, scored and explained as `match` would,
without solving: the alternatives a reviewer weighs a proposal against."""
from __future__ import annotations

from services.matching.engine import candidates, match
from tests.matching.engine.factories import (
    JAKARTA,
    MUSTIKASARI,
    make_need,
    make_offer,
    make_org,
    pairs,
)


def test_every_candidate_pair_is_listed_per_need_best_first() -> None:
    needs = [make_need(quantity=6), make_need(quantity=3, topics=("parenting",))]
    offers = [make_offer(remaining=4), make_offer(remaining=20, delivery_regions=(MUSTIKASARI,)),
              make_offer(topics=("parenting", "kewirausahaan")),
              make_offer(delivery_regions=(JAKARTA,))]  # out of reach: no candidate
    found = candidates(needs, offers)
    assert sorted((c.need_id, c.offer_id) for c in found) == sorted(pairs(needs, offers))
    for need in needs:
        scores = [c.score for c in found if c.need_id == need.id]
        assert scores == sorted(scores, reverse=True)
    assert [c.need_id for c in found] == sorted(c.need_id for c in found)


def test_each_candidate_says_what_the_offer_alone_could_give() -> None:
    need = make_need(quantity=6)
    small, large = make_offer(remaining=4), make_offer(remaining=20)
    quantities = {c.offer_id: c.quantity for c in candidates([need], [small, large])}
    assert quantities == {small.id: 4, large.id: 6}


def test_a_proposed_pair_has_the_same_score_and_explanation_as_its_candidate() -> None:
    need = make_need(quantity=6, accepted_modes={"onsite", "online"})
    offers = [make_offer(remaining=10, organisation=make_org(operating_regions=(MUSTIKASARI,))),
              make_offer(remaining=10, mode="online")]
    weights = {"proximity": 3.0}
    proposed = match([need], offers, weights=weights).proposals
    assert len(proposed) == 1
    by_offer = {c.offer_id: c for c in candidates([need], offers, weights=weights)}
    assert set(by_offer) == {o.id for o in offers}
    chosen = by_offer[proposed[0].offer_id]
    assert chosen.score == proposed[0].score
    assert chosen.explanation["score"] == proposed[0].explanation["score"]
    assert chosen.explanation["rules"] == proposed[0].explanation["rules"]


def test_no_candidates_is_an_empty_list() -> None:
    assert candidates([make_need()], [make_offer(kind="module")]) == []
    assert candidates([], []) == []
