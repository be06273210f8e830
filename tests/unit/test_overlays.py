"""Local overlays: a province's numbers and extra steps merge into the national procedure, and
every faulty overlay is named by its file, the place inside it and the problem."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from decisionflow.cli import main
from decisionflow.definitions import Definition, DefinitionError, load_definition
from decisionflow.overlays import Overlay, apply_overlay, parse_overlay, split_ref
from decisionflow.registry import DefinitionRegistry

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
MAJOR = load_definition(WORKFLOWS / "major_decision.yaml")
NORMATIVE = load_definition(WORKFLOWS / "normative_document.yaml")
LIAONING_TEXT = (WORKFLOWS / "overlays" / "liaoning.yaml").read_text(encoding="utf-8")
FILE = "overlays/liaoning.yaml"


def label(zh: str, en: str) -> dict[str, str]:
    """A bilingual label."""
    return {"zh": zh, "en": en}


# A small overlay that uses every kind of change, on the national major-decision procedure.
GOOD: dict[str, Any] = {
    "overlay": "liaoning",
    "version": 1,
    "base": "major_decision",
    "title": label("辽宁省规定", "Liaoning provisions"),
    "basis": "辽宁省人民政府令第346号",
    "parameters": {"review_working_days": {"value": 10, "article": "Liaoning Decree 346 Art 27"}},
    "add_records": {
        "legal_adviser_opinion": {
            "label": label("法律顾问意见", "Legal adviser's opinion"),
            "article": "Liaoning Decree 346 Art 28",
            "roles": ["legal_officer"],
            "allowed_in": ["legality_review"],
            "fields": {"opinion": {"type": "text", "label": label("意见", "Opinion")}},
        }
    },
    "add_requirements": {
        "legality_review": [
            {"record": "legal_adviser_opinion", "article": "Liaoning Decree 346 Art 28"}
        ],
        "public_participation.consultation_closed": [
            {"record": "legal_basis", "article": "Liaoning Decree 346 Art 15"}
        ],
    },
    "add_guards": {
        "find_lawful": [
            {
                "name": "record_field_not_equals",
                "article": "Liaoning Decree 346 Art 28",
                "params": {"record": "legal_adviser_opinion", "field": "opinion", "value": "否"},
            }
        ]
    },
    "add_time_rules": {
        "find_lawful": [
            {
                "kind": "min_elapsed",
                "since": "state_entry",
                "days": 3,
                "unit": "working_days",
                "article": "Liaoning Decree 346 Art 27",
            }
        ]
    },
}


def merge(doc: dict[str, Any], base: Definition = MAJOR) -> Definition:
    """Parse an overlay document and merge it into the base."""
    overlay = parse_overlay(yaml.safe_dump(doc, allow_unicode=True), file=FILE)
    return apply_overlay(base, overlay, file=FILE)


def refusal(mutate: Callable[[dict[str, Any]], Any]) -> DefinitionError:
    """The error a mutated overlay is refused with."""
    doc = copy.deepcopy(GOOD)
    mutate(doc)
    with pytest.raises(DefinitionError) as info:
        merge(doc)
    return info.value


def transition(definition: Definition, trigger: str) -> Any:
    """The first route of a trigger, main line or branch."""
    every = list(definition.transitions)
    every += [t for s in definition.states for b in s.branches for t in b.transitions]
    return next(t for t in every if t.trigger == trigger)


# -- a valid overlay -------------------------------------------------------------------------


def test_the_overlay_raises_the_number_and_cites_the_local_article() -> None:
    """The legality review period becomes 10 working days, citing Art 27 and the Liaoning article."""
    merged = merge(GOOD)
    assert merged.parameter("review_working_days") == 10
    assert merged.parameters["review_working_days"].minimum == 7  # the law's floor stays
    rule = transition(merged, "submit_legality_review").time_rules[0]
    assert merged.days(rule) == 10
    assert rule.article == "Art 27; Liaoning Decree 346 Art 27"
    # the national definition itself is untouched
    assert MAJOR.parameter("review_working_days") == 7
    assert transition(MAJOR, "submit_legality_review").time_rules[0].article == "Art 27"


def test_the_overlay_adds_records_requirements_guards_and_time_rules() -> None:
    """Each addition lands where the overlay says: main line, branch state, and trigger."""
    merged = merge(GOOD)
    assert merged.records["legal_adviser_opinion"].article == "Liaoning Decree 346 Art 28"
    # the local requirement comes after the national one (the signed legality opinion, Art 28)
    assert [r.record for r in merged.state("legality_review").requires] == [
        "legality_opinion",
        "legal_adviser_opinion",
    ]
    closed = next(
        s for s in merged.branch("public_participation").states if s.name == "consultation_closed"
    )
    assert [r.record for r in closed.requires] == ["comment_adoption_summary", "legal_basis"]
    # the local guard is added after the national ones, which stay as they were
    national = [(g.name, g.article) for g in transition(MAJOR, "find_lawful").guards]
    lawful = transition(merged, "find_lawful")
    assert [(g.name, g.article) for g in lawful.guards] == [
        *national,
        ("record_field_not_equals", "Liaoning Decree 346 Art 28"),
    ]
    assert lawful.guards[-1].params["record"] == "legal_adviser_opinion"
    assert [(r.kind, r.article) for r in lawful.time_rules] == [
        ("min_elapsed", "Liaoning Decree 346 Art 27")
    ]


def test_the_merged_definition_names_its_overlay_and_both_bases() -> None:
    """The merged rules say which overlay they run under and cite both legal bases."""
    merged = merge(GOOD)
    assert merged.overlay == "liaoning@1"
    assert merged.key == MAJOR.key  # still the national procedure and version
    assert MAJOR.basis in merged.basis and "辽宁省人民政府令第346号" in merged.basis


def test_the_digest_covers_the_base_and_the_overlay_texts() -> None:
    """Changing either text changes the merged digest; the same texts give the same digest."""
    merged = merge(GOOD)
    assert merged.digest not in ("", MAJOR.digest)
    assert merge(GOOD).digest == merged.digest
    changed = copy.deepcopy(GOOD)
    changed["title"]["en"] = "Liaoning provisions (2024)"
    assert merge(changed).digest != merged.digest
    other_base = MAJOR.model_copy(update={"digest": "0" * 64})
    assert merge(GOOD, other_base).digest != merged.digest


def test_the_shipped_overlays_merge_into_their_bases() -> None:
    """Liaoning, Dalian and the Liaoning normative-document overlays fit the shipped procedures."""
    registry = DefinitionRegistry.from_folder(WORKFLOWS)
    liaoning = registry.current("major_decision", overlay="liaoning")
    assert liaoning.parameter("review_working_days") == 10
    assert [(r.record, r.article) for r in liaoning.state("legality_review").requires] == [
        ("legality_opinion", "Art 28"),
        ("legal_adviser_opinion", "Liaoning Decree 346 Art 28"),
    ]
    dalian = registry.current("major_decision", overlay="dalian")
    assert [r.record for r in dalian.state("proposed").requires] == [
        "proposal",
        "catalogue_listing",
    ]
    normative = registry.current("normative_document", overlay="liaoning_normative")
    filing = transition(normative, "file_with_authority")
    assert filing.time_rules[0].article == "GOV-2018-37 §3(8); Liaoning Decree 346 Art 26"
    assert [o.overlay for o in registry.overlays_for("normative_document")] == [
        "liaoning_normative"
    ]


def test_an_overlay_may_not_apply_to_another_procedure() -> None:
    """The Liaoning major-decision overlay does not fit the normative-document procedure."""
    with pytest.raises(DefinitionError) as info:
        merge(GOOD, NORMATIVE)
    assert (info.value.file, info.value.path) == (FILE, "base")
    assert "for 'major_decision'; it cannot apply to 'normative_document'" in info.value.problem


# -- each faulty overlay, named --------------------------------------------------------------

CASES: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    (
        "parameter below the statutory minimum",
        lambda d: d["parameters"]["review_working_days"].update(value=5),
        "parameters.review_working_days.value",
        "5 is below the statutory minimum 7 (Art 27)",
    ),
    (
        "unknown parameter",
        lambda d: d["parameters"].update(review_days={"value": 9, "article": "Liaoning Art 1"}),
        "parameters.review_days",
        "'major_decision' has no parameter 'review_days' (known: comment_period_days, "
        "hearing_materials_days, hearing_notice_days, review_working_days)",
    ),
    (
        "requirement on an unknown state",
        lambda d: d["add_requirements"].update(legal_review=[{"record": "x", "article": "L 1"}]),
        "add_requirements.legal_review",
        "unknown state 'legal_review' (known: ",
    ),
    (
        "requirement on an unknown branch state",
        lambda d: d["add_requirements"].update(
            {"public_participation.hearing": [{"record": "proposal", "article": "L 1"}]}
        ),
        "add_requirements.public_participation.hearing",
        "unknown state 'public_participation.hearing' (known: ",
    ),
    (
        "requirement of an unknown record",
        lambda d: d["add_requirements"]["legality_review"][0].update(record="adviser_opinion"),
        "add_requirements.legality_review[0].record",
        "unknown record 'adviser_opinion' (known: ",
    ),
    (
        "guard on an unknown trigger",
        lambda d: d["add_guards"].update(submit_review=d["add_guards"]["find_lawful"]),
        "add_guards.submit_review",
        "unknown trigger 'submit_review' (known: ",
    ),
    (
        "unknown guard",
        lambda d: d["add_guards"]["find_lawful"][0].update(name="adviser_agrees"),
        "add_guards.find_lawful[0].name",
        "unknown guard 'adviser_agrees' (known: ",
    ),
    (
        "guard naming a field the record lacks",
        lambda d: d["add_guards"]["find_lawful"][0]["params"].update(field="verdict"),
        "add_guards.find_lawful[0].params.field",
        "record 'legal_adviser_opinion' has no field 'verdict'",
    ),
    (
        "time rule on an unknown trigger",
        lambda d: d["add_time_rules"].update(find_legal=d["add_time_rules"]["find_lawful"]),
        "add_time_rules.find_legal",
        "unknown trigger 'find_legal' (known: ",
    ),
    (
        "time rule on an unknown parameter",
        lambda d: d["add_time_rules"]["find_lawful"][0].update(days="review_days"),
        "add_time_rules.find_lawful[0].days",
        "unknown parameter 'review_days' (known: comment_period_days, hearing_materials_days, "
        "hearing_notice_days, review_working_days)",
    ),
    (
        "field time rule on a transition without that date field",
        lambda d: d["add_time_rules"]["find_lawful"][0].update(
            kind="field_min_ahead", field="reviewed_on"
        ),
        "add_time_rules.find_lawful[0].field",
        "must name a date field of this transition",
    ),
    (
        "a record the base already has",
        lambda d: d["add_records"].update(draft_version=d["add_records"]["legal_adviser_opinion"]),
        "add_records.draft_version",
        "'major_decision' already has a record 'draft_version'; "
        "an overlay adds records, it cannot redefine one",
    ),
    (
        "a new record allowed in an unknown state",
        lambda d: d["add_records"]["legal_adviser_opinion"].update(allowed_in=["legal_review"]),
        "add_records.legal_adviser_opinion.allowed_in[0]",
        "unknown state 'legal_review'",
    ),
    (
        "a new record named like a trigger",
        lambda d: d.update(
            add_records={"find_lawful": d["add_records"]["legal_adviser_opinion"]},
            add_requirements={},
            add_guards={},
        ),
        "add_records.find_lawful",
        "'find_lawful' is also a trigger; a move is kept as a record of its trigger's name, "
        "so name the record differently",
    ),
    (
        "unknown top-level key",
        lambda d: d.update(add_states={}),
        "add_states",
        "unknown key; allowed here: overlay, version, base, title, basis, parameters, "
        "add_records, add_requirements, add_guards, add_time_rules",
    ),
    (
        "unknown key in a parameter change",
        lambda d: d["parameters"]["review_working_days"].update(minimum=0),
        "parameters.review_working_days.minimum",
        "unknown key; allowed here: value, article",
    ),
    (
        "missing base",
        lambda d: d.pop("base"),
        "base",
        "required key is missing",
    ),
    (
        "version not a number",
        lambda d: d.update(version="two"),
        "version",
        "should be a whole number, got the text 'two'",
    ),
    (
        "parameter change without its article",
        lambda d: d["parameters"]["review_working_days"].pop("article"),
        "parameters.review_working_days.article",
        "required key is missing",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_faulty_overlay_is_named(
    mutate: Callable[[dict[str, Any]], Any], path: str, problem: str
) -> None:
    """One DefinitionError names the overlay file, the place in the overlay and the problem."""
    err = refusal(mutate)
    assert (err.file, err.path) == (FILE, path)
    assert err.problem.startswith(problem), err.problem
    assert str(err).startswith(f"{FILE}: {path}: ")


def test_invalid_yaml_names_the_line() -> None:
    """A YAML slip is reported with its line, not a traceback."""
    with pytest.raises(DefinitionError) as info:
        parse_overlay("overlay: liaoning\nversion: [1\n", file=FILE)
    assert info.value.file == FILE
    assert info.value.path.startswith("line ")
    assert info.value.problem.startswith("not valid YAML")


def test_a_key_written_twice_is_refused() -> None:
    """Two `parameters:` keys would silently drop the first; the loader refuses them."""
    text = LIAONING_TEXT + "\nparameters: {}\n"
    with pytest.raises(DefinitionError, match="found the key 'parameters' twice"):
        parse_overlay(text, file=FILE)


def test_overlay_references() -> None:
    """A decision names its overlay as name@version; a bare name means the newest on file."""
    overlay = parse_overlay(LIAONING_TEXT, file=FILE)
    assert isinstance(overlay, Overlay) and overlay.ref == "liaoning@1"
    assert split_ref("liaoning@1") == ("liaoning", 1)
    assert split_ref("liaoning") == ("liaoning", None)
    with pytest.raises(KeyError):
        split_ref("liaoning@latest")


# -- the folder: file names, bases, and the check command ------------------------------------


def folder_with(tmp_path: Path, overlays: dict[str, str], base_edit: str = "") -> Path:
    """A workflows folder with the shipped procedures and the given overlay files."""
    folder = tmp_path / "workflows"
    (folder / "overlays").mkdir(parents=True)
    for name in ("major_decision.yaml", "normative_document.yaml"):
        shutil.copyfile(WORKFLOWS / name, folder / name)
    if base_edit:
        path = folder / "major_decision.yaml"
        path.write_text(path.read_text(encoding="utf-8") + base_edit, encoding="utf-8")
    for name, text in overlays.items():
        (folder / "overlays" / name).write_text(text, encoding="utf-8")
    return folder


def test_the_registry_refuses_a_faulty_overlay_at_start_up(tmp_path: Path) -> None:
    """A faulty overlay stops the engine from starting, naming the overlay's file and place."""
    bad = LIAONING_TEXT.replace("value: 10", "value: 6")
    folder = folder_with(tmp_path, {"liaoning.yaml": bad})
    with pytest.raises(DefinitionError) as info:
        DefinitionRegistry.from_folder(folder)
    assert str(info.value) == (
        "overlays/liaoning.yaml: parameters.review_working_days.value: "
        "6 is below the statutory minimum 7 (Art 27)"
    )


