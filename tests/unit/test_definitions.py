"""Procedure definitions: the shipped Decree 713 file loads; every malformed file is named."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decisionflow.definitions import (
    Definition,
    DefinitionError,
    load_definition,
    parse_definition,
)
from decisionflow.roles import Role

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
MAJOR_DECISION = WORKFLOWS / "major_decision.yaml"
ARTICLE = re.compile(r"^Art \d+$")


def label(zh: str, en: str) -> dict[str, str]:
    """A bilingual label."""
    return {"zh": zh, "en": en}


# The smallest definition the loader accepts: two states and one move between them.
MINIMAL: dict[str, Any] = {
    "procedure": "minimal",
    "version": 1,
    "title": label("最小程序", "Minimal procedure"),
    "basis": "Decree 713",
    "states": [
        {"name": "open", "label": label("办理中", "Open"), "initial": True},
        {"name": "closed", "label": label("已办结", "Closed"), "final": True},
    ],
    "transitions": [
        {
            "trigger": "close",
            "label": label("办结", "Close"),
            "source": "open",
            "dest": "closed",
            "roles": ["staff"],
            "article": "Art 10",
        }
    ],
}

# A small definition that uses every part a mutation below breaks: a flag, a parameter, a
# record, a requirement, a parallel branch, a guard and both kinds of time rule.
SMALL: dict[str, Any] = {
    "procedure": "small",
    "version": 1,
    "title": label("小程序", "Small procedure"),
    "basis": "Decree 713",
    "flags": {"professional": {"label": label("专业性强", "Professional"), "article": "Art 19"}},
    "parameters": {
        "comment_days": {
            "value": 30,
            "minimum": 30,
            "label": label("征求意见期限", "Comment period"),
            "article": "Art 15",
        }
    },
    "records": {
        "opinion": {
            "label": label("专家意见", "Expert opinion"),
            "article": "Art 20",
            "roles": ["expert"],
            "allowed_in": ["consultation.asking"],
            "fields": {
                "text": {"type": "text", "label": label("意见", "Opinion")},
                "verdict": {
                    "type": "choice",
                    "choices": ["feasible", "not_feasible"],
                    "label": label("结论", "Verdict"),
                },
            },
        }
    },
    "states": [
        {"name": "drafting", "label": label("起草", "Drafting"), "initial": True},
        {
            "name": "review",
            "label": label("论证", "Review"),
            "branches": [
                {
                    "name": "consultation",
                    "label": label("专家论证", "Expert consultation"),
                    "article": "Art 19",
                    "when": {"flags": ["professional"]},
                    "states": [
                        {"name": "pending", "label": label("未开始", "Pending"), "initial": True},
                        {
                            "name": "asking",
                            "label": label("论证中", "Asking"),
                            "requires": [{"record": "opinion", "article": "Art 20"}],
                        },
                        {"name": "done", "label": label("已完成", "Done"), "final": True},
                    ],
                    "transitions": [
                        {
                            "trigger": "ask_experts",
                            "label": label("组织论证", "Ask experts"),
                            "source": "pending",
                            "dest": "asking",
                            "roles": ["staff"],
                            "article": "Art 19",
                        },
                        {
                            "trigger": "finish_consultation",
                            "label": label("完成论证", "Finish consultation"),
                            "source": "asking",
                            "dest": "done",
                            "roles": ["staff"],
                            "article": "Art 21",
                        },
                    ],
                }
            ],
        },
        {"name": "decided", "label": label("已决定", "Decided"), "final": True},
    ],
    "transitions": [
        {
            "trigger": "submit",
            "label": label("提交论证", "Submit for review"),
            "source": "drafting",
            "dest": "review",
            "roles": ["staff"],
            "article": "Art 12",
            "fields": {
                "deadline": {"type": "date", "label": label("截止日期", "Deadline")},
                "reason": {
                    "type": "text",
                    "required": False,
                    "label": label("缩短理由", "Reason to shorten"),
                },
            },
            "time_rules": [
                {
                    "kind": "field_min_ahead",
                    "field": "deadline",
                    "days": "comment_days",
                    "article": "Art 15",
                    "waiver": {"record": "submit", "field": "reason"},
                }
            ],
        },
        {
            "trigger": "decide",
            "label": label("作出决定", "Decide"),
            "source": "review",
            "dest": "decided",
            "roles": ["chief_executive"],
            "article": "Art 30",
            "guards": [{"name": "required_branches_complete", "article": "Art 25"}],
            "time_rules": [
                {
                    "kind": "min_elapsed",
                    "since": "submit",
                    "days": 3,
                    "unit": "working_days",
                    "article": "Art 27",
                }
            ],
        },
    ],
}


def dump(doc: Any) -> str:
    """A document as YAML text (libyaml when present: the Hypothesis test dumps a lot)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False)


