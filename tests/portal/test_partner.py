"""Companies' and universities' pages: registration, team invitations, offers, proposals,
deliveries; each checked against what the APIs really hold."""
from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

import pytest

from shared.clock import today_wib
from tests.portal.conftest import Portal, api_json, text, wait_for

MUSTIKASARI = "32.75.11.1004"


def digits(n: int) -> str:
    return "".join(random.choice("0123456789") for _ in range(n))


def registration(**overrides: Any) -> dict[str, Any]:
    tag = digits(6)
    data = {"kind": "company", "name": f"PT Portal Uji {tag} (fiktif)", "nib": digits(13),
            "npwp": digits(16), "address_region": MUSTIKASARI,
            "operating_regions": "32.75.11, 32.75.03", "contact_name": "Rina Uji",
            "contact_email": f"kontak{tag}@portal-uji.example",
            "contact_phone": "+6281200000123", "admin_name": "Rina Uji",
            "admin_email": f"rina{tag}@portal-uji.example",
            "admin_password": "panjang sekali 123"}
    data.update(overrides)
    return data


# --- registration ------------------------------------------------------------------------------

def test_a_company_registers_and_its_admin_signs_in(system, people, portal: Portal) -> None:
    data = registration()
    page = portal.submit("/daftar", data)
    assert page.status_code == 200
    assert f"{data['name']} sudah terdaftar dan menunggu verifikasi DP3A" in text(page)
    officer = people.staff("dp3a_officer")
    [found] = api_json(system.partners, "GET", "/api/v1/organisations", officer.headers,
                       query_string={"q": data["name"]})
    assert (found["status"], found["nib"], found["address_region"]) == (
        "pending", data["nib"], MUSTIKASARI)
    assert found["operating_regions"] == ["32.75.11", "32.75.03"]
    page = portal.submit("/masuk", {"email": data["admin_email"],
                                    "password": data["admin_password"]})
    assert "Selamat datang, Rina Uji." in text(page)


def test_registration_errors_are_the_apis_next_to_the_fields_with_input_kept(
        portal: Portal) -> None:
    data = registration(nib="12345", contact_email="not-an-email")
    page = portal.submit("/daftar?lang=en", data)
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert 'id="nib-error"' in body and 'id="contact_email-error"' in body
    assert "Please check the form" in text(page)
    assert f'value="{data["name"]}"' in body and 'value="12345"' in body
    assert data["admin_password"] not in body  # a password is never sent back


def test_a_duplicate_registration_is_explained(portal: Portal) -> None:
    data = registration()
    assert portal.submit("/daftar", data).status_code == 200
    again = registration(nib=data["nib"])
    page = portal.submit("/daftar", again)
    assert page.status_code == 409
    assert "Mohon periksa formulir" in text(page)
    assert f'value="{again["admin_email"]}"' in page.get_data(as_text=True)


# --- roles -------------------------------------------------------------------------------------

PARTNER_PAGES = ("/penawaran", "/penawaran/baru/trainer", "/usulan", "/penyaluran", "/tim")


@pytest.mark.parametrize("role", ["coordinator", "dp3a_officer"])
def test_partner_pages_are_refused_to_other_roles(people, portal: Portal, role: str) -> None:
    portal.sign_in(people.staff(role))
    for path in PARTNER_PAGES:
        page = portal.get(path)
        assert page.status_code == 403, path
        assert "Tidak diizinkan" in text(page)
    assert "Penawaran" not in text(portal.get("/"))  # not in their menu


def test_partner_pages_send_strangers_to_sign_in(portal: Portal) -> None:
    for path in PARTNER_PAGES:
        page = portal.get(path)
        assert page.status_code == 302 and page.headers["Location"].startswith("/masuk?next=")


# --- offers ------------------------------------------------------------------------------------

def offer_form(**overrides: Any) -> dict[str, Any]:
    data = {"title": "Pelatihan pemasaran digital untuk UMKM perempuan",
            "description": "Enam sesi praktik media sosial dan toko daring.",
            "topics": ["pemasaran_digital", "kewirausahaan"], "capacity": "6",
            "unit": "sessions", "available_from": str(today_wib()),
            "available_to": str(today_wib() + timedelta(days=120)),
            "delivery_regions": "32.75.11", "mode": "onsite", "language": "id"}
    data.update(overrides)
    return data


