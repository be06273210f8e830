"""Backups of an SQLite instance: a consistent copy of the database and its attachment files.

A backup is one tar file (gzip-compressed if its name ends in .gz) holding

    decisionflow.db      the database, copied with SQLite's online backup API: one consistent
                         snapshot, taken while the application goes on writing
    attachments/xx/<sha256>
                         every attachment file the snapshot refers to (files are named by their
                         content's SHA-256 and never change, so a copy is checked by its name)
    MANIFEST.json        when, which schema revision, the audit chain's head, the database's
                         SHA-256 and the attachments' list

A restore checks all of it (the database's hash, the whole audit chain, every file's hash)
before it replaces anything, and keeps the database it replaces beside the new one.
PostgreSQL is backed up with its own tools (pg_dump); see the README.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from decisionflow import audit
from decisionflow.db import is_sqlite, make_engine

DATABASE = "decisionflow.db"
MANIFEST = "MANIFEST.json"
ATTACHMENTS = "attachments"
FORMAT = 1
_ATTACHMENT_NAME = re.compile(r"^attachments/([0-9a-f]{2})/([0-9a-f]{64})$")


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why, in Chinese and English."""


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds (or a restore put back)."""

    path: Path
    created_at: str
    schema_revision: str | None
    audit_events: int
    audit_head: str
    attachments: int
    decisions: int


def sqlite_path(url: str) -> Path:
    """The database file of an SQLite URL; BackupError for any other database."""
    if not is_sqlite(url):
        raise BackupError(
            "此命令只备份内置 SQLite 数据库；PostgreSQL 请用 pg_dump / pg_restore（见 README“部署”一节），"
            "并另行复制附件目录。\n"
            "This command backs up the embedded SQLite database only. Back up PostgreSQL with "
            "pg_dump (pg_dump -Fc -f decisionflow.dump DBNAME) and restore with pg_restore, "
            "and copy the attachments folder beside it (see the README, 'Deploying')."
        )
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("没有数据库文件可备份 / there is no database file to back up")
    return Path(database)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _facts(database: Path) -> dict[str, Any]:
    """Schema revision, audit head, counts and the attachment files of a database file."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        seq, head = connection.execute("SELECT seq, hash FROM audit_chain_head").fetchone()
        decisions = connection.execute("SELECT count(*) FROM decisions").fetchone()[0]
        files = sorted(
            row[0]
            for row in connection.execute(
                "SELECT DISTINCT sha256 FROM attachments WHERE storage = 'disk'"
            )
        )
    connection.close()
    return {
        "schema_revision": revision[0] if revision else None,
        "audit_events": seq,
        "audit_head": head,
        "decisions": decisions,
        "attachments": files,
    }


def verify_database(database: Path) -> audit.Verification:
    """Walk the audit chain of a database file (any copy, not the one being served)."""
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            integrity = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
            if integrity != "ok":
                return audit.Verification(
                    False,
                    0,
                    0,
                    None,
                    f"数据库文件已损坏：{integrity}",
                    f"the file is damaged: {integrity}",
                )
        with engine.connect() as connection:
            return audit.verify(connection)
    finally:
        engine.dispose()


def _snapshot(source: Path, target: Path) -> None:
    """Copy the live database into `target` with SQLite's online backup API, in one step."""
    # pages=-1 copies everything in one read transaction: a consistent snapshot, while writers
    # (in WAL mode) go on. Copying in slices would start over each time someone wrote.
    live = sqlite3.connect(source, timeout=60)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy, pages=-1)
        # A self-contained file: no write-ahead log beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        live.close()


def make_backup(
    database_url: str,
    attachments_folder: Path,
    target: Path,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BackupSummary:
    """Write a backup of the database and its attachment files to `target` (a .tar or .tar.gz)."""
    source = sqlite_path(database_url)
    if not source.exists():
        raise BackupError(f"没有数据库文件 / no database file at {source}")
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".backup-") as folder:
        snapshot = Path(folder) / DATABASE
        _snapshot(source, snapshot)
        checked = verify_database(snapshot)
        if not checked.ok:
            # Never write a backup of a broken chain as if it were sound: say so and stop.
            raise BackupError(
                f"审计链校验失败，未写入备份 / audit chain broken, no backup written: {checked}"
            )
        facts = _facts(snapshot)
        missing = [
            sha
            for sha in facts["attachments"]
            if not (attachments_folder / sha[:2] / sha).is_file()
        ]
        if missing:
            raise BackupError(
                f"附件目录缺少 {len(missing)} 个文件 / {len(missing)} attachment files are "
                f"missing from {attachments_folder} (first: {missing[0]})"
            )
        manifest = {
            "format": FORMAT,
            "created_at": clock().astimezone(UTC).isoformat(),
            "database_sha256": _sha256(snapshot),
            **facts,
        }
        partial = Path(folder) / "backup.partial"
        with tarfile.open(partial, "w:gz" if target.name.endswith(".gz") else "w") as archive:
            archive.add(snapshot, arcname=DATABASE)
            for sha in facts["attachments"]:
                archive.add(
                    attachments_folder / sha[:2] / sha, arcname=f"{ATTACHMENTS}/{sha[:2]}/{sha}"
                )
            text = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text))
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)  # a backup file is whole or absent, never half written
    return _summary(target, manifest)


