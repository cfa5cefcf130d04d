"""Everyone's inbox (with the unread badge in the menu) and notification preferences,
against notify (fed by partners' outbox relay)."""
from __future__ import annotations

import re

from tests.portal.conftest import Portal, api_json, text, wait_for


def test_the_inbox_shows_a_message_with_the_badge_and_marks_it_read(system, people,
                                                                    portal: Portal) -> None:
    person = people.partner_admin(status="pending")
    officer = people.staff("dp3a_officer")
    api_json(system.partners, "POST", f"/api/v1/organisations/{person.organisation_id}/verify",
             officer.headers, json={})
    [message] = wait_for(lambda: api_json(system.notify, "GET", "/api/v1/inbox",
                                          person.headers), what="the in-app message")
    portal.sign_in(person)
    home = portal.get("/").get_data(as_text=True)
    assert 'data-testid="unread-count">1<' in home

    inbox = portal.get("/kotak-masuk")
    assert inbox.status_code == 200
    assert message["subject"] in text(inbox) and "sudah terverifikasi" in message["subject"]
    assert "belum dibaca" in text(inbox)
    page = portal.submit("/kotak-masuk", {}, action=f"/kotak-masuk/{message['id']}/dibaca")
    assert "Ditandai sudah dibaca." in text(page)
    assert 'data-testid="unread-count"' not in page.get_data(as_text=True)
    [read] = api_json(system.notify, "GET", "/api/v1/inbox", person.headers)
    assert read["read_at"] is not None
    unread_only = portal.get("/kotak-masuk?unread=1&lang=en")
    assert "No messages." in text(unread_only)


def test_marking_read_needs_the_csrf_token(system, people, portal: Portal) -> None:
    person = people.partner_admin()
    portal.sign_in(person)
    response = portal.client.post(f"/kotak-masuk/{person.id}/dibaca")
    assert response.status_code == 400


def test_preferences_are_saved_at_notify(system, people, portal: Portal) -> None:
    person = people.staff("coordinator")
    portal.sign_in(person)
    page = portal.get("/preferensi")
    assert page.status_code == 200
    assert re.search(r'<input checked[^>]*value="id"', page.get_data(as_text=True))
    page = portal.submit("/preferensi", {"locale": "en", "channels": ["inapp"]})
    assert "Preferensi Anda sudah disimpan." in text(page)
    saved = api_json(system.notify, "GET", "/api/v1/preferences", person.headers)
    assert saved["locale"] == "en"
    assert saved["preferences"] == [{"event_type": "*", "channels": ["inapp"], "muted": False}]


def test_a_refused_preference_is_shown_next_to_its_field(system, people, portal: Portal) -> None:
    person = people.staff("dp3a_officer")
    portal.sign_in(person)
    page = portal.submit("/preferensi", {"locale": "id", "channels": ["carrier-pigeon"]})
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert 'id="channels-error"' in body and "Must be one of" in text(page)
    saved = api_json(system.notify, "GET", "/api/v1/preferences", person.headers)
    assert saved["preferences"] == []


def test_notify_down_gives_the_friendly_page_and_the_menu_without_badge(half_portal,
                                                                        people) -> None:
    person = people.partner_admin()
    portal = Portal(half_portal.test_client())
    home = portal.sign_in(person)
    assert "Beranda" in text(home) and 'data-testid="unread-count"' not in \
        home.get_data(as_text=True)
    for path in ("/kotak-masuk", "/preferensi"):
        page = portal.get(path)
        assert page.status_code == 503, path
        assert "Tidak ada yang hilang." in text(page)
