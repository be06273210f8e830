"""The deadline sweep: reminders before, escalation after, each once — on both databases, with real mail."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from decisionflow.bootstrap import Parts, build
from decisionflow.cli import main
from decisionflow.models import AuditEvent, Decision, MailOutbox, Notification, ReminderSent, User
from decisionflow.notifications import MAX_MAIL_ATTEMPTS
from decisionflow.roles import Role
from decisionflow.sweep import SweepReport
from tests.conftest import Clock, People, settings_for
from tests.integration.test_normative_document import drive, new_document
from tests.smtp_sink import free_port, smtp_sink


def filing_document(parts: Parts, people: People, clock: Clock) -> tuple[int, date]:
    """A normative document just published: its filing falls due 15 calendar days later."""
    document = new_document(parts, people)
    drive(parts, people, clock, document.id, before="file_with_authority")
    return document.id, clock.today + timedelta(days=15)


def file_it(
    parts: Parts, decision_id: int, *, people: People, clock: Clock, receipt: str = "备-1"
) -> None:
    """The government office files the document with the filing authority: it is finished."""
    parts.decisions.fire(
        people[Role.GOVERNMENT_OFFICE],
        decision_id,
        "file_with_authority",
        {
            "filing_body": "市人民政府",
            "filed_on": clock.today.isoformat(),
            "receipt_number": receipt,
        },
    )


def inbox(parts: Parts, username: str) -> list[Notification]:
    """A user's notifications, oldest first."""
    with parts.readers() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.recipient_id == user.id)
                .order_by(Notification.id)
            )
        )


def give_emails(parts: Parts, people: People) -> None:
    """Every account of department A and the office gets an address, set by the administrator."""
    for actor in people.by_role.values():
        parts.admin.set_email(
            people[Role.ADMIN], username=actor.username, email=f"{actor.username}@gov.test"
        )


def with_mail(parts: Parts, port: int, clock: Clock, tmp_path: Path) -> Parts:
    """Another engine on the same database whose mail goes to an SMTP server on `port`."""
    settings = settings_for(parts.settings.resolved_database_url, tmp_path / "mail-instance")
    return build(settings.with_overrides(smtp_host="127.0.0.1", smtp_port=port), clock=clock)


def test_a_filing_due_soon_reminds_the_government_office_once(parts, people, clock):
    """Two weeks ahead nothing goes out; the day before, the office is reminded — once."""
    decision_id, due = filing_document(parts, people, clock)
    assert parts.sweeper.sweep(today=clock.today) == SweepReport()
    report = parts.sweeper.sweep(today=due - timedelta(days=1))
    assert (report.reminders, report.overdue) == (1, 0)
    [note] = inbox(parts, "government_office_a")
    assert note.kind == "reminder" and note.decision_id == decision_id
    assert "报送备案" in note.subject_zh and due.isoformat() in note.subject_en
    assert "GOV-2018-37 §3(8)" in note.body_en
    # the clerk cannot file with the authority: no reminder for them
    assert inbox(parts, "staff_a") == []
    # idempotent: the same day again, and the next day, send nothing new
    assert parts.sweeper.sweep(today=due - timedelta(days=1)).reminders == 0
    assert parts.sweeper.sweep(today=due).reminders == 0
    assert len(inbox(parts, "government_office_a")) == 1


def test_an_overdue_filing_escalates_to_the_supervisors(parts, people, clock):
    """The day after it fell due, the office hears it is late and the supervisors are told."""
    decision_id, due = filing_document(parts, people, clock)
    report = parts.sweeper.sweep(today=due + timedelta(days=1))
    assert (report.reminders, report.overdue) == (0, 2)
    [late] = inbox(parts, "government_office_a")
    assert late.kind == "overdue" and "已逾期" in late.subject_zh
    [escalated] = inbox(parts, "supervisor_a")
    assert escalated.kind == "escalation" and escalated.decision_id == decision_id
    assert parts.sweeper.sweep(today=due + timedelta(days=2)).overdue == 0


def test_every_send_is_in_the_audit_chain(parts, people, clock):
    """The sweep's sends are audited events of the decision, and the chain still verifies."""
    decision_id, due = filing_document(parts, people, clock)
    parts.sweeper.sweep(today=due + timedelta(days=1))
    with parts.readers() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "send_reminders")
        ).all()
    assert (event.decision_id, event.outcome, event.actor_username) == (
        decision_id,
        "done",
        "deadline-sweep",
    )
    sent = json.loads(event.detail)["sent"]
    assert {(s["to"], s["kind"], s["due"]) for s in sent} == {
        ("government_office_a", "overdue", due.isoformat()),
        ("supervisor_a", "overdue", due.isoformat()),
    }
    result = parts.verify_audit()
    assert result.ok, str(result)