def offer_id_of(page: Any) -> str:
    match = re.search(r"/penawaran/([0-9a-f-]{36})/ubah", page.get_data(as_text=True))
    assert match, text(page)
    return match.group(1)


def test_create_submit_edit_and_withdraw_an_offer(system, people, portal: Portal) -> None:
    person = people.partner_admin()
    portal.sign_in(person)
    page = portal.submit("/penawaran/baru/trainer", offer_form())
    assert "Penawaran disimpan sebagai draf." in text(page) and "Draf" in text(page)
    offer_id = offer_id_of(page)
    stored = api_json(system.partners, "GET", f"/api/v1/offers/{offer_id}", person.headers)
    assert (stored["kind"], stored["capacity"], stored["unit"], stored["status"]) == (
        "trainer", 6, "sessions", "draft")
    assert sorted(stored["topics"]) == ["kewirausahaan", "pemasaran_digital"]
    assert stored["delivery_regions"] == ["32.75.11"]

    page = portal.submit(f"/penawaran/{offer_id}", {}, action=f"/penawaran/{offer_id}/ajukan")
    assert "Penawaran sudah diajukan dan aktif." in text(page)
    assert api_json(system.partners, "GET", f"/api/v1/offers/{offer_id}",
                    person.headers)["status"] == "active"
    listing = portal.get("/penawaran")
    assert offer_form()["title"] in text(listing) and "Aktif" in text(listing)

    page = portal.submit(f"/penawaran/{offer_id}/ubah", {"capacity": "8"})
    assert "Penawaran sudah disimpan." in text(page)
    assert api_json(system.partners, "GET", f"/api/v1/offers/{offer_id}",
                    person.headers)["capacity"] == 8

    page = portal.submit(f"/penawaran/{offer_id}", {}, action=f"/penawaran/{offer_id}/tarik")
    assert "Penawaran sudah ditarik." in text(page) and "Ditarik" in text(page)
    assert api_json(system.partners, "GET", f"/api/v1/offers/{offer_id}",
                    person.headers)["status"] == "withdrawn"


def test_a_funding_offer_is_in_whole_rupiah(system, people, portal: Portal) -> None:
    person = people.partner_admin()
    portal.sign_in(person)
    page = portal.submit("/penawaran/baru/funding", offer_form(
        title="Dana insentif fasilitator", topics=["insentif_fasilitator"],
        capacity="Rp 25.000.000", unit="rupiah", mode="online"))
    assert "Rp 25.000.000" in text(page)
    stored = api_json(system.partners, "GET", f"/api/v1/offers/{offer_id_of(page)}",
                      person.headers)
    assert (stored["capacity"], stored["unit"]) == (25_000_000, "rupiah")


def test_offer_errors_are_shown_next_to_the_fields_with_input_kept(system, people,
                                                                   portal: Portal) -> None:
    person = people.partner_admin()
    portal.sign_in(person)
    before = api_json(system.partners, "GET", "/api/v1/offers", person.headers)
    page = portal.submit("/penawaran/baru/trainer", offer_form(
        capacity="banyak", topics=[], delivery_regions="99.99"))
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    for name in ("capacity", "topics", "delivery_regions"):
        assert f'id="{name}-error"' in body, name
    assert 'value="banyak"' in body and "Pelatihan pemasaran digital untuk UMKM" in body
    assert api_json(system.partners, "GET", "/api/v1/offers", person.headers) == before


