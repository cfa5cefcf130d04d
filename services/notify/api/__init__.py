"""The notify HTTP API: one blueprint per resource."""
from __future__ import annotations

from flask_smorest import Api

from services.notify.api import events, inbox, notifications, preferences, templates


def register(api: Api) -> None:
    for module in (events, notifications, inbox, preferences, templates):
        api.register_blueprint(module.blp)
