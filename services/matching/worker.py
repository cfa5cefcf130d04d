"""The Celery worker's entry point:
`celery -A services.matching.worker:celery worker -Q matching,periodic,outbox`."""
from services.matching import create_app

app = create_app()
celery = app.extensions["celery"]
