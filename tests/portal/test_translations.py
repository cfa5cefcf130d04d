"""Every message of the portal (code and templates) has its Indonesian, with the same
placeholders, in translations/id/LC_MESSAGES/messages.po."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

import services.portal

PORTAL = Path(services.portal.__file__).resolve().parent
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def test_every_message_has_its_indonesian() -> None:
    with open(PORTAL / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    messages = {message for _, _, message, _, _ in extract_from_dir(
        str(PORTAL), method_map, options_map, keywords=KEYWORDS)}
    with open(PORTAL / "translations" / "id" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle, locale="id")
    assert len(messages) > 50  # the extraction found the templates too
    untranslated = []
    for message in sorted(messages, key=str):
        entry = catalogue.get(message)
        if entry is None or not entry.string or entry.fuzzy:
            untranslated.append(message)
        elif sorted(PLACEHOLDER.findall(str(message))) != sorted(
                PLACEHOLDER.findall(str(entry.string))):
            untranslated.append(f"{message} (placeholders differ)")
    assert untranslated == []
