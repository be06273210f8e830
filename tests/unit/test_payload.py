"""Payload validation: each faulty field is named beside its label, in Chinese and English."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decisionflow.definitions import FieldSpec, load_definition
from decisionflow.errors import InvalidInput
from decisionflow.payload import to_json, validate_payload

MAJOR = load_definition(Path(__file__).resolve().parents[2] / "workflows" / "major_decision.yaml")


def spec(type_: str, *, zh: str = "字段", en: str = "Field", **extra: Any) -> FieldSpec:
    """One field declaration, as a definition would write it."""
    return FieldSpec.model_validate({"type": type_, "label": {"zh": zh, "en": en}, **extra})


def refused(fields: dict[str, FieldSpec], payload: dict[str, Any] | None) -> InvalidInput:
    """The InvalidInput a payload gets."""
    with pytest.raises(InvalidInput) as caught:
        validate_payload(fields, payload)
    assert caught.value.code == "invalid_input"
    return caught.value


def only_error(field: FieldSpec, value: Any) -> tuple[str, str]:
    """The (zh, en) message a single field `x` gets for a value."""
    return refused({"x": field}, {"x": value}).fields["x"]


REQUIRED = ("必须填写", "is required")
WHOLE = ("应为整数", "must be a whole number")


# -- required and blank ----------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["text", "date", "datetime", "int", "user", "users"])
@pytest.mark.parametrize("blank", [None, "", "   ", []], ids=["none", "empty", "spaces", "list"])
def test_a_required_field_left_blank_is_refused(type_: str, blank: Any) -> None:
    """Absent, empty or whitespace-only: the field is required."""
    assert only_error(spec(type_), blank) == REQUIRED


def test_a_required_choice_left_out_is_refused() -> None:
    """A choice nobody picked is missing, not an invalid choice."""
    field = spec("choice", choices=["lawful", "unlawful"])
    assert refused({"x": field}, {}).fields == {"x": REQUIRED}
    assert refused({"x": field}, None).fields == {"x": REQUIRED}


def test_optional_fields_may_be_left_out() -> None:
    """An optional blank field is simply absent from the clean payload."""
    fields = {"reason": spec("text", required=False), "due": spec("date", required=False)}
    assert validate_payload(fields, {"reason": "  ", "due": ""}) == {}
    assert validate_payload(fields, None) == {}


# -- text --------------------------------------------------------------------------------------


def test_text_is_stripped() -> None:
    """Surrounding whitespace from a form is not kept in the record."""
    assert validate_payload({"x": spec("text")}, {"x": "  起草说明 \n"}) == {"x": "起草说明"}


def test_text_of_another_type_is_refused() -> None:
    """A number sent for a text field (e.g. by an API client) is refused."""
    assert only_error(spec("text"), 42) == ("应为文字", "must be text")


def test_text_too_long_counts_characters_after_stripping() -> None:
    """Ten Chinese characters fit a 10-character field; eleven do not."""
    field = spec("text", max_length=10)
    assert validate_payload({"x": field}, {"x": " " + "决" * 10 + " "}) == {"x": "决" * 10}
    assert only_error(field, "决" * 11) == ("不能超过 10 个字符", "must be at most 10 characters")


# -- date and datetime -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["2026-10-01", " 2026-10-01 ", date(2026, 10, 1), datetime(2026, 10, 1, 9, 30)],
    ids=["text", "padded", "date", "datetime"],
)
def test_a_date_is_read(value: Any) -> None:
    """ISO text, a date or a datetime all become the date."""
    assert validate_payload({"x": spec("date")}, {"x": value}) == {"x": date(2026, 10, 1)}


@pytest.mark.parametrize(
    "value", ["2026/10/01", "01-10-2026", "2026-02-30", "20261001", "2026-W40-4", "tomorrow", 5]
)
def test_a_date_not_written_yyyy_mm_dd_is_refused(value: Any) -> None:
    """Only a real calendar date in YYYY-MM-DD form is a date."""
    assert only_error(spec("date"), value) == (
        "应为日期，格式 YYYY-MM-DD",
        "must be a date, YYYY-MM-DD",
    )


def test_a_datetime_is_read_and_a_bad_one_refused() -> None:
    """A date and time comes as ISO text or a datetime."""
    field = spec("datetime")
    assert validate_payload({"x": field}, {"x": "2026-10-01T09:30"}) == {
        "x": datetime(2026, 10, 1, 9, 30)
    }
    assert only_error(field, "2026-10-01 25:00") == (
        "应为日期时间",
        "must be a date and time, YYYY-MM-DDTHH:MM",
    )


# -- choice ------------------------------------------------------------------------------------


def test_a_choice_must_be_one_of_its_choices() -> None:
    """The refusal lists the allowed choices in both languages."""
    field = spec("choice", choices=["lawful", "lawful_with_amendments"])
    assert validate_payload({"x": field}, {"x": " lawful "}) == {"x": "lawful"}
    assert only_error(field, "unlawful") == (
        "应为以下之一：lawful、lawful_with_amendments",
        "must be one of: lawful, lawful_with_amendments",
    )
    assert only_error(field, "LAWFUL")[1].startswith("must be one of")


# -- bool --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("yes", True),
        ("on", True),
        ("1", True),
        ("TRUE", True),
        ("no", False),
        ("off", False),
        ("0", False),
        ("false", False),
        (None, False),
        ("", False),
    ],
)
def test_a_bool_is_parsed_from_form_values(value: Any, expected: bool) -> None:
    """Checkbox and API values read as yes/no; an unticked box (absent) is no."""
    assert validate_payload({"x": spec("bool")}, {"x": value}) == {"x": expected}


def test_an_absent_required_bool_is_false_not_missing() -> None:
    """An unticked checkbox is never "required": it is simply no."""
    assert validate_payload({"signed": spec("bool")}, {}) == {"signed": False}


def test_a_bool_that_is_neither_yes_nor_no_is_refused() -> None:
    """'maybe' is not an answer to "signed by the expert"."""
    assert only_error(spec("bool"), "maybe") == ("应为是或否", "must be yes or no")


# -- int and user ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("12", 12), (12, 12), (" 7 ", 7), (3.0, 3)])
def test_a_whole_number_is_read(value: Any, expected: int) -> None:
    """Digits from a form or a number from JSON become an int."""
    assert validate_payload({"x": spec("int")}, {"x": value}) == {"x": expected}


@pytest.mark.parametrize("value", ["3.7", 3.7, "abc", True, float("inf"), float("nan"), "1e3", [1]])
def test_anything_but_a_whole_number_is_refused(value: Any) -> None:
    """3.7 is not silently cut to 3, nor true taken as 1, nor infinity a crash."""
    assert only_error(spec("int"), value) == WHOLE


def test_an_int_below_its_minimum_is_refused() -> None:
    """A count of comments received cannot be negative."""
    received = MAJOR.records["comment_adoption_summary"].fields["received"]
    assert validate_payload({"received": received}, {"received": "0"}) == {"received": 0}
    err = refused({"received": received}, {"received": "-1"})
    assert err.fields == {"received": ("不能小于 0", "must be at least 0")}
    assert err.zh == "填写内容有误：收到意见数 不能小于 0"
    assert err.en == "Invalid input: Comments received must be at least 0"


def test_a_number_beyond_64_bits_is_refused() -> None:
    """No count needs more than a database's 64-bit integer; 2**70 is refused, not stored."""
    field = spec("int")
    assert validate_payload({"x": field}, {"x": 2**63 - 1}) == {"x": 2**63 - 1}
    assert only_error(field, 2**70) == ("数值过大", "is too large")
    assert only_error(field, -(2**64)) == ("数值过大", "is too large")
    assert only_error(field, "9" * 25) == ("数值过大", "is too large")


