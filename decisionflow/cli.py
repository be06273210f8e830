"""The `decisionflow` command: thin over the service layer."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from config import ConfigError, load_settings
from decisionflow.accounts import SYSTEM
from decisionflow.bootstrap import Parts, build
from decisionflow.definitions import (
    Definition,
    DefinitionError,
    definition_files,
    load_definition,
)
from decisionflow.errors import DecisionFlowError
from decisionflow.graph import mermaid
from decisionflow.overlays import (
    apply_overlay,
    check_base,
    file_name,
    load_overlay,
    overlay_files,
)
from decisionflow.roles import ACCOUNT_ROLES

F = TypeVar("F", bound=Callable[..., Any])


def friendly(command: F) -> F:
    """Turn the errors a user can fix into one clear line and exit status 1, never a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigError, DefinitionError) as err:
            raise click.ClickException(str(err)) from None
        except DecisionFlowError as err:
            raise click.ClickException(str(err)) from None
        except (OperationalError, ProgrammingError) as err:
            first = str(err.orig).splitlines()[0] if err.orig else str(err)
            raise click.ClickException(
                f"数据库不可用或尚未初始化：{first}\n"
                f"Database unavailable or not initialised: {first}\n"
                "Run `decisionflow db upgrade` first (先运行 decisionflow db upgrade)."
            ) from None

    return run  # type: ignore[return-value]


