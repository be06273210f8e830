"""Wire the engine's parts together from settings: the one place that builds them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from decisionflow import audit
from decisionflow.admin import AdminService
from decisionflow.attachments import AttachmentStore
from decisionflow.calendar import ChinaLegalCalendar
from decisionflow.chaincheck import ChainCheckpoint
from decisionflow.db import is_sqlite, make_engine, make_session_factory
from decisionflow.followups import FollowUps
from decisionflow.login_guard import SignInGuard, ThrottlePolicy
from decisionflow.migrate import upgrade
from decisionflow.models import utcnow
from decisionflow.notifications import Inbox, Mailer, MailSettings, Notifier
from decisionflow.oversight import Oversight
from decisionflow.overview import Overviews
from decisionflow.participation import PublicParticipation
from decisionflow.registers import Registers
from decisionflow.registry import DefinitionRegistry
from decisionflow.security_events import SecurityEvents
from decisionflow.service import DecisionService
from decisionflow.statistics import Statistics
from decisionflow.sweep import Sweeper
from decisionflow.tokens import ApiTokens
from decisionflow.trace import Traces


@dataclass
class Parts:
    """The engine's parts for one database: sessions, definitions, calendar, services."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    registry: DefinitionRegistry
    calendar: ChinaLegalCalendar
    decisions: DecisionService
    admin: AdminService
    participation: PublicParticipation
    tokens: ApiTokens
    registers: Registers
    oversight: Oversight
    statistics: Statistics
    traces: Traces
    inbox: Inbox
    follow_ups: FollowUps
    sweeper: Sweeper
    sign_in: SignInGuard
    security_events: SecurityEvents

    @property
    def overviews(self) -> Overviews:
        """Decision pages, each read in one transaction from the parts above."""
        return Overviews(
            self.readers,
            decisions=self.decisions,
            follow_ups=self.follow_ups,
            sweeper=self.sweeper,
            participation=self.participation,
        )

    def upgrade_database(self) -> None:
        """Apply every pending migration."""
        upgrade(self.engine)

    def reload_calendar(self) -> None:
        """Count working days by the override file as it now stands (after an administrator saved it)."""
        self.calendar = ChinaLegalCalendar(self.settings.calendar_overrides)
        self.decisions.calendar = self.calendar
        self.statistics.calendar = self.calendar
        self.sweeper.calendar = self.calendar

    def verify_audit(self) -> audit.Verification:
        """Verify the whole audit chain."""
        with self.engine.connect() as connection:
            return audit.verify(connection)

    def dispose(self) -> None:
        """Close the database connections."""
        self.engine.dispose()


def build(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Parts:
    """Build the engine for the settings' database (creating the instance folder if needed)."""
    url = settings.resolved_database_url
    if is_sqlite(url):
        settings.instance_path.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    registry = DefinitionRegistry.from_folder(settings.workflows_path)
    calendar = ChinaLegalCalendar(settings.calendar_overrides)
    attachments = AttachmentStore(
        settings.resolved_attachments_path, max_bytes=settings.max_attachment_bytes
    )
    readers = make_session_factory(engine, writer=False)
    decisions = DecisionService(
        sessions=sessions,
        readers=readers,
        registry=registry,
        calendar=calendar,
        attachments=attachments,
        clock=clock,
        timezone=settings.timezone,
    )
    mail = (
        MailSettings(settings.smtp_host, settings.smtp_port, settings.smtp_from)
        if settings.smtp_host
        else None
    )
    notifier = Notifier(mail)
    return Parts(
        settings=settings,
        engine=engine,
        sessions=sessions,
        readers=readers,
        registry=registry,
        calendar=calendar,
        decisions=decisions,
        admin=AdminService(sessions, clock),
        tokens=ApiTokens(sessions, clock),
        registers=Registers(sessions, clock),
        oversight=Oversight(readers, engine),
        # one checkpoint per process: each trace walks the chain on from the newest link verified
        traces=Traces(readers, decisions, ChainCheckpoint(engine)),
        statistics=Statistics(
            readers,
            registry,
            calendar=calendar,
            timezone=settings.timezone,
            clock=clock,
        ),
        inbox=Inbox(sessions, readers, clock),
        follow_ups=FollowUps(sessions, readers, notifier, timezone=settings.timezone, clock=clock),
        sweeper=Sweeper(
            sessions=sessions,
            readers=readers,
            registry=registry,
            calendar=calendar,
            notifier=notifier,
            mailer=Mailer(sessions, mail, clock),
            timezone=settings.timezone,
            window=settings.reminder_working_days,
            clock=clock,
        ),
        participation=PublicParticipation(
            sessions, registry, secret=settings.secret_key, timezone=settings.timezone, clock=clock
        ),
        sign_in=SignInGuard(
            sessions,
            readers,
            policy=ThrottlePolicy(
                max_failures=settings.login_max_failures,
                max_failures_per_address=settings.login_max_failures_per_address,
                lockout=timedelta(minutes=settings.login_lockout_minutes),
            ),
            clock=clock,
        ),
        security_events=SecurityEvents(sessions, readers, clock),
    )