def test_a_filed_document_is_no_longer_reminded(parts, people, clock):
    """Once filed, the deadline stops running: a later sweep sends nothing."""
    decision_id, due = filing_document(parts, people, clock)
    file_it(parts, decision_id, people=people, clock=clock)
    assert parts.sweeper.sweep(today=due + timedelta(days=1)) == SweepReport()


def test_a_follow_up_on_a_finished_decision_is_still_chased(parts, people, clock):
    """Filed, the document's own deadlines stop; a follow-up opened on it is still reminded."""
    decision_id, _ = filing_document(parts, people, clock)
    file_it(parts, decision_id, people=people, clock=clock)
    answer_by = parts.calendar.add_working_days(clock.today, 1)
    parts.follow_ups.open(
        people[Role.SUPERVISOR], decision_id, instructions="报告执行情况", due=answer_by.isoformat()
    )
    report = parts.sweeper.sweep(today=clock.today)
    assert (report.decisions_checked, report.reminders, report.follow_ups) == (1, 0, 1)
    [reminded] = [n for n in inbox(parts, "staff_a") if n.kind == "followup_reminder"]
    assert reminded.decision_id == decision_id and answer_by.isoformat() in reminded.subject_en
    assert parts.sweeper.sweep(today=clock.today) == SweepReport()


def test_reminders_are_mailed_through_smtp(parts, people, clock, tmp_path):
    """With SMTP configured, every notification to a user with an address arrives as a mail."""
    give_emails(parts, people)
    decision_id, due = filing_document(parts, people, clock)
    with smtp_sink() as sink:
        mailing = with_mail(parts, sink.port, clock, tmp_path)
        try:
            report = mailing.sweeper.sweep(today=due + timedelta(days=1))
        finally:
            mailing.dispose()
        assert (report.overdue, report.mails_sent, report.mails_failed) == (2, 2, 0)
        [mail] = sink.to("government_office_a@gov.test")
        assert "已逾期" in mail["Subject"] and "Overdue" in mail["Subject"]
        assert f"#{decision_id}" in mail.get_content()
        assert len(sink.to("supervisor_a@gov.test")) == 1


def test_mail_waits_in_the_outbox_while_smtp_is_down(parts, people, clock, tmp_path):
    """A dead mail server delays the mail, never the inbox; the next round delivers it."""
    give_emails(parts, people)
    _, due = filing_document(parts, people, clock)
    port = free_port()  # nothing listens yet
    mailing = with_mail(parts, port, clock, tmp_path)
    try:
        report = mailing.sweeper.sweep(today=due - timedelta(days=1))
        assert (report.reminders, report.mails_sent, report.mails_failed) == (1, 0, 1)
        assert len(inbox(parts, "government_office_a")) == 1
        with parts.readers() as session:
            [row] = session.scalars(select(MailOutbox)).all()
        assert row.sent_at is None and row.attempts == 1 and row.last_error
        with smtp_sink(port) as sink:
            again = mailing.sweeper.sweep(today=due - timedelta(days=1))
            assert (again.reminders, again.mails_sent) == (0, 1)
            assert len(sink.to("government_office_a@gov.test")) == 1
    finally:
        mailing.dispose()


def _sweep_in_thread(parts: Parts, day: date, barrier: threading.Barrier, out: list[Any]) -> None:
    try:
        barrier.wait()
        out.append(parts.sweeper.sweep(today=day))
    except Exception as err:  # reported by the test, not lost in the thread
        out.append(err)


