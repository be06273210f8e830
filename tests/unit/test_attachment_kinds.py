"""Attachments are accepted by what they contain, never by their name."""

from __future__ import annotations

import pytest

from decisionflow.attachments import content_kind


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n...", "pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"\xff\xd8\xff\xe0JFIF", "jpeg"),
        (b"PK\x03\x04word/document.xml", "office"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "office"),
        ("区片,地价\n一,100\n".encode(), "text"),
        ("征求意见稿".encode("gb18030"), "text"),
    ],
)
def test_documents_images_and_text_are_recognised(data, kind):
    """The kinds a government file holds are recognised from their first bytes."""
    assert content_kind(data) == kind


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows program named report.pdf
        b"\x7fELF\x02\x01\x01",  # a Linux program
        b"<!DOCTYPE html><script>alert(1)</script>",  # a page a browser would run
        b"<svg onload=alert(1)>",
        b"\x00\x01\x02\x03binary",
    ],
)
def test_programs_markup_and_unknown_binaries_are_refused(data):
    """Whatever the name says, a program or active markup is not a document."""
    assert content_kind(data) is None
