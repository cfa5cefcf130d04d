"""DP3A reads partners' audit log (shared/audit_log_api.py)."""
from __future__ import annotations

from shared.audit_log_api import audit_log_blueprint

blp = audit_log_blueprint("organisations, people, offers and capacity")
