"""Whole numbers read from what a browser sends: ASCII digits, within a bound."""

from __future__ import annotations

import re
from typing import TypeVar

T = TypeVar("T")

_DIGITS = re.compile(r"[0-9]+")
#: far beyond any draft's version number a page is asked for (the drafts side by side)
MAX_VERSION = 1_000_000
#: past this many digits no number is meant (and int() of thousands of digits raises)
_MOST_DIGITS = 18


def whole_number(text: str, default: T, *, most: int) -> int | T:
    """The number `text` writes in ASCII digits, at most `most`; `default` if it writes none.

    "²" and "١" are digits to str.isdigit(), yet int("²") raises: only 0-9 count here.
    """
    if not _DIGITS.fullmatch(text):
        return default
    return min(int(text) if len(text) <= _MOST_DIGITS else most, most)
