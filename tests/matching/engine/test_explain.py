"""Every proposal says why: each hard rule passed, with its values, and each score component
with its value and weight, as JSON."""
from __future__ import annotations

import json
from datetime import date

import pytest

from services.matching.engine import COMPONENTS, match
from tests.matching.engine.factories import (
    JAKARTA,
    KOTA_BEKASI,
    MUSTIKAJAYA,
    MUSTIKASARI,
    make_need,
    make_offer,
    make_org,
)

RULES = {"same_kind", "same_unit", "offer_active", "capacity", "windows_overlap", "delivery",
         "shared_topic", "not_excluded"}


def test_a_proposal_explains_every_rule_with_the_values_that_passed_it() -> None:
    org = make_org(operating_regions=[MUSTIKAJAYA])
    need = make_need(quantity=8, topics=["kewirausahaan", "pemasaran_digital"],
                     window_start=date(2027, 3, 1), window_end=date(2027, 5, 31),
                     excluded_organisations=["org-someone-else"])
    offer = make_offer(remaining=12, topics=["pemasaran_digital"], organisation=org,
                       delivery_regions=[MUSTIKAJAYA], available_from=date(2027, 4, 1),
                       available_to=date(2027, 12, 31))
    proposal = match([need], [offer]).proposals[0]
    why = proposal.explanation
    rules = why["rules"]
    assert set(rules) == RULES
    assert all(rule["passed"] is True for rule in rules.values())
    assert rules["same_kind"]["kind"] == "trainer"
    assert rules["same_unit"]["unit"] == "sessions"
    assert rules["capacity"] == {"passed": True, "offer_remaining": 12, "need_quantity": 8,
                                 "single_offer": False}
    assert rules["windows_overlap"]["need_window"] == "2027-03-01/2027-05-31"
    assert rules["windows_overlap"]["offer_window"] == "2027-04-01/2027-12-31"
    assert rules["windows_overlap"]["overlap"] == "2027-04-01/2027-05-31"
    assert rules["delivery"] == {"passed": True, "road": "region", "need_region": MUSTIKASARI,
                                 "covered_by": MUSTIKAJAYA, "offer_mode": "onsite",
                                 "accepted_modes": ["onsite"]}
    assert rules["shared_topic"]["shared"] == ["pemasaran_digital"]
    assert rules["not_excluded"] == {"passed": True, "organisation_id": org.id,
                                     "excluded_organisations": 1}
    assert (why["quantity"], why["unit"]) == (8, "sessions")
    assert why["score"]["components"]["topic_fit"]["need_topics"] == [
        "kewirausahaan", "pemasaran_digital"]


def test_a_proposal_explains_every_score_component_with_its_weight() -> None:
    proposal = match([make_need()], [make_offer()], weights={"ring1": 2.5}).proposals[0]
    score = proposal.explanation["score"]
    assert set(score["components"]) == set(COMPONENTS)
    for part in score["components"].values():
        assert {"value", "weight", "contribution"} <= set(part)
    assert score["components"]["ring1"]["weight"] == 2.5
    assert score["value"] == proposal.score
    assert sum(p["contribution"] for p in score["components"].values()) == pytest.approx(
        score["value"], abs=1e-3)


def test_proximity_names_the_region_that_brought_the_offer() -> None:
    near = match([make_need()], [make_offer(delivery_regions=[KOTA_BEKASI])]).proposals[0]
    proximity = near.explanation["score"]["components"]["proximity"]
    assert (proximity["level"], proximity["region"], proximity["relation"]) == (
        "kabupaten_kota", KOTA_BEKASI, "two levels up")


def test_an_online_match_says_so() -> None:
    need = make_need(region=JAKARTA, accepted_modes={"online"})
    why = match([need], [make_offer(mode="online", delivery_regions=[])]).proposals[0].explanation
    assert why["rules"]["delivery"]["road"] == "online"
    assert why["rules"]["delivery"]["covered_by"] is None
    assert why["score"]["components"]["proximity"]["relation"] == "online only"


def test_a_single_offer_need_says_so_in_its_capacity_rule() -> None:
    need = make_need(quantity=10, single_offer=True)
    why = match([need], [make_offer(remaining=10)]).proposals[0].explanation
    assert why["rules"]["capacity"]["single_offer"] is True
    assert why["rules"]["capacity"]["offer_remaining"] >= why["rules"]["capacity"][
        "need_quantity"]


def test_the_whole_result_is_json() -> None:
    needs = [make_need(), make_need(region=JAKARTA, accepted_modes={"online"})]
    offers = [make_offer(), make_offer(mode="hybrid", delivery_regions=[MUSTIKAJAYA])]
    result = match(needs, offers, track_records={offers[0].organisation.id: {
        "mean_rating": 4.0, "ratings": 3, "fulfilled": 2, "approved": 2}})
    text = json.dumps(result.to_dict())
    again = json.loads(text)
    assert len(again["proposals"]) == len(result.proposals) >= 2
    assert again["stats"]["weights"] == result.stats["weights"]


def test_explanations_keep_lists_whole_when_every_record_has_as_many_topics() -> None:
    """Every need and offer with exactly two topics and two modes: no list is mistaken for a
    row of a table while explanations are gathered."""
    needs = [make_need(topics=["kewirausahaan", "parenting"],
                       accepted_modes={"onsite", "online"}) for _ in range(3)]
    offers = [make_offer(topics=["parenting", "kewirausahaan"]) for _ in range(2)]
    for proposal in match(needs, offers).proposals:
        why = proposal.explanation
        assert why["rules"]["delivery"]["accepted_modes"] == ["onsite", "online"]
        assert why["score"]["components"]["topic_fit"]["need_topics"] == [
            "kewirausahaan", "parenting"]
        assert why["rules"]["shared_topic"]["shared"] == ["kewirausahaan", "parenting"]
