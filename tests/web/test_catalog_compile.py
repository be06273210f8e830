"""Several server processes starting at once on a fresh instance all compile the catalogs."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from babel.messages.mofile import read_mo
from flask import Flask

from web.i18n import compile_catalogs

STARTING = 6


def _start(target: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait()
    compile_catalogs(Flask(__name__), Path(target))


def test_workers_starting_together_all_compile_the_catalogs(tmp_path: Path) -> None:
    # gunicorn's workers all build the app in the same instant; none may fail to boot
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(STARTING)
    workers = [
        context.Process(target=_start, args=(str(tmp_path), barrier)) for _ in range(STARTING)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * STARTING
    with (tmp_path / "zh" / "LC_MESSAGES" / "messages.mo").open("rb") as compiled:
        catalog = read_mo(compiled)
    assert catalog.get("Sign in") is not None and catalog.get("Sign in").string
    assert not list(tmp_path.rglob("*.tmp")), "temporary files left behind"
