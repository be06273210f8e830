"""One decision walks the whole major-decision procedure in a real browser, every role in turn."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from config import REPO_ROOT
from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, Step, StepContext, take_step
from decisionflow.models import DraftVersion, PublicComment
from decisionflow.roles import Role
from tests.browser.conftest import Browsers, LiveServer, Screenshots
from tests.conftest import IN_CI, PASSWORD

try:
    from playwright.sync_api import expect
except ImportError as err:  # pragma: no cover - the test extras install it
    if IN_CI:
        raise
    pytest.skip(f"the Python package playwright is not installed ({err})", allow_module_level=True)

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

pytestmark = pytest.mark.browser

TITLE = "征地补偿标准调整（浏览器测试）"
COMMENT = "建议补偿标准每三年评估一次。"
#: the path's first step of each name (member_opinion comes twice: both members speak)
FIRST = {step.name: step for step in reversed(MAJOR_DECISION_PATH)}

with (REPO_ROOT / "web/translations/zh/LC_MESSAGES/messages.po").open("rb") as _po:
    _CATALOG = read_po(_po)


def zh(msgid: str, **values: Any) -> str:
    """A page text as the (default) Chinese pages show it, from the same catalog they use."""
    message = _CATALOG.get(msgid)
    text = message.string if message is not None and message.string else msgid
    return text % values if values else text


def fill(page: Page, form_id: str, payload: dict[str, Any], password: str | None = None) -> None:
    """Fill a form's fields by name, as a person would; a signed form's password last."""
    form = page.locator(f"form#{form_id}")
    for name, value in payload.items():
        field = form.locator(f"[name='{name}']")
        kind = field.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
        if kind.startswith("select"):
            field.select_option([str(v) for v in (value if isinstance(value, list) else [value])])
        elif kind == "input:checkbox":
            field.set_checked(bool(value))
        else:
            field.fill(str(value))
    if password is not None:
        # the signature: the signer types the password again, into the form's own password field
        signature = form.locator(f"input#{form_id}-password")
        expect(signature).to_have_attribute("type", "password")
        signature.fill(password)


def send(page: Page, form_id: str) -> Response:
    """Send a filled form and return the page's answer."""
    with page.expect_navigation() as navigation:
        page.locator(f"form#{form_id} button[type=submit]").click()
    response = navigation.value
    assert response is not None
    return response


def submit(
    page: Page, form_id: str, payload: dict[str, Any], password: str | None = None
) -> Response:
    """Fill a form by field name, send it and return the page's answer."""
    fill(page, form_id, payload, password)
    return send(page, form_id)


def form_id_of(step: Step) -> str:
    """The id of the form on the decision page that takes the step."""
    return step.name if step.kind == "fire" else f"record-{step.name}"


