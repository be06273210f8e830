"""Languages and time: every string translated, English on request, times in Shanghai."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import session
from flask.testing import FlaskClient

from config import REPO_ROOT
from decisionflow.bootstrap import Parts
from decisionflow.definitions import Text
from decisionflow.roles import Role
from tests.conftest import Clock, People
from tests.helpers import drive
from tests.web.conftest import Auth, csrf_token

WEB = REPO_ROOT / "web"
CATALOG = WEB / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def _catalog():  # type: ignore[no-untyped-def]
    with CATALOG.open("rb") as source:
        return read_po(source)


def _msgid(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def test_every_catalog_message_has_a_chinese_translation() -> None:
    """No entry of the Chinese catalog is empty or fuzzy (a fuzzy one is never shown)."""
    catalog = _catalog()
    messages = [m for m in catalog if m.id]
    assert len(messages) > 100
    untranslated = [m.id for m in messages if not m.string or not any(m.string)]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []
    # A translation keeps the placeholders its page fills in.
    for m in messages:
        wanted = set(re.findall(r"%\(\w+\)[sd]", _msgid(m.id)))
        got = set(
            re.findall(r"%\(\w+\)[sd]", m.string if isinstance(m.string, str) else m.string[0])
        )
        assert wanted == got, m.id


def test_every_message_of_the_web_is_in_the_catalog() -> None:
    """Every string `pybabel extract` finds in web/ (per babel.cfg) has its Chinese entry."""
    with (WEB / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_": None, "gettext": None}
    found = {
        (_msgid(message), f"{Path(filename).as_posix()}:{line}")
        for filename, line, message, _comments, _context in extract_from_dir(
            REPO_ROOT, method_map, options_map, keywords=keywords
        )
    }
    assert len(found) > 100, "the extraction saw the web's files"
    known = {_msgid(m.id) for m in _catalog() if m.id}
    missing = sorted(f"{where}: {msgid!r}" for msgid, where in found if msgid not in known)
    assert missing == []


#: Latin-script words a template may show untranslated: the product's name, a hash's name, the
#: honeypot's label (which people never see), and the name of a language, written in itself
UNTRANSLATED_OK = {"DecisionFlow", "SHA-256", "Website", "English"}
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)


class _BareText(HTMLParser):
    """Text a template shows outside gettext: text nodes and titles, labels, placeholders."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.verbatim = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("code", "pre", "style", "script"):
            self.verbatim += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label", "alt") and value:
                self.handle_data(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "pre", "style", "script"):
            self.verbatim -= 1

    def handle_data(self, data: str) -> None:
        words = set(re.findall(r"[A-Za-z][A-Za-z-]*[0-9]*", data)) - {"v", "B"}
        if not self.verbatim and words - UNTRANSLATED_OK:
            self.found.append(data.strip())


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(WEB).as_posix() for p in (WEB / "templates").rglob("*.html"))
)
def test_no_template_shows_english_outside_gettext(template: str) -> None:
    """A template's visible words all pass through gettext (else they stay English in Chinese)."""
    parser = _BareText()
    parser.feed(JINJA.sub(" ", (WEB / template).read_text(encoding="utf-8")))
    assert parser.found == []


@pytest.fixture
def consulting(web_parts: Parts, web_people: People, clock: Clock) -> int:
    """Department A's decision with its consultation open and experts asked."""
    return drive(web_parts, web_people, clock, through="request_expert_opinions").id


def _labels(parts: Parts) -> dict[str, Text]:
    """The definition's labels a clerk sees while the consultation is open."""
    definition = parts.registry.current("major_decision")
    participation = definition.branch("public_participation")
    return {
        "stage": definition.state("argumentation").label,
        "branch": participation.label,
        "branch state": next(
            s.label for s in participation.states if s.name == "consultation_open"
        ),
        "action": next(
            t.label for t in participation.transitions if t.trigger == "close_consultation"
        ),
        "record": definition.records["expert_adoption"].label,
        "field": definition.records["expert_adoption"].fields["summary"].label,
        "field in the table": next(
            t.fields["how_to_comment"].label
            for t in participation.transitions
            if t.trigger == "open_consultation"
        ),
    }


def test_english_on_request_down_to_the_procedure_labels(
    client: FlaskClient, auth: Auth, consulting: int, web_parts: Parts
) -> None:
    """After choosing English, page words and the definition's labels show their English halves."""
    labels = _labels(web_parts)
    auth.login(Role.STAFF)
    chinese = client.get(f"/decisions/{consulting}").get_data(as_text=True)
    for what, label in labels.items():
        assert label.zh in chinese, what
    response = client.post(
        "/lang/en",
        data={"next": f"/decisions/{consulting}", "csrf_token": csrf_token(client, "/work")},
    )
    assert response.headers["Location"] == f"/decisions/{consulting}"
    page = client.get(f"/decisions/{consulting}").get_data(as_text=True)
    assert '<html lang="en">' in page
    for what, label in labels.items():
        assert label.en in page, what
        # (the Chinese half as a whole element: a record's Chinese content may quote it)
        assert f">{label.zh}<" not in page, what
    for english, chinese_words in (
        ("My work", "我的待办"),  # the page's own words
        ("What I can do now", "我现在可以办理"),
        ("Undertaking unit staff", "承办单位工作人员"),  # the role
    ):
        assert english in page, english
        assert chinese_words not in page, chinese_words
    assert "我的待办" not in client.get("/work").get_data(as_text=True)


