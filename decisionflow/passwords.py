"""The password policy: long, not one kind of character, not the username, not a common one."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from decisionflow.errors import InvalidInput

MIN_LENGTH = 12
#: Argon2 takes any length, but hashing megabytes on every sign-in is a cheap attack
MAX_LENGTH = 256
#: "aaaaaa111111" has two kinds of character yet is no secret
MIN_DISTINCT = 5


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of passwords too common to allow, in lower case."""
    text = files("decisionflow").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def _classes(password: str) -> int:
    """How many kinds of character it mixes: lower case, upper case, digits, anything else."""
    kinds = (str.islower, str.isupper, str.isdigit)
    found = {next((i for i, kind in enumerate(kinds) if kind(c)), len(kinds)) for c in password}
    return len(found)


def _is_common(password: str) -> bool:
    lowered = password.lower()
    # "Password2026!" is "password" with a year and a mark: a guesser's second try.
    stem = lowered.rstrip("0123456789!@#$%^&*.?-_ ")
    listed = common_passwords()
    return lowered in listed or stem in listed or lowered.replace(" ", "") in listed


def problems(password: str, *, username: str = "") -> list[tuple[str, str]]:
    """What is wrong with a password as a new one, each as (Chinese, English); [] if it is fine."""
    found: list[tuple[str, str]] = []
    if len(password) < MIN_LENGTH:
        found.append((f"至少 {MIN_LENGTH} 个字符", f"must have at least {MIN_LENGTH} characters"))
    if len(password) > MAX_LENGTH:
        found.append((f"不超过 {MAX_LENGTH} 个字符", f"must have at most {MAX_LENGTH} characters"))
    if password and (_classes(password) < 2 or len(set(password)) < MIN_DISTINCT):
        found.append(
            (
                "不能只用一类字符，请混合字母、数字、空格或符号",
                "must mix kinds of character (letters, digits, spaces or symbols), "
                "not repeat one kind",
            )
        )
    name = username.strip().lower()
    if name and name in password.lower():
        found.append(("不能包含用户名", "must not contain the username"))
    if password and _is_common(password):
        found.append(("过于常见，容易被猜中", "is too common and easily guessed"))
    return found


def field_error(password: str, *, username: str = "") -> tuple[str, str] | None:
    """Every problem of a new password as one (Chinese, English) field message; None if fine."""
    found = problems(password, username=username)
    if not found:
        return None
    return "；".join(zh for zh, _ in found), "; ".join(en for _, en in found)


def require_good_password(password: str, *, username: str = "", field: str = "password") -> None:
    """Refuse a new password that breaks the policy, naming every problem in both languages."""
    error = field_error(password, username=username)
    if error is not None:
        raise InvalidInput(
            zh="密码不符合要求", en="The password does not meet the policy", fields={field: error}
        )
