"""Web users: one place that creates them, for the CLI, the admin page and the demo."""

from __future__ import annotations

from sqlalchemy import select

from acd.models import Agent
from audit.models import AuditLog
from hotline.db import Database, hash_secret
from hotline.roles import ROLES
from hotline.staff import User

MIN_PASSWORD = 8
USERNAME_MAX, DISPLAY_NAME_MAX = 64, 100  # the users table's column sizes


class UserError(ValueError):
    """The user cannot be created as asked; the message says why, for the person asking."""


async def add_user(db: Database, username: str, password: str, role: str, *, display_name: str = "",
                   endpoint: str = "", skills: dict[str, int] | None = None, actor: str = "cli") -> User:
    username = username.strip()
    if not username or len(username) > USERNAME_MAX or not username.replace("_", "").replace(".", "").isalnum():
        raise UserError(f"username: 1-{USERNAME_MAX} letters, digits, '.' or '_'")
    if len(display_name) > DISPLAY_NAME_MAX:
        raise UserError(f"name: at most {DISPLAY_NAME_MAX} characters")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    password_hash = await hash_secret(password)
    async with db.session() as s:
        if await s.scalar(select(User.id).where(User.username == username)):
            raise UserError(f"user {username!r} already exists")
        agent = None
        if role == "agent":
            agent = Agent(name=display_name or username, endpoint=endpoint or f"client:{username}",
                          skills=skills or {"general": 5})
            s.add(agent)
            await s.flush()
        user = User(username=username, password_hash=password_hash, role=role,
                    display_name=display_name or username, agent_id=agent.id if agent else None)
        s.add(user)
        s.add(AuditLog(actor=f"user:{actor}" if actor != "cli" else "cli", action="user_added",
                       target=username, detail={"role": role}))
    return user


async def find_user(db: Database, username: str) -> User | None:
    if len(username) > USERNAME_MAX:  # no such user can exist; spare the database the question
        return None
    async with db.session() as s:
        return await s.scalar(select(User).where(User.username == username))