@contextmanager
def engine_parts() -> Iterator[Parts]:
    """The engine for the configured database."""
    parts = build(load_settings())
    try:
        yield parts
    finally:
        parts.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """DecisionFlow: major administrative decisions under State Council Decree No. 713.

    Settings come from DECISIONFLOW_* environment variables (see config.py); by default the
    database is an SQLite file in ./instance.
    """


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema (Alembic)."""
    with engine_parts() as parts:
        parts.upgrade_database()
        click.echo(
            f"数据库已是最新结构 / database is up to date: {parts.engine.url.render_as_string()}"
        )


@main.group()
def workflows() -> None:
    """Check and draw procedure definitions."""


@workflows.command("check")
@click.option(
    "--folder", type=click.Path(path_type=Path, file_okay=False), help="Definitions folder."
)
def workflows_check(folder: Path | None) -> None:
    """Validate every definition file and every overlay (on its base); exit 1 naming each faulty one."""
    try:
        folder = folder or load_settings().workflows_path
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    files = definition_files(folder)
    if not files:
        raise click.ClickException(f"no definition files (*.yaml) in {folder}")
    failed = 0
    loaded: dict[str, Definition] = {}
    for path in files:
        try:
            definition = load_definition(path)
            check_base(definition, file=path.name)
        except DefinitionError as err:
            failed += 1
            click.echo(f"FAIL {err}", err=True)
        else:
            newest = loaded.get(definition.procedure)
            if newest is None or newest.version < definition.version:
                loaded[definition.procedure] = definition
            click.echo(
                f"ok   {path.name}: {definition.procedure} v{definition.version}, "
                f"{len(definition.states)} states, {len(definition.triggers)} actions"
            )
    extras = overlay_files(folder)
    for path in extras:
        try:
            overlay = load_overlay(path)
            base = loaded.get(overlay.base)
            if base is None:
                known = ", ".join(sorted(loaded))
                raise DefinitionError(
                    file_name(path), "base", f"unknown procedure '{overlay.base}' (known: {known})"
                )
            merged = apply_overlay(base, overlay, file=file_name(path))
        except DefinitionError as err:
            failed += 1
            click.echo(f"FAIL {err}", err=True)
        else:
            click.echo(
                f"ok   {file_name(path)}: {overlay.overlay} v{overlay.version} on "
                f"{base.procedure} v{base.version}, {len(merged.records)} records"
            )
    if failed:
        total = len(files) + len(extras)
        raise click.ClickException(f"{failed} of {total} definition and overlay files are invalid")


@workflows.command("graph")
@click.argument("name")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@friendly
def workflows_graph(name: str, lang: str) -> None:
    """Print procedure NAME as a Mermaid state diagram."""
    settings = load_settings()
    matches = [p for p in definition_files(settings.workflows_path) if p.stem == name]
    if not matches:
        known = ", ".join(p.stem for p in definition_files(settings.workflows_path))
        raise click.ClickException(f"no procedure named {name!r} (known: {known})")
    click.echo(mermaid(load_definition(matches[0]), lang=lang), nl=False)  # type: ignore[arg-type]


@main.group()
def audit() -> None:
    """Verify the hash-chained audit log."""


@audit.command("verify")
@friendly
def audit_verify() -> None:
    """Walk the whole chain; exit 1 and name the first broken link if it was tampered with."""
    with engine_parts() as parts:
        result = parts.verify_audit()
    if not result.ok:
        click.echo(str(result), err=True)
        sys.exit(1)
    click.echo(str(result))


@main.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in ACCOUNT_ROLES]), required=True)
@click.option("--department", help="Department code (see `departments create`).")
@click.option("--name", "display_name", default="", help="Display name.")
@click.password_option(help="Password (prompted, twice, when not given).")
@friendly
def users_create(
    username: str, role: str, department: str | None, display_name: str, password: str
) -> None:
    """Create a user account in a role."""
    with engine_parts() as parts:
        user_id = parts.admin.create_user(
            SYSTEM,
            username=username,
            display_name=display_name or username,
            password=password,
            role=role,
            department=department,
        )
    click.echo(f"用户已创建 / user created: {username} (#{user_id}, {role})")


@main.group()
def departments() -> None:
    """Manage departments."""


@departments.command("create")
@click.argument("code")
@click.option("--name-zh", required=True)
@click.option("--name-en", required=True)
@friendly
def departments_create(code: str, name_zh: str, name_en: str) -> None:
    """Create a department."""
    with engine_parts() as parts:
        parts.admin.create_department(SYSTEM, code=code, name_zh=name_zh, name_en=name_en)
    click.echo(f"单位已创建 / department created: {code}")


@main.group()
def deadlines() -> None:
    """Running deadlines: list them, and send the reminders and escalations due."""


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@deadlines.command("sweep")
@click.option("--today", help="Count as if it were this legal date (YYYY-MM-DD); default: today.")
@click.option("--no-mail", is_flag=True, help="Queue mail but do not send it in this run.")
@friendly
def deadlines_sweep(today: str | None, no_mail: bool) -> None:
    """Send every reminder and escalation due that was not sent before (safe to run at once on several hosts)."""
    with engine_parts() as parts:
        report = parts.sweeper.sweep(today=_day(today), send_mail=not no_mail)
    click.echo(
        f"提醒 {report.reminders}，逾期 {report.overdue}，督办 {report.follow_ups}，"
        f"邮件已发 {report.mails_sent}，失败 {report.mails_failed} / "
        f"reminders {report.reminders}, overdue {report.overdue}, follow-ups {report.follow_ups}, "
        f"mails sent {report.mails_sent}, failed {report.mails_failed}"
    )


@deadlines.command("list")
@click.option("--today", help="Count as if it were this legal date (YYYY-MM-DD); default: today.")
@friendly
def deadlines_list(today: str | None) -> None:
    """List the deadlines running on open decisions, soonest first."""
    with engine_parts() as parts:
        running = parts.sweeper.due_now(today=_day(today))
    if not running:
        click.echo("没有正在计算的期限 / no deadlines running")
    for decision, item in running:
        late = " 已逾期 / OVERDUE" if item.overdue else ""
        provisional = " (暂定 / provisional)" if item.provisional else ""
        click.echo(
            f"{item.due}{provisional}{late}  #{decision.id} {decision.title} · "
            f"{item.label.zh} / {item.label.en} · {item.article}"
        )


@main.command("seed-demo")
@friendly
def seed_demo_command() -> None:
    """Create demo accounts in every role and decisions at every stage (through the service)."""
    from decisionflow.seed import describe, seed_demo

    with engine_parts() as parts:
        parts.upgrade_database()
        summary = seed_demo(parts)
        verification = parts.verify_audit()
    if summary.already_seeded:
        click.echo("演示数据已存在，未重复创建 / demo data already present; nothing added")
    else:
        click.echo(
            f"已创建 {summary.decisions} 项演示决策 / created {summary.decisions} demo decisions"
        )
    click.echo(describe(summary))
    click.echo(str(verification))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def demo(ctx: click.Context, host: str, port: int) -> None:
    """Seed the demo (once) and serve the web application on the embedded SQLite."""
    ctx.invoke(seed_demo_command)
    serve = main.commands.get("serve")
    if serve is None:
        click.echo(
            "网页界面尚未安装；演示数据已可通过命令行查看。\n"
            "The web application is not installed; the demo data is ready for the command "
            "line: try `decisionflow audit verify`."
        )
        return
    ctx.invoke(serve, host=host, port=port)


@main.group()
def report() -> None:
    """Figures for the yearly law-based-administration work report."""


@report.command("yearly")
@click.argument("year", type=click.IntRange(1990, 2200))
@click.option("--department", default="", help="Only this undertaking unit's decisions (its code).")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report as a printable HTML page to this file (else print the figures).",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@friendly
def report_yearly(year: int, department: str, output: Path | None, lang: str) -> None:
    """Count YEAR's decisions, participation, reviews, normative documents and on-time rates."""
    from zoneinfo import ZoneInfo

    from decisionflow.models import utcnow
    from decisionflow.report import render_html, render_text, yearly_report

    # The command line reads with the database's own authority, as `audit verify` does.
    with engine_parts() as parts, parts.readers() as session:
        zone = ZoneInfo(parts.settings.timezone)
        figures = yearly_report(
            session,
            parts.registry,
            year,
            department=department,
            calendar=parts.calendar,
            timezone=zone,
            now=utcnow(),
        )
    if output is None:
        click.echo(render_text(figures, lang=lang), nl=False)
        return
    output.write_text(render_html(figures, lang=lang, timezone=zone), encoding="utf-8")
    click.echo(f"已写入 / written: {output}")


