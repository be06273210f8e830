"""Commands the web front end adds to `decisionflow`: serve the app, issue API tokens."""

from __future__ import annotations

import click

from config import load_settings
from decisionflow.accounts import SYSTEM
from decisionflow.bootstrap import build


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web application (development server; see the README for gunicorn)."""
    from web import create_app

    app = create_app()
    click.echo(f"DecisionFlow: http://{host}:{port}/  (Ctrl+C stops it)")
    app.run(host=host, port=port, threaded=True)


@click.group()
def tokens() -> None:
    """Manage API tokens for other government systems."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 'OA system'.")
def tokens_create(username: str, name: str) -> None:
    """Issue a token acting as USERNAME; it is shown once and stored only as a hash."""
    parts = build(load_settings())
    try:
        token = parts.tokens.issue(SYSTEM, username=username, name=name)
    except Exception as err:  # the service's refusals carry their own bilingual text
        raise click.ClickException(str(err)) from None
    finally:
        parts.dispose()
    click.echo(token)
