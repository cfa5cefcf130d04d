"""Templates: every event type in every templated channel and both languages; DP3A lists and
previews them, a DP3A admin saves new versions, and a template that would not render (an
unknown variable, a syntax error, an unsafe attribute) is refused, naming the part."""
from __future__ import annotations

import itertools
import uuid

import pytest
import sqlalchemy as sa

from services.notify.catalogue import BY_TYPE, KINDS
from services.notify.models import LOCALES, TEMPLATED_CHANNELS
from services.notify.models import db as notify_db
from services.notify.rendering import RenderError, render, rupiah, wib
from shared.errors import PROBLEM_MIME
from tests.notify.conftest import decoded
from tests.notify.helpers import Notify, by_channel, proposal
from tests.partners.conftest import bearer

ITEM = "/api/v1/templates/{}/{}/{}"
DRAFT = {"subject": "Kecocokan untuk {{ need_title }}",
         "body_text": "Bantuan {{ organisation_name }}: {{ quantity | rupiah }}.\n\n"
                      "Ditinjau di {{ portal_url }}.",
         "body_html": "<p>Bantuan <b>{{ organisation_name }}</b>: {{ quantity | rupiah }}</p>"}


@pytest.fixture(autouse=True)
def _clean(clean_notify, clean_partners):
    yield


@pytest.fixture
def admin(make):
    return bearer(make.token(make.user("dp3a_admin")))


@pytest.fixture
def officer(make):
    return bearer(make.token(make.user("dp3a_officer")))


def put(notify: Notify, headers, body, event_type="proposal.approved", channel="email",
        locale="id"):
    return notify.client.put(ITEM.format(event_type, channel, locale), json=body,
                             headers=headers)


def preview(notify: Notify, headers, body, event_type="proposal.approved", channel="email",
            locale="id"):
    return notify.client.post(ITEM.format(event_type, channel, locale) + "/preview",
                              json=body, headers=headers)


# --- listing -----------------------------------------------------------------------------------

def test_every_event_type_has_each_channel_in_both_languages(notify, officer):
    response = notify.client.get("/api/v1/templates", headers=officer)
    assert response.status_code == 200
    keys = [(t["event_type"], t["channel"], t["locale"]) for t in response.json]
    assert len(keys) == len(set(keys)) == len(KINDS) * 3 * 2 == 90
    assert set(keys) == set(itertools.product(BY_TYPE, TEMPLATED_CHANNELS, LOCALES))
    assert {t["version"] for t in response.json} == {1}
    for template in response.json:
        assert template["subject"] and template["body_text"]
        # Only email has an HTML body.
        assert (template["body_html"] is not None) == (template["channel"] == "email")


def test_every_default_template_renders_with_its_example_values(notify, officer):
    """Version 1 of each template goes through the same check as an edit."""
    templates = notify.client.get("/api/v1/templates", headers=officer).json
    for template in templates:
        body = {key: template[key] for key in ("subject", "body_text", "body_html")
                if template[key] is not None}
        response = preview(notify, officer, body, template["event_type"], template["channel"],
                           template["locale"])
        assert response.status_code == 200, (template, response.json)
        assert "{{" not in response.json["subject"] + response.json["body_text"]


def test_the_indonesian_and_english_words_differ(notify, officer):
    for kind in KINDS:
        words = {locale: notify.client.get(ITEM.format(kind.event_type, "email", locale),
                                           headers=officer).json["body_text"]
                 for locale in LOCALES}
        assert words["id"] != words["en"], kind.event_type


def test_one_template_is_read_by_its_key(notify, officer):
    response = notify.client.get(ITEM.format("offer.expiring", "apprise", "en"),
                                 headers=officer)
    assert response.status_code == 200
    assert response.json["subject"] == "Offer ending soon: {{ title }}"
    assert response.json["version"] == 1 and response.json["created_by"] == "migration"
    for event_type, channel, locale in (("no.such", "email", "id"),
                                        ("offer.expiring", "webhook", "id"),
                                        ("offer.expiring", "email", "fr")):
        missing = notify.client.get(ITEM.format(event_type, channel, locale), headers=officer)
        assert missing.status_code == 404 and missing.content_type == PROBLEM_MIME


# --- preview -------------------------------------------------------------------------------------

