"""The matching service's settings, all from environment variables (see README)."""
from __future__ import annotations

import json

from shared.config import base_config, env_int, env_str


def load() -> dict:
    config = base_config("matching")
    weights = env_str("MATCH_WEIGHTS")
    config.update({
        "MATCHING_CLIENT_ID": env_str("MATCHING_CLIENT_ID", "matching"),
        "MATCHING_CLIENT_SECRET": env_str("MATCHING_CLIENT_SECRET"),
        # Score weights that differ from the engine's defaults (engine/model.py, Weights).
        "MATCH_WEIGHTS": json.loads(weights) if weights else {},
        "PARTNERS_TIMEOUT_S": env_int("PARTNERS_TIMEOUT_S", 30),
        "RECONCILE_EVERY_S": env_int("RECONCILE_EVERY_S", 300),
        # Seconds the exact MILP for single-offer needs may take per group (0: no limit).
        "MATCH_MILP_TIME_LIMIT_S": env_int("MATCH_MILP_TIME_LIMIT_S", 120),
        # Celery's broker (default: REDIS_URL, else SQLite) and the prefix of its Redis keys,
        # which keeps deployments sharing one Redis apart (shared/celery.py).
        "CELERY_BROKER_URL": env_str("CELERY_BROKER_URL"),
        "CELERY_KEY_PREFIX": env_str("CELERY_KEY_PREFIX"),
    })
    return config
