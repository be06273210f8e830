"""Backups of an SQLite instance taken while it works, restored into a fresh one, checked whole."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from decisionflow.accounts import Actor
from decisionflow.backup import (
    DATABASE,
    MANIFEST,
    BackupError,
    check_backup,
    make_backup,
    restore_backup,
)
from decisionflow.bootstrap import Parts, build
from decisionflow.models import Attachment, AuditEvent, Decision, User
from decisionflow.roles import Role
from tests.conftest import Clock, People, make_people, settings_for
from tests.helpers import drive
from tests.integration.test_cli import run

PLAN = "区片,地价\n一,100\n".encode()


@pytest.fixture
def working(sqlite_url: str, tmp_path: Path, clock: Clock, password_hash: str) -> Iterator[Parts]:
    """An instance with people, a decision well along its path and a file attached to it."""
    parts = build(settings_for(sqlite_url, tmp_path / "instance"), clock=clock)
    people = make_people(parts, password_hash)
    view = drive(parts, people, clock, through="request_expert_opinions", title="旧城改造补偿方案")
    parts.decisions.attach_file(
        people[Role.STAFF], view.id, filename="测算表.csv", content_type="text/csv", data=PLAN
    )
    yield parts
    parts.dispose()


@pytest.fixture
def people(working: Parts) -> People:
    """The people of the working instance (made with it)."""
    with working.readers() as session:
        users = {u.username: Actor.of(u) for u in session.scalars(select(User))}
    return People(
        by_role={role: users[f"{role.value}_a"] for role in (Role.STAFF, Role.SUPERVISOR)},
        staff_b=users["staff_b"],
        executor_b=users["executor_b"],
        expert_2=users["expert_2"],
    )


def _decisions(parts: Parts) -> dict[int, tuple[str, str, int]]:
    with parts.readers() as session:
        return {
            d.id: (d.title, d.state, d.version)
            for d in session.scalars(select(Decision).order_by(Decision.id))
        }


@pytest.fixture
def fresh(tmp_path: Path, clock: Clock) -> Iterator[tuple[str, Path]]:
    """Where a new server's instance would be: its database URL and attachment folder."""
    folder = tmp_path / "fresh"
    yield f"sqlite:///{folder / 'decisionflow.db'}", folder / "attachments"


def test_a_backup_taken_while_the_app_writes_restores_whole(
    working: Parts, people: People, fresh: tuple[str, Path], tmp_path: Path
) -> None:
    """Decisions keep being proposed during the backup; the restored copy is one consistent
    moment: its chain verifies, its decisions equal the source's, its files open."""
    stop = threading.Event()
    proposed: list[int] = []

    def keep_proposing() -> None:
        while not stop.is_set():
            view = working.decisions.create_decision(
                people[Role.STAFF],
                title=f"同时提出的决策 {len(proposed) + 1}",
                category="public_policy",
                undertaking_unit="housing",
            )
            proposed.append(view.id)

    writer = threading.Thread(target=keep_proposing)
    writer.start()
    try:
        while len(proposed) < 3:  # the writer is well under way before the backup starts
            threading.Event().wait(0.01)
        summary = make_backup(
            working.settings.resolved_database_url,
            working.settings.resolved_attachments_path,
            tmp_path / "nightly.tar.gz",
        )
    finally:
        stop.set()
        writer.join()
    url, attachments = fresh
    restored_summary, kept = restore_backup(tmp_path / "nightly.tar.gz", url, attachments)
    assert kept is None and restored_summary == summary
    restored = build(settings_for(url, Path(url.removeprefix("sqlite:///")).parent))
    try:
        assert restored.verify_audit().ok
        copy = _decisions(restored)
        source = _decisions(working)
        assert len(copy) == summary.decisions >= 4
        # A consistent moment: every decision of the copy as the source has it, and the
        # newest ones the writer added after the snapshot are simply not there yet.
        assert copy == {i: source[i] for i in copy}
        assert set(source) - set(copy) <= set(proposed)
        with restored.readers() as session:
            events = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))
        assert events == summary.audit_events
        [sha] = _attachment_hashes(restored)
        assert restored.decisions.attachments.read(sha) == PLAN
    finally:
        restored.dispose()