def test_the_records_table_shows_labels_not_stored_names(
    client: FlaskClient, auth: Auth, consulting: int, web_parts: Parts
) -> None:
    """A record's fields are shown by their labels, its people by name, its positions by stage."""
    labels = _labels(web_parts)
    auth.login(Role.STAFF)
    page = client.get(f"/decisions/{consulting}").get_data(as_text=True)
    assert f"<dt>{labels['field in the table'].zh}</dt>" in page
    assert "<dt>how_to_comment</dt>" not in page
    assert "<dd>expert</dd>" in page  # the expert named by display name, not by id
    stage, branch, state = labels["stage"].zh, labels["branch"].zh, labels["branch state"].zh
    assert f"{stage} · {branch}: {state}" in page
    assert "argumentation/public_participation" not in page


def test_times_are_shown_in_shanghai(
    client: FlaskClient, auth: Auth, web_parts: Parts, web_people: People, clock: Clock
) -> None:
    """An event at 01:00 UTC on 2 March 2026 shows as 09:00 that day in both languages."""
    assert clock.now.isoformat() == "2026-03-02T01:00:00+00:00"
    view = web_parts.decisions.create_decision(
        web_people[Role.STAFF],
        title="时区测试",
        category="public_policy",
        undertaking_unit="housing",
    )
    auth.login(Role.SUPERVISOR)
    for language in ("zh", "en"):
        client.post(f"/lang/{language}", data={"csrf_token": csrf_token(client, "/work")})
        timeline = client.get(f"/decisions/{view.id}").get_data(as_text=True)
        assert "<time>2026-03-02 09:00</time>" in timeline
        assert "01:00" not in timeline
        log = client.get("/supervision/audit").get_data(as_text=True)
        assert "2026-03-02 09:00:00" in log


def test_switching_language_on_a_refusal_returns_to_the_decision(
    client: FlaskClient, auth: Auth, consulting: int
) -> None:
    """The language switch on a refused form's page leads back to the decision page, not a 405."""
    auth.login(Role.STAFF)
    page_url = f"/decisions/{consulting}"
    refused = client.post(
        f"{page_url}/actions/close_consultation",
        data={"csrf_token": csrf_token(client, page_url)},
        headers={"Referer": f"http://localhost{page_url}"},
    )
    assert refused.status_code == 422
    nexts = re.findall(r'name="next" value="([^"]*)"', refused.get_data(as_text=True))
    assert nexts == [page_url]
    switched = client.post(
        "/lang/en", data={"next": nexts[0], "csrf_token": csrf_token(client, "/work")}
    )
    assert switched.headers["Location"] == page_url
    assert "Close the consultation" in client.get(page_url).get_data(as_text=True)


def test_no_gettext_call_hides_where_extraction_cannot_see_it() -> None:
    """No `_()` hides in an f-string, unseen by `pybabel extract` (its text would stay English)."""
    hidden = [
        f"{path.relative_to(REPO_ROOT)}:{n}"
        for path in WEB.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"""\bf(["']).*\{\s*(_|gettext)\(""", line)
    ]
    assert hidden == []


def test_the_timeline_reads_in_one_language(
    client: FlaskClient, auth: Auth, consulting: int
) -> None:
    """The decision's timeline names added records in the page's language."""
    auth.login(Role.STAFF)
    page = client.get(f"/decisions/{consulting}").get_data(as_text=True)
    assert "添加记录：决策建议" in page
    assert "Added" not in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_templates_labels_translate_and_escape_what_they_are_given(app, lang: str) -> None:
    """`_()` in a template: the page's language, variables escaped into it, %% a percent sign."""
    page = app.jinja_env.from_string(
        "{{ _('Save') }}|{{ _('due %(date)s', date='<b>') }}|{{ _('%(n)d unread', n=3) }}"
        "|{{ _('100%%') }}"
    )
    with app.test_request_context("/"):
        session["lang"] = lang
        app.preprocess_request()  # settles the page's language, as for every request
        saved, due, unread, percent = page.render().split("|")
    assert "<b>" not in due and "&lt;b&gt;" in due
    assert percent == "100%"
    if lang == "en":
        assert (saved, due, unread) == ("Save", "due &lt;b&gt;", "3 unread")
    else:
        assert saved == "保存" and due.endswith("到期") and "3" in unread and "unread" not in unread
