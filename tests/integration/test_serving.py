"""Served by gunicorn with the repository's gunicorn.conf.py, behind a (pretend) load balancer."""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import select

from config import REPO_ROOT
from decisionflow import security_events as events
from decisionflow.bootstrap import build
from decisionflow.models import AuditEvent
from tests.conftest import PASSWORD, make_people, settings_for
from tests.system.live_server import gunicorn_server


def _print_config(**env: str) -> dict[str, str]:
    """The settings gunicorn would run with, as `--print-config` shows them."""
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--print-config",
            "config:load_settings",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return dict(re.findall(r"^(\w+)\s+= (.*)$", shown, re.MULTILINE))


def test_the_gunicorn_settings_follow_the_environment() -> None:
    """Workers, threads and address come from the environment; workers never preload the app."""
    default = _print_config()
    assert int(default["workers"]) == 2 * (os.cpu_count() or 1) + 1
    assert default["preload_app"] == "False"  # each worker builds its own database engine
    assert int(default["max_requests"]) > 0 and int(default["max_requests_jitter"]) > 0
    chosen = _print_config(
        DECISIONFLOW_WORKERS="3",
        DECISIONFLOW_THREADS="4",
        DECISIONFLOW_BIND="0.0.0.0:9000",
        DECISIONFLOW_FORWARDED_ALLOW_IPS="10.0.0.5",
    )
    assert (chosen["workers"], chosen["threads"]) == ("3", "4")
    assert chosen["bind"] == "['0.0.0.0:9000']"
    assert chosen["forwarded_allow_ips"] == "['10.0.0.5']"


def test_behind_the_balancer_the_audit_log_names_the_client(
    sqlite_url: str, tmp_path: Path, password_hash: str
) -> None:
    """Signed in through gunicorn with X-Forwarded-For, the sign-in is audited from the client."""
    instance = tmp_path / "instance"
    parts = build(settings_for(sqlite_url, instance))
    make_people(parts, password_hash)
    parts.dispose()
    env = {
        "DECISIONFLOW_PROFILE": "test",
        "DECISIONFLOW_DATABASE_URL": sqlite_url,
        "DECISIONFLOW_INSTANCE_PATH": str(instance),
        "DECISIONFLOW_PROXY_HOPS": "1",
    }
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(env, workers=1, log=log) as server:
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = browser.open(f"{server.url}/login", timeout=30).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = urllib.parse.urlencode(
            {"username": "staff_a", "password": PASSWORD, "csrf_token": token.group(1)}
        ).encode()
        request = urllib.request.Request(
            f"{server.url}/login", data=form, headers={"X-Forwarded-For": "203.0.113.9"}
        )
        landed = browser.open(request, timeout=30)
        assert landed.status == 200 and landed.url.endswith("/work")
    parts = build(settings_for(sqlite_url, instance))
    try:
        with parts.readers() as session:
            origins = list(
                session.scalars(
                    select(AuditEvent.origin).where(AuditEvent.action == events.SIGN_IN)
                )
            )
        assert origins == ["web 203.0.113.9"]
        assert parts.verify_audit().ok
    finally:
        parts.dispose()
    # The access log is written in the repository's format (so the file was read), with the
    # forwarded client beside the balancer's address.
    assert 'fwd="203.0.113.9"' in log.read_text()
