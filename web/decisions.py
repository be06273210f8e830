"""Decision pages: list, new, the decision page with its forms, actions, records and files."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from decisionflow import queries
from decisionflow.checklist import RecordSlot, addable_records
from decisionflow.errors import Conflict, DecisionFlowError, InvalidInput, NotFound, NotPermitted
from decisionflow.models import CATEGORY_LABELS, Category, PublicComment
from decisionflow.overview import DecisionOverview
from decisionflow.participation import DISPOSITIONS
from decisionflow.roles import Permission, has_permission
from web.diagram import drawn
from web.errors import status_of
from web.i18n import pick
from web.numbers import MAX_VERSION, whole_number
from web.parts import actor, engine, origin

bp = Blueprint("decisions", __name__, url_prefix="/decisions")

#: the form field a signer re-enters the password in (the engine names its error so)
PASSWORD = "password"

#: a row id in a URL: a larger number names no row and gets 404 before any query
ID = f"int(min=1, max={queries.MAX_ID})"


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return whole_number(value, default, most=MAX_VERSION)


@bp.get("/")
@login_required
def index() -> str:
    """List the decisions the user may see, with search, filters and pages."""
    filters = {
        key: request.args.get(key, "").strip()
        for key in ("text", "state", "category", "unit", "ids")
    }
    # "ids": the decisions behind a figure of the statistics, comma-separated (at most 1000)
    found = (
        whole_number(i.strip(), None, most=queries.MAX_ID + 1)
        for i in filters["ids"].split(",")[:1000]
    )
    ids = [i for i in found if i is not None]
    if not ids:
        del filters["ids"]
    with engine().readers() as db:
        page = queries.list_decisions(
            db,
            actor(),
            text=filters["text"],
            state=filters["state"],
            category=filters["category"],
            unit=filters["unit"],
            ids=ids,
            cursor=request.args.get("cursor", ""),
        )
        units = queries.departments(db)
    definition = engine().registry.current("major_decision")
    return render_template(
        "decisions/index.html",
        page=page,
        count_cap=queries.COUNT_CAP,
        filters=filters,
        units=units,
        states=definition.states,
        categories=CATEGORY_LABELS,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    """Propose a new decision."""
    me = actor()
    if not has_permission(me.role, Permission.DECISION_CREATE):
        abort(403)
    registry = engine().registry
    chosen = request.values.get("procedure", "major_decision")
    procedure = chosen if chosen in registry.procedures else "major_decision"
    definition = registry.current(procedure)
    values: dict[str, Any] = {"undertaking_unit": me.department_code, **request.form.to_dict()}
    errors: dict[str, tuple[str, str]] = {}
    refusal: DecisionFlowError | None = None
    if request.method == "POST":
        try:
            view = engine().decisions.create_decision(
                me,
                title=values.get("title", ""),
                category=values.get("category", ""),
                undertaking_unit=values.get("undertaking_unit", ""),
                co_units=request.form.getlist("co_units"),
                procedure=procedure,
                flags={name: name in request.form.getlist("flags") for name in definition.flags},
                origin=origin(),
            )
        except InvalidInput as err:
            errors, refusal = err.fields, err
        except DecisionFlowError as err:
            refusal = err
        else:
            flash(_("Decision proposed."))
            return redirect(url_for("decisions.show", decision_id=view.id))
    with engine().readers() as db:
        units = queries.departments(db)
    page = render_template(
        "decisions/new.html",
        definition=definition,
        procedures=[registry.current(name) for name in registry.procedures],
        values=values,
        errors=errors,
        refusal=refusal,
        units=units,
        categories=CATEGORY_LABELS,
        chosen_flags=set(request.form.getlist("flags")),
        chosen_units=set(request.form.getlist("co_units")),
    )
    return (page, status_of(refusal)) if refusal else page


@dataclass(frozen=True)
class _Forms:
    """The decision as its page shows it, and the forms the page offers this user now."""

    overview: DecisionOverview
    record_slots: list[RecordSlot]

    @property
    def ids(self) -> set[str]:
        """The forms' names, as refusals refer to them."""
        overview = self.overview
        ids = {f"action:{a.trigger}" for a in overview.actions}
        ids |= {f"record:{s.kind}" for s in self.record_slots}
        if overview.handles_comments:
            ids |= {f"{kind}-{c.id}" for c in overview.comments for kind in ("dispose", "moderate")}
        return ids | (set() if overview.decision.final else {"attachment"})


def _forms(decision_id: int) -> _Forms:
    """What the page shows and offers; NotPermitted or NotFound if the user may not see it.
    Read once a request: a refused signature asks it to decide where to answer, then shows it."""
    known: _Forms | None = g.get("decision_forms")
    if known is not None and known.overview.decision.id == decision_id:
        return known
    me = actor()
    overview = engine().overviews.read(me, decision_id, events=request.args.get("events", ""))
    view = overview.decision
    branch_states = {b.name: b.state for b in view.branches}
    slots = addable_records(overview.definition, view.state, branch_states, me.role)
    g.decision_forms = _Forms(overview, slots)
    return g.decision_forms


