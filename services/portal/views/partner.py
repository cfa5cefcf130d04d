"""Companies' and universities' pages: offers, team, proposals, deliveries."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("partner", __name__)
