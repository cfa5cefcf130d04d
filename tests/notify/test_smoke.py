"""An event reaches its people: by email in their language, and in their in-app inbox."""
from __future__ import annotations

import uuid

from tests.notify.conftest import decoded, event, user_event, wait_for
from tests.partners.conftest import bearer


def test_a_verified_organisation_hears_of_it_by_email_and_in_app(notify_app, notify_worker,
                                                                clean_notify, smtp_server,
                                                                make):
    client = notify_app.test_client()
    service = bearer(make.service_token())
    organisation_id = str(uuid.uuid4())
    admin_id = str(uuid.uuid4())
    for item in (user_event(admin_id, organisation_id, "admin@maju.example", "partner_admin",
                            locale="en", name="Ani"),):
        assert client.post("/api/v1/events", json=item, headers=service).status_code == 202
    verified = event("organisation.verified", {"organisation_id": organisation_id,
                                               "name": "PT Maju (fiktif)", "status": "verified",
                                               "reason": None})
    assert client.post("/api/v1/events", json=verified, headers=service).status_code == 202
    again = client.post("/api/v1/events", json=verified, headers=service)
    assert again.status_code == 200  # the same event id: nothing new

    inbox, _ = smtp_server
    [mail] = wait_for(lambda: inbox.to("admin@maju.example"), what="the email")
    assert mail["Subject"] == "PT Maju (fiktif) is verified"
    assert "Dear Ani" in decoded(mail)
    assert mail["Message-ID"].endswith("@mitra.notify>")
    notifications = wait_for(lambda: client.get(
        f"/api/v1/notifications?event_id={verified['id']}",
        headers=service).json if all(n["status"] == "sent" for n in client.get(
            f"/api/v1/notifications?event_id={verified['id']}", headers=service).json) else None,
        what="both notifications sent")
    assert sorted(n["channel"] for n in notifications) == ["email", "inapp"]
