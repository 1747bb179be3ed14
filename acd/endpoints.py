"""Where an agent's phone rings, per transport, and whether an endpoint can be dialled on it.

An agent may have one endpoint per transport (the connector names "asterisk" and "twilio"):

    asterisk   PJSIP/<endpoint>, SIP/<peer>, Local/<exten>@<context>     (Dial's technology/resource)
    twilio     client:<identity>, sip:<user>@<host> (or sips:), +<E.164 number>

`Agent.endpoints` names them explicitly ({"asterisk": "PJSIP/agent1", "twilio": "client:agent1"}); the older
single `Agent.endpoint` still counts for the one transport its syntax belongs to. An endpoint that does not
fit its transport is a configuration problem: reported at start-up and on the supervisor's page, and never
dialled (Asterisk answers `Dial client:agent1` with "Dial argument takes format (technology/resource)").
Connectors other than these two are not checked: the ACD does not know their syntax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Transport(StrEnum):
    ASTERISK = "asterisk"
    TWILIO = "twilio"


TRANSPORTS = tuple(Transport)

# Dial's technology/resource: no separators Dial itself reads (",", "&"), no spaces, no quotes.
_RESOURCE = r"[^\s,&\"'()|/][^\s,&\"'()|]*"
_ASTERISK = re.compile(rf"^(?:PJSIP|SIP)/{_RESOURCE}$|^Local/[^\s,&\"'()|@/]+@[^\s,&\"'()|@/]+(?:/n)?$")
_TWILIO = re.compile(r"^client:[A-Za-z0-9_.\-]{1,121}$|^sips?:[^\s@]+@[^\s@]+$|^\+[1-9][0-9]{6,14}$")
_PATTERNS: dict[str, re.Pattern[str]] = {Transport.ASTERISK: _ASTERISK, Transport.TWILIO: _TWILIO}

EXPECTED = {
    Transport.ASTERISK: "PJSIP/<name>, SIP/<peer> or Local/<exten>@<context>",
    Transport.TWILIO: "client:<identity>, sip:<user>@<host> or +<E.164 number>",
}


def fits(transport: str, endpoint: str) -> bool:
    """Whether `endpoint` can be dialled on `transport` (any endpoint fits a transport we do not know)."""
    pattern = _PATTERNS.get(transport)
    return pattern is None or bool(pattern.match(endpoint))


def transport_of(endpoint: str) -> Transport | None:
    """The transport whose syntax `endpoint` has, or None."""
    return next((t for t in TRANSPORTS if _PATTERNS[t].match(endpoint)), None)


@dataclass(frozen=True, slots=True)
class EndpointProblem:
    transport: str  # "asterisk" | "twilio" | "" when the endpoint fits no transport at all
    endpoint: str

    def __str__(self) -> str:
        if not self.transport:
            return f"endpoint {self.endpoint!r} fits no transport ({'; '.join(EXPECTED.values())})"
        return f"{self.transport} endpoint {self.endpoint!r} is not one of {EXPECTED[Transport(self.transport)]}"


@dataclass(frozen=True, slots=True)
class AgentPhones:
    """An agent's endpoints that can be dialled, by transport, and the ones that cannot."""

    usable: dict[str, str]
    problems: tuple[EndpointProblem, ...]

    def on(self, transport: str) -> str | None:
        return self.usable.get(transport)


def resolve(endpoint: str, endpoints: Mapping[str, str] | None) -> AgentPhones:
    """Sort an agent's endpoints: `endpoints` (per transport) first, then the single `endpoint` for the
    transport its syntax belongs to, when that transport has none yet."""
    usable: dict[str, str] = {}
    problems: list[EndpointProblem] = []
    for transport, value in (endpoints or {}).items():
        value = (value or "").strip()
        if not value:
            continue
        if fits(transport, value):
            usable[transport] = value
        else:
            problems.append(EndpointProblem(transport, value))
    single = (endpoint or "").strip()
    if single:
        own = transport_of(single)
        if own is None:
            if not any(p.endpoint == single for p in problems):
                problems.append(EndpointProblem("", single))
        else:
            usable.setdefault(own, single)
    return AgentPhones(usable, tuple(problems))


def transport_skill(transport: str) -> str | None:
    """The routing index's pseudo-skill for "has a phone on this transport" (None: not checked)."""
    return f"@{transport}" if transport in _PATTERNS else None
