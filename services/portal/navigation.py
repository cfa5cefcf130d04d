"""The menu: each area of the portal adds its entries, with the roles that see them.

    add_nav(app, "dp3a.verification", lazy_gettext("Verification"), DP3A_ROLES)

Entries show in the order they were added; `roles=None` means every signed-in person."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from flask import Flask, current_app, request


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy_gettext string
    roles: frozenset[str] | None = None


def add_nav(app: Flask, endpoint: str, label: Any,
            roles: Iterable[str] | str | None = None) -> None:
    """Add a menu entry for `roles` (a role, a set of roles, or None for everyone)."""
    if isinstance(roles, str):
        roles = (roles,)
    app.extensions.setdefault("portal_nav", []).append(
        NavItem(endpoint, label, frozenset(roles) if roles is not None else None))


def nav_for(role: str | None) -> list[dict[str, Any]]:
    """The entries a person of `role` sees, with `current` set on the page being shown."""
    items = []
    for item in current_app.extensions.get("portal_nav", []):
        if role is None or (item.roles is not None and role not in item.roles):
            continue
        area = item.endpoint.rsplit(".", 1)[0]
        items.append({"endpoint": item.endpoint, "label": item.label,
                      "current": request.endpoint == item.endpoint
                      or (request.endpoint or "").startswith(item.endpoint + "_")
                      or (request.endpoint or "") == area + ".index" == item.endpoint})
    return items
