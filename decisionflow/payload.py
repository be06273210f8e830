"""Validate a transition's or record's payload against its declared fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from decisionflow.definitions import FieldSpec
from decisionflow.errors import InvalidInput


def unstorable(text: str) -> bool:
    """Text with a NUL (PostgreSQL's text refuses it) or a lone surrogate (no UTF-8 has it)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WHOLE = re.compile(r"[+-]?\d{1,30}")
#: what a database's 64-bit integer holds; a larger number is no count anybody means
_INT_LIMIT = 2**63 - 1
#: users.id is a 32-bit INTEGER: no user has a larger id, and the database would choke on it
_USER_ID_LIMIT = 2**31 - 1
_NOT_USERS = ("应为用户编号列表", "must be a list of user ids")


def _whole_number(value: Any) -> int:
    """An integer from an int or its decimal text; ValueError for anything else."""
    # int() alone would take True as 1, truncate 3.7 to 3 and raise OverflowError on inf.
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(value)
    return number


def _is_user_id(number: int) -> bool:
    return 1 <= number <= _USER_ID_LIMIT


def _clean(name: str, spec: FieldSpec, value: Any) -> Any:
    """One field's value in its proper type, or ValueError with a (zh, en) message."""
    if spec.type == "department":
        # a department's code; whether it exists is the service's question
        if not isinstance(value, str) or not value.strip() or len(value) > 32:
            raise ValueError(("应为单位代码", "must be a department code"))
        return value.strip()
    if spec.type == "text":
        if not isinstance(value, str):
            raise ValueError(("应为文字", "must be text"))
        if "\x00" in value:
            # PostgreSQL refuses NUL in text; no clerk types one on purpose
            raise ValueError(("含有不允许的字符", "contains a character that is not allowed"))
        value = value.strip()
        if len(value) > spec.max_length:
            raise ValueError(
                (
                    f"不能超过 {spec.max_length} 个字符",
                    f"must be at most {spec.max_length} characters",
                )
            )
        return value
    if spec.type == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = str(value).strip()
        try:
            # fromisoformat alone also takes 20261001 and 2026-W40-4, which nobody means
            if not _ISO_DATE.fullmatch(text):
                raise ValueError(text)
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(("应为日期，格式 YYYY-MM-DD", "must be a date, YYYY-MM-DD")) from None
    if spec.type == "datetime":
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(
                ("应为日期时间", "must be a date and time, YYYY-MM-DDTHH:MM")
            ) from None
    if spec.type == "choice":
        if isinstance(value, str):
            value = value.strip()
        if value not in spec.choices:
            raise ValueError(
                (
                    f"应为以下之一：{'、'.join(spec.choices)}",
                    f"must be one of: {', '.join(spec.choices)}",
                )
            )
        return value
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ValueError(("应为是或否", "must be yes or no"))
    if spec.type in {"int", "user"}:
        try:
            number = _whole_number(value)
        except ValueError:
            raise ValueError(("应为整数", "must be a whole number")) from None
        if spec.type == "user" and not _is_user_id(number):
            raise ValueError(("不是有效的用户编号", "is not a valid user id"))
        if abs(number) > _INT_LIMIT:
            raise ValueError(("数值过大", "is too large"))
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError((f"不能小于 {spec.minimum}", f"must be at least {spec.minimum}"))
        return number
    if spec.type == "users":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError(_NOT_USERS)
        try:
            ids = sorted({_whole_number(item) for item in items if str(item).strip()})
        except ValueError:
            raise ValueError(_NOT_USERS) from None
        if not all(_is_user_id(i) for i in ids):
            raise ValueError(_NOT_USERS)
        if not ids and spec.required:
            raise ValueError(("必须填写", "is required"))  # "," or [""]: nobody named
        return ids
    raise AssertionError(f"unhandled field type {spec.type}")


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def validate_payload(
    fields: Mapping[str, FieldSpec], payload: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The payload's values in their proper types; InvalidInput names every faulty field."""
    payload = payload or {}
    errors: dict[str, tuple[str, str]] = {}
    clean: dict[str, Any] = {}
    for name in payload:
        if name not in fields:
            errors[name] = ("不是此操作的字段", "is not a field of this action")
    for name, spec in fields.items():
        value = payload.get(name)
        if _is_blank(value):
            if spec.required and spec.type != "bool":
                errors[name] = ("必须填写", "is required")
            elif spec.type == "bool":
                clean[name] = False
            continue
        try:
            clean[name] = _clean(name, spec, value)
        except ValueError as err:
            errors[name] = err.args[0]
    if errors:
        raise InvalidInput(
            zh="填写内容有误："
            + "；".join(
                f"{fields[n].label.zh if n in fields else n} {m[0]}" for n, m in errors.items()
            ),
            en="Invalid input: "
            + "; ".join(
                f"{fields[n].label.en if n in fields else n} {m[1]}" for n, m in errors.items()
            ),
            fields=errors,
        )
    return clean


def to_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """A cleaned payload as JSON-ready values (dates as ISO text)."""
    return {k: v.isoformat() if isinstance(v, (date, datetime)) else v for k, v in values.items()}