def test_a_preview_renders_a_draft_with_example_values_and_saves_nothing(notify, officer):
    response = preview(notify, officer, DRAFT)
    assert response.status_code == 200, response.json
    assert response.json["subject"] == "Kecocokan untuk Insentif fasilitator"
    assert response.json["body_text"] == ("Bantuan PT Contoh Niaga Sejahtera (fiktif): "
                                          "Rp 20.000.000.\n\nDitinjau di http://127.0.0.1:8000.")
    assert response.json["body_html"] == ("<p>Bantuan <b>PT Contoh Niaga Sejahtera (fiktif)</b>"
                                          ": Rp 20.000.000</p>")
    assert {"quantity", "unit", "need_title", "organisation_name", "recipient_name",
            "portal_url", "locale"} <= set(response.json["variables"])
    current = notify.client.get(ITEM.format("proposal.approved", "email", "id"), headers=officer)
    assert current.json["version"] == 1


def test_a_preview_shows_dates_in_wib_in_the_templates_language(notify, officer):
    body = {"subject": "s", "body_text": "{{ expires_at | wib(locale) }}"}
    for locale, expected in (("id", "6 Desember 2026, 17.00 WIB"),
                             ("en", "6 December 2026, 17:00 WIB")):
        response = preview(notify, officer, body, "user.invited", "inapp", locale)
        assert response.status_code == 200, response.json
        assert response.json["body_text"] == expected


# --- saving a new version --------------------------------------------------------------------------

def test_a_saved_version_is_used_by_the_next_notification(notify, admin, smtp_server,
                                                         notify_worker, notify_app):
    saved = put(notify, admin, DRAFT)
    assert saved.status_code == 200, saved.json
    assert saved.json["version"] == 2 and saved.json["subject"] == DRAFT["subject"]
    again = put(notify, admin, {**DRAFT, "subject": "Versi tiga: {{ need_title }}"})
    assert again.json["version"] == 3
    current = notify.client.get(ITEM.format("proposal.approved", "email", "id"), headers=admin)
    assert current.json["version"] == 3 and current.json["subject"].startswith("Versi tiga")
    # The other language and the other channels keep their words.
    english = notify.client.get(ITEM.format("proposal.approved", "email", "en"), headers=admin)
    inapp = notify.client.get(ITEM.format("proposal.approved", "inapp", "id"), headers=admin)
    assert english.json["version"] == inapp.json["version"] == 1

    partner = notify.join("partner_admin", locale="id")
    body = notify.send("proposal.approved", proposal(partner.organisation_id,
                                                     organisation_name="PT Maju & Jaya"))
    settled = by_channel(notify.settled(body["id"], count=2))
    assert settled["email"]["template_version"] == 3
    assert settled["inapp"]["template_version"] == 1
    [message] = smtp_server[0].to(partner.email)
    assert message["Subject"] == "Versi tiga: Insentif fasilitator"
    assert decoded(message).startswith("Bantuan PT Maju & Jaya: Rp 20.000.000.")
    html = next(p for p in message.walk() if p.get_content_type() == "text/html")
    assert "<b>PT Maju &amp; Jaya</b>" in html.get_payload(decode=True).decode()

    with notify_app.app_context():
        entries = list(notify_db.session.scalars(sa.select(notify_db.AuditEntry).where(
            notify_db.AuditEntry.action == "template.saved").order_by(
            notify_db.AuditEntry.occurred_at)))
    assert [(e.object_id, e.before, e.after["version"]) for e in entries] == [
        ("proposal.approved/email/id", {"version": 1}, 2),
        ("proposal.approved/email/id", {"version": 2}, 3)]
    assert {e.actor_role for e in entries} == {"dp3a_admin"}


def test_an_inapp_template_keeps_no_html(notify, admin):
    response = put(notify, admin, DRAFT, channel="inapp")
    assert response.status_code == 200, response.json
    assert response.json["body_html"] is None and response.json["version"] == 2


def test_text_is_trimmed_and_required(notify, admin):
    for body, field in (({"subject": "  ", "body_text": "x"}, "subject"),
                        ({"subject": "x"}, "body_text"),
                        ({"subject": "x", "body_text": "y", "extra": 1}, "extra")):
        response = put(notify, admin, body)
        assert response.status_code == 422, response.json
        assert field in response.json["errors"]


# --- refused templates -----------------------------------------------------------------------------