def parse(doc: Any, file: str = "small.yaml") -> Definition:
    """Parse a document as if it were read from a file of that name."""
    return parse_definition(dump(doc), file=file)


def refusal(mutate: Callable[[dict[str, Any]], Any]) -> DefinitionError:
    """The DefinitionError the loader raises for SMALL changed by `mutate`."""
    doc = copy.deepcopy(SMALL)
    mutate(doc)
    with pytest.raises(DefinitionError) as caught:
        parse(doc)
    return caught.value


def transition(**overrides: Any) -> dict[str, Any]:
    """A main-line transition of SMALL's shape, with some keys replaced."""
    base = {
        "trigger": "withdraw",
        "label": label("撤回", "Withdraw"),
        "source": "drafting",
        "dest": "decided",
        "roles": ["staff"],
        "article": "Art 37",
    }
    return base | overrides


def branch(doc: dict[str, Any]) -> dict[str, Any]:
    """SMALL's one parallel branch."""
    return doc["states"][1]["branches"][0]


# -- the shipped definition ------------------------------------------------------------------


@pytest.fixture(scope="module")
def major() -> Definition:
    """The real Decree 713 definition."""
    return load_definition(MAJOR_DECISION)


def test_major_decision_loads_with_its_digest(major: Definition) -> None:
    """The shipped definition validates and carries the SHA-256 of its text."""
    assert major.key == ("major_decision", 1)
    text = MAJOR_DECISION.read_text(encoding="utf-8")
    assert major.digest == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_major_decision_starts_at_the_proposal(major: Definition) -> None:
    """A new decision starts as a proposal, which the Art 10 proposal record must back."""
    assert major.initial_state.name == "proposed"
    assert [(r.record, r.article) for r in major.initial_state.requires] == [("proposal", "Art 10")]
    # a major adjustment ends this decision and re-runs the procedure in a successor (Art 37)
    assert {s.name for s in major.states if s.final} == {
        "archived",
        "declined",
        "rejected",
        "adjusted",
        "terminated",
    }


def test_argumentation_runs_four_branches_switched_by_flags(major: Definition) -> None:
    """Participation unless not disclosed (Art 14); a hearing if vital interests (Art 16);
    experts if professional (Art 19); risk if social (Art 22)."""
    branches = {b.name: b for b in major.branches_in("argumentation")}
    assert list(branches) == [
        "public_participation",
        "hearing",
        "expert_argumentation",
        "risk_assessment",
    ]
    public, hearing, expert, risk = branches.values()
    assert public.article == "Art 14"
    assert public.when is not None
    assert (public.when.flags, public.when.not_flags) == ((), ("not_disclosed",))
    assert hearing.article == "Art 16"
    assert hearing.when is not None
    assert (hearing.when.flags, hearing.when.not_flags) == (("vital_interests",), ())
    assert expert.article == "Art 19"
    assert expert.when is not None
    assert (expert.when.flags, expert.when.not_flags) == (("professional",), ())
    assert risk.article == "Art 22"
    assert risk.when is not None
    assert (risk.when.flags, risk.when.not_flags) == (("social_risk",), ())
    # What the flags mean for a real decision: a non-disclosed, professional matter skips
    # the public consultation and the hearing but needs the experts.
    flags = {"not_disclosed": True, "professional": True}
    assert not public.when.holds(flags)
    assert not hearing.when.holds(flags)
    assert expert.when.holds(flags)
    assert not risk.when.holds(flags)
    # Work done before a return to drafting stands: a completed branch is not re-run.
    assert all(b.keep_on_reentry for b in branches.values())


def test_leaving_argumentation_needs_every_required_branch(major: Definition) -> None:
    """Submitting for legality review is guarded by the Art 25 branch check and Art 27 days."""
    [submit] = [t for t in major.transitions if t.trigger == "submit_legality_review"]
    assert [(g.name, g.article) for g in submit.guards] == [
        ("required_branches_complete", "Art 25")
    ]
    [rule] = submit.time_rules
    assert (rule.kind, major.days(rule), rule.unit, rule.article) == (
        "field_min_ahead",
        7,
        "working_days",
        "Art 27",
    )