def test_a_user_is_a_user_id() -> None:
    """A single user is named by a positive id that fits the users table."""
    field = spec("user")
    assert validate_payload({"x": field}, {"x": "7"}) == {"x": 7}
    assert only_error(field, "zhang") == WHOLE
    for impossible in (0, -3, 2**31, 2**70):
        assert only_error(field, impossible) == ("不是有效的用户编号", "is not a valid user id")


# -- users -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3, 1,3", [1, 3]), ([2, "5"], [2, 5]), ("4,", [4]), ((9,), [9])],
)
def test_users_are_a_sorted_list_of_distinct_ids(value: Any, expected: list[int]) -> None:
    """Comma-separated text or a list both give each named user once."""
    assert validate_payload({"x": spec("users")}, {"x": value}) == {"x": expected}


@pytest.mark.parametrize(
    "value", ["a,b", [1, "x"], [1.5], 7, {"id": 1}, [True], [0], "-2", [2**31], [2**70]]
)
def test_users_that_are_not_ids_are_refused(value: Any) -> None:
    """Names, fractions, a lone number or ids no user can have are not a list of user ids."""
    assert only_error(spec("users"), value) == ("应为用户编号列表", "must be a list of user ids")


@pytest.mark.parametrize("value", [",", " , ", [""], [" ", ""]])
def test_required_users_naming_nobody_are_missing(value: Any) -> None:
    """A list of blanks names no expert: the required field is missing, not an empty list."""
    experts = next(
        t
        for t in MAJOR.branch("expert_argumentation").transitions
        if t.trigger == "request_expert_opinions"
    ).fields
    err = refused(experts, {"experts": value})
    assert err.fields == {"experts": REQUIRED}
    # the message uses the field's label, as the form shows it
    assert err.en == "Invalid input: Experts (from the pool; no direct interest) is required"


