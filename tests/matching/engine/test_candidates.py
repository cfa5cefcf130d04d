"""Hard rules (DESIGN §5): a pair is a candidate only where every rule holds."""
from __future__ import annotations

from datetime import date

from services.matching.engine import Need, Offer
from tests.matching.engine.factories import (
    BEKASI_TIMUR,
    JAKARTA,
    KAB_BEKASI,
    KOTA_BEKASI,
    MARGAHAYU,
    MUSTIKAJAYA,
    MUSTIKASARI,
    PADURENAN,
    PROVINCE,
    SUKARASA,
    is_pair,
    make_need,
    make_offer,
    make_org,
    pairs,
)


def test_a_trainer_need_only_meets_trainer_offers() -> None:
    need = make_need(kind="trainer")
    assert is_pair(need, make_offer(kind="trainer"))
    assert not is_pair(need, make_offer(kind="module"))
    assert not is_pair(need, make_offer(kind="funding", unit="rupiah", remaining=10**8))


def test_quantities_in_different_units_never_meet() -> None:
    """A module need counted in seats cannot be filled by a module offer counted in sessions."""
    need = make_need(kind="module", unit="seats", quantity=30)
    assert is_pair(need, make_offer(kind="module", unit="seats"))
    assert not is_pair(need, make_offer(kind="module", unit="sessions"))


def test_an_offer_with_nothing_left_is_no_candidate() -> None:
    need = make_need()
    assert not is_pair(need, make_offer(remaining=0))
    assert is_pair(need, make_offer(remaining=1))


def test_a_single_offer_need_only_meets_offers_that_can_carry_all_of_it() -> None:
    need = make_need(quantity=10, single_offer=True)
    assert not is_pair(need, make_offer(remaining=9))
    assert is_pair(need, make_offer(remaining=10))
    # the same offer can still carry part of an ordinary need
    assert is_pair(make_need(quantity=10), make_offer(remaining=9))


def test_windows_must_share_at_least_one_day() -> None:
    need = make_need(window_start=date(2027, 3, 1), window_end=date(2027, 3, 31))
    assert is_pair(need, make_offer(available_from=date(2027, 3, 31),
                                    available_to=date(2027, 6, 30)))
    assert is_pair(need, make_offer(available_from=date(2027, 1, 1),
                                    available_to=date(2027, 3, 1)))
    assert not is_pair(need, make_offer(available_from=date(2027, 4, 1),
                                        available_to=date(2027, 6, 30)))
    assert not is_pair(need, make_offer(available_from=date(2027, 1, 1),
                                        available_to=date(2027, 2, 28)))


def test_the_need_must_lie_inside_a_delivery_region() -> None:
    need = make_need(region=MUSTIKASARI)
    for region in (MUSTIKASARI, MUSTIKAJAYA, KOTA_BEKASI, PROVINCE):
        assert is_pair(need, make_offer(delivery_regions=[region])), region
    for region in (PADURENAN, BEKASI_TIMUR, MARGAHAYU, KAB_BEKASI, SUKARASA):
        assert not is_pair(need, make_offer(delivery_regions=[region])), region
    assert not is_pair(need, make_offer(delivery_regions=[]))
    # several regions: one covering is enough
    assert is_pair(need, make_offer(delivery_regions=[BEKASI_TIMUR, MUSTIKAJAYA]))


def test_region_prefixes_only_count_at_a_dot() -> None:
    """32.75.1 is not the kecamatan 32.75.11, even though one string starts the other."""
    need = make_need(region=MUSTIKASARI)
    assert not is_pair(need, make_offer(delivery_regions=["32.75.1"]))
    assert not is_pair(need, make_offer(delivery_regions=["32.75.11.100"]))


def test_a_kelurahan_offer_does_not_cover_a_need_for_a_whole_kecamatan() -> None:
    need = make_need(region=MUSTIKAJAYA)
    assert not is_pair(need, make_offer(delivery_regions=[MUSTIKASARI]))
    assert is_pair(need, make_offer(delivery_regions=[MUSTIKAJAYA]))
    assert is_pair(need, make_offer(delivery_regions=[KOTA_BEKASI]))


def test_an_online_offer_reaches_any_need_that_accepts_online() -> None:
    offer = make_offer(mode="online", delivery_regions=[])
    assert is_pair(make_need(region=JAKARTA, accepted_modes={"online"}), offer)
    assert is_pair(make_need(region=MUSTIKASARI, accepted_modes={"onsite", "online"}), offer)
    assert not is_pair(make_need(region=MUSTIKASARI, accepted_modes={"onsite"}), offer)
    assert not is_pair(make_need(region=MUSTIKASARI, accepted_modes={"hybrid"}), offer)


