"""Who may do what: the four roles of a web user. Below the web layer, so users and the CLI share
them with the routes that declare them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"  # own desktop and calls
    SUPERVISOR = "supervisor"  # live agents and queues, campaigns, all calls
    QA = "qa"  # quality workspace
    ADMIN = "admin"  # users


ROLES: tuple[str, ...] = tuple(Role)
