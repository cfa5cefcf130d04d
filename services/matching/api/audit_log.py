"""DP3A reads matching's audit log (shared/audit_log_api.py)."""
from __future__ import annotations

from shared.audit_log_api import audit_log_blueprint

blp = audit_log_blueprint("programmes, needs, runs, decisions and deliveries")