class Walk:
    """Drives one decision along the lawful path, step by step in the path's own order, each
    step by its role in that person's browser; skipping or repeating a step fails the test."""

    def __init__(self, server: LiveServer, browsers: Browsers) -> None:
        self.server = server
        self.browsers = browsers
        self.definition = server.parts.registry.current("major_decision")
        self.decision_id = 0
        self.stage = self.definition.initial_state.name
        #: where the walk stands on MAJOR_DECISION_PATH
        self.position = 0
        #: the audited actions of the walk, in order, as the trace must show them
        self.done: list[str] = []

    def page(self, role: Role) -> Page:
        return self.browsers.signed_in(f"{role.value}_a")

    @property
    def url(self) -> str:
        return f"{self.server.url}/decisions/{self.decision_id}"

    @property
    def finished(self) -> bool:
        return self.position == len(MAJOR_DECISION_PATH)

    def open(self, role: Role, *, via_work: bool = False) -> Page:
        """The decision page in the role's browser; `via_work`: found in their "my work" list."""
        page = self.page(role)
        if via_work:
            page.goto(f"{self.server.url}/work")
            page.locator("table.list").get_by_role("link", name=TITLE).click()
            page.wait_for_url(self.url)
        else:
            page.goto(self.url)
        return page

    def context(self) -> StepContext:
        return StepContext(
            today=self.server.clock.today,
            expert_ids=(self.server.people[Role.EXPERT].id,),
            password=PASSWORD,
        )

    def next_step(self, name: str) -> Step:
        """The path's next step, which must be `name`."""
        assert not self.finished, f"the path is walked; no step {name} left"
        step = MAJOR_DECISION_PATH[self.position]
        assert step.name == name, f"the path's next step is {step.name}, not {name}"
        return step

    def take(self, name: str, *, via_work: bool = False) -> Page:
        """Take the path's next step (`name`) after its wait, then check the page shows it done."""
        step = self.next_step(name)
        self.server.clock.advance(days=step.wait_days, minutes=5)
        page = self.open(step.role, via_work=via_work)
        ctx = self.context()
        form_id = form_id_of(step)
        password = ctx.password if step.signed else None
        response = submit(page, form_id, step.payload(ctx), password)
        assert response.ok, f"{name}: HTTP {response.status}\n{page.locator('main').inner_text()}"
        assert page.url == self.url
        self.position += 1
        if step.kind == "fire":
            self._shows_move(page, name)
            self.done.append(name)
        else:
            self._shows_record(page, name)
            self.done.append(f"record:{name}")
        return page

    def through(self, name: str) -> Page:
        """Take the path's steps up to and including the next `name`."""
        while True:
            assert not self.finished, f"the path is walked; no step {name} left"
            taken = MAJOR_DECISION_PATH[self.position].name
            page = self.take(taken)
            if taken == name:
                return page

    def _shows_move(self, page: Page, trigger: str) -> None:
        branch = self.definition.branch_of_trigger(trigger)
        if branch is None:
            spec = next(
                t
                for t in self.definition.transitions
                if t.trigger == trigger
                and self.stage in t.source
                and (t.when is None or t.when.holds(dict(FLAGS_FOR_PATH)))
            )
            self.stage = spec.dest
        self.shows_stage(page)
        stage = self.definition.state(self.stage).label.zh
        expect(page.locator("p.flash")).to_contain_text(
            zh("Done. The decision now stands at: %(stage)s", stage=stage)
        )
        if branch is not None:
            spec = next(t for t in branch.transitions if t.trigger == trigger)
            reached = next(s for s in branch.states if s.name == spec.dest).label.zh
            self.shows_branch(page, branch.label.zh, reached)

    def _shows_record(self, page: Page, kind: str) -> None:
        expect(page.locator("p.flash")).to_contain_text(zh("Record added."))
        self.shows_stage(page)
        record = self.definition.records[kind]
        if record.storage == "draft":
            expect(page.locator("section[aria-labelledby=drafts-h] table")).to_contain_text("v1")
        else:
            records = page.locator("section[aria-labelledby=records-h] table")
            expect(records).to_contain_text(record.label.zh)

    def shows_stage(self, page: Page) -> None:
        """The highlighted box of the procedure diagram is the stage the decision stands at."""
        label = self.definition.state(self.stage).label.zh
        expect(page.locator("ol.flow > li.box.current > span")).to_have_text(label)
        expect(page.locator(".decision-head .stage")).to_have_text(label)

    def shows_branch(self, page: Page, lane: str, state: str) -> None:
        """A branch of the current stage stands where it should (chip and highlighted lane box)."""
        expect(page.locator(".decision-head .chip", has_text=f"{lane}: ")).to_have_text(
            f"{lane}: {state}"
        )
        current_lane = page.locator("li.box.current .lane", has_text=lane)
        expect(current_lane.locator("li.current")).to_have_text(state)

    def refused(self, role: Role, name: str, status: int, **changes: Any) -> Page:
        """Try the path's step `name` now, with `changes` to its payload (`password=` to sign
        with), and check it is refused with `status`: the stage unmoved, the input kept."""
        step = FIRST[name]
        page = self.open(role)
        password = changes.pop("password", None)
        payload = {**step.payload(self.context()), **changes}
        form_id = form_id_of(step)
        response = submit(page, form_id, payload, password)
        assert response.status == status, f"{name}: HTTP {response.status}"
        form = page.locator(f"form#{form_id}")
        expect(form.locator(".refusal")).to_be_visible()
        for field, value in payload.items():
            if not isinstance(value, list):
                expect(form.locator(f"[name='{field}']")).to_have_value(str(value))
        if password is not None:
            # what was typed comes back, except the password
            expect(form.locator(f"input#{form_id}-password")).to_have_value("")
        self.shows_stage(page)  # nothing moved
        return page


