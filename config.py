"""Every DecisionFlow setting, read from DECISIONFLOW_* environment variables, with defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PREFIX = "DECISIONFLOW_"
# A key that is only good for a developer's own machine; the production profile refuses it.
DEVELOPMENT_SECRET_KEY = "development-only-not-secret"
PROFILES = ("development", "test", "production")
#: a production key shorter than this is guessable offline from one signed cookie
MIN_SECRET_KEY_LENGTH = 32
REPO_ROOT = Path(__file__).resolve().parent


class ConfigError(ValueError):
    """A setting is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    """DecisionFlow's settings; each field is DECISIONFLOW_<FIELD NAME IN CAPITALS>."""

    #: development | test | production. Production refuses a default or missing secret key.
    profile: str = "development"
    #: Folder for the embedded database, attachments and other local state.
    instance_path: Path = field(default_factory=lambda: Path.cwd() / "instance")
    #: SQLAlchemy URL. Default: sqlite file <instance_path>/decisionflow.db (WAL mode).
    #: PostgreSQL: postgresql+psycopg://user@host:5432/dbname
    database_url: str = ""
    #: Signs sessions and CSRF tokens. Must be set (and not the default) in production.
    secret_key: str = DEVELOPMENT_SECRET_KEY
    #: Folder of procedure definitions (*.yaml).
    workflows_path: Path = REPO_ROOT / "workflows"
    #: Legal-calendar override file (new years' official arrangements).
    calendar_overrides: Path = REPO_ROOT / "workflows" / "calendar" / "overrides.yaml"
    #: Largest attachment accepted, in bytes.
    max_attachment_bytes: int = 20 * 1024 * 1024
    #: Where attachments are stored. Default: <instance_path>/attachments.
    attachments_path: Path | None = None
    #: Time zone in which dates are shown and legal days are counted.
    timezone: str = "Asia/Shanghai"
    #: Reminders of a running deadline go out this many working days before it falls due.
    reminder_working_days: int = 3
    #: SMTP server for reminder mails; empty: no mail, the in-app inbox alone.
    smtp_host: str = ""
    #: SMTP port (plain SMTP on the government network's relay).
    smtp_port: int = 25
    #: The sender address of reminder mails.
    smtp_from: str = "decisionflow@localhost"
    #: How many proxies (load balancers) stand before the app and set X-Forwarded-For/-Proto.
    #: 0: none, the client's own address is used. Set to the number of trusted hops only.
    proxy_hops: int = 0
    #: Failed sign-ins on one username before it is locked for a while.
    login_max_failures: int = 5
    #: Failed sign-ins from one client address before that address is locked for a while.
    login_max_failures_per_address: int = 20
    #: Minutes a lock lasts; failures older than this are forgotten.
    login_lockout_minutes: int = 15
    #: Minutes without a request after which a signed-in session ends.
    session_idle_minutes: int = 30
    #: Hours after signing in after which a session ends however active it was.
    session_max_hours: int = 12

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_path / 'decisionflow.db'}"

    @property
    def resolved_attachments_path(self) -> Path:
        """The attachment folder, defaulting to one inside the instance folder."""
        return self.attachments_path or self.instance_path / "attachments"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests, CLI flags)."""
        return replace(self, **changes).validated()

    def validated(self) -> Settings:
        """Check the settings; raise ConfigError naming the variable that is wrong."""
        if self.profile not in PROFILES:
            raise ConfigError(
                f"{PREFIX}PROFILE must be one of {', '.join(PROFILES)}, not {self.profile!r}"
            )
        if self.profile == "production" and (
            not self.secret_key or self.secret_key == DEVELOPMENT_SECRET_KEY
        ):
            raise ConfigError(
                f"{PREFIX}SECRET_KEY must be set to a private random value in production "
                "(生产环境必须设置私有的随机密钥)"
            )
        if self.profile == "production" and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"{PREFIX}SECRET_KEY is too short for production: use at least "
                f"{MIN_SECRET_KEY_LENGTH} random characters, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
                f"(生产环境密钥至少 {MIN_SECRET_KEY_LENGTH} 个随机字符)"
            )
        if self.max_attachment_bytes <= 0:
            raise ConfigError(f"{PREFIX}MAX_ATTACHMENT_BYTES must be a positive number of bytes")
        if self.reminder_working_days < 0:
            raise ConfigError(f"{PREFIX}REMINDER_WORKING_DAYS must be 0 or more")
        if not 0 < self.smtp_port < 65536:
            raise ConfigError(f"{PREFIX}SMTP_PORT must be a port number (1-65535)")
        if self.proxy_hops < 0:
            raise ConfigError(f"{PREFIX}PROXY_HOPS must be 0 or more")
        for name in (
            "login_max_failures",
            "login_max_failures_per_address",
            "login_lockout_minutes",
            "session_idle_minutes",
            "session_max_hours",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{PREFIX}{name.upper()} must be a positive whole number")
        return self


def _convert(name: str, raw: str, current: Any) -> Any:
    """Turn an environment string into the type of the setting's default."""
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(
                f"{PREFIX}{name.upper()} must be a whole number, not {raw!r}"
            ) from None
    if isinstance(current, Path) or name.endswith("_path") or name == "calendar_overrides":
        return Path(raw).expanduser()
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (os.environ by default)."""
    environ = os.environ if environ is None else environ
    base = Settings()
    changes: dict[str, Any] = {}
    for name in Settings.__dataclass_fields__:
        raw = environ.get(PREFIX + name.upper())
        if raw is not None and raw != "":
            changes[name] = _convert(name, raw, getattr(base, name))
    return replace(base, **changes).validated()
