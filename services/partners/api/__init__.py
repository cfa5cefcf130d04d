"""The partners HTTP API: one blueprint per resource."""
from __future__ import annotations

from flask_smorest import Api

from services.partners.api import (
    audit_log,
    auth,
    export,
    invitations,
    offers,
    organisations,
    regions,
    topics,
    users,
)


def register(api: Api) -> None:
    for module in (auth, organisations, invitations, users, topics, regions, offers, export,
                   audit_log):
        api.register_blueprint(module.blp)
