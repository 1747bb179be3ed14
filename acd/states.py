"""The ACD's vocabulary: agent and call states, the kinds of calls, offer outcomes and event kinds.

Every value is a `StrEnum`, so it is also the plain string the bridges, the web layer, the event log and
the desktops have always seen ("available", "no-answer", ...).
"""

from __future__ import annotations

from enum import StrEnum


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"  # a call rings at the agent's phone
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


# Logged in and not away: counts for the estimated wait.
STAFFED = frozenset({AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP})
# States an agent or a supervisor may ask for; the others follow from calls.
SETTABLE = (AgentState.AVAILABLE, AgentState.AWAY, AgentState.LOGGED_OUT)
# From these an agent may dial a campaign call (the dial reserves them).
MAY_DIAL = frozenset({AgentState.AVAILABLE, AgentState.AWAY, AgentState.WRAP_UP})


class AwayReason(StrEnum):
    BREAK = "break"
    MEAL = "meal"
    TRAINING = "training"
    MEETING = "meeting"
    MISSED_CALLS = "missed_calls"  # set by the ACD after too many unanswered offers in a row
    PHONE_UNREACHABLE = "phone_unreachable"  # set by the ACD: the PBX could not reach the phone (not a miss)
    PREVIEW = "preview"


class CallKind(StrEnum):
    INBOUND = "inbound"
    CALLBACK = "callback"  # a caller's place in the queue, kept while they are called back
    SCHEDULED = "scheduled"  # an agent's "I will call you back" at a set time
    CAMPAIGN = "campaign"


class CallState(StrEnum):
    WAITING = "waiting"  # in its queue (the router holds it)
    OFFERED = "offered"  # ringing at one agent
    TALKING = "talking"
    DIALING = "dialing"  # a promise whose outbound leg is under way
    RETRY_WAIT = "retry_wait"  # a promise waiting out the gap before its next attempt
    PARKED = "parked"  # a promise waiting for a bridge that can dial it
    DUE_WAIT = "due_wait"  # a scheduled callback before its time
    DUE = "due"  # a scheduled callback waiting for its agent to be free


class OfferFailure(StrEnum):
    """Why a ringing agent did not take the call (what a bridge may report to `offer_failed`)."""

    NO_ANSWER = "no-answer"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


OFFER_FAILURES = tuple(OfferFailure)

# How a bridge may end an outbound call without having reached the customer; any other reason means
# the customer was reached. Bridge vocabulary (Twilio and Asterisk statuses), so plain strings.
CUSTOMER_NOT_REACHED = frozenset(
    {"no-answer", "busy", "failed", "canceled", "cancelled", "unavailable", "congestion", "rejected"}
)


class EndReason(StrEnum):
    """Reasons the ACD itself gives when a call leaves an agent or a queue."""

    TRANSFERRED = "transferred"  # the talking call was queued again
    GONE = "gone"  # the bridge no longer carries the call it was asked to offer
    CLOSED = "closed"  # overflow: the queue is closed
    MAX_WAIT = "max_wait"  # overflow: the caller waited the queue's maximum


class OverflowKind(StrEnum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


class CallbackKind(StrEnum):
    QUEUE = "queue"
    SCHEDULED = "scheduled"


class CallbackStatus(StrEnum):
    PENDING = "pending"
    DIALING = "dialing"
    DONE = "done"
    FAILED = "failed"


class AttemptResult(StrEnum):
    """A callback attempt's result besides the bridge's own reason for not reaching the customer."""

    REACHED = "reached"
    INTERRUPTED = "interrupted"  # the server stopped while it was dialling


class EventKind(StrEnum):
    ENQUEUED = "enqueued"
    OFFERED = "offered"
    ANSWERED = "answered"
    MISSED = "missed"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    TRANSFERRED = "transferred"
    ENDED = "ended"
    WRAP_UP = "wrap_up"
    STATE = "state"
    STATE_REQUESTED = "state_requested"
    REACHABLE = "reachable"
    CALLBACK_REQUESTED = "callback_requested"
    CALLBACK_SCHEDULED = "callback_scheduled"
    CALLBACK_ATTEMPT = "callback_attempt"
    CALLBACK_DONE = "callback_done"
    CALLBACK_FAILED = "callback_failed"
