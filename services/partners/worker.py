"""The Celery worker's entry point: `celery -A services.partners.worker:celery worker -Q outbox`."""
from services.partners import create_app

app = create_app()
celery = app.extensions["celery"]
