"""Who may call a route. Every handler declares it; a route without a declaration is refused by
the auth middleware (and by a test that walks the router), so a forgotten check fails closed.

    @requires("supervisor", "admin")
    async def calls(request): ...

    @public("Twilio webhook: checked by X-Twilio-Signature")
    async def voice(request): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hotline.roles import ROLES

Handler = TypeVar("Handler", bound=Callable[..., Any])

_ROLES_ATTR = "__hotline_roles__"
_PUBLIC_ATTR = "__hotline_public__"


def requires(*roles: str) -> Callable[[Handler], Handler]:
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}; choose from {ROLES}")

    def mark(handler: Handler) -> Handler:
        setattr(handler, _ROLES_ATTR, frozenset(roles))
        return handler

    return mark


def public(reason: str) -> Callable[[Handler], Handler]:
    """No login needed; `reason` says what protects it instead (or why nothing needs to)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _PUBLIC_ATTR, reason)
        return handler

    return mark


def declared_roles(handler: Any) -> frozenset[str] | None:
    """The roles a handler requires; None when it declares nothing (refused)."""
    return getattr(handler, _ROLES_ATTR, None)


def is_public(handler: Any) -> bool:
    return getattr(handler, _PUBLIC_ATTR, None) is not None