def _summary(path: Path, manifest: dict[str, Any]) -> BackupSummary:
    return BackupSummary(
        path=path,
        created_at=manifest["created_at"],
        schema_revision=manifest["schema_revision"],
        audit_events=manifest["audit_events"],
        audit_head=manifest["audit_head"],
        attachments=len(manifest["attachments"]),
        decisions=manifest["decisions"],
    )


def _unpack(backup: Path, folder: Path) -> dict[str, Any]:
    """Extract a backup into `folder` and check it whole; its manifest, or BackupError."""
    try:
        with tarfile.open(backup) as archive:
            for member in archive.getmembers():
                # Only the three kinds of entry a backup has, as plain files: no links, no
                # absolute or climbing paths, nothing written outside `folder`.
                if not member.isfile() or not (
                    member.name in (DATABASE, MANIFEST) or _ATTACHMENT_NAME.match(member.name)
                ):
                    raise BackupError(
                        f"备份中有异常条目 / unexpected entry in the backup: {member.name!r}"
                    )
            archive.extractall(folder, filter="data")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise BackupError(f"无法读取备份文件 / cannot read the backup {backup}: {err}") from None
    try:
        manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BackupError(f"备份缺少有效的清单 / the backup has no valid manifest: {err}") from None
    database = folder / DATABASE
    if not database.is_file() or _sha256(database) != manifest.get("database_sha256"):
        raise BackupError(
            "备份中的数据库与清单不符（被改动或损坏），拒绝恢复 / the backup's database does not "
            "match its manifest (altered or damaged); nothing was restored"
        )
    checked = verify_database(database)
    if not checked.ok:
        raise BackupError(
            f"备份的审计链校验失败，拒绝恢复 / the backup's audit chain is broken; nothing was restored: {checked}"
        )
    facts = _facts(database)
    if facts["audit_head"] != manifest.get("audit_head"):
        raise BackupError(
            "备份的审计链头与清单不符 / the backup's chain head differs from its manifest"
        )
    listed = manifest.get("attachments")
    if not isinstance(listed, list) or not all(isinstance(sha, str) for sha in listed):
        raise BackupError("备份清单的附件列表无效 / the manifest's attachment list is not valid")
    # Every file the database refers to must be in the backup: a manifest that leaves some out
    # would restore a database pointing at files that are nowhere.
    unlisted = sorted(set(facts["attachments"]) - set(listed))
    if unlisted:
        raise BackupError(
            f"备份缺少数据库所引用的 {len(unlisted)} 个附件，拒绝恢复 / the backup lacks "
            f"{len(unlisted)} attachment files its database refers to (first: {unlisted[0]}); "
            "nothing was restored"
        )
    for sha in listed:
        copy = folder / ATTACHMENTS / sha[:2] / sha
        if not copy.is_file() or _sha256(copy) != sha:
            raise BackupError(
                f"备份中的附件缺失或被改动 / attachment {sha} is missing or altered in the backup"
            )
    return manifest


def check_backup(backup: Path) -> BackupSummary:
    """Check a backup without restoring it: its database, audit chain and files."""
    with tempfile.TemporaryDirectory(prefix=".check-") as folder:
        return _summary(backup, _unpack(backup, Path(folder)))


def restore_backup(
    backup: Path,
    database_url: str,
    attachments_folder: Path,
    *,
    force: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[BackupSummary, Path | None]:
    """Put a checked backup in place; the summary and where the replaced database was kept.

    Stop every application server first: a server holding the old file open would go on
    writing to it. Attachment files are added (never removed) in their content-named folder.
    """
    target = sqlite_path(database_url).resolve()
    if target.exists() and not force:
        raise BackupError(
            f"{target} 已存在；确认要替换时加 --force（原库会保留在旁边） / {target} exists; "
            "add --force to replace it (the current database is kept beside it)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Unpacked next to the target, so that the final rename stays on one file system (atomic).
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".restore-") as folder:
        unpacked = Path(folder)
        manifest = _unpack(backup, unpacked)
        for sha in manifest["attachments"]:
            placed = attachments_folder / sha[:2] / sha
            if not placed.exists():
                placed.parent.mkdir(parents=True, exist_ok=True)
                staging = placed.with_name(f".restoring-{sha}")
                shutil.copyfile(unpacked / ATTACHMENTS / sha[:2] / sha, staging)
                os.replace(staging, placed)
        kept = _set_aside(target, clock) if target.exists() else None
        os.replace(unpacked / DATABASE, target)
    return _summary(backup, manifest), kept


def _set_aside(target: Path, clock: Callable[[], datetime]) -> Path:
    """Fold the current database's write-ahead log into it and move it aside, whole."""
    with sqlite3.connect(target, timeout=60) as connection:
        # Everything committed goes into the main file, and the log is emptied: a stale log
        # left beside the restored file would otherwise be replayed into it.
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    stamp = clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = target.with_name(f"{target.name}.replaced-{stamp}")
    os.replace(target, kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return kept
