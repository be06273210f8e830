"""Accounts and departments, changed through the same audited door as decisions."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from decisionflow.accounts import Actor, find_department, find_user, hash_password
from decisionflow.calendar import CalendarOverrideError, ChinaLegalCalendar
from decisionflow.errors import Conflict, InvalidInput, NotFound, NotPermitted
from decisionflow.models import Department, User, utcnow
from decisionflow.passwords import field_error as password_error
from decisionflow.roles import ACCOUNT_ROLES, Permission, has_permission
from decisionflow.uow import Attempt, Door


def require_admin(actor: Actor) -> None:
    """Refuse anyone but an administrator."""
    if not has_permission(actor.role, Permission.USER_MANAGE):
        raise NotPermitted(
            zh="只有系统管理员可以管理账号和单位",
            en="Only administrators manage accounts and departments",
        )


class AdminService:
    """Create departments and user accounts; every change audited."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.door = Door(sessions, clock)

    def create_department(self, actor: Actor, *, code: str, name_zh: str, name_en: str) -> int:
        """Add a department; its code must be new."""
        attempt = Attempt(
            actor,
            "create_department",
            payload={"code": code, "name_zh": name_zh, "name_en": name_en},
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> int:
            require_admin(actor)
            if not code.strip() or not name_zh.strip() or not name_en.strip():
                raise InvalidInput(
                    zh="单位代码和名称必须填写", en="Department code and names are required"
                )
            if find_department(session, code):
                raise Conflict(
                    zh=f"单位代码“{code}”已存在", en=f"Department code '{code}' already exists"
                )
            department = Department(
                code=code.strip(), name_zh=name_zh.strip(), name_en=name_en.strip()
            )
            session.add(department)
            session.flush()
            attempt.detail = {"department_id": department.id}
            return department.id

        return self.door.run(attempt, work)

    def create_user(
        self,
        actor: Actor,
        *,
        username: str,
        display_name: str,
        password: str,
        role: str,
        department: str | None,
    ) -> int:
        """Add a user account with an Argon2id password hash."""
        # The password never enters the audit log, not even as a digest of it alone.
        attempt = Attempt(
            actor,
            "create_user",
            payload={"username": username, "role": role, "department": department},
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> int:
            require_admin(actor)
            errors: dict[str, tuple[str, str]] = {}
            if not username.strip() or len(username) > 64:
                errors["username"] = (
                    "必须填写，且不超过 64 字符",
                    "is required, at most 64 characters",
                )
            if role not in {r.value for r in ACCOUNT_ROLES}:
                errors["role"] = ("没有此角色", "no such role")
            weak = password_error(password, username=username)
            if weak is not None:
                errors["password"] = weak
            unit = find_department(session, department) if department else None
            if department and unit is None:
                errors["department"] = ("没有此单位", "no such department")
            if errors:
                raise InvalidInput(zh="填写内容有误", en="Invalid input", fields=errors)
            if find_user(session, username):
                raise Conflict(
                    zh=f"用户名“{username}”已被使用", en=f"Username '{username}' is taken"
                )
            user = User(
                username=username.strip(),
                display_name=display_name.strip() or username,
                role=role,
                password_hash=hash_password(password),
                department_id=unit.id if unit else None,
                created_at=now,
            )
            session.add(user)
            session.flush()
            attempt.detail = {"user_id": user.id}
            return user.id

        return self.door.run(attempt, work)

    def update_user(
        self,
        actor: Actor,
        *,
        username: str,
        role: str | None = None,
        department: str | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> None:
        """Change an account's role, department, whether it may sign in, or reset its password."""
        # The new password is never audited; the log says only that it was reset.
        attempt = Attempt(
            actor,
            "update_user",
            payload={
                "username": username,
                "role": role,
                "department": department,
                "active": active,
                "password_reset": bool(password),
            },
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            require_admin(actor)
            user = find_user(session, username)
            if user is None:
                raise NotFound(zh=f"没有用户“{username}”", en=f"No user '{username}'")
            if user.id == actor.id and (
                active is False or (role is not None and role != user.role)
            ):
                # an administrator who demotes or locks out themselves may leave nobody in charge
                raise InvalidInput(
                    zh="不能更改自己的角色或停用自己的账号",
                    en="You cannot change your own role or deactivate your own account",
                    fields={"role": ("不能更改自己的账号", "not your own account")},
                )
            errors: dict[str, tuple[str, str]] = {}
            if role is not None and role not in {r.value for r in ACCOUNT_ROLES}:
                errors["role"] = ("没有此角色", "no such role")
            unit = find_department(session, department) if department else None
            if department and unit is None:
                errors["department"] = ("没有此单位", "no such department")
            if password:
                weak = password_error(password, username=user.username)
                if weak is not None:
                    errors["password"] = weak
            if errors:
                raise InvalidInput(
                    zh="填写内容有误：" + "；".join(zh for zh, _ in errors.values()),
                    en="Invalid input: " + "; ".join(en for _, en in errors.values()),
                    fields=errors,
                )
            before = {"role": user.role, "department_id": user.department_id, "active": user.active}
            if password:
                user.password_hash = hash_password(password)
            if role is not None:
                user.role = role
            if department is not None:
                user.department_id = unit.id if unit else None
            if active is not None:
                user.active = active
            attempt.detail = {"user_id": user.id, "before": before}

        self.door.run(attempt, work)

    def set_email(self, actor: Actor, *, username: str, email: str) -> None:
        """Set (or, with "", clear) the address an account's reminders are mailed to; audited."""
        address = email.strip()
        attempt = Attempt(actor, "set_user_email", payload={"username": username, "email": address})

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            require_admin(actor)
            user = find_user(session, username)
            if user is None:
                raise NotFound(zh=f"没有用户“{username}”", en=f"No user '{username}'")
            local, at, domain = address.partition("@")
            if address and (
                not (local and at and "." in domain)
                or len(address) > 254
                or any(c.isspace() or c in '<>,;"' for c in address)
            ):
                raise InvalidInput(
                    zh="电子邮箱地址有误",
                    en="Invalid email address",
                    fields={
                        "email": (
                            "应为 name@example.gov.cn 形式",
                            "write it as name@example.gov.cn",
                        )
                    },
                )
            user.email = address or None
            attempt.detail = {"user_id": user.id}

        self.door.run(attempt, work)

    def save_calendar_overrides(self, actor: Actor, *, text: str, path: Path) -> None:
        """Replace the legal calendar's override file, once it loads cleanly; audited."""
        attempt = Attempt(
            actor, "save_calendar_overrides", payload={"path": str(path), "text": text}
        )

        def work(session: Session, attempt: Attempt, now: datetime) -> None:
            require_admin(actor)
            with tempfile.TemporaryDirectory() as folder:
                candidate = Path(folder) / path.name
                candidate.write_text(text, encoding="utf-8")
                try:
                    ChinaLegalCalendar(candidate)
                except CalendarOverrideError as err:
                    problem = str(err).replace(str(candidate), path.name)
                    raise InvalidInput(
                        zh="日历覆盖文件有误，未保存",
                        en="The override file is invalid; nothing was saved",
                        fields={"text": (problem, problem)},
                    ) from None
            attempt.detail = {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}

        self.door.run(attempt, work)
        # Only once the change is audited is the file replaced: written beside its final name
        # and renamed, so a reader never sees half a file.
        staging = path.with_suffix(path.suffix + ".saving")
        staging.write_text(text, encoding="utf-8")
        staging.replace(path)
