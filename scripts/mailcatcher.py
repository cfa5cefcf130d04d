"""A local mail catcher for `make run`: the emails the demo sends, kept and shown, never sent.

    python scripts/mailcatcher.py [--smtp-port 8025] [--http-port 8026] [--dir var/mail]

SMTP on 127.0.0.1:8025 (notify's default SMTP_PORT) stores every message as an .eml file under
var/mail/; http://127.0.0.1:8026 lists them, newest first, and shows each one (its plain-text
part; the HTML part in a sandboxed frame). Everything shown is escaped: a message's content is
never trusted. Only for a local demo: it listens on 127.0.0.1 and has no login.
"""
from __future__ import annotations

import argparse
import email
import email.policy
import html
import os
import re
import signal
import sys
import time
import uuid
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("MITRA_VAR_DIR", ROOT / "var"))
NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{32}\.eml$")
CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src data:"


class MailStore:
    """Messages as files: `<UTC time>-<random>.eml`, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def save(self, content: bytes) -> str:
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex}.eml"
        partial = self.folder / f".{name}.part"
        partial.write_bytes(content)
        partial.replace(self.folder / name)
        return name

    def names(self) -> list[str]:
        return sorted((p.name for p in self.folder.iterdir() if NAME.match(p.name)),
                      reverse=True)

    def load(self, name: str) -> EmailMessage | None:
        if not NAME.match(name):  # no path can be smuggled in through the name
            return None
        path = self.folder / name
        if not path.is_file():
            return None
        return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)

    def raw(self, name: str) -> bytes | None:
        return (self.folder / name).read_bytes() if self.load(name) is not None else None


class SmtpHandler:
    """aiosmtpd: accept every message and store it."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = self.store.save(envelope.original_content or envelope.content)
        print(f"mailcatcher: {name} for {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 Message accepted for delivery"


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, ""))
    except Exception:  # noqa: BLE001 - a malformed header is shown as empty, not as an error
        return ""


def _part(message: EmailMessage, kind: str) -> str | None:
    part = message.get_body(preferencelist=(kind,))
    if part is None:
        return None
    try:
        return part.get_content()
    except Exception:  # noqa: BLE001 - an undecodable part is shown raw
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{refresh}
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem;
        padding: 0 1rem; color: #1f2933; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #d9e2ec;
          vertical-align: top; }}
th {{ background: #f0f4f8; }}
pre {{ white-space: pre-wrap; background: #f0f4f8; padding: 1rem; }}
iframe {{ width: 100%; height: 28rem; border: 1px solid #d9e2ec; }}
.muted {{ color: #627d98; }}
</style></head><body>{body}</body></html>"""


def render_list(store: MailStore) -> str:
    names = store.names()
    rows = []
    for name in names:
        message = store.load(name)
        if message is None:
            continue
        rows.append(
            "<tr><td class=muted>{date}</td><td>{to}</td><td><a href=\"/message/{link}\">"
            "{subject}</a></td></tr>".format(
                date=html.escape(_header(message, "Date")),
                to=html.escape(_header(message, "To")),
                link=quote(name), subject=html.escape(_header(message, "Subject") or "(none)")))
    table = ("<table><tr><th>Date</th><th>To</th><th>Subject</th></tr>" + "".join(rows) +
             "</table>") if rows else "<p class=muted>No email yet.</p>"
    body = (f"<h1>Mitra mail catcher</h1><p class=muted>{len(rows)} messages sent to SMTP "
            f"on 127.0.0.1, kept in {html.escape(str(store.folder))}; this page refreshes "
            f"itself.</p>{table}")
    return PAGE.format(title="Mitra mail catcher", refresh='<meta http-equiv="refresh" '
                       'content="5">', body=body)


def render_message(name: str, message: EmailMessage) -> str:
    headers = "".join(
        f"<tr><th>{html.escape(h)}</th><td>{html.escape(_header(message, h))}</td></tr>"
        for h in ("From", "To", "Subject", "Date", "Message-ID") if message.get(h))
    text = _part(message, "plain")
    has_html = _part(message, "html") is not None
    back = (f"<p><a href=\"/\">&larr; all messages</a> &middot; "
            f"<a href=\"/raw/{quote(name)}\">raw</a></p>")
    body = [back, f"<table>{headers}</table>"]
    if text is not None:
        body.append(f"<h2>Text</h2><pre>{html.escape(text)}</pre>")
    if has_html:
        # The sender's HTML runs in a sandbox with no scripts, no forms, no same origin.
        body.append(f"<h2>HTML</h2><iframe sandbox src=\"/html/{quote(name)}\"></iframe>")
    return PAGE.format(title=html.escape(_header(message, "Subject") or name), refresh="",
                       body="".join(body))


def make_handler(store: MailStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mitra-mailcatcher"

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/":
                return self._send(200, render_list(store).encode())
            kind, _, name = path.strip("/").partition("/")
            message = store.load(name) if kind in ("message", "raw", "html") else None
            if message is None:
                return self._send(404, PAGE.format(title="Not found", refresh="",
                                                   body="<p>No such message.</p>").encode())
            if kind == "message":
                return self._send(200, render_message(name, message).encode())
            if kind == "raw":
                return self._send(200, store.raw(name) or b"", "text/plain; charset=utf-8")
            return self._send(200, (_part(message, "html") or "").encode(),
                              "text/html; charset=utf-8",
                              csp="default-src 'none'; style-src 'unsafe-inline'; img-src data:")

        def _send(self, status: int, body: bytes, kind: str = "text/html; charset=utf-8",
                  csp: str = CSP) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", csp)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--http-port", type=int, default=8026)
    parser.add_argument("--dir", type=Path, default=VAR / "mail")
    args = parser.parse_args(argv)

    store = MailStore(args.dir)
    controller = Controller(SmtpHandler(store), hostname=args.host, port=args.smtp_port)
    controller.start()
    web = ThreadingHTTPServer((args.host, args.http_port), make_handler(store))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"mailcatcher: SMTP on {args.host}:{args.smtp_port}, web on "
          f"http://{args.host}:{args.http_port}, messages in {store.folder}", flush=True)
    try:
        web.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        web.server_close()
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
