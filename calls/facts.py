"""The facts the call record knows, and the reasons a call or leg ends that the record itself gives."""

from __future__ import annotations

from enum import StrEnum


class Fact(StrEnum):
    OPENED = "opened"  # a call began (inbound: the caller's leg with it)
    ANNOTATED = "annotated"  # what the transport says about the call (channel, caller name…)
    QUEUED = "queued"  # the caller waits for an agent in a queue
    OFFERED = "offered"  # an agent's phone rings: a leg of its own
    ANSWERED = "answered"  # the agent picked up
    CONNECTED = "connected"  # the transport answered the call itself (outbound calls)
    NAMED = "named"  # the transport gave an outbound call (and its first leg) its id
    LEG_CLOSED = "leg_closed"
    RECORDING_STARTED = "recording_started"
    RECORDING_READY = "recording_ready"
    RECORDING_FAILED = "recording_failed"
    SURVEY_ANSWERED = "survey_answered"
    WRAPPED_UP = "wrapped_up"  # the agent's wrap-up code and notes
    ENDING = "ending"  # why the call is ending, known before the transport's last word
    CLOSED = "closed"


class LegKind(StrEnum):
    CALLER = "caller"
    AGENT = "agent"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class EndReason(StrEnum):
    """Why a call ended, in the words both transports use (a transport's own status or a PBX's
    hang-up cause is kept beside it, not instead of it)."""

    COMPLETED = "completed"  # the conversation with the agent is over
    CALLER_HANGUP = "caller-hangup"  # the caller hung up (in the menus, on hold)
    CALLBACK = "callback"  # the caller left their place in the queue for a callback
    VOICEMAIL = "voicemail"  # nobody could take the call: the caller left a message
    PBX_LOST = "pbx_lost"  # the PBX's connection went away without saying the caller hung up


# Reasons the record gives when it closes calls nobody else will.
SERVER_RESTART = "server_restart"  # left open by the previous run of the process
PBX_CHANNEL_GONE = "pbx-channel-gone"  # the PBX no longer has the call's channel
