"""Words both partners and matching use for help: its kinds, units and delivery modes, and
which units each kind counts in. (The topic vocabulary itself lives in the partners
database, where DP3A admins extend it.)"""
from __future__ import annotations

KINDS = ("funding", "module", "trainer", "facility")
UNITS = ("rupiah", "sessions", "seats", "units")
MODES = ("onsite", "online", "hybrid")

UNITS_BY_KIND = {
    "funding": ("rupiah",),
    "module": ("sessions", "seats", "units"),
    "trainer": ("sessions",),
    "facility": ("units", "sessions", "seats"),
}
# A facility is used where it stands.
MODES_BY_KIND = {"funding": MODES, "module": MODES, "trainer": MODES, "facility": ("onsite",)}
MAX_FUNDING_IDR = 100_000_000_000  # Rp 100 miliar: anything larger is a typo
MAX_COUNT = 100_000  # sessions, seats or units


def quantity_errors(kind: str, unit: str | None, quantity: int | None,
                    noun: str) -> dict[str, list[str]]:
    """The unit must suit the kind, and counts stay within MAX_COUNT."""
    errors: dict[str, list[str]] = {}
    if unit is not None and unit not in UNITS_BY_KIND[kind]:
        errors["unit"] = [f"A {kind} {noun} counts in: {', '.join(UNITS_BY_KIND[kind])}."]
    if quantity is not None and kind != "funding" and quantity > MAX_COUNT:
        errors[quantity_field(noun)] = [f"At most {MAX_COUNT} {unit or 'units'}."]
    return errors


def quantity_field(noun: str) -> str:
    return "capacity" if noun == "offer" else "quantity"
