"""The ceiling for bench/partners_api.py: the cheapest Flask JSON endpoint there is, served by
the same gunicorn settings as the partners service. Run as `gunicorn ceiling_app:app` from bench/."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def ok():  # type: ignore[no-untyped-def]
    return {"ok": True}
