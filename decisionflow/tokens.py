"""API tokens for the government's other systems: shown once, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from decisionflow.accounts import Actor, find_user
from decisionflow.admin import require_admin
from decisionflow.errors import InvalidInput, NotFound
from decisionflow.models import ApiToken, User, utcnow
from decisionflow.uow import Attempt, Door

PREFIX = "dfl_"


def token_digest(token: str) -> str:
    """The stored form of a token: SHA-256 (tokens are long and random, so no KDF is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiTokens:
    """Issue, check and revoke API tokens; issuing and revoking are audited."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.door = Door(sessions, clock)

    def issue(self, actor: Actor, *, username: str, name: str) -> str:
        """A new token acting as `username`; the plain token is returned once and never stored."""
        token = PREFIX + secrets.token_urlsafe(32)
        attempt = Attempt(actor, "issue_api_token", payload={"username": username, "name": name})

        def work(session: Session, attempt: Attempt, now: datetime) -> str:
            require_admin(actor)
            user = find_user(session, username)
            if user is None or not user.active:
                raise NotFound(zh=f"没有用户“{username}”", en=f"No active user '{username}'")
            if not name.strip():
                raise InvalidInput(zh="请为令牌命名", en="Name the token", fields={"name": ("必须填写", "is required")})
            row = ApiToken(user_id=user.id, name=name.strip(), token_hash=token_digest(token), created_at=now)
            session.add(row)
            session.flush()
            attempt.detail = {"token_id": row.id}
            return token

        return self.door.run(attempt, work)

    def actor_for(self, token: str) -> Actor | None:
        """The actor a presented token acts as, or None for an unknown or revoked one."""
        if not token.startswith(PREFIX):
            return None
        with self.sessions() as session, session.begin():
            row = session.execute(
                select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked.is_(False))
            ).one_or_none()
            if row is None or not row.User.active:
                return None
            session.execute(update(ApiToken).where(ApiToken.id == row.ApiToken.id).values(last_used_at=utcnow()))
            return Actor.of(row.User)
