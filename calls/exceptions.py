"""Why the call record refuses a fact."""

from __future__ import annotations


class CallAlreadyOpened(Exception):
    """The transport's id for this call (CallSid, Uniqueid) is already recorded: a replayed first
    webhook or a second FastAGI session for a call that was (or is being) served."""

    def __init__(self, channel: str, external_id: str) -> None:
        super().__init__(f"{channel} call {external_id} was already started")
        self.channel, self.external_id = channel, external_id


class NoSuchCall(LookupError):
    def __init__(self, call_id: str) -> None:
        super().__init__(f"no call {call_id} in the record")
        self.call_id = call_id


class NoSuchLeg(LookupError):
    def __init__(self, leg_id: int) -> None:
        super().__init__(f"no call leg {leg_id} in the record")
        self.leg_id = leg_id