@main.command("backup")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@friendly
def backup_command(file: Path) -> None:
    """Back up the SQLite database and its attachment files into FILE (.tar or .tar.gz).

    Safe while the application runs: the database is copied as one consistent snapshot.
    PostgreSQL: use pg_dump (see the README).
    """
    from decisionflow.backup import BackupError, make_backup

    settings = load_settings()
    try:
        summary = make_backup(
            settings.resolved_database_url, settings.resolved_attachments_path, file
        )
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"备份已写入 / backup written: {summary.path}\n"
        f"  {summary.decisions} decisions, {summary.audit_events} audit events "
        f"(head {summary.audit_head[:16]}…, chain verified), {summary.attachments} attachment files, "
        f"schema {summary.schema_revision}"
    )


@main.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Replace an existing database (kept beside it).")
@click.option("--check", "check_only", is_flag=True, help="Only check the backup; change nothing.")
@friendly
def restore_command(file: Path, force: bool, check_only: bool) -> None:
    """Restore a backup made by `decisionflow backup`, after checking its audit chain.

    Stop every application server first. The database is swapped in atomically; the one it
    replaces is kept as <name>.replaced-<time>; attachment files are added to the folder.
    """
    from decisionflow.backup import BackupError, check_backup, restore_backup
    from decisionflow.security_events import SecurityEvents, audit_actor

    settings = load_settings()
    try:
        if check_only:
            summary = check_backup(file)
            click.echo(
                f"备份完好 / the backup is sound: {summary.decisions} decisions, "
                f"{summary.audit_events} audit events, chain verified"
            )
            return
        summary, kept = restore_backup(
            file, settings.resolved_database_url, settings.resolved_attachments_path, force=force
        )
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    with engine_parts() as parts:
        # The restored chain goes on with a record of the restore itself.
        SecurityEvents(parts.sessions, parts.readers).record(
            audit_actor(SYSTEM),
            "restore_backup",
            origin="cli",
            detail={"backup_created_at": summary.created_at, "backup_head": summary.audit_head},
        )
    if kept is not None:
        click.echo(f"原数据库已保留 / the replaced database is kept as {kept}")
    click.echo(
        f"已恢复 / restored: {summary.decisions} decisions, {summary.audit_events} audit events "
        f"(chain verified), {summary.attachments} attachment files, from {summary.created_at}.\n"
        "如代码版本较新，请运行 decisionflow db upgrade / if this code is newer than the backup, "
        "run `decisionflow db upgrade`."
    )


def _load_plugins() -> None:
    """Add the commands other packages register (the web front end adds `serve`)."""
    # An entry-point group keeps the engine free of any import of the web layer.
    for entry in entry_points(group="decisionflow.commands"):
        command = entry.load()
        main.add_command(command, entry.name)


_load_plugins()


if __name__ == "__main__":
    main()
