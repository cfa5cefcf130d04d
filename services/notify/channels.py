"""The ways a notification leaves: SMTP email, signed webhooks, Apprise URLs. Each raises
TemporaryFailure (worth retrying) or PermanentFailure (not)."""
from __future__ import annotations

import binascii
import hashlib
import hmac
import ipaddress
import smtplib
import socket
import time
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any
from urllib.parse import urlsplit

import requests

from services.notify.models import Notification


class TemporaryFailure(Exception):
    """The other side may accept it later (timeouts, 4xx SMTP codes, 5xx HTTP)."""


class PermanentFailure(Exception):
    """Retrying will not help (a refused address, a 4xx webhook answer, a bad URL)."""


# --- email ------------------------------------------------------------------------------------

# Header values in UTF-8 are encoded words, quoted-printable.
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP
CRLF = "\r\n"


def _header(value: str) -> str:
    # A line break in a header value would start a header of the sender's choosing.
    if "\r" in value or "\n" in value:
        raise ValueError("header values may not contain line breaks")
    return value


def _text_part(content_type: str, body: str) -> str:
    """A MIME part in UTF-8, quoted-printable: 7-bit lines of at most 76 characters."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(lines.encode("utf-8"), istext=True).decode("ascii")
    return (f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
            + encoded.replace("\n", CRLF))


def email_bytes(notification: Notification, sender: str) -> bytes:
    """The email as sent, with CRLF line ends (sendmail() sends bytes unchanged): a text
    part, and an HTML alternative when there is an HTML body. Written out directly: the
    email package's message classes cost ten times as much for these few fixed headers."""
    subject = _header(notification.subject)
    headers = [
        f"From: {_header(sender)}",
        f"To: {_header(notification.address)}",
        Header(subject, "us-ascii" if subject.isascii() else _UTF8,
               header_name="Subject").encode(linesep=CRLF).join(("Subject: ", "")),
        f"Date: {formatdate(localtime=False)}",
        # Fixed per notification: a repeat after a crash is recognisably the same message.
        f"Message-ID: {_header(notification.message_id)}",
        f"Content-Language: {_header(notification.locale)}",
        "MIME-Version: 1.0",
    ]
    text = _text_part("text/plain", notification.body_text)
    if notification.body_html:
        # "=_" cannot occur in quoted-printable text: the boundary never meets the content.
        boundary = f"=_mitra_{notification.id.hex}"
        headers.append(f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"')
        body = (f"--{boundary}{CRLF}{text}{CRLF}"
                f"--{boundary}{CRLF}{_text_part('text/html', notification.body_html)}{CRLF}"
                f"--{boundary}--{CRLF}")
    else:
        headers.append(text[:text.index(CRLF * 2)])  # the part's headers are the message's
        body = text[text.index(CRLF * 2) + 4:] + CRLF
    return (CRLF.join(headers) + CRLF * 2 + body).encode("ascii")


def email_message(notification: Notification, sender: str) -> EmailMessage:
    """The email as an EmailMessage (default policy): for addresses that are not ASCII,
    which need SMTPUTF8 (smtplib's send_message handles that)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notification.address
    message["Subject"] = notification.subject
    message["Date"] = formatdate(localtime=False)
    # Fixed per notification: a repeat after a crash is recognisably the same message.
    message["Message-ID"] = notification.message_id
    message.set_content(notification.body_text)
    if notification.body_html:
        message.add_alternative(notification.body_html, subtype="html")
    # After the content: set_content() drops any Content-* header set before it.
    message["Content-Language"] = notification.locale
    return message


class SmtpSender:
    """One SMTP connection per worker process, reopened when the server drops it."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self._connection: smtplib.SMTP | None = None
        self._envelope_from = parseaddr(config["MAIL_FROM"])[1]

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        connection = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"],
                                  timeout=config["SMTP_TIMEOUT_S"])
        if config["SMTP_STARTTLS"]:
            connection.starttls()
        if config["SMTP_USER"]:
            connection.login(config["SMTP_USER"], config["SMTP_PASSWORD"] or "")
        return connection

    def send(self, notification: Notification) -> None:
        sender = self.config["MAIL_FROM"]
        plain = notification.address.isascii() and sender.isascii()
        try:
            message = email_bytes(notification, sender) if plain \
                else email_message(notification, sender)
        except (ValueError, TypeError) as exc:  # e.g. a header the email package refuses
            raise PermanentFailure(f"cannot build the email: {exc}") from exc
        for attempt in (1, 2):
            try:
                if self._connection is None:
                    self._connection = self._connect()
                if isinstance(message, bytes):
                    refused = self._connection.sendmail(self._envelope_from,
                                                        [notification.address], message)
                else:
                    refused = self._connection.send_message(message)
                if refused:
                    raise PermanentFailure(f"recipient refused: {refused}")
                return
            except smtplib.SMTPServerDisconnected as exc:
                self._connection = None
                if attempt == 2:
                    raise TemporaryFailure(f"SMTP disconnected: {exc}") from exc
            except smtplib.SMTPRecipientsRefused as exc:
                self._reset()
                codes = [code for code, _ in exc.recipients.values()]
                if all(400 <= code < 500 for code in codes):
                    raise TemporaryFailure(f"recipient deferred: {exc.recipients}") from exc
                raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
            except smtplib.SMTPResponseException as exc:
                self._reset()
                if 400 <= exc.smtp_code < 500:
                    raise TemporaryFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
                raise PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            except (OSError, smtplib.SMTPException) as exc:
                self._connection = None
                raise TemporaryFailure(f"SMTP: {exc.__class__.__name__}: {exc}") from exc

    def close(self) -> None:
        """Say goodbye to the server (worker shutdown)."""
        if self._connection is not None:
            try:
                self._connection.quit()
            except (OSError, smtplib.SMTPException):
                self._connection.close()
            self._connection = None

    def _reset(self) -> None:
        try:
            if self._connection is not None:
                self._connection.rset()
        except (OSError, smtplib.SMTPException):
            self._connection = None


