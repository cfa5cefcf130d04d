from services.matching.models import db
from shared.migrations import run_migrations

run_migrations(db.metadata)