def _attachment_hashes(parts: Parts) -> set[str]:
    with parts.readers() as session:
        return set(session.scalars(select(Attachment.sha256)))


def _rewrite(
    backup: Path, target: Path, change: dict[str, bytes], *, omit: frozenset[str] = frozenset()
) -> None:
    """Copy a backup, replacing some entries' content and leaving some out (as a tamperer would)."""
    with tarfile.open(backup) as source, tarfile.open(target, "w") as out:
        for member in source.getmembers():
            if member.name in omit:
                continue
            data = change.get(member.name)
            if data is None:
                extracted = source.extractfile(member)
                assert extracted is not None
                data = extracted.read()
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def _tampered_database(backup: Path, folder: Path) -> bytes:
    """The backup's database with one audit event's detail rewritten."""
    folder.mkdir()
    with tarfile.open(backup) as archive:
        archive.extract(DATABASE, folder, filter="data")
    path = folder / DATABASE
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER audit_events_no_update")  # what a tamperer would do first
        db.execute("UPDATE audit_events SET detail = '{}' WHERE seq = 2")
    db.close()
    return path.read_bytes()


def test_a_tampered_backup_is_refused_and_nothing_is_replaced(
    working: Parts, fresh: tuple[str, Path], tmp_path: Path
) -> None:
    """A backup whose database was altered is refused, even with its manifest altered to match."""
    original = tmp_path / "good.tar"
    make_backup(
        working.settings.resolved_database_url,
        working.settings.resolved_attachments_path,
        original,
    )
    url, attachments = fresh
    forged_db = _tampered_database(original, tmp_path / "forging")
    # The database changed, the manifest not: the hash tells.
    altered = tmp_path / "altered.tar"
    _rewrite(original, altered, {DATABASE: forged_db})
    with pytest.raises(BackupError, match="does not match its manifest"):
        restore_backup(altered, url, attachments)
    # The manifest rewritten to the forged file's hash: the audit chain tells.
    with tarfile.open(original) as archive:
        extracted = archive.extractfile(MANIFEST)
        assert extracted is not None
        manifest = json.loads(extracted.read())
    manifest["database_sha256"] = hashlib.sha256(forged_db).hexdigest()
    forged = tmp_path / "forged.tar"
    _rewrite(original, forged, {DATABASE: forged_db, MANIFEST: json.dumps(manifest).encode()})
    with pytest.raises(BackupError, match="audit chain is broken"):
        restore_backup(forged, url, attachments)
    # An attachment swapped for another content under the same name.
    [sha] = manifest["attachments"]
    swapped = tmp_path / "swapped.tar"
    _rewrite(original, swapped, {f"attachments/{sha[:2]}/{sha}": b"forged numbers"})
    with pytest.raises(BackupError, match="missing or altered"):
        check_backup(swapped)
    assert not Path(url.removeprefix("sqlite:///")).exists()  # nothing was put in place
    assert check_backup(original).audit_events > 0


def test_a_backup_whose_manifest_leaves_out_a_file_is_refused(
    working: Parts, people: People, fresh: tuple[str, Path], tmp_path: Path
) -> None:
    """A file the database refers to, dropped from the archive and from the manifest's list, is
    noticed: restoring would give decisions whose attachments are nowhere."""
    [decision_id] = _decisions(working)
    working.decisions.attach_file(
        people[Role.STAFF], decision_id, filename="意见.txt", content_type="text/plain",
        data="专家意见：同意".encode(),
    )  # fmt: skip
    original = tmp_path / "good.tar"
    make_backup(
        working.settings.resolved_database_url,
        working.settings.resolved_attachments_path,
        original,
    )
    with tarfile.open(original) as archive:
        extracted = archive.extractfile(MANIFEST)
        assert extracted is not None
        manifest = json.loads(extracted.read())
    kept, dropped = manifest["attachments"]
    manifest["attachments"] = [kept]
    short = tmp_path / "short.tar"
    _rewrite(
        original,
        short,
        {MANIFEST: json.dumps(manifest).encode()},
        omit=frozenset({f"attachments/{dropped[:2]}/{dropped}"}),
    )
    with pytest.raises(BackupError, match=f"lacks 1 attachment files .*first: {dropped}"):
        check_backup(short)
    url, attachments = fresh
    with pytest.raises(BackupError, match="备份缺少数据库所引用的 1 个附件"):
        restore_backup(short, url, attachments)
    assert not Path(url.removeprefix("sqlite:///")).exists()  # nothing was put in place
    assert not attachments.exists() or not any(attachments.rglob("*"))
    assert check_backup(original).attachments == 2


