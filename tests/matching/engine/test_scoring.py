"""Score components: each in [0, 1], each what an officer would expect from the two records."""
from __future__ import annotations

from datetime import date

import pytest

from services.matching.engine import COMPONENTS, ModelError, TrackRecord, Weights, match
from tests.matching.engine.factories import (
    JAKARTA,
    KOTA_BEKASI,
    MUSTIKAJAYA,
    MUSTIKASARI,
    PROVINCE,
    components,
    make_need,
    make_offer,
    make_org,
)


def test_topic_fit_is_the_share_of_topics_in_common() -> None:
    need = make_need(topics=["kewirausahaan", "pemasaran_digital"])
    same = components(need, make_offer(topics=["pemasaran_digital", "kewirausahaan"]))
    assert same["topic_fit"]["value"] == 1.0
    third = components(need, make_offer(topics=["pemasaran_digital", "literasi_digital"]))
    assert third["topic_fit"]["value"] == pytest.approx(1 / 3, abs=1e-4)
    assert third["topic_fit"]["offer_topics"] == ["pemasaran_digital", "literasi_digital"]


def test_text_fit_rewards_descriptions_about_the_same_thing() -> None:
    need = make_need(description="Pelatihan pemasaran digital untuk usaha mikro ibu-ibu")
    close = components(need, make_offer(
        title="Kelas pemasaran digital",
        description="Pelatihan pemasaran digital dan toko daring untuk usaha mikro"))
    far = components(need, make_offer(title="Narasumber",
                                      description="Materi gizi keluarga dan posyandu"))
    assert close["text_fit"]["value"] > 0.4
    assert far["text_fit"]["value"] == 0.0
    assert {"pemasaran", "digital", "mikro"} <= set(close["text_fit"]["shared_terms"])