def test_every_rule_of_the_major_decision_cites_an_article(major: Definition) -> None:
    """Each transition, record, requirement, guard, time rule, flag and parameter names its article."""
    cited: list[tuple[str, str]] = []
    every = list(major.transitions)
    every += [t for s in major.states for b in s.branches for t in b.transitions]
    for t in every:
        cited.append((f"transition {t.trigger}", t.article))
        cited += [(f"guard {g.name} of {t.trigger}", g.article) for g in t.guards]
        cited += [(f"time rule of {t.trigger}", r.article) for r in t.time_rules]
    cited += [(f"record {name}", r.article) for name, r in major.records.items()]
    states = list(major.states) + [
        s for st_ in major.states for b in st_.branches for s in b.states
    ]
    cited += [(f"requirement of {s.name}", r.article) for s in states for r in s.requires]
    cited += [(f"branch {b.name}", b.article) for s in major.states for b in s.branches]
    cited += [(f"flag {name}", f.article) for name, f in major.flags.items()]
    cited += [(f"parameter {name}", p.article) for name, p in major.parameters.items()]
    uncited = [what for what, article in cited if not ARTICLE.match(article)]
    assert uncited == []
    # not vacuous: the walk did reach the guards, time rules and branch requirements
    kinds = {what.split()[0] for what, _ in cited}
    assert kinds == {
        "transition",
        "guard",
        "time",
        "record",
        "requirement",
        "branch",
        "flag",
        "parameter",
    }
    assert ("requirement of consulting", "Art 21") in cited


def test_statutory_parameters_sit_at_their_minimum(major: Definition) -> None:
    """The comment period is 30 days (Art 15) and the review 7 working days (Art 27)."""
    assert major.parameter("comment_period_days") == 30
    assert major.parameters["comment_period_days"].minimum == 30
    assert major.parameter("review_working_days") == 7
    assert major.parameters["review_working_days"].minimum == 7


# -- valid small definitions ------------------------------------------------------------------


def test_minimal_definition_loads() -> None:
    """Two states and one move make a valid procedure; a lone source becomes a tuple."""
    definition = parse(MINIMAL, file="minimal.yaml")
    assert definition.key == ("minimal", 1)
    assert definition.initial_state.name == "open"
    [close] = definition.transitions
    assert close.source == ("open",)
    assert close.roles == (Role.STAFF,)
    assert definition.triggers == ("close",)


def test_small_definition_loads() -> None:
    """The test's richer definition loads, with its branch and its parameter resolved."""
    definition = parse(SMALL)
    assert definition.branch_of_trigger("ask_experts") is not None
    assert definition.branch_of_trigger("submit") is None
    assert definition.days(definition.transitions[0].time_rules[0]) == 30


def test_a_changed_text_gets_a_new_digest() -> None:
    """Even a comment changes the digest, so an in-place edit of a version is noticed."""
    text = dump(MINIMAL)
    one = parse_definition(text, file="minimal.yaml")
    two = parse_definition(text + "# edited\n", file="minimal.yaml")
    assert one.digest != two.digest
    assert one.model_copy(update={"digest": ""}) == two.model_copy(update={"digest": ""})


# -- malformed files: exactly one DefinitionError naming file, path and problem ----------------


def test_text_that_is_not_yaml_names_line_and_column() -> None:
    """A YAML syntax error points at its line and column."""
    text = dump(MINIMAL).replace("version: 1", "version: [1")
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, file="minimal.yaml")
    err = caught.value
    assert err.file == "minimal.yaml"
    assert re.fullmatch(r"line \d+, column \d+", err.path)
    assert str(err).startswith(f"minimal.yaml: {err.path}: not valid YAML: ")


def test_a_tab_indent_is_reported_where_it_is() -> None:
    """A tab in the indentation is named at its exact place."""
    text = "procedure: minimal\nversion: 1\ntitle:\n\tzh: 最小\n"
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, file="minimal.yaml")
    assert str(caught.value) == (
        "minimal.yaml: line 4, column 1: not valid YAML: "
        "found character '\\t' that cannot start any token"
    )


def test_a_forbidden_character_is_reported_where_it_is() -> None:
    """A control character YAML refuses gets a line and column too."""
    with pytest.raises(DefinitionError) as caught:
        parse_definition("procedure: minimal\nversion: 1\x07\n", file="minimal.yaml")
    assert str(caught.value) == (
        "minimal.yaml: line 2, column 11: not valid YAML: "
        "the character #x0007 is not allowed in YAML text"
    )


def test_a_key_written_twice_is_refused() -> None:
    """PyYAML would silently keep the second `guards:`; the loader refuses the file."""
    text = dump(MINIMAL) + "version: 2\n"
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, file="minimal.yaml")
    assert re.fullmatch(
        r"minimal\.yaml: line \d+, column 1: not valid YAML: found the key 'version' twice",
        str(caught.value),
    )


