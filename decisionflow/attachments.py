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


#: file kinds a decision's file may hold, recognised by their first bytes (never the name)
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"PK\x03\x04", "office"),  # .docx, .xlsx, .pptx, .odt, .ods (zip containers)
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "office"),  # .doc, .xls (OLE containers)
)


def content_kind(data: bytes) -> str | None:
    """What a file is by its content: a known document or image kind, plain text, or None."""
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # plain text saved by Chinese office software
        except UnicodeDecodeError:
            return None
    # Text, not a program or markup a browser would run: no control characters, no HTML.
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return None
    head = text.lstrip().lower()[:64]
    if head.startswith(("<!doctype", "<html", "<script", "<svg", "<?xml")):
        return None
    return "text"


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
        elif content_kind(data) is None:
            fields["file"] = (
                "只接受 PDF、图片、Office 文档和纯文本",
                "only PDF, images, office documents and plain text are accepted",
            )
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
