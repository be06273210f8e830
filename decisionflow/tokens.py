"""API tokens for the government's other systems: shown once, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from decisionflow.accounts import Actor, find_user
from decisionflow.admin import require_admin
from decisionflow.errors import Conflict, InvalidInput, NotFound
from decisionflow.models import ApiToken, User, utcnow
from decisionflow.uow import Attempt, Door

PREFIX = "dfl_"
#: api_tokens.name is a VARCHAR(100)
MAX_NAME_LENGTH = 100
#: api_tokens.id is a 32-bit INTEGER: no token has a larger id, and the database would choke on it
_ID_LIMIT = 2**31 - 1


def token_digest(token: str) -> str:
    """The stored form of a token: SHA-256 (tokens are long and random, so no KDF is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: its id, and the secret itself, which is never shown again."""

    id: int
    token: str = field(repr=False)


@dataclass(frozen=True)
class TokenInfo:
    """What an administrator may see of a token: never the token itself."""

    id: int
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class ApiTokens:
    """Issue, check and revoke API tokens; issuing and revoking are audited."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.door = Door(sessions, clock)

    def issue(self, actor: Actor, *, username: str, name: str) -> str:
        """A new token acting as `username`; the plain token is returned once and never stored."""
        return self.issue_token(actor, username=username, name=name).token

    def issue_token(self, actor: Actor, *, username: str, name: str) -> IssuedToken:
        """A new token acting as `username`, with its id (by which it can be revoked)."""
        token = PREFIX + secrets.token_urlsafe(32)
        attempt = Attempt(actor, "issue_api_token", payload={"username": username, "name": name})

        def work(session: Session, attempt: Attempt, now: datetime) -> IssuedToken:
            require_admin(actor)
            user = find_user(session, username)
            if user is None or not user.active:
                raise NotFound(zh=f"没有用户“{username}”", en=f"No active user '{username}'")
            if not name.strip():
                raise InvalidInput(
                    zh="请为令牌命名",
                    en="Name the token",
                    fields={"name": ("必须填写", "is required")},
                )
            if len(name.strip()) > MAX_NAME_LENGTH:
                raise InvalidInput(
                    zh=f"令牌名称不能超过 {MAX_NAME_LENGTH} 个字符",
                    en=f"The token's name must be at most {MAX_NAME_LENGTH} characters",
                    fields={"name": ("过长", "is too long")},
                )
            row = ApiToken(
                user_id=user.id,
                name=name.strip(),
                token_hash=token_digest(token),
                created_at=now,
                revoked=False,
            )
            session.add(row)
            session.flush()
            # Readable in the audit trail: who got a token, for what (never the token itself).
            attempt.detail = {"token_id": row.id, "username": user.username, "name": row.name}
            return IssuedToken(row.id, token)

        return self.door.run(attempt, work)

    def revoke(self, actor: Actor, token_id: int) -> TokenInfo:
        """Revoke a token for good: from now on it authenticates nobody."""
        attempt = Attempt(actor, "revoke_api_token", payload={"token_id": token_id})

        def work(session: Session, attempt: Attempt, now: datetime) -> TokenInfo:
            require_admin(actor)
            found = (
                session.execute(
                    select(ApiToken, User.username)
                    .join(User, User.id == ApiToken.user_id)
                    .where(ApiToken.id == token_id)
                ).one_or_none()
                if 1 <= token_id <= _ID_LIMIT
                else None
            )
            if found is None:
                raise NotFound(zh=f"没有编号为 {token_id} 的令牌", en=f"No API token #{token_id}")
            row, username = found
            if row.revoked:
                raise Conflict(
                    zh=f"令牌 {token_id} 已被吊销", en=f"API token #{token_id} is already revoked"
                )
            row.revoked = True
            attempt.detail = {"token_id": row.id, "username": username, "name": row.name}
            return _info(row, username)

        return self.door.run(attempt, work)

    def list_tokens(self, actor: Actor) -> list[TokenInfo]:
        """Every token, oldest first, as an administrator may see them (without the secret)."""
        require_admin(actor)
        with self.sessions() as session:
            rows = session.execute(
                select(ApiToken, User.username)
                .join(User, User.id == ApiToken.user_id)
                .order_by(ApiToken.id)
            ).all()
            return [_info(row, username) for row, username in rows]

    def actor_for(self, token: str) -> Actor | None:
        """The actor a presented token acts as, or None for an unknown or revoked one."""
        if not token.startswith(PREFIX):
            return None
        with self.sessions() as session, session.begin():
            row = session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked.is_(False))
            ).one_or_none()
            if row is None or not row.User.active:
                return None
            # The engine's clock, as every other timestamp it writes.
            session.execute(
                update(ApiToken)
                .where(ApiToken.id == row.ApiToken.id)
                .values(last_used_at=self.clock())
            )
            return Actor.of(row.User)


def _info(row: ApiToken, username: str) -> TokenInfo:
    return TokenInfo(
        row.id, username, row.name, row.created_at, row.last_used_at, bool(row.revoked)
    )