def test_anchors_and_merge_keys_still_work() -> None:
    """Refusing repeated keys does not refuse YAML's own reuse: `&anchor`, `*alias`, `<<:`."""
    text = """
procedure: minimal
version: 1
title: &title {zh: 最小程序, en: Minimal procedure}
basis: Decree 713
states:
  - {name: open, label: *title, initial: true}
  - name: closed
    label:
      <<: *title
      en: Closed
    final: true
transitions:
  - {trigger: close, label: *title, source: open, dest: closed, roles: [staff], article: Art 10}
"""
    definition = parse_definition(text, file="minimal.yaml")
    assert definition.states[0].label.en == "Minimal procedure"
    assert definition.states[1].label.model_dump() == {"zh": "最小程序", "en": "Closed"}


def test_python_tags_are_refused_not_run() -> None:
    """A Python object tag is a YAML error, never an object built from the file."""
    text = "procedure: !!python/object/apply:os.getcwd []\n"
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, file="evil.yaml")
    assert "could not determine a constructor" in str(caught.value)
    assert str(caught.value).startswith("evil.yaml: line 1, column 12: not valid YAML: ")


@pytest.mark.parametrize(
    ("text", "got"),
    [("- a\n- b\n", "a list"), ("just text\n", "the text 'just text'"), ("", "nothing (null)")],
)
def test_a_document_that_is_not_a_mapping(text: str, got: str) -> None:
    """A list, a scalar or an empty file is refused as a whole."""
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, file="odd.yaml")
    assert (caught.value.file, caught.value.path) == ("odd.yaml", "")
    assert str(caught.value) == (
        f"odd.yaml: must be a mapping with procedure, version, states…, got {got}"
    )


def test_deep_nesting_is_a_definition_error_not_a_crash() -> None:
    """A pathologically nested document is refused, not a RecursionError."""
    with pytest.raises(DefinitionError) as caught:
        parse_definition("a: " + "[" * 5000 + "]" * 5000, file="deep.yaml")
    assert "nested too deeply" in str(caught.value)


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    """A missing file is a DefinitionError naming the path."""
    missing = tmp_path / "absent.yaml"
    with pytest.raises(DefinitionError) as caught:
        load_definition(missing)
    assert str(caught.value) == f"{missing}: cannot be read: No such file or directory"


def test_a_file_not_in_utf8_names_the_byte(tmp_path: Path) -> None:
    """A GBK-encoded file (common on Chinese desktops) is named, with the first bad byte."""
    path = tmp_path / "gbk.yaml"
    path.write_bytes("procedure: minimal\ntitle: 重大\n".encode("gbk"))
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert str(caught.value) == "gbk.yaml: byte 26: is not UTF-8 text; save the file as UTF-8"


def _drop_state(doc: dict[str, Any], index: int) -> None:
    del doc["states"][index]