def test_a_decision_walks_the_whole_procedure_in_the_browser(
    live_server: LiveServer, browsers: Browsers, screenshots: Screenshots
):
    """Every role does its part through the pages; the public comments; refusals cite the law;
    the supervisor finds the chain intact, the trace complete and the dossier's hashes true."""
    server, walk, shots = live_server, Walk(live_server, browsers), screenshots
    lanes = {b.name: b.label.zh for s in walk.definition.states for b in s.branches}

    # -- the clerk proposes the decision from "my work" ---------------------------------------
    clerk = walk.page(Role.STAFF)
    expect(clerk.locator("h1")).to_have_text(zh("My work"))
    shots.take(clerk, "my-work-clerk")
    clerk.locator("main a.button").click()
    clerk.wait_for_url(f"{server.url}/decisions/new")
    form = clerk.locator("main form")
    form.locator("[name=title]").fill(TITLE)
    form.locator("[name=category]").select_option("public_policy")
    form.locator("[name=undertaking_unit]").select_option("housing")
    for flag, on in FLAGS_FOR_PATH.items():
        form.locator(f"input[name=flags][value={flag}]").set_checked(on)
    with clerk.expect_navigation():
        form.locator("button[type=submit]").click()
    found = re.fullmatch(rf"{re.escape(server.url)}/decisions/(\d+)", clerk.url)
    assert found, clerk.url
    walk.decision_id = int(found.group(1))
    expect(clerk.locator("p.flash")).to_contain_text(zh("Decision proposed."))
    walk.shows_stage(clerk)
    walk.done.append("create_decision")

    walk.take("proposal")
    shots.take(clerk, "decision-proposed")
    walk.take("start_procedure", via_work=True)  # the chief finds it among their work
    walk.through("submit_for_argumentation")
    page = walk.take("open_consultation")
    # the consultation's deadline is on record, 31 days ahead
    opened_on = server.clock.today
    deadline = (opened_on + timedelta(days=31)).isoformat()
    expect(page.locator("section[aria-labelledby=records-h]")).to_contain_text(deadline)
    # every branch the flags switch on is open, not yet started, beside the consultation
    for lane in ("hearing", "expert_argumentation", "risk_assessment"):
        walk.shows_branch(page, lanes[lane], "未开始")
    shots.take(page, "decision-consultation-open")

    # -- a member of the public, not signed in, comments on the draft -------------------------
    public = browsers.anonymous()
    public.goto(f"{server.url}/public/")
    expect(public.locator("ul.consultations")).to_contain_text(TITLE)
    shots.take(public, "portal")
    public.get_by_role("link", name=TITLE).click()
    public.wait_for_url(f"{server.url}/public/consultations/{walk.decision_id}")
    draft = FIRST["draft_version"].payload(walk.context())["content"]
    expect(public.locator("pre.draft")).to_have_text(draft)
    shots.take(public, "portal-draft")
    public.locator("textarea[name=text]").fill(COMMENT)
    public.locator("input[name=name]").fill("张三")
    with public.expect_navigation() as navigation:
        public.locator("main form button[type=submit]").click()
    assert navigation.value is not None and navigation.value.ok
    receipt = public.locator("#receipt").inner_text().strip()
    assert re.fullmatch(r"[0-9A-F]{10}", receipt), receipt
    shots.take(public, "portal-receipt")
    with server.parts.sessions() as session:
        stored = session.scalars(select(PublicComment).where(PublicComment.receipt == receipt))
        kept = stored.one()
    assert (kept.decision_id, kept.text, kept.status) == (walk.decision_id, COMMENT, "received")

    # -- the hearing is prepared: participants published, announced, materials delivered ------
    walk.take("hearing_participants")
    page = walk.take("announce_hearing")
    shots.take(page, "decision-hearing-announced")
    hearing_date = (server.clock.today + timedelta(days=12)).isoformat()
    walk.take("hearing_materials_delivered")

    # -- the experts: one signs the opinion, first with a wrong password ----------------------
    walk.take("request_expert_opinions")
    expert = walk.page(Role.EXPERT)
    expert.goto(f"{server.url}/work")
    shots.take(expert, "my-work-expert")
    page = walk.refused(Role.EXPERT, "expert_opinion", 403, password="not the password")
    expect(page.locator("form#record-expert_opinion .refusal")).to_contain_text(
        "密码不正确，未签署"
    )
    expect(page.locator("form#record-expert_opinion .refusal")).to_contain_text("Art 20")
    # the signed form, its opinion kept, signed again (the password shows as dots)
    fill(page, "record-expert_opinion", {}, PASSWORD)
    shots.take(page, "signed-form-expert-opinion")
    walk.take("expert_opinion", via_work=True)
    walk.through("complete_risk_assessment")

    # -- the hearing cannot be held before the date announced ---------------------------------
    page = walk.refused(Role.STAFF, "hold_hearing", 422)
    beside = page.locator("form#hold_hearing .refusal")
    expect(beside).to_contain_text("Art 16")
    expect(beside).to_contain_text(hearing_date)
    walk.shows_branch(page, lanes["hearing"], "已公告")
    page = walk.take("hold_hearing")
    walk.shows_branch(page, lanes["hearing"], "已举行")
    walk.take("hearing_record")
    page = walk.take("complete_hearing")
    for lane in ("hearing", "expert_argumentation", "risk_assessment"):
        walk.shows_branch(page, lanes[lane], "已完成")
    hearing = page.locator("section[aria-labelledby=records-h]")
    expect(hearing).to_contain_text(
        FIRST["hearing_participants"].payload(walk.context())["participants"]
    )
    shots.take(page, "decision-hearing-branch-complete")

    # -- too early: refused, with the article beside the form and the input kept -------------
    page = walk.refused(Role.STAFF, "submit_legality_review", 422)
    beside = page.locator("form#submit_legality_review .refusal")
    expect(beside).to_contain_text("Art 25")
    expect(beside).to_contain_text(lanes["public_participation"])  # what is still pending
    walk.shows_branch(page, lanes["public_participation"], "征求意见中")
    shots.take(page, "refusal-legality-review-too-early")
    # the consultation has run 13 days of the 30 the law requires
    page = walk.refused(Role.STAFF, "close_consultation", 422)
    expect(page.locator("form#close_consultation .refusal")).to_contain_text("Art 15")
    walk.shows_branch(page, lanes["public_participation"], "征求意见中")

    # -- the comment period runs out (the path's wait moves the server's clock on) -----------
    walk.take("close_consultation")
    assert (server.clock.today - opened_on).days >= 30
    walk.take("comment_adoption_summary")
    # the public's comment awaits its disposition: participation cannot be completed yet
    page = walk.refused(Role.STAFF, "complete_public_participation", 422)
    beside = page.locator("form#complete_public_participation .refusal")
    expect(beside).to_contain_text("Art 15")
    expect(beside).to_contain_text("尚有 1 条公众意见未作出采纳处理")
    walk.shows_branch(page, lanes["public_participation"], "征求意见结束")
    dispose_comment(walk, shots, kept.id, receipt)
    walk.take("complete_public_participation")
    page = walk.take("submit_legality_review")
    shots.take(page, "decision-legality-review")
    walk.take("legality_opinion", via_work=True)  # signed by the legal officer
    walk.take("find_lawful")

    # -- the meeting: scheduled, each member's opinion in speaking order, the chief last ------
    walk.take("schedule_meeting")
    walk.take("member_opinion")
    walk.take("member_opinion")
    page = walk.take("meeting_minutes")
    members = page.locator("section[aria-labelledby=records-h] tr", has_text="会议组成人员发言")
    expect(members).to_have_count(2)
    expect(members.first).to_contain_text("副区长甲")
    expect(members.last).to_contain_text("副区长乙")
    shots.take(page, "meeting-member-opinions")
    walk.take("approve_decision")
    walk.through("publish_decision")
    # the approval named housing the executing unit: its executor finds the decision
    page = walk.take("progress_report", via_work=True)
    shots.take(page, "decision-progress-report")
    page = walk.take("archive_decision")
    assert walk.finished
    expect(page.locator("ol.flow > li.box.current")).to_have_class(re.compile(r"\bfinal\b"))
    shots.take(page, "decision-archived")

    # -- the supervisor verifies the chain, reads the trace, downloads the dossier -------------
    supervisor = walk.page(Role.SUPERVISOR)
    supervisor.get_by_role("link", name=zh("Audit log")).click()
    supervisor.wait_for_url(f"{server.url}/supervision/audit")
    with supervisor.expect_navigation():
        supervisor.locator("#verify-chain").click()
    events = server.parts.verify_audit().events_checked
    verification = supervisor.locator("#verification")
    expect(verification).to_have_class(re.compile(r"\bok\b"))
    expect(verification).to_have_text(zh("Chain intact: %(n)d events verified.", n=events))
    shots.take(supervisor, "audit-log-verified")

    supervisor.goto(walk.url)
    supervisor.get_by_role("link", name=zh("Accountability trace")).click()
    supervisor.wait_for_url(f"{server.url}/supervision/decisions/{walk.decision_id}/trace")
    expect(supervisor.locator("p.verification")).to_have_class(re.compile(r"\bok\b"))
    rows = supervisor.locator("table.trace tbody tr")
    # grouped by step, so read the rows in chain order
    traced_rows = sorted(
        (int(r.get_attribute("data-seq") or 0), r.get_attribute("data-action") or "", r)
        for r in rows.all()
    )
    actions = [action for _, action, _ in traced_rows]
    assert [a for a in actions if a != "submit_comment"] == walk.done
    assert actions.count("submit_comment") == 1
    # who did, signed and decided what
    for action, who in (
        ("record:expert_opinion", "expert_a"),
        ("record:legality_opinion", "legal_officer_a"),
        ("approve_decision", "chief_executive_a"),
        ("record:progress_report", "executor_a"),
    ):
        expect(supervisor.locator(f'table.trace tr[data-action="{action}"]')).to_contain_text(who)
    traced = {seq: row.get_attribute("data-hash") for seq, _, row in traced_rows}
    for seq, digest in traced.items():
        expect(supervisor.locator(f"#event-{seq} td.hash")).to_contain_text(digest or "-")
    shots.take(supervisor, "trace")

    supervisor.goto(walk.url)
    with supervisor.expect_download() as download:
        supervisor.get_by_role("link", name=zh("Download dossier (ZIP)")).click()
    path = download.value.path()
    assert download.value.suggested_filename == f"decision-{walk.decision_id}-dossier.zip"
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        contents = {n: archive.read(n) for n in archive.namelist() if n != "manifest.json"}
    assert set(manifest["files"]) == set(contents)
    for name, data in contents.items():
        assert hashlib.sha256(data).hexdigest() == manifest["files"][name], name
    # (the browser sends a textarea's line breaks as CRLF, and they are kept: see
    # test_a_draft_typed_in_the_browser_is_stored_as_typed)
    assert contents["drafts/v1.txt"].decode("utf-8") == draft
    # both opinions are signed over the draft the dossier holds, by the people who gave them
    draft_sha = hashlib.sha256(contents["drafts/v1.txt"]).hexdigest()
    records = json.loads(contents["records.json"])
    signed = {r["kind"]: r["data"]["signature"] for r in records if "signature" in r["data"]}
    assert set(signed) == {"expert_opinion", "legality_opinion"}
    for kind, who in (("expert_opinion", Role.EXPERT), ("legality_opinion", Role.LEGAL_OFFICER)):
        assert signed[kind]["draft_sha256"] == draft_sha, kind
        assert signed[kind]["signer_id"] == server.people[who].id, kind
    speakers = [r["data"]["member"] for r in records if r["kind"] == "member_opinion"]
    assert speakers == ["副区长甲", "副区长乙"]
    # the dossier's chain is the trace's, plus the refused attempts, kept as refused
    chain = {e["seq"]: e["hash"] for e in manifest["audit_chain"]["events"]}
    assert {seq: chain.get(seq) for seq in traced} == traced
    audited = json.loads(contents["audit_events.json"])
    refusals = [(e["action"], e["outcome"]) for e in audited if e["seq"] not in traced]
    assert refusals == [
        ("record:expert_opinion", "not_permitted"),
        ("hold_hearing", "rule_not_met"),
        ("submit_legality_review", "rule_not_met"),
        ("close_consultation", "rule_not_met"),
        ("complete_public_participation", "rule_not_met"),
    ]


