"""Validate a transition's or record's payload against its declared fields."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from decisionflow.definitions import FieldSpec
from decisionflow.errors import InvalidInput

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _clean(name: str, spec: FieldSpec, value: Any) -> Any:
    """One field's value in its proper type, or ValueError with a (zh, en) message."""
    if spec.type == "text":
        if not isinstance(value, str):
            raise ValueError(("应为文字", "must be text"))
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
        try:
            return date.fromisoformat(str(value).strip())
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
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(("应为整数", "must be a whole number")) from None
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError((f"不能小于 {spec.minimum}", f"must be at least {spec.minimum}"))
        return number
    if spec.type == "users":
        items = value.split(",") if isinstance(value, str) else value
        try:
            return sorted({int(item) for item in items if str(item).strip()})
        except (TypeError, ValueError):
            raise ValueError(("应为用户编号列表", "must be a list of user ids")) from None
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