def test_an_overlay_lives_in_the_file_named_after_it(tmp_path: Path) -> None:
    """overlays/shenyang.yaml claiming to be `liaoning` is refused."""
    folder = folder_with(tmp_path, {"shenyang.yaml": LIAONING_TEXT})
    with pytest.raises(DefinitionError) as info:
        DefinitionRegistry.from_folder(folder)
    assert (info.value.file, info.value.path) == ("overlays/shenyang.yaml", "overlay")
    assert "name the file liaoning.yaml" in info.value.problem


def test_an_overlay_of_an_unknown_procedure_is_refused(tmp_path: Path) -> None:
    """An overlay whose base is not on file names the procedures that are."""
    text = LIAONING_TEXT.replace("base: major_decision", "base: major_decisions")
    folder = folder_with(tmp_path, {"liaoning.yaml": text})
    with pytest.raises(DefinitionError) as info:
        DefinitionRegistry.from_folder(folder)
    assert (info.value.file, info.value.path) == ("overlays/liaoning.yaml", "base")
    assert info.value.problem == (
        "unknown procedure 'major_decisions' (known: major_decision, normative_document)"
    )


def test_a_procedure_file_cannot_claim_an_overlay(tmp_path: Path) -> None:
    """Local rules go in overlays/: a national file naming an overlay is refused."""
    folder = folder_with(tmp_path, {}, base_edit="overlay: liaoning@1\n")
    with pytest.raises(DefinitionError) as info:
        DefinitionRegistry.from_folder(folder)
    assert (info.value.file, info.value.path) == ("major_decision.yaml", "overlay")