def _page(decision_id: int, **form_state: Any) -> str:
    """The decision page, with whatever a failed form left to show."""
    forms = _forms(decision_id)
    overview = forms.overview
    view, definition = overview.decision, overview.definition
    branch_states = {b.name: b.state for b in view.branches}
    return render_template(
        "decisions/show.html",
        decision=view,
        definition=definition,
        actions=overview.actions,
        deadlines=overview.deadlines,
        follow_ups=overview.follow_ups,
        record_slots=forms.record_slots,
        offered_forms=forms.ids,
        diagram=drawn(definition, view.state, branch_states, overview.visited),
        events=overview.timeline.items,
        events_page=overview.timeline,
        drafts=overview.drafts,
        files=overview.attachments,
        records=overview.records,
        people=overview.people,
        comments=overview.comments,
        handles_comments=overview.handles_comments,
        dispositions=DISPOSITIONS,
        can_attach=not view.final,
        form_errors=form_state.get("form_errors", {}),
        form_values=form_state.get("form_values", {}),
        refusal=form_state.get("refusal"),
        refused_form=form_state.get("refused_form"),
        categories=CATEGORY_LABELS,
        Category=Category,
        json=json,
    )


@bp.post(f"/<{ID}:decision_id>/comments/<{ID}:comment_id>/disposition")
@login_required
def dispose(decision_id: int, comment_id: int) -> Response | tuple[str, int]:
    """Record what was done with a public comment, and why (Art 15)."""
    _check_comment(decision_id, comment_id)
    try:
        engine().participation.dispose(
            actor(),
            comment_id,
            disposition=request.form.get("disposition", ""),
            reason=request.form.get("reason", ""),
        )
    except DecisionFlowError as err:
        if status_of(err) in (403, 404):
            raise
        return _after_refusal(decision_id, f"dispose-{comment_id}", err)
    flash(_("Disposition recorded."))
    return redirect(url_for("decisions.show", decision_id=decision_id, _anchor="comments"))


@bp.post(f"/<{ID}:decision_id>/comments/<{ID}:comment_id>/moderation")
@login_required
def moderate(decision_id: int, comment_id: int) -> Response | tuple[str, int]:
    """Release a held comment into the record, or reject it, with the reason."""
    _check_comment(decision_id, comment_id)
    try:
        engine().participation.moderate(
            actor(),
            comment_id,
            release=request.form.get("release") == "yes",
            reason=request.form.get("reason", ""),
        )
    except DecisionFlowError as err:
        if status_of(err) in (403, 404):
            raise
        return _after_refusal(decision_id, f"moderate-{comment_id}", err)
    flash(_("Moderation recorded."))
    return redirect(url_for("decisions.show", decision_id=decision_id, _anchor="comments"))


def _check_comment(decision_id: int, comment_id: int) -> None:
    """404 unless the comment belongs to a decision this user may see."""
    engine().decisions.get(actor(), decision_id)
    with engine().readers() as db:
        comment = db.get(PublicComment, comment_id)
    if comment is None or comment.decision_id != decision_id:
        abort(404)


@bp.get(f"/<{ID}:decision_id>")
@login_required
def show(decision_id: int) -> str:
    """Show a decision: where it stands, what the law still requires, what I may do."""
    return _page(decision_id)


def _after_refusal(decision_id: int, form: str, err: DecisionFlowError) -> tuple[str, int]:
    """Show the page again, the form's input kept and the refusal beside it."""
    fields = err.fields if isinstance(err, InvalidInput) else {}
    if isinstance(err, Conflict):
        form_values: dict[str, Any] = {}
    else:
        # What was typed comes back, except the password a signature was made with.
        typed = {k: v for k, v in request.form.to_dict().items() if k != PASSWORD}
        form_values = {form: typed}
    page = _page(
        decision_id,
        form_errors={form: fields},
        form_values=form_values,
        refusal=err,
        refused_form=form,
    )
    return page, status_of(err)


def _expected_version() -> int | None:
    value = request.form.get("_version", "")
    # a version too long to be meant is one no decision has: a conflict, never no check at all
    return whole_number(value, None, most=2**63 - 1)


def _payload() -> dict[str, Any]:
    # Checkboxes and multi-selects come as lists; everything else as one value. The signing
    # password is no part of what is recorded (nor audited): it goes to the service apart.
    data: dict[str, Any] = {}
    for key in request.form:
        if key.startswith("_") or key in ("csrf_token", PASSWORD):
            continue
        # Browsers send a textarea's line breaks as CRLF; the API sends LF. One text must hash
        # the same however it was entered (drafts are signed over their SHA-256).
        values = [_plain_lines(v) for v in request.form.getlist(key)]
        data[key] = values if len(values) > 1 else values[0]
    return data