BAD = [
    ("subject", "{{ nonexistent }}", "nonexistent"),
    ("body_text", "Halo {{ recipient_name }}, {{ amount_total }}", "amount_total"),
    ("body_html", "<p>{{ need_title.nope }}</p>", "nope"),
    ("body_text", "{% if status %}dibuka", "Unexpected end of template"),
    ("subject", "{{ need_title ", "TemplateSyntaxError"),
    ("body_text", "{{ quantity | no_such_filter }}", "no_such_filter"),
    ("body_text", "{{ x.__class__ }}", "SecurityError"),
    ("body_text", "{{ need_title.__class__ }}", "SecurityError"),
    ("body_html", "{{ need_title.__class__.__mro__[1].__subclasses__() }}", "SecurityError"),
    ("body_text", "{{ rupiah.__globals__ }}", "rupiah"),
    ("subject", "{{ cycler.__init__.__globals__.os.popen('id').read() }}", "SecurityError"),
    ("body_text", "{{ (1).__class__.__base__.__subclasses__() }}", "SecurityError"),
    ("body_text", "{{ quantity | rupiah | int / 0 }}", "ZeroDivisionError"),
    ("body_text", "{{ 'abc' | rupiah }}", "ValueError"),
]


@pytest.mark.parametrize("part, source, named", BAD, ids=[f"{p}:{s}" for p, s, _ in BAD])
def test_a_template_that_does_not_render_is_refused_naming_the_part(notify, admin, part,
                                                                   source, named):
    body = {**DRAFT, part: source}
    for response in (put(notify, admin, body), preview(notify, admin, body)):
        assert response.status_code == 422, response.json
        assert response.content_type == PROBLEM_MIME
        assert response.json["type"].endswith("/template-error")
        assert list(response.json["errors"]) == [part]
        [message] = response.json["errors"][part]
        assert named in message, message
        assert "need_title" in response.json["variables"]
    current = notify.client.get(ITEM.format("proposal.approved", "email", "id"), headers=admin)
    assert current.json["version"] == 1


def test_the_sandbox_refuses_unsafe_attributes_directly():
    for source in ("{{ x.__class__ }}", "{{ ''.__class__.__mro__ }}",
                   "{{ f.__globals__ }}", "{{ x.mro() }}"):
        with pytest.raises(RenderError):
            render(source, {"x": "teks", "f": rupiah})


def test_money_and_dates_format_the_indonesian_way():
    assert rupiah(50_000_000) == "Rp 50.000.000"
    assert rupiah(0) == "Rp 0" and rupiah(999) == "Rp 999" and rupiah("1500") == "Rp 1.500"
    assert wib("2027-01-01") == "1 Januari 2027"
    assert wib("2026-12-31T17:00:00+00:00", "id") == "1 Januari 2027, 00.00 WIB"
    assert wib("2026-12-31T16:59:00+00:00", "en") == "31 December 2026, 23:59 WIB"


# --- who may --------------------------------------------------------------------------------------

def test_only_a_dp3a_admin_may_edit(notify, make, officer):
    partner = bearer(make.token(make.user("partner_admin")))
    coordinator = bearer(make.token(make.user("coordinator")))
    for headers, status in ((officer, 403), (partner, 403), (coordinator, 403), ({}, 401),
                            (bearer(make.service_token()), 403)):
        response = put(notify, headers, DRAFT)
        assert response.status_code == status, response.json
        assert response.content_type == PROBLEM_MIME
    # An officer reads and previews; partners and coordinators do neither.
    assert preview(notify, officer, DRAFT).status_code == 200
    assert notify.client.get("/api/v1/templates", headers=officer).status_code == 200
    for headers in (partner, coordinator):
        assert notify.client.get("/api/v1/templates", headers=headers).status_code == 403
        assert preview(notify, headers, DRAFT).status_code == 403
    assert notify.client.get("/api/v1/templates").status_code == 401
    current = notify.client.get(ITEM.format("proposal.approved", "email", "id"), headers=officer)
    assert current.json["version"] == 1


def test_an_unknown_template_cannot_be_created_by_saving_it(notify, admin):
    for event_type, channel, locale in (("no.such", "email", "id"),
                                        ("proposal.approved", "webhook", "id"),
                                        ("proposal.approved", "email", "fr")):
        response = put(notify, admin, DRAFT, event_type, channel, locale)
        assert response.status_code == 404, response.json
    response = put(notify, admin, DRAFT, str(uuid.uuid4()), "email", "id")
    assert response.status_code == 404