def dispose_comment(walk: Walk, shots: Screenshots, comment_id: int, receipt: str) -> None:
    """The clerk finds the public's comment on the decision page by its receipt and records
    what was done with it and why (Art 15); the disposition then stands in place of the form."""
    page = walk.open(Role.STAFF)
    comment = page.locator("#comments article.comment", has_text=receipt)
    expect(comment.locator("blockquote")).to_have_text(COMMENT)
    form = comment.locator("form[id^='dispose-']")
    expect(form).to_have_id(f"dispose-{comment_id}")
    reason = "已在草案第三条增加定期评估条款，评估周期依上位法定为五年"
    fill(page, f"dispose-{comment_id}", {"disposition": "partly_adopted", "reason": reason})
    shots.take(page, "comments-section", part=page.locator("#comments"))
    send(page, f"dispose-{comment_id}")
    expect(page.locator("p.flash")).to_contain_text(zh("Disposition recorded."))
    comment = page.locator("#comments article.comment", has_text=receipt)
    expect(comment.locator("form")).to_have_count(0)
    expect(comment.locator("p.disposition")).to_contain_text(zh("partly adopted"))
    expect(comment.locator("p.disposition")).to_contain_text(reason)
    walk.shows_stage(page)
    walk.done.append("dispose_comment")
    shots.take(page, "comments-section-disposed", part=page.locator("#comments"))