def test_an_edit_on_a_stale_version_overwrites_nothing(system, people, portal: Portal) -> None:
    person = people.partner_admin()
    offer = system.make.offer(_user(system, person), status="draft")
    portal.sign_in(person)
    form_page = portal.get(f"/penawaran/{offer.id}/ubah")
    assert form_page.status_code == 200
    etag = re.search(r'name="etag" type="hidden" value="([^"]*)"',
                     form_page.get_data(as_text=True)).group(1)
    # A colleague saves first.
    current = system.partners.test_client().get(f"/api/v1/offers/{offer.id}",
                                                headers=person.headers)
    response = system.partners.test_client().patch(
        f"/api/v1/offers/{offer.id}", json={"title": "Judul dari rekan"},
        headers={**person.headers, "If-Match": current.headers["ETag"]})
    assert response.status_code == 200
    page = portal.submit(f"/penawaran/{offer.id}/ubah", {"title": "Judul saya", "etag": etag})
    assert page.status_code == 409
    assert "Seseorang mengubah penawaran ini" in text(page)
    assert 'value="Judul saya"' in page.get_data(as_text=True)
    assert api_json(system.partners, "GET", f"/api/v1/offers/{offer.id}",
                    person.headers)["title"] == "Judul dari rekan"


def test_an_offer_action_needs_the_csrf_token(system, people, portal: Portal) -> None:
    person = people.partner_admin()
    offer = system.make.offer(_user(system, person), status="draft")
    portal.sign_in(person)
    assert portal.client.post(f"/penawaran/{offer.id}/ajukan").status_code == 400
    assert api_json(system.partners, "GET", f"/api/v1/offers/{offer.id}",
                    person.headers)["status"] == "draft"


def test_another_organisations_offer_is_not_found(system, people, portal: Portal) -> None:
    other = people.partner_admin()
    offer = system.make.offer(_user(system, other), status="draft")
    portal.sign_in(people.partner_admin())
    assert portal.get(f"/penawaran/{offer.id}").status_code in (403, 404)
    assert portal.get(f"/penawaran/{offer.id}/ubah").status_code in (403, 404)


def _user(system, person):
    import uuid

    from services.partners.models import User
    from services.partners.models import db as partners_db

    with system.partners.app_context():
        return partners_db.session.get(User, uuid.UUID(person.id))


# --- team --------------------------------------------------------------------------------------

def test_an_admin_invites_a_colleague_who_joins(system, people, portal: Portal) -> None:
    admin = people.partner_admin()
    portal.sign_in(admin)
    email = f"rekan{digits(6)}@portal-uji.example"
    page = portal.submit("/tim", {"email": email, "name": "Rekan Baru",
                                  "role": "partner_member", "locale": "id"})
    assert f"Undangan sudah dikirim ke {email}." in text(page)
    link = re.search(r"http://localhost/undangan/([A-Za-z0-9_\-]+)",
                     page.get_data(as_text=True))
    assert link, text(page)
    # The invitation email arrives at the SMTP server, with the same link.
    wait_for(lambda: system.smtp.to(email), what="the invitation email")

    newcomer = Portal(system.portal.test_client())
    page = newcomer.submit(f"/undangan/{link.group(1)}", {"name": "Rekan Baru",
                                                         "password": "kata sandi panjang"})
    assert "Akun Anda sudah siap. Silakan masuk." in text(page)
    page = newcomer.submit("/masuk", {"email": email, "password": "kata sandi panjang"})
    assert "Selamat datang, Rekan Baru." in text(page)
    team = portal.get("/tim")
    assert email in text(team)


def test_invitation_errors_are_shown_next_to_the_fields(people, portal: Portal) -> None:
    portal.sign_in(people.partner_admin())
    page = portal.submit("/tim?lang=en", {"email": "nope", "role": "partner_member"})
    assert page.status_code == 422
    assert 'id="email-error"' in page.get_data(as_text=True)
    assert 'value="nope"' in page.get_data(as_text=True)


def test_members_see_the_team_page_but_cannot_invite(system, people, portal: Portal) -> None:
    admin = people.partner_admin()
    member = people.member_of(admin.organisation_id)
    portal.sign_in(member)
    page = portal.get("/tim")
    assert page.status_code == 200 and "Undang rekan kerja" not in text(page)
    token = portal.csrf_token("/tim")
    refused = portal.client.post("/tim", data={"csrf_token": token, "email": "x@y.example",
                                               "role": "partner_member"})
    assert refused.status_code == 403


def test_a_bad_invitation_link_is_explained(portal: Portal) -> None:
    page = portal.submit("/undangan/no-such-token-123", {"name": "Siapa", "password":
                                                         "kata sandi panjang"})
    assert page.status_code == 404
    assert "Mohon periksa formulir" in text(page)