def test_the_registry_merges_on_request_and_keeps_machines_apart() -> None:
    """current/get with an overlay give the merged rules; each has its own machine."""
    registry = DefinitionRegistry.from_folder(WORKFLOWS)
    national = registry.current("major_decision")
    local = registry.current("major_decision", overlay="liaoning")
    assert national.overlay is None and local.overlay == "liaoning@1"
    assert registry.get("major_decision", 1, overlay="liaoning@1") is local
    assert registry.get("major_decision", 1) is national
    assert registry.machine(local) is not registry.machine(national)
    assert registry.machine(local) is registry.machine(
        registry.current("major_decision", "liaoning")
    )
    with pytest.raises(KeyError):
        registry.current("major_decision", overlay="liaoning_normative")  # another procedure's
    with pytest.raises(KeyError):
        registry.current("major_decision", overlay="guangdong")
    with pytest.raises(KeyError):
        registry.get("major_decision", 1, overlay="liaoning@7")  # no such version, no database


def test_workflows_check_validates_the_overlays(tmp_path: Path) -> None:
    """`decisionflow workflows check` lists each overlay, and names a faulty one's file and place."""
    runner = CliRunner()
    good = runner.invoke(main, ["workflows", "check", "--folder", str(WORKFLOWS)])
    assert good.exit_code == 0, good.output
    assert "ok   overlays/liaoning.yaml: liaoning v1 on major_decision v1" in good.output
    assert (
        "ok   overlays/liaoning_normative.yaml: liaoning_normative v1 on normative_document v1"
        in good.output
    )
    bad = LIAONING_TEXT.replace("  legality_review:\n", "  legal_review:\n")
    folder = folder_with(tmp_path, {"liaoning.yaml": bad})
    result = runner.invoke(main, ["workflows", "check", "--folder", str(folder)])
    assert result.exit_code == 1
    assert (
        "FAIL overlays/liaoning.yaml: add_requirements.legal_review: unknown state 'legal_review'"
        in result.output
    )
    assert "1 of 3 definition and overlay files are invalid" in result.output
