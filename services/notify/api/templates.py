"""Templates: DP3A admins list, edit (a new version) and preview them."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from services.notify.catalogue import sample_context
from services.notify.models import LOCALES, TEMPLATED_CHANNELS, db
from services.notify.operations import templates
from services.notify.schemas import TemplateEditSchema, TemplatePreviewSchema, TemplateSchema
from shared.auth import DP3A_ROLES, allow, current_actor
from shared.errors import abort

blp = Blueprint("templates", __name__, description="Templates")
PATH = "/api/v1/templates/<string:event_type>/<string:channel>/<string:locale>"


def _current(event_type: str, channel: str, locale: str):  # type: ignore[no-untyped-def]
    if channel not in TEMPLATED_CHANNELS or locale not in LOCALES:
        abort(404, f"No template for channel {channel!r} and language {locale!r}.")
    template = templates.current(db.session, event_type, channel, locale)
    if template is None:
        abort(404, f"No template for {event_type!r}.")
    return template


@blp.route("/api/v1/templates")
class Templates(MethodView):
    @allow(DP3A_ROLES)
    @blp.response(200, TemplateSchema(many=True))
    def get(self):
        """The current version of every template"""
        return templates.current_all(db.session)


@blp.route(PATH)
class TemplateItem(MethodView):
    @allow(DP3A_ROLES)
    @blp.response(200, TemplateSchema)
    def get(self, event_type: str, channel: str, locale: str):
        """The current version of one template"""
        return _current(event_type, channel, locale)

    @allow("dp3a_admin")
    @blp.arguments(TemplateEditSchema)
    @blp.response(200, TemplateSchema)
    def put(self, data: dict, event_type: str, channel: str, locale: str):
        """Save a new version; refused when it does not render with the event's variables"""
        _current(event_type, channel, locale)
        template = templates.save_version(db.session, current_actor(), event_type, channel,
                                          locale, data)
        db.session.commit()
        return template


@blp.route(PATH + "/preview")
class TemplatePreview(MethodView):
    @allow(DP3A_ROLES)
    @blp.arguments(TemplateEditSchema)
    @blp.response(200, TemplatePreviewSchema)
    def post(self, data: dict, event_type: str, channel: str, locale: str):
        """Render a draft with the event's example values, without saving it"""
        _current(event_type, channel, locale)
        rendered = templates.check(event_type, locale, data["subject"], data["body_text"],
                                   data.get("body_html"))
        return {**rendered, "variables": sorted(sample_context(event_type, locale))}
