"""Commands the web front end adds to `decisionflow`: serve the app, manage API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from config import ConfigError, load_settings
from decisionflow.accounts import SYSTEM
from decisionflow.bootstrap import Parts, build
from decisionflow.errors import DecisionFlowError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web application (development server; see the README for gunicorn)."""
    from web import create_app

    try:
        app = create_app()
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"DecisionFlow: http://{host}:{port}/  (Ctrl+C stops it)")
    app.run(host=host, port=port, threaded=True)


@contextmanager
def _engine() -> Iterator[Parts]:
    """The engine for the configured database; the service's refusals as one clear line."""
    try:
        parts = build(load_settings())
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    try:
        yield parts
    except DecisionFlowError as err:  # a refusal carries its own bilingual text
        raise click.ClickException(str(err)) from None
    except (OperationalError, ProgrammingError) as err:  # no tables yet, or no database
        first = str(err.orig).splitlines()[0] if err.orig else str(err)
        raise click.ClickException(
            f"数据库不可用或尚未初始化：{first}\n"
            f"Database unavailable or not initialised: {first}\n"
            "Run `decisionflow db upgrade` first (先运行 decisionflow db upgrade)."
        ) from None
    finally:
        parts.dispose()


@click.group()
def tokens() -> None:
    """Manage API tokens for other government systems."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 'OA system'.")
def tokens_create(username: str, name: str) -> None:
    """Issue a token acting as USERNAME; it is shown once and stored only as a hash."""
    with _engine() as parts:
        issued = parts.tokens.issue_token(SYSTEM, username=username, name=name)
    # The token alone goes to stdout, so that a script can capture it; the note to stderr.
    click.echo(issued.token)
    click.echo(
        f"令牌 #{issued.id} 已签发给 {username}，仅显示这一次，请妥善保存 / "
        f"token #{issued.id} issued for {username}; it is shown only this once, store it now",
        err=True,
    )


@tokens.command("list")
def tokens_list() -> None:
    """List the tokens (never the secrets): id, user, name, when created and last used."""
    with _engine() as parts:
        found = parts.tokens.list_tokens(SYSTEM)
    if not found:
        click.echo("尚无令牌 / no API tokens")
    for t in found:
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "-"
        status = "revoked" if t.revoked else "active"
        click.echo(
            f"#{t.id}\t{t.username}\t{t.name}\t"
            f"created {t.created_at.isoformat(timespec='seconds')}\tlast used {used}\t{status}"
        )


@tokens.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1))
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `tokens list`): it stops working at once, for good."""
    with _engine() as parts:
        info = parts.tokens.revoke(SYSTEM, token_id)
    click.echo(
        f"令牌 #{info.id}（{info.username}，{info.name}）已吊销 / "
        f"token #{info.id} ({info.username}, {info.name}) revoked"
    )
