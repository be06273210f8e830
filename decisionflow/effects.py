"""What a move does beyond changing state: signatures, unified numbers, units, accounts, successors."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from decisionflow.accounts import Actor, check_password, find_department
from decisionflow.audit import canonical_json, format_time
from decisionflow.definitions import FieldSpec, Numbering, Signature
from decisionflow.errors import InvalidInput, NotPermitted, Unmet
from decisionflow.models import (
    AuditEvent,
    Decision,
    DecisionCoUnit,
    DocumentCounter,
    DraftVersion,
    User,
)

SIGN_WITH_PASSWORD = ("请重新输入您的密码以签署", "re-enter your password to sign")


def sign(
    session: Session,
    actor: Actor,
    password: str | None,
    *,
    decision_id: int,
    spec: Signature,
    content: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The signature over a record: who, when, over which draft version, over what content."""
    rule = Unmet(
        "signature",
        spec.article,
        "须本人签署（重新输入密码）",
        "must be signed by its author (re-enter the password)",
    )
    if not password:
        raise InvalidInput(
            zh="签署须重新输入密码",
            en="Signing requires your password",
            fields={"password": SIGN_WITH_PASSWORD},
            unmet=[rule],
        )
    user = session.get(User, actor.id) if actor.id is not None else None
    if user is None or not user.active or not check_password(user.password_hash, password):
        # A wrong password signs nothing; the refusal is audited like any other.
        raise NotPermitted(
            zh="密码不正确，未签署", en="Wrong password: nothing was signed", unmet=[rule]
        )
    draft = session.scalars(
        select(DraftVersion)
        .where(DraftVersion.decision_id == decision_id)
        .order_by(DraftVersion.number.desc())
        .limit(1)
    ).first()
    return {
        "signer_id": user.id,
        "signer": user.display_name,
        "signed_at": format_time(now),
        "draft_number": draft.number if draft else None,
        "draft_sha256": draft.sha256 if draft else None,
        "content_sha256": hashlib.sha256(canonical_json(dict(content)).encode("utf-8")).hexdigest(),
        "article": spec.article,
    }


def issue_number(session: Session, procedure: str, numbering: Numbering, year: int) -> str:
    """The next unified number of the year; the counter row is locked so no number repeats."""
    counter = session.execute(
        select(DocumentCounter)
        .where(DocumentCounter.procedure == procedure, DocumentCounter.year == year)
        .with_for_update()
    ).scalar_one_or_none()
    if counter is None:
        # A first number of the year raced by another writer fails on the primary key and
        # comes back to the caller as a conflict; retrying then finds the row.
        counter = DocumentCounter(procedure=procedure, year=year, last=0)
        session.add(counter)
    counter.last += 1
    session.flush()
    return numbering.format.replace("{year}", str(year)).replace("{n}", str(counter.last))


def set_units(
    session: Session, decision: Decision, fields: Mapping[str, FieldSpec], clean: Mapping[str, Any]
) -> None:
    """Name the units a move sets (the executing unit, Art 34); refuse an unknown code."""
    for name, spec in fields.items():
        if spec.sets != "executing_unit" or not clean.get(name):
            continue
        unit = find_department(session, str(clean[name]))
        if unit is None:
            raise InvalidInput(
                zh="没有此单位",
                en="No such department",
                fields={name: ("没有此单位", "no such department")},
            )
        decision.executing_unit_id = unit.id


def procedure_account(session: Session, decision_id: int) -> list[dict[str, Any]]:
    """The procedure followed so far, from the audit chain: each step done, by whom, when."""
    rows = session.execute(
        select(
            AuditEvent.seq,
            AuditEvent.occurred_at,
            AuditEvent.actor_username,
            AuditEvent.actor_role,
            AuditEvent.action,
            AuditEvent.state_after,
            AuditEvent.hash,
        )
        .where(AuditEvent.decision_id == decision_id, AuditEvent.outcome == "done")
        .order_by(AuditEvent.seq)
    ).all()
    return [
        {
            "seq": r.seq,
            "at": format_time(r.occurred_at),
            "by": r.actor_username,
            "role": r.actor_role,
            "action": r.action,
            "stage": r.state_after,
            "hash": r.hash,
        }
        for r in rows
    ]


def open_successor(
    session: Session,
    decision: Decision,
    initial_state: str,
    now: datetime,
    *,
    opened_by: int | None,
) -> Decision:
    """A new decision for a major adjustment: same matter and units, from the first stage."""
    successor = Decision(
        title=decision.title,
        category=decision.category,
        procedure=decision.procedure,
        definition_version=decision.definition_version,
        undertaking_unit_id=decision.undertaking_unit_id,
        executing_unit_id=decision.executing_unit_id,
        flags=dict(decision.flags or {}),
        state=initial_state,
        state_entered_at=now,
        branch_states={},
        # opened by whoever ordered the adjustment; the original's author did not
        created_by=opened_by if opened_by is not None else decision.created_by,
        created_at=now,
        updated_at=now,
        overlay=decision.overlay,
        predecessor_id=decision.id,
        catalogue_entry_id=decision.catalogue_entry_id,
    )
    session.add(successor)
    session.flush()
    co_units = session.scalars(
        select(DecisionCoUnit.department_id).where(DecisionCoUnit.decision_id == decision.id)
    ).all()
    # the same matter keeps the same units (Art 11): co-units reach the successor too
    session.add_all(DecisionCoUnit(decision_id=successor.id, department_id=d) for d in co_units)
    return successor
