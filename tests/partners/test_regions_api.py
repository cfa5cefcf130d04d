"""The region catalogue through the partners API, for forms and validation messages."""
from __future__ import annotations

from tests.partners.conftest import KOTA_BEKASI, MUSTIKAJAYA, MUSTIKASARI


def test_the_kecamatan_of_kota_bekasi(client):
    response = client.get(f"/api/v1/regions?parent={KOTA_BEKASI}")
    assert response.status_code == 200
    kecamatan = response.json
    assert len(kecamatan) == 12
    assert {r["level"] for r in kecamatan} == {"kecamatan"}
    assert {r["parent_code"] for r in kecamatan} == {KOTA_BEKASI}
    assert {"code": MUSTIKAJAYA, "name": "Mustikajaya", "level": "kecamatan",
            "parent_code": KOTA_BEKASI} in kecamatan
    kelurahan = [k for r in kecamatan
                 for k in client.get(f"/api/v1/regions?parent={r['code']}").json]
    assert len(kelurahan) == 56
    assert MUSTIKASARI in {k["code"] for k in kelurahan}


def test_without_a_parent_the_provinces_are_listed(client):
    provinces = client.get("/api/v1/regions").json
    assert len(provinces) == 38
    assert {"code": "32", "name": "Jawa Barat", "level": "provinsi",
            "parent_code": None} in provinces


def test_one_region_and_an_unknown_one(client):
    response = client.get(f"/api/v1/regions/{MUSTIKASARI}")
    assert response.status_code == 200
    assert response.json == {"code": MUSTIKASARI, "name": "Mustikasari",
                             "level": "desa_kelurahan", "parent_code": MUSTIKAJAYA}
    missing = client.get("/api/v1/regions/32.75.99")
    assert missing.status_code == 404
    assert missing.content_type == "application/problem+json"
    assert "32.75.99" in missing.json["detail"]


def test_an_unknown_parent_is_422_and_a_kelurahan_has_no_children(client):
    response = client.get("/api/v1/regions?parent=99.99")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "parent" in response.json["errors"]
    assert client.get(f"/api/v1/regions?parent={MUSTIKASARI}").json == []