def test_a_draft_typed_in_the_browser_is_stored_as_typed(
    live_server: LiveServer, browsers: Browsers
):
    """A draft typed in the page is stored with plain line breaks, so its SHA-256 (shown on the
    portal, signed by the experts and the legal officer) does not depend on how it was entered."""
    server = live_server
    decision = server.parts.decisions.create_decision(
        server.people[Role.STAFF],
        title=TITLE,
        category="public_policy",
        undertaking_unit="housing",
        flags=dict(FLAGS_FOR_PATH),
    )
    ctx = StepContext(today=server.clock.today, expert_ids=(), password=PASSWORD)
    for name in ("proposal", "start_procedure"):
        step = FIRST[name]
        take_step(server.parts.decisions, step, server.people[step.role], decision.id, ctx)
    clerk = browsers.signed_in("staff_a")
    clerk.goto(f"{server.url}/decisions/{decision.id}")
    draft = FIRST["draft_version"].payload(ctx)
    assert "\n" in draft["content"]
    assert submit(clerk, "record-draft_version", draft).ok
    with server.parts.sessions() as session:
        stored = session.scalars(
            select(DraftVersion).where(DraftVersion.decision_id == decision.id)
        ).one()
    assert stored.content == draft["content"]
    assert stored.sha256 == hashlib.sha256(draft["content"].encode("utf-8")).hexdigest()