def _plain_lines(text: str) -> str:
    """Text with its line breaks as LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _password() -> str | None:
    return request.form.get(PASSWORD) or None


def _beside_its_form(decision_id: int, form: str, err: DecisionFlowError) -> bool:
    """Whether a refusal is shown beside its form on the decision page, or on a page of its own.

    "Not found" and "not permitted" get a page of their own, which shows nothing of the
    decision, except a wrong signing password on a signed form the page offers this user:
    then they may see the decision, and try again without typing the opinion anew.
    """
    if isinstance(err, NotFound):
        return False
    if isinstance(err, NotPermitted):
        if _password() is None:
            return False
        forms = _forms(decision_id)  # NotPermitted again if the decision is out of reach
        kind = form.split(":", 1)[1]
        return form in forms.ids and forms.overview.definition.signature_of(kind) is not None
    return True


@bp.post(f"/<{ID}:decision_id>/actions/<trigger>")
@login_required
def fire(decision_id: int, trigger: str) -> Response | tuple[str, int]:
    """Take an action on a decision."""
    try:
        view = engine().decisions.fire(
            actor(),
            decision_id,
            trigger,
            _payload(),
            expected_version=_expected_version(),
            origin=origin(),
            password=_password(),
        )
    except DecisionFlowError as err:
        if not _beside_its_form(decision_id, f"action:{trigger}", err):
            raise
        return _after_refusal(decision_id, f"action:{trigger}", err)
    flash(_("Done. The decision now stands at: %(stage)s", stage=pick(view.state_label)))
    return redirect(url_for("decisions.show", decision_id=decision_id))


@bp.post(f"/<{ID}:decision_id>/records/<kind>")
@login_required
def add_record(decision_id: int, kind: str) -> Response | tuple[str, int]:
    """Add a record (a draft version, an opinion, a report) to a decision."""
    try:
        engine().decisions.add_record(
            actor(),
            decision_id,
            kind,
            _payload(),
            expected_version=_expected_version(),
            origin=origin(),
            password=_password(),
        )
    except DecisionFlowError as err:
        if not _beside_its_form(decision_id, f"record:{kind}", err):
            raise
        return _after_refusal(decision_id, f"record:{kind}", err)
    flash(_("Record added."))
    return redirect(url_for("decisions.show", decision_id=decision_id))


@bp.post(f"/<{ID}:decision_id>/attachments")
@login_required
def attach(decision_id: int) -> Response | tuple[str, int]:
    """Attach a file to a decision."""
    upload = request.files.get("file")
    chosen = upload is not None and bool(upload.filename)
    try:
        # Without a file the service is still asked: whether this user may attach at all is
        # its answer (403), not the form's (400).
        engine().decisions.attach_file(
            actor(),
            decision_id,
            filename=(upload.filename or "") if upload is not None else "",
            content_type=(upload.mimetype or "") if upload is not None else "",
            data=upload.read() if upload is not None else b"",
            origin=origin(),
        )
    except DecisionFlowError as err:
        if status_of(err) in (403, 404):
            raise
        if isinstance(err, InvalidInput) and not chosen:
            err = InvalidInput(
                zh="请选择文件",
                en="Choose a file",
                fields={"file": ("请选择文件", "choose a file")},
            )
        return _after_refusal(decision_id, "attachment", err)
    flash(_("File attached."))
    return redirect(url_for("decisions.show", decision_id=decision_id))


@bp.get(f"/<{ID}:decision_id>/attachments/<{ID}:attachment_id>")
@login_required
def download(decision_id: int, attachment_id: int) -> Response:
    """Download an attached file (always as a download, never rendered inline)."""
    engine().decisions.get(actor(), decision_id)  # the permission check
    with engine().readers() as db:
        found = next(
            (a for a in queries.attachments(db, decision_id) if a.id == attachment_id), None
        )
    if found is None:
        abort(404)
    path = engine().decisions.attachments.path(found.sha256)
    return send_file(
        path, mimetype="application/octet-stream", as_attachment=True, download_name=found.filename
    )


@bp.get(f"/<{ID}:decision_id>/drafts/diff")
@login_required
def diff(decision_id: int) -> str:
    """Show two draft versions side by side, changes marked."""
    engine().decisions.get(actor(), decision_id)
    with engine().readers() as db:
        versions = {d.number: d for d in queries.drafts(db, decision_id)}
    if not versions:
        abort(404)
    newest = max(versions)
    a, b = _int_arg("a", max(1, newest - 1)), _int_arg("b", newest)
    if a not in versions or b not in versions:
        abort(404)
    table = difflib.HtmlDiff(wrapcolumn=60).make_table(
        versions[a].content.splitlines(),
        versions[b].content.splitlines(),
        fromdesc=f"v{a} {versions[a].sha256[:12]}",
        todesc=f"v{b} {versions[b].sha256[:12]}",
    )
    return render_template(
        "decisions/diff.html",
        decision_id=decision_id,
        table=table,
        a=versions[a],
        b=versions[b],
        numbers=sorted(versions),
    )
