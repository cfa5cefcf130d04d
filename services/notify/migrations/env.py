from services.notify.models import db
from shared.migrations import run_migrations

run_migrations(db.metadata)