def test_an_onsite_offer_needs_a_need_that_accepts_onsite() -> None:
    offer = make_offer(mode="onsite", delivery_regions=[MUSTIKAJAYA])
    assert is_pair(make_need(accepted_modes={"onsite"}), offer)
    assert not is_pair(make_need(accepted_modes={"online"}), offer)
    assert not is_pair(make_need(accepted_modes={"hybrid"}), offer)


def test_a_hybrid_offer_counts_as_onsite_in_its_regions_and_as_online_everywhere() -> None:
    offer = make_offer(mode="hybrid", delivery_regions=[MUSTIKAJAYA])
    # in its regions, for a need taking onsite or hybrid delivery
    assert is_pair(make_need(region=MUSTIKASARI, accepted_modes={"onsite"}), offer)
    assert is_pair(make_need(region=MUSTIKASARI, accepted_modes={"hybrid"}), offer)
    # outside them, only as online delivery
    assert not is_pair(make_need(region=MARGAHAYU, accepted_modes={"onsite", "hybrid"}), offer)
    assert is_pair(make_need(region=MARGAHAYU, accepted_modes={"online"}), offer)
    assert is_pair(make_need(region=JAKARTA, accepted_modes={"onsite", "online"}), offer)


def test_they_must_share_a_topic() -> None:
    need = make_need(topics=["kewirausahaan", "pemasaran_digital"])
    assert is_pair(need, make_offer(topics=["pemasaran_digital"]))
    assert is_pair(need, make_offer(topics=["literasi_digital", "kewirausahaan"]))
    assert not is_pair(need, make_offer(topics=["parenting", "literasi_digital"]))


def test_funding_must_share_a_purpose() -> None:
    need = Need.from_dict({
        "id": "dana-insentif", "kind": "funding", "purposes": ["insentif_fasilitator"],
        "quantity": 25_000_000, "unit": "rupiah", "window_start": "2027-01-01",
        "window_end": "2027-12-31", "region": MUSTIKASARI, "accepted_modes": ["onsite"]})
    def fund(purposes: list[str]) -> Offer:
        return make_offer(kind="funding", unit="rupiah", remaining=100_000_000,
                          topics=purposes, delivery_regions=[KOTA_BEKASI])
    assert is_pair(need, fund(["insentif_fasilitator", "sarana_prasarana"]))
    assert not is_pair(need, fund(["sarana_prasarana"]))


def test_an_organisation_the_need_excludes_gets_none_of_its_offers_matched() -> None:
    excluded, other = make_org(), make_org()
    need = make_need(excluded_organisations=[excluded.id])
    offers = [make_offer(organisation=excluded), make_offer(organisation=excluded),
              make_offer(organisation=other)]
    assert pairs([need], offers) == [(need.id, offers[2].id)]
    # and only that need excludes it
    assert is_pair(make_need(), offers[0])


def test_each_pair_is_a_candidate_once_however_many_ways_it_qualifies() -> None:
    """Two shared topics, nested delivery regions, and both roads of a hybrid offer."""
    need = make_need(topics=["kewirausahaan", "pemasaran_digital", "literasi_digital"],
                     accepted_modes={"onsite", "online", "hybrid"})
    offer = make_offer(mode="hybrid", topics=["pemasaran_digital", "kewirausahaan",
                                              "literasi_digital"],
                       delivery_regions=[KOTA_BEKASI, MUSTIKAJAYA, MUSTIKASARI])
    assert pairs([need], [offer]) == [(need.id, offer.id)]


def test_many_needs_and_offers_meet_only_where_the_rules_allow() -> None:
    needs = [make_need(region=MUSTIKASARI), make_need(region=MARGAHAYU),
             make_need(region=MUSTIKASARI, kind="module", unit="seats")]
    offers = [make_offer(delivery_regions=[MUSTIKAJAYA]),
              make_offer(delivery_regions=[KOTA_BEKASI]),
              make_offer(kind="module", unit="seats", delivery_regions=[BEKASI_TIMUR])]
    assert sorted(pairs(needs, offers)) == sorted([
        (needs[0].id, offers[0].id), (needs[0].id, offers[1].id), (needs[1].id, offers[1].id)])


def test_more_than_64_topics_still_match_exactly() -> None:
    """Topic bit sets span several words when the vocabulary grows past 64 codes."""
    filler = [f"topik_{i:03d}" for i in range(130)]
    needs = [make_need(topics=[filler[i], filler[i + 64]]) for i in range(0, 60, 7)]
    offers = [make_offer(topics=[filler[i + 64], filler[129 - i]]) for i in range(0, 60, 7)]
    expected = sorted((n.id, o.id) for n in needs for o in offers if set(n.topics) & set(o.topics))
    assert sorted(pairs(needs, offers)) == expected
    assert len(expected) == len(needs)
