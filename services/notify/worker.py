"""The Celery worker's entry point: `celery -A services.notify.worker:celery worker -Q notify`."""
from services.notify import create_app

app = create_app()
celery = app.extensions["celery"]