def test_two_sweeps_at_once_send_each_reminder_once(parts, people, clock, tmp_path):
    """Two hosts sweep at the same moment: every reminder is in one inbox once and mailed once."""
    give_emails(parts, people)
    dues = [filing_document(parts, people, clock)[1] for _ in range(4)]
    day = max(dues) + timedelta(days=1)  # all four are late: office and supervisors told
    with smtp_sink() as sink:
        hosts = [with_mail(parts, sink.port, clock, tmp_path / f"host{i}") for i in range(2)]
        barrier = threading.Barrier(2)
        results: list[Any] = []
        threads = [
            threading.Thread(target=_sweep_in_thread, args=(host, day, barrier, results))
            for host in hosts
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        finally:
            for host in hosts:
                host.dispose()
        assert not [r for r in results if isinstance(r, Exception)], results
        assert sum(r.overdue for r in results) == 8  # 4 decisions × (office + supervisor)
        assert sum(r.mails_sent for r in results) == 8
        with parts.readers() as session:
            notes = session.execute(
                select(Notification.decision_id, Notification.recipient_id, Notification.kind)
            ).all()
            markers = session.scalars(select(ReminderSent)).all()
            audited = session.scalars(
                select(AuditEvent.decision_id).where(AuditEvent.action == "send_reminders")
            ).all()
        assert len(notes) == 8 and max(Counter(notes).values()) == 1
        assert len(markers) == 8
        assert sorted(audited) == sorted(set(audited)) and len(audited) == 4  # one per decision
        for address in ("government_office_a@gov.test", "supervisor_a@gov.test"):
            mails = sink.to(address)
            assert len(mails) == 4
            assert len({m["Subject"] for m in mails}) == 4  # one per decision, none twice
    assert parts.verify_audit().ok


def test_the_command_line_lists_and_sweeps(parts, people, clock, monkeypatch):
    """`decisionflow deadlines list` shows the running deadline; `sweep` sends and says how many."""
    decision_id, due = filing_document(parts, people, clock)
    monkeypatch.setenv("DECISIONFLOW_DATABASE_URL", parts.settings.resolved_database_url)
    monkeypatch.setenv("DECISIONFLOW_INSTANCE_PATH", str(parts.settings.instance_path))
    runner = CliRunner()
    listed = runner.invoke(main, ["deadlines", "list", "--today", clock.today.isoformat()])
    assert listed.exit_code == 0, listed.output
    assert f"{due} " in listed.output and f"#{decision_id}" in listed.output
    day = (due + timedelta(days=1)).isoformat()
    swept = runner.invoke(main, ["deadlines", "sweep", "--today", day])
    assert swept.exit_code == 0, swept.output
    assert "overdue 2" in swept.output
    again = runner.invoke(main, ["deadlines", "sweep", "--today", day])
    assert "overdue 0" in again.output
    bad = runner.invoke(main, ["deadlines", "sweep", "--today", "tomorrow"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_two_cron_jobs_at_once_send_each_reminder_once(parts, people, clock, tmp_path):
    """`decisionflow deadlines sweep` started twice at the same time, as two hosts' cron would."""
    give_emails(parts, people)
    dues = [filing_document(parts, people, clock)[1] for _ in range(3)]
    day = (max(dues) + timedelta(days=1)).isoformat()
    command = [sys.executable, "-m", "decisionflow.cli", "deadlines", "sweep", "--today", day]
    with smtp_sink() as sink:
        env = {
            **os.environ,
            "DECISIONFLOW_DATABASE_URL": parts.settings.resolved_database_url,
            "DECISIONFLOW_INSTANCE_PATH": str(tmp_path / "cron"),
            "DECISIONFLOW_SMTP_HOST": "127.0.0.1",
            "DECISIONFLOW_SMTP_PORT": str(sink.port),
        }
        jobs = [
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        outputs = [job.communicate(timeout=120) for job in jobs]
        assert [job.returncode for job in jobs] == [0, 0], outputs
        said = [re.search(r"overdue (\d+)", out).group(1) for out, _ in outputs]  # type: ignore[union-attr]
        assert sum(int(n) for n in said) == 6  # 3 decisions × (office + supervisor)
        assert len(sink.to("government_office_a@gov.test")) == 3
        assert len(sink.to("supervisor_a@gov.test")) == 3
    with parts.readers() as session:
        assert len(session.scalars(select(Notification)).all()) == 6


def outbox(parts: Parts, address: str) -> list[MailOutbox]:
    """The outbox rows of one address, oldest first."""
    with parts.readers() as session:
        return list(
            session.scalars(
                select(MailOutbox).where(MailOutbox.recipient == address).order_by(MailOutbox.id)
            )
        )


def test_a_refused_address_holds_up_no_other_mail(parts, people, clock, tmp_path):
    """The relay refuses a mistyped address: every other mail of the run still goes out; the
    refused one is tried again by later sweeps and left alone after the maximum attempts."""
    give_emails(parts, people)
    mistyped = "government_office_a@gov.tset"
    parts.admin.set_email(people[Role.ADMIN], username="government_office_a", email=mistyped)
    dues = [filing_document(parts, people, clock)[1] for _ in range(2)]
    day = max(dues) + timedelta(days=1)  # the office's mail is first in the outbox each time
    with smtp_sink(refuse={mistyped}) as sink:
        mailing = with_mail(parts, sink.port, clock, tmp_path)
        try:
            first = mailing.sweeper.sweep(today=day)
            assert (first.overdue, first.mails_sent, first.mails_failed) == (4, 2, 2)
            assert len(sink.to("supervisor_a@gov.test")) == 2
            later = [mailing.sweeper.sweep(today=day) for _ in range(MAX_MAIL_ATTEMPTS)]
        finally:
            mailing.dispose()
        assert [(r.mails_sent, r.mails_failed) for r in later] == [(0, 2)] * (
            MAX_MAIL_ATTEMPTS - 1
        ) + [(0, 0)]
        assert sink.refused == [mistyped] * (2 * MAX_MAIL_ATTEMPTS)
        assert sink.to(mistyped) == []
    refused = outbox(parts, mistyped)
    assert len(refused) == 2
    for row in refused:
        assert row.sent_at is None and row.attempts == MAX_MAIL_ATTEMPTS
        assert "SMTPRecipientsRefused" in row.last_error and "550" in row.last_error
    assert [row.attempts for row in outbox(parts, "supervisor_a@gov.test")] == [1, 1]
    assert len(inbox(parts, "government_office_a")) == 2  # the inbox has them all the same


def test_a_relay_that_is_down_stops_the_round_without_using_up_every_mail(
    parts, people, clock, tmp_path
):
    """Nothing listens: the first mail's failure ends the round; the others keep their attempts."""
    give_emails(parts, people)
    _, due = filing_document(parts, people, clock)
    mailing = with_mail(parts, free_port(), clock, tmp_path)
    try:
        report = mailing.sweeper.sweep(today=due + timedelta(days=1))
    finally:
        mailing.dispose()
    assert (report.overdue, report.mails_sent, report.mails_failed) == (2, 0, 1)
    [office] = outbox(parts, "government_office_a@gov.test")
    [supervisor] = outbox(parts, "supervisor_a@gov.test")
    assert office.attempts == 1 and "ConnectionRefusedError" in office.last_error
    assert (supervisor.attempts, supervisor.last_error) == (0, "")


def test_people_act_while_a_mail_is_on_its_way(parts, people, clock, tmp_path):
    """A slow mail server holds no one up: the office files the document while the reminder
    about it is still being handed to the relay, and the reminder is delivered all the same."""
    give_emails(parts, people)
    decision_id, due = filing_document(parts, people, clock)
    results: list[Any] = []
    with smtp_sink(held=True) as sink:
        mailing = with_mail(parts, sink.port, clock, tmp_path)

        def sweep() -> None:
            try:
                results.append(mailing.sweeper.sweep(today=due - timedelta(days=1)))
            except Exception as err:  # reported by the test, not lost in the thread
                results.append(err)

        thread = threading.Thread(target=sweep)
        try:
            thread.start()
            assert sink.arrived.wait(timeout=60), results
            # (were the mail sent inside a writer transaction, this move would wait on SQLite
            # until the relay gave up, and the mail would count as failed)
            file_it(parts, decision_id, people=people, clock=clock, receipt="备-2")
            assert sink.mails == []  # still on its way
        finally:
            sink.release.set()
            thread.join(timeout=120)
            mailing.dispose()
        [report] = results
        assert (report.reminders, report.mails_sent, report.mails_failed) == (1, 1, 0)
        assert len(sink.to("government_office_a@gov.test")) == 1
    with parts.readers() as session:
        assert session.get(Decision, decision_id).state == "filed"  # type: ignore[union-attr]


def test_a_decision_busy_with_a_move_is_reminded_in_the_same_sweep(
    parts, people, clock, monkeypatch
):
    """PostgreSQL: a person's move holds the decision's row when the sweep reaches it; the sweep
    comes back to it at the end, so the reminder is not a whole cron period late."""
    if parts.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers queue: the sweep waits for the move instead of skipping")
    decision_id, due = filing_document(parts, people, clock)
    holder = parts.engine.connect()
    move = holder.begin()
    holder.execute(select(Decision.id).where(Decision.id == decision_id).with_for_update())
    deliver = parts.sweeper._deliver
    tried: list[int] = []

    def deliver_then_release(decision: int, today: date, report: SweepReport) -> None:
        tried.append(decision)
        try:
            deliver(decision, today, report)
        finally:
            if move.is_active:
                move.commit()  # the person's move commits after the sweep's first pass

    monkeypatch.setattr(parts.sweeper, "_deliver", deliver_then_release)
    try:
        report = parts.sweeper.sweep(today=due + timedelta(days=1))
    finally:
        if move.is_active:
            move.rollback()
        holder.close()
    assert tried == [decision_id, decision_id]
    assert (report.overdue, report.skipped_busy) == (2, 0)
    assert [n.kind for n in inbox(parts, "government_office_a")] == ["overdue"]
    assert [n.kind for n in inbox(parts, "supervisor_a")] == ["escalation"]
