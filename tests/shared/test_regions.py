"""The Kemendagri region catalogue (shared/regions.py): lookup, hierarchy and coverage."""
from __future__ import annotations

import pytest

from shared.regions import LEVELS, catalogue, covers

KOTA_BEKASI = "32.75"
MUSTIKAJAYA = "32.75.11"
MUSTIKASARI = "32.75.11.1004"


def test_kota_bekasi_has_12_kecamatan_and_56_kelurahan():
    regions = catalogue()
    assert regions.get(KOTA_BEKASI).name == "Kota Bekasi"
    kecamatan = regions.children(KOTA_BEKASI)
    assert len(kecamatan) == 12
    assert {r.level for r in kecamatan} == {"kecamatan"}
    assert "Mustikajaya" in {r.name for r in kecamatan}
    kelurahan = [k for r in kecamatan for k in regions.children(r.code)]
    assert len(kelurahan) == 56
    assert {r.level for r in kelurahan} == {"desa_kelurahan"}
    assert len({r.code for r in kelurahan}) == 56


def test_mustikasari_is_a_kelurahan_of_kecamatan_mustikajaya():
    regions = catalogue()
    mustikasari = regions.get(MUSTIKASARI)
    assert (mustikasari.name, mustikasari.level, mustikasari.parent_code) == (
        "Mustikasari", "desa_kelurahan", MUSTIKAJAYA)
    assert regions.get(MUSTIKAJAYA).name == "Mustikajaya"
    assert MUSTIKASARI in {r.code for r in regions.children(MUSTIKAJAYA)}
    assert [r.name for r in regions.path(MUSTIKASARI)] == [
        "Jawa Barat", "Kota Bekasi", "Mustikajaya", "Mustikasari"]


def test_ancestors_run_from_the_province_down():
    regions = catalogue()
    assert regions.ancestors(MUSTIKASARI) == ["32", "32.75", "32.75.11", "32.75.11.1004"]
    assert regions.ancestors("32") == ["32"]
    assert all(regions.is_valid(code) for code in regions.ancestors(MUSTIKASARI))


@pytest.mark.parametrize("outer, inner, expected", [
    (MUSTIKAJAYA, MUSTIKASARI, True),
    (KOTA_BEKASI, MUSTIKASARI, True),
    ("32", MUSTIKASARI, True),
    (MUSTIKASARI, MUSTIKASARI, True),
    # A prefix of the digits is not a parent: kecamatan 32.75.1 is not 32.75.11.
    ("32.75.1", MUSTIKASARI, False),
    ("32.75.1", "32.75.11", False),
    ("3", MUSTIKASARI, False),
    # A narrower region does not cover a wider one, nor a neighbour.
    (MUSTIKASARI, MUSTIKAJAYA, False),
    ("32.75.03", MUSTIKASARI, False),
    ("32.75.11.1001", MUSTIKASARI, False),
])
def test_covers_is_by_whole_code_segments(outer, inner, expected):
    assert covers(outer, inner) is expected


def test_the_catalogue_is_one_consistent_tree():
    """Every region's parent exists, sits one level up, and covers it."""
    regions = catalogue()
    provinces = regions.children(None)
    assert len(provinces) == 38
    assert regions.get("32").name == "Jawa Barat"
    seen = 0
    stack = list(provinces)
    while stack:
        region = stack.pop()
        seen += 1
        depth = len(region.code.split("."))
        assert region.level == LEVELS[depth - 1], region
        if region.parent_code is not None:
            assert covers(region.parent_code, region.code), region
            assert LEVELS.index(regions.get(region.parent_code).level) == depth - 2, region
        stack.extend(regions.children(region.code))
    assert seen == len(regions)  # nothing is unreachable from a province


def test_unknown_codes_are_not_valid():
    regions = catalogue()
    for code in ("99.99", "32.75.99", "32.75.11.9999", "", "32.75.", " 32.75"):
        assert not regions.is_valid(code), code
        assert regions.get(code) is None
    assert regions.children("99.99") == []
    assert regions.children(MUSTIKASARI) == []  # a kelurahan is a leaf
