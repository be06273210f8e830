"""The load benchmark's floor: a trivial Flask route, served by the same gunicorn settings."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def floor() -> str:
    """Answer at once: what serving a request costs with no work behind it."""
    return "ok"