# --- webhooks ---------------------------------------------------------------------------------

def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp.body`, hex."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check_target(url: str, allow_private: bool) -> None:
    """Refuse URLs that are not http(s), and private, loopback or link-local targets unless
    configured (they would let a partner probe our own network)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # a port out of range raises here
    except ValueError as exc:
        raise PermanentFailure(f"not an http(s) URL: {url!r} ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentFailure(f"not an http(s) URL: {url!r}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise TemporaryFailure(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        # Not only RFC 1918: shared (100.64/10, where some clouds keep their metadata
        # service), benchmarking and documentation ranges are no partner's server either.
        if (not address.is_global or address.is_private or address.is_loopback
                or address.is_link_local or address.is_reserved or address.is_multicast
                or address.is_unspecified):
            raise PermanentFailure(f"{parts.hostname} resolves to a non-public address")


def send_webhook(notification: Notification, secret: str | None, config: dict[str, Any]) -> None:
    check_target(notification.address, config["WEBHOOK_ALLOW_PRIVATE"])
    body = notification.body_text.encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Mitra-Event": notification.event_type,
               "X-Mitra-Delivery": str(notification.id), "X-Mitra-Timestamp": timestamp,
               "X-Mitra-Signature": f"sha256={signature(secret or '', timestamp, body)}"}
    try:
        response = requests.post(notification.address, data=body, headers=headers,
                                 timeout=config["WEBHOOK_TIMEOUT_S"], allow_redirects=False)
    except requests.RequestException as exc:
        raise TemporaryFailure(f"webhook: {exc.__class__.__name__}") from exc
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TemporaryFailure(f"webhook answered {response.status_code}")
    if response.status_code >= 300:
        raise PermanentFailure(f"webhook answered {response.status_code}")


# --- Apprise ------------------------------------------------------------------------------------

def send_apprise(notification: Notification) -> None:
    import apprise

    sender = apprise.Apprise()
    if not sender.add(notification.address):
        raise PermanentFailure("not an Apprise URL this server understands")
    if not sender.notify(title=notification.subject, body=notification.body_text):
        raise TemporaryFailure("the Apprise service did not accept the message")
