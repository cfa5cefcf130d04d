"""The portal's pages, one module per area; `register` adds each area and its menu entries."""
from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from services.portal.auth import ALL_ROLES, PARTNER_ROLES
from services.portal.navigation import add_nav


def register(app: Flask) -> None:
    from services.portal.views import account, inbox, partner

    app.register_blueprint(account.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(partner.bp)
    add_nav(app, "account.home", _l("Home"), ALL_ROLES)
    register_dp3a_and_coordinators(app)
    add_nav(app, "partner.offers", _l("Offers"), PARTNER_ROLES)
    add_nav(app, "partner.proposals", _l("Proposals"), PARTNER_ROLES)
    add_nav(app, "partner.deliveries", _l("Deliveries"), PARTNER_ROLES)
    add_nav(app, "partner.team", _l("Team"), PARTNER_ROLES)
    add_nav(app, "inbox.inbox", _l("Inbox"), ALL_ROLES)
    add_nav(app, "inbox.preferences", _l("Notifications"), ALL_ROLES)


def register_dp3a_and_coordinators(app: Flask) -> None:
    """DP3A's pages and dashboard, the coordinators' pages, and their menu entries."""
    from services.portal.auth import COORDINATOR, DP3A_ROLES
    from services.portal.views import coordinator, dashboard, dp3a

    app.register_blueprint(dp3a.bp)
    app.register_blueprint(coordinator.bp)
    app.register_blueprint(dashboard.bp)
    add_nav(app, "dp3a.verification", _l("Verification"), DP3A_ROLES)
    add_nav(app, "dp3a.programmes", _l("Programmes"), DP3A_ROLES)
    add_nav(app, "dp3a.runs", _l("Match runs"), DP3A_ROLES)
    add_nav(app, "dashboard.index", _l("Dashboard"), DP3A_ROLES)
    add_nav(app, "dp3a.audit", _l("Audit log"), DP3A_ROLES)
    add_nav(app, "coordinator.needs", _l("Our needs"), COORDINATOR)
    add_nav(app, "coordinator.proposals", _l("Help for our class"), COORDINATOR)
