"""Who acts: actors, password hashing, departments and user accounts."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from decisionflow import driver
from decisionflow.models import Department, User
from decisionflow.roles import Role

# Argon2id at OWASP's recommended minimum (19 MiB, 2 passes): a modern KDF that stays
# quick enough for a sign-in page on a two-core server.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
#: used to spend the same time on unknown usernames, so timing does not reveal accounts
_DUMMY_HASH = _HASHER.hash("not-a-real-password")


@dataclass(frozen=True)
class Actor:
    """The person (or system) acting, as the service layer needs them."""

    id: int | None
    username: str
    role: Role
    department_id: int | None = None
    department_code: str = ""

    @classmethod
    def of(cls, user: User) -> Actor:
        """The actor for a user account."""
        return cls(
            id=user.id,
            username=user.username,
            role=Role(user.role),
            department_id=user.department_id,
            department_code=user.department.code if user.department else "",
        )


@dataclass(frozen=True)
class Account:
    """A user account as a request's sign-in check reads it."""

    actor: Actor
    display_name: str
    active: bool
    password_hash: str
    #: raised when an administrator ends the account's sessions
    session_epoch: int


#: every signed-in request reads it (prepared once: see decisionflow.driver)
_ACCOUNT = driver.Prepared(
    select(
        User.id,
        User.username,
        User.role,
        User.department_id,
        User.display_name,
        User.active,
        User.password_hash,
        User.session_epoch,
        Department.code,
    )
    .outerjoin(Department, Department.id == User.department_id)
    .where(User.id == bindparam("id"))
)


def account(connection: Connection, user_id: int) -> Account | None:
    """The account with this id, if there is one."""
    row = _ACCOUNT.one_or_none(connection, {"id": user_id})
    if row is None:
        return None
    actor = Actor(
        id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        department_id=row["department_id"],
        department_code=row["code"] or "",
    )
    return Account(
        actor, row["display_name"], row["active"], row["password_hash"], row["session_epoch"]
    )


#: the command line acting on its own (seeding, migrations); never signs in
SYSTEM = Actor(id=None, username="system", role=Role.ADMIN)


def hash_password(password: str) -> str:
    """An Argon2id hash of a password."""
    return _HASHER.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    """Whether a password matches its hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, username: str) -> User | None:
    """The account with that username, if any."""
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def authenticate(session: Session, username: str, password: str) -> Actor | None:
    """The actor whose username and password match, or None; unknown names take as long."""
    user = find_user(session, username)
    if user is None or not user.active:
        check_password(_DUMMY_HASH, password)
        return None
    return Actor.of(user) if check_password(user.password_hash, password) else None


def find_department(session: Session, code: str) -> Department | None:
    """The department with that code, if any."""
    return session.execute(select(Department).where(Department.code == code)).scalar_one_or_none()