def test_optional_users_may_name_nobody() -> None:
    """An optional list of blanks is an empty list."""
    assert validate_payload({"x": spec("users", required=False)}, {"x": ","}) == {"x": []}


# -- unknown fields and the aggregated message -------------------------------------------------


def test_an_unknown_field_is_refused_by_its_name() -> None:
    """A field the action does not declare is refused (it would otherwise go unrecorded)."""
    err = refused({"reason": spec("text")}, {"reason": "理由", "signature": "x"})
    assert err.fields == {"signature": ("不是此操作的字段", "is not a field of this action")}
    assert err.zh == "填写内容有误：signature 不是此操作的字段"
    assert err.en == "Invalid input: signature is not a field of this action"


def test_every_faulty_field_is_named_with_its_label() -> None:
    """Opening a consultation with three faults names each by its label, in zh and en."""
    open_consultation = next(
        t
        for t in MAJOR.branch("public_participation").transitions
        if t.trigger == "open_consultation"
    )
    payload = {"explanation": 5, "deadline": "2026/04/30", "how_to_comment": "  "}
    err = refused(open_consultation.fields, payload)
    assert err.fields == {
        "explanation": ("应为文字", "must be text"),
        "how_to_comment": REQUIRED,
        "deadline": ("应为日期，格式 YYYY-MM-DD", "must be a date, YYYY-MM-DD"),
    }
    assert err.zh == (
        "填写内容有误：起草说明 应为文字；提出意见的方式 必须填写；"
        "截止日期 应为日期，格式 YYYY-MM-DD"
    )
    assert err.en == (
        "Invalid input: Explanation of the draft must be text; How to comment is required; "
        "Deadline must be a date, YYYY-MM-DD"
    )


def test_a_valid_payload_comes_back_typed_and_json_ready() -> None:
    """The clean payload has proper types; to_json turns dates back into ISO text."""
    open_consultation = next(
        t
        for t in MAJOR.branch("public_participation").transitions
        if t.trigger == "open_consultation"
    )
    clean = validate_payload(
        open_consultation.fields,
        {"explanation": "起草说明", "how_to_comment": "网站留言", "deadline": "2026-04-30"},
    )
    assert clean == {
        "explanation": "起草说明",
        "how_to_comment": "网站留言",
        "deadline": date(2026, 4, 30),
    }
    assert to_json(clean)["deadline"] == "2026-04-30"


# -- never a crash -----------------------------------------------------------------------------

FIELDS = {
    "text": spec("text", max_length=5),
    "date": spec("date"),
    "datetime": spec("datetime", required=False),
    "choice": spec("choice", choices=["a", "b"]),
    "bool": spec("bool"),
    "int": spec("int", minimum=0),
    "user": spec("user", required=False),
    "users": spec("users"),
}
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.sampled_from([*FIELDS, "other"]), JSONISH))
def test_any_payload_is_accepted_or_refused_as_invalid_input(payload: dict[str, Any]) -> None:
    """Whatever a client sends, the answer is a clean payload or InvalidInput naming fields."""
    try:
        clean = validate_payload(FIELDS, payload)
    except InvalidInput as err:
        assert err.fields
        assert set(err.fields) <= set(FIELDS) | {"other"}
        for zh, en in err.fields.values():
            assert zh in err.zh
            assert en in err.en
    else:
        assert set(clean) <= set(FIELDS)
        assert isinstance(clean["int"], int) and not isinstance(clean["int"], bool)
        assert clean["int"] >= 0
        assert isinstance(clean["date"], date)
        assert clean["users"] and all(isinstance(u, int) for u in clean["users"])
