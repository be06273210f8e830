"""Where attachment files are kept: on disk, named by their SHA-256."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from decisionflow.errors import InvalidInput


def valid_filename(filename: str) -> bool:
    """A bare file name: no folder part, no drive, no control character, not "." or ".."."""
    name = filename.strip()
    return (
        bool(name)
        and len(filename) <= 255
        and name not in {".", ".."}
        and not any(c in filename for c in "/\\:")
        and all(c.isprintable() for c in filename)
    )


def size_text(size: int) -> str:
    """A byte count as people read it: "20 MB", "64 KB", "900 B"."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} B"


class AttachmentStore:
    """Files kept under a folder by content hash; the same content is stored once."""

    def __init__(self, folder: Path, *, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def check(self, filename: str, data: bytes) -> None:
        """Refuse an empty, oversized or badly named file."""
        fields: dict[str, tuple[str, str]] = {}
        if not valid_filename(filename):
            fields["filename"] = ("文件名无效", "is not a valid file name")
        if not data:
            fields["file"] = ("文件为空", "is empty")
        elif len(data) > self.max_bytes:
            limit = size_text(self.max_bytes)
            fields["file"] = (f"超过 {limit} 上限", f"exceeds the {limit} limit")
        if fields:
            raise InvalidInput(
                zh="附件不能接收", en="The attachment cannot be accepted", fields=fields
            )

    def path(self, sha256: str) -> Path:
        """Where the file with that hash lives."""
        return self.folder / sha256[:2] / sha256

    def save(self, sha256: str, data: bytes) -> str:
        """Write the file (atomically, once per content) and say how it is stored."""
        target = self.path(sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Written beside its final name, then renamed: a crash never leaves half a file
            # under a hash that claims it whole.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        return "disk"

    def read(self, sha256: str) -> bytes:
        """The content of a stored file."""
        return self.path(sha256).read_bytes()
