"""The password policy: what a person choosing a password is told, in both languages."""

from __future__ import annotations

import pytest

from decisionflow.errors import InvalidInput
from decisionflow.passwords import (
    common_passwords,
    field_error,
    problems,
    require_good_password,
)
from decisionflow.seed import DEMO_PASSWORD
from tests.conftest import PASSWORD


@pytest.mark.parametrize(
    "password",
    [
        DEMO_PASSWORD,
        PASSWORD,
        "a-long-enough-password",
        "Tr0ub4dor&3-horse",
        "征收补偿方案2026年第三稿",
    ],
)
def test_good_passwords_pass(password: str) -> None:
    """The demo's and the tests' passwords, and mixed or Chinese passphrases, are accepted."""
    assert problems(password, username="li.na") == []


@pytest.mark.parametrize(
    ("password", "english"),
    [
        ("Short1!", "must have at least 12 characters"),
        ("abcdefghijklmnop", "must mix kinds of character"),
        ("1234567890123456", "must mix kinds of character"),
        ("aaaaaa111111", "must mix kinds of character"),
        ("li.na-is-my-name", "must not contain the username"),
        ("LI.NA-IS-MY-NAME", "must not contain the username"),
        ("qwertyuiop123", "is too common"),
        ("Password2026!", "is too common"),
        ("P@ssw0rd123!!", "is too common"),
        ("x" * 250 + "y1-abc+", "must have at most 256 characters"),
    ],
)
def test_weak_passwords_are_refused_saying_why(password: str, english: str) -> None:
    """Each weak password is refused with the rule it breaks, in English and Chinese."""
    found = problems(password, username="li.na")
    assert any(english in en for _, en in found), found
    assert all(zh and zh != en for zh, en in found)


def test_the_refusal_names_the_field_in_both_languages() -> None:
    """The service's refusal carries every problem beside the password field."""
    with pytest.raises(InvalidInput) as refused:
        require_good_password("short", username="li.na")
    zh, en = refused.value.fields["password"]
    assert "至少 12 个字符" in zh and "at least 12 characters" in en
    assert "不能只用一类字符" in zh
    # the administrator's forms show the very same message beside their password field
    assert field_error("short", username="li.na") == (zh, en)
    assert field_error(PASSWORD, username="li.na") is None


def test_the_common_list_is_bundled_and_lower_case() -> None:
    """The list ships with the package (no download) and compares without regard to case."""
    listed = common_passwords()
    assert "password" in listed and "qwerty" in listed
    assert all(p == p.lower() for p in listed)
