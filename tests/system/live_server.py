"""DecisionFlow served for real by gunicorn in a child process, for system tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from config import REPO_ROOT

APP = "web:create_app()"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """A gunicorn master serving the app; it can be killed and started again on the same port."""

    env: dict[str, str]
    port: int
    workers: int = 2
    threads: int = 1
    log: Path | None = None
    app: str = APP
    #: the path answered with 200 once the server is up (the floor app has no sign-in page)
    ready_path: str = "/login"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60.0) -> None:
        """Start gunicorn and wait until it answers /healthz-like requests (the login page)."""
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--graceful-timeout",
            "5",
            self.app,
        ]
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            # its own process group, so a SIGKILL reaches the master and every worker at once
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.process.returncode}; see {self.log}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the master and its workers: a crash, with no chance to clean up."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing whatever is left after a few seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def gunicorn_server(
    env: Mapping[str, str],
    *,
    workers: int = 2,
    threads: int = 1,
    log: Path | None = None,
    app: str = APP,
    ready_path: str = "/login",
) -> Iterator[LiveServer]:
    """Serve the app configured by `env` (DECISIONFLOW_* variables) until the block ends."""
    server = LiveServer(
        env=dict(env),
        port=free_port(),
        workers=workers,
        threads=threads,
        log=log,
        app=app,
        ready_path=ready_path,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
