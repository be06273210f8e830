"""Every field of every procedure, fed whatever a web form can carry: a clean value or a refusal.

A browser's form sends text, or several texts for one name (checkboxes, multi-selects); a form
tampered with sends any name. Whatever arrives, validation answers with values of the field's
type, or with InvalidInput naming each faulty field in Chinese and English — never another error.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from config import REPO_ROOT
from decisionflow.definitions import FieldSpec
from decisionflow.errors import InvalidInput
from decisionflow.payload import to_json, validate_payload
from decisionflow.registry import DefinitionRegistry

REGISTRY = DefinitionRegistry.from_folder(REPO_ROOT / "workflows")


def _every_form() -> list[tuple[str, dict[str, FieldSpec]]]:
    """Each transition's and record's fields, under each procedure and each set of local rules."""
    definitions = [REGISTRY.current(p) for p in REGISTRY.procedures]
    definitions += [REGISTRY.current(o.base, overlay=o.overlay) for o in REGISTRY.overlays]
    forms: dict[str, dict[str, FieldSpec]] = {}
    for definition in definitions:
        where = f"{definition.procedure}@{definition.overlay or 'national'}"
        for transition in definition.every_transition:
            if transition.fields:
                forms[f"{where}:{transition.trigger}->{transition.dest}"] = dict(transition.fields)
        for kind, record in definition.records.items():
            if record.fields:
                forms[f"{where}:record:{kind}"] = dict(record.fields)
    return sorted(forms.items())


FORMS = _every_form()

#: what people and tampered forms type: digits of other scripts, huge numbers, control
#: characters, dates almost right, blank lines
TRICKY = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "²",
        "١٢",
        "9" * 5000,
        "1e3",
        "2026-02-30",
        "2026-13-01",
        "20261001",
        "2026-W40-4",
        "2026-03-02T09:00",
        "2026-03-02T09:00:00+08:00",
        "yes",
        "on",
        "true",
        "\x00",
        "征收\x00补偿",
        "a\r\nb",
        "\u2028",
        "😀" * 3,
    ]
)
FORM_TEXT = st.one_of(TRICKY, st.text(max_size=40))
FORM_VALUE = st.one_of(FORM_TEXT, st.lists(FORM_TEXT, min_size=2, max_size=4))


@st.composite
def filled(draw: st.DrawFn) -> tuple[str, dict[str, FieldSpec], dict[str, Any]]:
    """A form of some procedure, with its fields (and maybe others) filled anyhow."""
    name, fields = draw(st.sampled_from(FORMS))
    names = st.one_of(st.sampled_from(sorted(fields)), st.text(min_size=1, max_size=12))
    return name, fields, draw(st.dictionaries(names, FORM_VALUE, max_size=len(fields) + 2))


def _of_its_type(spec: FieldSpec, value: Any) -> bool:
    """Whether a cleaned value has the type its field declares."""
    kinds: dict[str, Any] = {
        "text": str,
        "department": str,
        "choice": str,
        "date": date,
        "datetime": datetime,
        "bool": bool,
        "int": int,
        "user": int,
        "users": list,
    }
    return isinstance(value, kinds[spec.type])


@settings(max_examples=400, deadline=None)
@given(form=filled())
def test_any_form_input_is_cleaned_or_refused_naming_each_field(
    form: tuple[str, dict[str, FieldSpec], dict[str, Any]],
) -> None:
    _name, fields, payload = form
    try:
        clean = validate_payload(fields, payload)
    except InvalidInput as err:
        # every fault is named, in both languages, and each appears in the refusal's message
        assert err.fields and set(err.fields) <= set(fields) | set(payload)
        for zh, en in err.fields.values():
            assert zh and en
            assert zh in err.zh and en in err.en
        return
    assert set(clean) <= set(fields)
    for name, value in clean.items():
        spec = fields[name]
        assert _of_its_type(spec, value), (name, spec.type, value)
        if spec.type == "text":
            assert "\x00" not in value and len(value) <= spec.max_length
        if spec.type == "choice":
            assert value in spec.choices
        if spec.type == "int" and spec.minimum is not None:
            assert value >= spec.minimum
    for name, spec in fields.items():
        if spec.required and spec.type != "bool":
            assert name in clean, f"required {name} missing, yet accepted"
    json.dumps(to_json(clean), ensure_ascii=False)  # what is kept is JSON


def test_every_procedure_has_forms_to_check() -> None:
    # the property above ranges over real forms: both procedures and the local rules
    procedures = {name.split("@", 1)[0] for name, _ in FORMS}
    assert procedures == set(REGISTRY.procedures)
    assert any("@liaoning" in name for name, _ in FORMS)
