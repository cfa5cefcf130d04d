"""The controlled topic vocabulary (Indonesian and English labels), extendable by DP3A admins."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.partners.models import Topic, db, snapshot
from services.partners.schemas import TopicQueryArgsSchema, TopicSchema
from shared import audit
from shared.auth import allow, current_actor, public
from shared.errors import abort
from shared.idempotency import idempotent

blp = Blueprint("topics", __name__, description="Topic vocabulary")


@blp.route("/api/v1/topics")
class Topics(MethodView):
    @public
    @blp.arguments(TopicQueryArgsSchema, location="query")
    @blp.response(200, TopicSchema(many=True))
    def get(self, args: dict):
        """Every topic, with its labels"""
        statement = select(Topic).order_by(Topic.code)
        if not args["include_inactive"]:
            statement = statement.where(Topic.is_active.is_(True))
        return db.session.scalars(statement).all()

    @allow("dp3a_admin")
    @idempotent
    @blp.arguments(TopicSchema)
    @blp.response(201, TopicSchema)
    def post(self, data: dict):
        """Add a topic to the vocabulary (DP3A admins)"""
        if db.session.get(Topic, data["code"]) is not None:
            abort(409, f"Topic {data['code']!r} already exists.", type="duplicate-topic")
        topic = Topic(**data)
        db.session.add(topic)
        db.session.flush()
        audit.record(db.session, current_actor(), "topic.created", "topic", topic.code, None,
                     snapshot(topic, ("code", "label_id", "label_en", "is_active")))
        db.session.commit()
        return topic