def test_an_archive_reaching_outside_its_folder_is_refused(
    working: Parts, fresh: tuple[str, Path], tmp_path: Path
) -> None:
    """A crafted archive naming ../ or an absolute path writes nothing anywhere."""
    for name in ("../escaped.txt", "/tmp/escaped.txt", "attachments/../../escaped.txt"):
        evil = tmp_path / "evil.tar"
        with tarfile.open(evil, "w") as out:
            info = tarfile.TarInfo(name)
            info.size = 4
            out.addfile(info, io.BytesIO(b"evil"))
        with pytest.raises(BackupError, match="unexpected entry"):
            restore_backup(evil, *fresh)
    assert not (tmp_path / "escaped.txt").exists()


def test_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    """An operator backs up, is stopped from overwriting by mistake, and restores with --force,
    the replaced database kept and the restore itself in the audit chain."""
    assert run(tmp_path, "db", "upgrade").returncode == 0
    made = run(
        tmp_path, "departments", "create", "housing", "--name-zh", "住建局", "--name-en", "Housing"
    )
    assert made.returncode == 0, made.stderr
    backup = run(tmp_path, "backup", str(tmp_path / "b.tar.gz"))
    assert backup.returncode == 0, backup.stderr
    assert "chain verified" in backup.stdout
    later = run(
        tmp_path, "departments", "create", "ecology", "--name-zh", "生态局", "--name-en", "Ecology"
    )
    assert later.returncode == 0
    refused = run(tmp_path, "restore", str(tmp_path / "b.tar.gz"))
    assert refused.returncode == 1 and "--force" in refused.stderr
    checked = run(tmp_path, "restore", "--check", str(tmp_path / "b.tar.gz"))
    assert checked.returncode == 0 and "sound" in checked.stdout
    restored = run(tmp_path, "restore", "--force", str(tmp_path / "b.tar.gz"))
    assert restored.returncode == 0, restored.stderr
    kept = list((tmp_path / "instance").glob("decisionflow.db.replaced-*"))
    assert len(kept) == 1
    with sqlite3.connect(tmp_path / "instance" / DATABASE) as db:
        codes = {row[0] for row in db.execute("SELECT code FROM departments")}
        actions = [row[0] for row in db.execute("SELECT action FROM audit_events ORDER BY seq")]
    db.close()
    assert codes == {"housing"}  # the department added after the backup is gone with it
    assert actions[-1] == "restore_backup"
    with sqlite3.connect(kept[0]) as db:  # and still in the database kept aside
        assert {row[0] for row in db.execute("SELECT code FROM departments")} == {
            "housing",
            "ecology",
        }
    db.close()
    verified = run(tmp_path, "audit", "verify")
    assert verified.returncode == 0, verified.stderr


def test_postgresql_is_pointed_to_pg_dump(tmp_path: Path) -> None:
    """On PostgreSQL the command refuses and says what to use instead."""
    result = run(
        tmp_path,
        "backup",
        str(tmp_path / "b.tar"),
        env={"DECISIONFLOW_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test"},
    )
    assert result.returncode == 1
    assert "pg_dump" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b.tar").exists()


def test_a_backup_of_a_broken_chain_is_not_written(working: Parts, tmp_path: Path) -> None:
    """If the live chain was tampered with, the backup says so instead of copying it as sound."""
    path = Path(working.settings.resolved_database_url.removeprefix("sqlite:///"))
    working.dispose()
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER audit_events_no_update")
        db.execute("UPDATE audit_events SET actor_username = 'someone' WHERE seq = 1")
    db.close()
    with pytest.raises(BackupError, match="audit chain broken"):
        make_backup(
            working.settings.resolved_database_url,
            working.settings.resolved_attachments_path,
            tmp_path / "b.tar",
        )
    assert not (tmp_path / "b.tar").exists()