# Each case: (id, change to SMALL, expected path, expected problem). The message must be
# exactly "small.yaml: <path>: <problem>", so a clerk editing the file finds the spot.
CASES: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    # -- shape (pydantic) --
    ("missing key", lambda d: d.pop("title"), "title", "required key is missing"),
    (
        "missing nested key",
        lambda d: d["transitions"][1].pop("article"),
        "transitions[1].article",
        "required key is missing",
    ),
    (
        "unknown key",
        lambda d: d["states"][0].update(intial=True),
        "states[0].intial",
        "unknown key; allowed here: name, label, initial, final, requires, branches",
    ),
    (
        "unknown top-level key",
        lambda d: d.update(author="someone"),
        "author",
        "unknown key; allowed here: procedure, version, title, basis, flags, parameters, "
        "records, states, transitions, public_comments, published_by, archive_article, overlay",
    ),
    (
        "wrong type: text for a number",
        lambda d: d.update(version="one"),
        "version",
        "should be a whole number, got the text 'one'",
    ),
    (
        "wrong type: true for a number",
        lambda d: d.update(version=True),
        "version",
        "should be a whole number, got true",
    ),
    (
        "wrong type: number for a list",
        lambda d: d["transitions"][0].update(roles=5),
        "transitions[0].roles",
        "should be a list, got the number 5",
    ),
    (
        "wrong type: text for a flag",
        lambda d: d["states"][2].update(final="yes please"),
        "states[2].final",
        "should be true or false, got the text 'yes please'",
    ),
    (
        "wrong type: list for a label",
        lambda d: d["states"][0].update(label=["起草"]),
        "states[0].label",
        "should be a mapping, got a list",
    ),
    (
        "version zero",
        lambda d: d.update(version=0),
        "version",
        "should be greater than or equal to 1, got the number 0",
    ),
    (
        "article too short",
        lambda d: d["transitions"][0].update(article="15"),
        "transitions[0].article",
        "should have at least 3 characters, got the text '15'",
    ),
    (
        "bad state name",
        lambda d: d["states"][0].update(name="Drafting"),
        "states[0].name",
        "'Drafting' is not a valid name: use lower-case letters, digits and '_', "
        "starting with a letter, at most 64 characters",
    ),
    (
        "bad field name (a key)",
        lambda d: d["transitions"][0]["fields"].update(
            {"due-date": d["transitions"][0]["fields"]["deadline"]}
        ),
        "transitions[0].fields.due-date",
        "'due-date' is not a valid name: use lower-case letters, digits and '_', "
        "starting with a letter, at most 64 characters",
    ),
    (
        "unknown role",
        lambda d: d["transitions"][0].update(roles=["clerk"]),
        "transitions[0].roles[0]",
        "unknown role 'clerk'; known roles: 'admin', 'staff', 'government_office', "
        "'legal_officer', 'expert', 'chief_executive', 'executor', 'supervisor' or 'public'",
    ),
    (
        "the public given a move",
        lambda d: d["transitions"][0].update(roles=["public"]),
        "transitions[0].roles[0]",
        "the public has no account and acts only through the portal; name a user role",
    ),
    (
        "unknown field type",
        lambda d: d["transitions"][0]["fields"]["deadline"].update(type="day"),
        "transitions[0].fields.deadline.type",
        "should be 'text', 'date', 'datetime', 'choice', 'bool', 'int', 'user', 'users' or "
        "'department', got the text 'day'",
    ),
    (
        "time rule days neither number nor name",
        lambda d: d["transitions"][1]["time_rules"][0].update(days="3 days"),
        "transitions[1].time_rules[0].days",
        "should be a whole number of days (0 or more) or the name of a parameter, "
        "got the text '3 days'",
    ),
    (
        "time rule days negative",
        lambda d: d["transitions"][1]["time_rules"][0].update(days=-3),
        "transitions[1].time_rules[0].days",
        "should be a whole number of days (0 or more) or the name of a parameter, "
        "got the number -3",
    ),
    (
        "transition without source",
        lambda d: d["transitions"][0].update(source=[]),
        "transitions[0].source",
        "should list at least 1 items, found 0",
    ),
    # -- states --
    (
        "unknown source state",
        lambda d: d["transitions"][0].update(source=["draft"]),
        "transitions[0].source[0]",
        "unknown state 'draft' (known: decided, drafting, review)",
    ),
    (
        "unknown dest state",
        lambda d: d["transitions"][1].update(dest="approved"),
        "transitions[1].dest",
        "unknown state 'approved' (known: decided, drafting, review)",
    ),
    (
        "unknown state in a branch",
        lambda d: branch(d)["transitions"][1].update(dest="finished"),
        "states[1].branches[0].transitions[1].dest",
        "unknown state 'finished' (known: asking, done, pending)",
    ),
    (
        "main-line state used in a branch",
        lambda d: branch(d)["transitions"][1].update(dest="decided"),
        "states[1].branches[0].transitions[1].dest",
        "unknown state 'decided' (known: asking, done, pending)",
    ),
    (
        "transition leaving a final state",
        lambda d: d["transitions"].append(
            transition(trigger="reopen", source="decided", dest="drafting")
        ),
        "transitions[2].source[0]",
        "'decided' is final; nothing may leave it",
    ),
    (
        "two initial states",
        lambda d: d["states"][1].update(initial=True),
        "states",
        "exactly one state must be initial, found 2",
    ),
    (
        "no initial state",
        lambda d: d["states"][0].update(initial=False),
        "states",
        "exactly one state must be initial, found 0",
    ),
    (
        "no initial state in a branch",
        lambda d: branch(d)["states"][0].update(initial=False),
        "states[1].branches[0].states",
        "exactly one state must be initial, found 0",
    ),
    (
        "no final state",
        lambda d: d["states"][2].update(final=False),
        "states",
        "at least one state must be final",
    ),
    (
        "duplicate state",
        lambda d: d["states"].append({"name": "review", "label": label("复核", "Review")}),
        "states[3].name",
        "state 'review' is declared twice",
    ),
    (
        "unreachable state",
        lambda d: (
            d["states"].insert(2, {"name": "orphan", "label": label("孤立", "Orphan")}),
            d["transitions"].append(transition(trigger="adopt", source="orphan")),
        ),
        "states[2]",
        "state 'orphan' cannot be reached from the initial state",
    ),
    (
        "dead-end state",
        lambda d: (
            d["states"].insert(2, {"name": "limbo", "label": label("搁置", "Limbo")}),
            d["transitions"].append(transition(trigger="shelve", dest="limbo")),
        ),
        "states[2]",
        "state 'limbo' is a dead end: not final and no transition leaves it",
    ),
    (
        "dead end inside a branch",
        lambda d: branch(d)["transitions"].pop(),
        "states[1].branches[0].states[1]",
        "state 'asking' is a dead end: not final and no transition leaves it",
    ),
    (
        "final state holding branches",
        lambda d: d["states"][2].update(branches=copy.deepcopy(d["states"][1]["branches"])),
        "states[2].branches",
        "a final state cannot hold branches",
    ),
    (
        "nested branches",
        lambda d: branch(d)["states"][1].update(branches=copy.deepcopy(d["states"][1]["branches"])),
        "states[1].branches[0].states[1].branches",
        "branches cannot be nested",
    ),
    # -- guards --
    (
        "unknown guard",
        lambda d: d["transitions"][1]["guards"][0].update(name="all_branches_done"),
        "transitions[1].guards[0].name",
        "unknown guard 'all_branches_done' (known: all_comments_disposed, departure_explained, "
        "differs_from_records, payload_date_not_past, reassessed_after_adjustment, "
        "record_date_reached, record_field_equals, record_field_not_equals, "
        "required_branches_complete, signature_covers_current_draft, value_needs_flag)",
    ),
    (
        "guard parameter missing",
        lambda d: d["transitions"][1]["guards"].append(
            {"name": "record_field_equals", "article": "Art 24", "params": {"record": "opinion"}}
        ),
        "transitions[1].guards[1].params",
        "guard 'record_field_equals' takes parameters ['field', 'record', 'value'], got ['record']",
    ),
    (
        "guard parameter extra",
        lambda d: d["transitions"][1]["guards"][0].update(params={"strict": True}),
        "transitions[1].guards[0].params",
        "guard 'required_branches_complete' takes parameters [], got ['strict']",
    ),
    (
        "guard on an unknown record",
        lambda d: d["transitions"][1]["guards"].append(
            {
                "name": "record_field_equals",
                "article": "Art 24",
                "params": {"record": "report", "field": "verdict", "value": "feasible"},
            }
        ),
        "transitions[1].guards[1].params.record",
        "unknown record 'report' (known: ask_experts, decide, finish_consultation, opinion, "
        "submit)",
    ),
    (
        "guard on an unknown record field",
        lambda d: d["transitions"][1]["guards"].append(
            {
                "name": "record_field_equals",
                "article": "Art 24",
                "params": {"record": "opinion", "field": "conclusion", "value": "feasible"},
            }
        ),
        "transitions[1].guards[1].params.field",
        "record 'opinion' has no field 'conclusion'",
    ),
    (
        "guard value that is not a choice",
        lambda d: d["transitions"][1]["guards"].append(
            {
                "name": "record_field_equals",
                "article": "Art 24",
                "params": {"record": "opinion", "field": "verdict", "value": "Feasible"},
            }
        ),
        "transitions[1].guards[1].params.value",
        "'Feasible' is not one of the choices of 'opinion.verdict': feasible, not_feasible",
    ),
    (
        "date guard on an unknown field",
        lambda d: d["transitions"][0].update(
            guards=[
                {"name": "payload_date_not_past", "article": "Art 15", "params": {"field": "due"}}
            ]
        ),
        "transitions[0].guards[0].params.field",
        "this transition has no field 'due' (known: deadline, reason)",
    ),
    (
        "date guard on a text field",
        lambda d: d["transitions"][0].update(
            guards=[
                {
                    "name": "payload_date_not_past",
                    "article": "Art 15",
                    "params": {"field": "reason"},
                }
            ]
        ),
        "transitions[0].guards[0].params.field",
        "guard 'payload_date_not_past' needs a date field; 'reason' is a text field",
    ),
    # -- flags and parameters --
    (
        "unknown flag in a transition's when",
        lambda d: d["transitions"][1].update(when={"not_flags": ["urgent"]}),
        "transitions[1].when.not_flags[0]",
        "unknown flag 'urgent' (known: professional)",
    ),
    (
        "unknown flag in a branch's when",
        lambda d: branch(d).update(when={"flags": ["technical"]}),
        "states[1].branches[0].when.flags[0]",
        "unknown flag 'technical' (known: professional)",
    ),
    (
        "unknown parameter in time rule days",
        lambda d: d["transitions"][0]["time_rules"][0].update(days="comment_period_days"),
        "transitions[0].time_rules[0].days",
        "unknown parameter 'comment_period_days' (known: comment_days)",
    ),
    (
        "parameter below its statutory minimum",
        lambda d: d["parameters"]["comment_days"].update(value=20),
        "parameters.comment_days.value",
        "20 is below the statutory minimum 30 (Art 15)",
    ),
    # -- records, requirements, time rules --
    (
        "unknown record in a requirement",
        lambda d: d["states"][0].update(requires=[{"record": "draft", "article": "Art 12"}]),
        "states[0].requires[0].record",
        "unknown record 'draft' (known: opinion)",
    ),
    (
        "unknown record in a branch requirement",
        lambda d: branch(d)["states"][1]["requires"][0].update(record="opinions"),
        "states[1].branches[0].states[1].requires[0].record",
        "unknown record 'opinions' (known: opinion)",
    ),
    (
        "unknown record in time rule since",
        lambda d: d["transitions"][1]["time_rules"][0].update(since="submission"),
        "transitions[1].time_rules[0].since",
        "unknown record 'submission' (known: ask_experts, decide, finish_consultation, "
        "opinion, submit)",
    ),
    (
        "unknown record in a waiver",
        lambda d: d["transitions"][0]["time_rules"][0]["waiver"].update(record="shortening"),
        "transitions[0].time_rules[0].waiver.record",
        "unknown record 'shortening' (known: ask_experts, decide, finish_consultation, "
        "opinion, submit)",
    ),
    (
        "waiver field missing from its record",
        lambda d: d["transitions"][0]["time_rules"][0]["waiver"].update(field="why"),
        "transitions[0].time_rules[0].waiver.field",
        "record 'submit' has no field 'why'",
    ),
    (
        "field_min_ahead on a text field",
        lambda d: d["transitions"][0]["time_rules"][0].update(field="reason"),
        "transitions[0].time_rules[0].field",
        "must name a date field of this transition",
    ),
    (
        "field_min_ahead without a field",
        lambda d: d["transitions"][0]["time_rules"][0].pop("field"),
        "transitions[0].time_rules[0].field",
        "must name a date field of this transition",
    ),
    (
        "min_elapsed naming a field",
        lambda d: d["transitions"][1]["time_rules"][0].update(field="deadline"),
        "transitions[1].time_rules[0].field",
        "only a field_min_ahead rule names a field",
    ),
    (
        "choice field without choices",
        lambda d: d["records"]["opinion"]["fields"]["verdict"].pop("choices"),
        "records.opinion.fields.verdict.choices",
        "a choice field needs its choices",
    ),
    (
        "choices on a text field",
        lambda d: d["transitions"][0]["fields"]["reason"].update(choices=["urgent"]),
        "transitions[0].fields.reason.choices",
        "only a choice field has choices",
    ),
    (
        "assigns on a single-user field",
        lambda d: d["records"]["opinion"]["fields"].update(
            reviewer={"type": "user", "assigns": "expert", "label": label("专家", "Expert")}
        ),
        "records.opinion.fields.reviewer.assigns",
        "only a users field assigns a role",
    ),
    (
        "minimum on a text field",
        lambda d: d["transitions"][0]["fields"]["reason"].update(minimum=1),
        "transitions[0].fields.reason.minimum",
        "only an int field has a minimum",
    ),
    (
        "draft record without content",
        lambda d: d["records"]["opinion"].update(storage="draft"),
        "records.opinion.fields",
        "a draft record needs a text field 'content' (the draft's text)",
    ),
    (
        "record named like a trigger",
        lambda d: d["records"].update(submit=d["records"].pop("opinion")),
        "records.submit",
        "'submit' is also a trigger; a move is kept as a record of its trigger's name, "
        "so name the record differently",
    ),
    (
        "record allowed in an unknown state",
        lambda d: d["records"]["opinion"].update(allowed_in=["consultation.reviewing"]),
        "records.opinion.allowed_in[0]",
        "unknown state 'consultation.reviewing'",
    ),
    # -- triggers --
    (
        "trigger in the main line and a branch",
        lambda d: branch(d)["transitions"][1].update(trigger="decide"),
        "states[1].branches[0].transitions[1].trigger",
        "trigger 'decide' is already used by the main line",
    ),
    (
        "routes of one trigger with different field sets",
        lambda d: d["transitions"].append(
            transition(
                trigger="submit",
                dest="review",
                when={"flags": ["professional"]},
                fields={"deadline": d["transitions"][0]["fields"]["deadline"]},
            )
        ),
        "transitions[2].fields",
        "trigger 'submit' declares fields ['deadline'] here but ['deadline', 'reason'] at "
        "transitions[0]; routes of one trigger must declare the same fields, since one form "
        "serves them",
    ),
    (
        "routes of one trigger with a differently typed field",
        lambda d: d["transitions"].append(
            transition(
                trigger="submit",
                dest="review",
                fields={
                    "deadline": {"type": "text", "label": label("截止日期", "Deadline")},
                    "reason": d["transitions"][0]["fields"]["reason"],
                },
            )
        ),
        "transitions[2].fields.deadline",
        "field 'deadline' of trigger 'submit' differs from transitions[0].fields.deadline; "
        "routes of one trigger must declare the same fields, since one form serves them",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_malformed_definition_is_named(
    mutate: Callable[[dict[str, Any]], Any], path: str, problem: str
) -> None:
    """The refusal names the file, the place in it and what is wrong there."""
    err = refusal(mutate)
    assert (err.file, err.path, err.problem) == ("small.yaml", path, problem)
    assert str(err) == f"small.yaml: {path}: {problem}"


def test_routes_of_one_trigger_may_differ_in_destination_only() -> None:
    """Two routes of one trigger with the same form are lawful (e.g. flags pick the next stage)."""
    doc = copy.deepcopy(SMALL)
    doc["states"].insert(2, {"name": "hearing", "label": label("听证", "Hearing")})
    doc["transitions"].append(transition(trigger="hold_hearing", source="hearing", dest="decided"))
    routed = copy.deepcopy(doc["transitions"][0]) | {
        "dest": "hearing",
        "when": {"flags": ["professional"]},
    }
    doc["transitions"].append(routed)
    definition = parse(doc)
    assert [t.dest for t in definition.transitions if t.trigger == "submit"] == [
        "review",
        "hearing",
    ]


def test_a_parameter_may_be_raised_above_the_law() -> None:
    """A local overlay may lengthen the comment period beyond the statutory 30 days."""
    doc = copy.deepcopy(SMALL)
    doc["parameters"]["comment_days"]["value"] = 45
    definition = parse(doc)
    assert definition.days(definition.transitions[0].time_rules[0]) == 45


# -- never a traceback ---------------------------------------------------------------------------

MAJOR_DOC = yaml.safe_load(MAJOR_DECISION.read_text(encoding="utf-8"))


def _places(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a nested document (the root excluded)."""
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    for key, child in children:
        yield (*at, key)
        yield from _places(child, (*at, key))


def _names(node: Any) -> set[str]:
    """Every string in a document: plausible replacements that reach the deeper checks."""
    if isinstance(node, dict):
        return set().union(*(_names(v) | _names(k) for k, v in node.items()))
    if isinstance(node, list):
        return set().union(*(_names(v) for v in node)) if node else set()
    return {node} if isinstance(node, str) else set()


NAMES = sorted(_names(SMALL) | {"open", "closed", "close", "state_entry", "Art 1"})
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.dates()
    | st.sampled_from(NAMES)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _mutate(doc: Any, data: st.DataObject) -> Any:
    """One random change: delete, replace, rename a key or duplicate a list item."""
    places = list(_places(doc))
    if not places:
        return doc
    where = data.draw(st.sampled_from(places), label="where")
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    key = where[-1]
    action = data.draw(st.sampled_from(["delete", "replace", "rename", "duplicate"]))
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = data.draw(VALUES, label="value")
    elif action == "rename" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(NAMES), label="new key")] = parent.pop(key)
    elif isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    return doc


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_definitions_load_or_raise_definition_error_only(data: st.DataObject) -> None:
    """Any mangling of a valid definition yields a Definition or a DefinitionError, nothing else."""
    base = data.draw(st.sampled_from(["minimal", "small", "major"]), label="base")
    doc = copy.deepcopy({"minimal": MINIMAL, "small": SMALL, "major": MAJOR_DOC}[base])
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        doc = _mutate(doc, data)
    text = dump(doc)
    if data.draw(st.booleans(), label="cut the text"):
        # damage the text itself, so the YAML parser's own errors are reached too
        start = data.draw(st.integers(0, len(text)), label="cut at")
        text = text[:start] + text[start + data.draw(st.integers(1, 8), label="cut") :]
    try:
        result = parse_definition(text, file="fuzz.yaml")
    except DefinitionError as err:
        assert str(err).startswith("fuzz.yaml")
        assert err.problem
    else:
        assert isinstance(result, Definition)