def test_text_fit_ignores_function_words_and_case() -> None:
    need = make_need(description="untuk dan yang di dengan")
    assert components(need, make_offer(description="UNTUK dan YANG di dengan"))[
        "text_fit"]["value"] == 0.0
    need = make_need(description="Literasi Digital")
    assert components(need, make_offer(title="", description="literasi digital"))[
        "text_fit"]["value"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(("delivery", "expected"), [
    (MUSTIKASARI, 1.0),    # the need's own kelurahan
    (MUSTIKAJAYA, 0.75),   # its kecamatan
    (KOTA_BEKASI, 0.5),    # its city
    (PROVINCE, 0.25),      # the whole province
])
def test_proximity_is_higher_the_closer_the_delivery_region(delivery: str,
                                                            expected: float) -> None:
    need = make_need(region=MUSTIKASARI)
    assert components(need, make_offer(delivery_regions=[delivery]))["proximity"][
        "value"] == expected


def test_proximity_of_online_delivery_is_lowest() -> None:
    online = components(make_need(region=JAKARTA, accepted_modes={"online"}),
                        make_offer(mode="online", delivery_regions=[]))
    assert online["proximity"]["value"] == 0.1
    assert online["proximity"]["level"] == "online"
    # a hybrid offer in the need's kecamatan, for a need that only takes online classes,
    # comes online: being nearby earns nothing
    hybrid = components(make_need(region=MUSTIKASARI, accepted_modes={"online"}),
                        make_offer(mode="hybrid", delivery_regions=[MUSTIKAJAYA]))
    assert hybrid["proximity"]["value"] == 0.1
    # ... but for a need that also takes onsite classes it can come in person
    hybrid = components(make_need(region=MUSTIKASARI, accepted_modes={"onsite", "online"}),
                        make_offer(mode="hybrid", delivery_regions=[MUSTIKAJAYA]))
    assert hybrid["proximity"]["value"] == 0.75


def test_ring1_rewards_a_company_helping_its_own_neighbourhood() -> None:
    need = make_need(region=MUSTIKASARI)
    home = components(need, make_offer(delivery_regions=[KOTA_BEKASI],
                                       organisation=make_org(operating_regions=[MUSTIKAJAYA])))
    assert home["ring1"]["value"] == 1.0
    assert home["ring1"]["operating_region"] == MUSTIKAJAYA
    away = components(need, make_offer(delivery_regions=[KOTA_BEKASI],
                                       organisation=make_org(operating_regions=["32.75.01"])))
    assert away["ring1"]["value"] == 0.0
    assert away["ring1"]["operating_region"] is None


def test_window_fit_is_the_share_of_the_need_window_the_offer_covers() -> None:
    need = make_need(window_start=date(2027, 2, 1), window_end=date(2027, 2, 28))
    half = components(need, make_offer(available_from=date(2027, 2, 15)))
    assert half["window_fit"]["value"] == 0.5
    assert (half["window_fit"]["covered_days"], half["window_fit"]["need_days"]) == (14, 28)
    assert components(need, make_offer())["window_fit"]["value"] == 1.0


def test_quantity_fit_is_how_much_of_the_need_one_offer_carries() -> None:
    need = make_need(quantity=10)
    assert components(need, make_offer(remaining=4))["quantity_fit"]["value"] == 0.4
    assert components(need, make_offer(remaining=40))["quantity_fit"]["value"] == 1.0


def test_track_record_starts_new_partners_at_the_prior_and_trusts_long_records_more() -> None:
    need = make_need()

    def value(record: TrackRecord | None) -> float:
        offer = make_offer()
        records = {offer.organisation.id: record} if record else None
        return components(need, offer, track_records=records)["track_record"]["value"]

    new = value(None)
    one_great = value(TrackRecord(mean_rating=5.0, ratings=1, fulfilled=1, approved=1))
    many_great = value(TrackRecord(mean_rating=5.0, ratings=50, fulfilled=20, approved=20))
    many_poor = value(TrackRecord(mean_rating=1.5, ratings=50, fulfilled=5, approved=20))
    assert 0.5 < new < 0.8
    assert many_poor < new < one_great < many_great <= 1.0


def test_track_records_may_come_as_plain_dicts() -> None:
    offer = make_offer()
    got = components(make_need(), offer, track_records={offer.organisation.id: {
        "mean_rating": 4.5, "ratings": 12, "fulfilled": 9, "approved": 10}})
    assert got["track_record"]["ratings"] == 12
    assert got["track_record"]["mean_rating"] == 4.5


def test_the_score_is_the_weighted_mean_of_the_components() -> None:
    need, offer = make_need(), make_offer()
    weights = {"topic_fit": 5, "text_fit": 0, "proximity": 1, "ring1": 0, "window_fit": 2,
               "quantity_fit": 1, "track_record": 1}
    result = match([need], [offer], weights=weights)
    explained = result.proposals[0].explanation["score"]
    parts = explained["components"]
    expected = sum(weights[c] * parts[c]["value"] for c in COMPONENTS) / sum(weights.values())
    assert explained["value"] == pytest.approx(expected, abs=1e-3)
    assert result.proposals[0].score == explained["value"]
    assert sum(p["contribution"] for p in parts.values()) == pytest.approx(expected, abs=1e-3)
    assert {c: parts[c]["weight"] for c in COMPONENTS} == weights
    assert result.stats["weights"] == weights


def test_default_weights_are_recorded_with_the_run() -> None:
    result = match([make_need()], [make_offer()])
    assert result.stats["weights"] == Weights().as_dict()
    assert set(result.stats["weights"]) == set(COMPONENTS)


@pytest.mark.parametrize("bad", [{"closeness": 1}, {"proximity": -1}, {"topic_fit": "a lot"},
                                 dict.fromkeys(COMPONENTS, 0)])
def test_bad_weights_are_refused(bad: dict) -> None:
    with pytest.raises(ModelError):
        match([make_need()], [make_offer()], weights=bad)


def test_every_component_stays_within_zero_and_one() -> None:
    needs = [make_need(quantity=q, region=r, topics=t) for q, r, t in [
        (1, MUSTIKASARI, ["kewirausahaan"]), (500, MUSTIKAJAYA, ["kewirausahaan", "parenting"])]]
    offers = [make_offer(remaining=r, delivery_regions=d, mode=m) for r, d, m in [
        (1000, [KOTA_BEKASI], "onsite"), (1, [MUSTIKAJAYA], "hybrid")]]
    result = match(needs, offers)
    assert result.proposals
    for proposal in result.proposals:
        assert 0.0 <= proposal.score <= 1.0
        for part in proposal.explanation["score"]["components"].values():
            assert 0.0 <= part["value"] <= 1.0
