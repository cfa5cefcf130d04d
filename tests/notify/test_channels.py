"""The email as it goes on the wire (services/notify/channels.py), without a server."""
from __future__ import annotations

import uuid
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest

from services.notify.channels import PermanentFailure, SmtpSender, email_bytes
from services.notify.models import Notification

SENDER = "Mitra DP3A <no-reply@mitra.example.org>"


def notification(**overrides: object) -> Notification:
    values = {"id": uuid.uuid4(), "address": "ibu.uji@contoh.example", "locale": "id",
              "subject": "Pendaftaran mitra baru: PT Ünggul (fiktif)",
              "body_text": "Baris satu\n.baris dengan titik\n\nRp 20.000.000 · selesai",
              "body_html": "<p>Baris satu</p><p>Mitra · DP3A</p>"}
    values.update(overrides)
    return Notification(**values)


def test_every_line_ends_in_crlf_and_the_parts_decode_to_the_words():
    sent = notification()
    wire = email_bytes(sent, SENDER)
    assert b"\n" not in wire.replace(b"\r\n", b"")  # no bare LF
    assert b"\r" not in wire.replace(b"\r\n", b"")  # no bare CR
    assert max(len(line) for line in wire.split(b"\r\n")) <= 78
    message = message_from_bytes(wire)
    assert str(make_header(decode_header(message["Subject"]))) == sent.subject
    assert message["To"] == sent.address and message["From"] == SENDER
    assert message["Message-ID"] == f"<{sent.id}@mitra.notify>"
    assert message["Content-Language"] == "id" and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    bodies = {part.get_content_type(): part.get_payload(decode=True).decode("utf-8")
              for part in message.walk() if not part.is_multipart()}
    assert bodies == {"text/plain": sent.body_text.replace("\n", "\r\n"),
                      "text/html": sent.body_html}


def test_a_text_only_email_is_a_single_part():
    message = message_from_bytes(email_bytes(notification(body_html=None), SENDER))
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"


@pytest.mark.parametrize("field", ["address", "subject"])
def test_a_line_break_in_a_header_is_refused_for_good(field):
    sender = SmtpSender({"MAIL_FROM": SENDER})
    with pytest.raises(PermanentFailure, match="cannot build the email"):
        sender.send(notification(**{field: "x@contoh.example\r\nBcc: korban@luar.example"}))


def test_a_body_holding_the_boundary_cannot_split_the_message():
    sent = notification()
    sent.body_text = f"Awas:\n--=_mitra_{sent.id.hex}\nContent-Type: text/html\n\n<b>palsu</b>"
    message = message_from_bytes(email_bytes(sent, SENDER))
    parts = [part for part in message.walk() if not part.is_multipart()]
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert parts[0].get_payload(decode=True).decode() == sent.body_text.replace("\n", "\r\n")
