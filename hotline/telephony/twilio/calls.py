"""Live Twilio calls in memory: CallSid ↔ our call id, the turn counter, and the answers already given.

Twilio retries a webhook when our answer is slow or lost. Each action URL we hand out carries a turn
number; the answer for (CallSid, step) is computed once and every retry gets the same bytes, so a
retried key press never runs an IVR step, an enqueue or a survey insert twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class LiveCall:
    sid: str
    call_id: str
    caller_number: str = ""
    direction: str = "inbound"
    turn: int = 0  # the last turn number handed out in an action URL
    language: str = "zh-CN"
    queue: str | None = None
    agent_id: int | None = None  # the agent being rung or talked to
    agent_leg_id: int | None = None
    last_agent_id: int | None = None  # the agent who talked to the caller (survey)
    survey_tries: int = 0
    failed_turns: int = 0  # IVR turns in a row whose writes failed (the caller was asked again)
    end_reason: str | None = None  # why we ended the call ourselves, when we did
    first_actions: list[Any] = field(default_factory=list)  # the IVR's first turn, until answered
    acd_waiting: bool = False  # the ACD holds this call (queued, ringing or talking)
    ended: bool = False
    in_queue: asyncio.Event = field(default_factory=asyncio.Event)  # Twilio is running our <Enqueue>
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # the call has ended
    answers: dict[str, asyncio.Future[str]] = field(default_factory=dict)
    secure_turns: set[int] = field(default_factory=set)  # gathers whose keys are a PIN or card number

    def next_turn(self) -> int:
        self.turn += 1
        return self.turn

    async def once(self, step: str, produce: Callable[[], Awaitable[str]]) -> str:
        """The answer for `step`, computed at most once; concurrent retries wait for the first."""
        known = self.answers.get(step)
        if known is not None:
            return await asyncio.shield(known)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.answers[step] = future
        try:
            answer = await produce()
        except BaseException as exc:
            # a failed attempt is not an answer: let Twilio's retry try again
            del self.answers[step]
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        future.set_result(answer)
        return answer


class CallRegistry:
    def __init__(self) -> None:
        self._by_sid: dict[str, LiveCall] = {}
        self._by_call_id: dict[str, LiveCall] = {}
        self._starting: dict[str, asyncio.Future[LiveCall]] = {}

    def __len__(self) -> int:
        return len(self._by_sid)

    def by_sid(self, sid: str) -> LiveCall | None:
        return self._by_sid.get(sid)

    def by_call_id(self, call_id: str) -> LiveCall | None:
        return self._by_call_id.get(call_id)

    def add(self, call: LiveCall) -> None:
        self._by_sid[call.sid] = call
        self._by_call_id[call.call_id] = call

    def add_pending(self, call: LiveCall) -> None:
        """An outbound call whose CallSid Twilio has not returned yet (status callbacks name our id)."""
        self._by_call_id[call.call_id] = call

    def attach_sid(self, call: LiveCall, sid: str) -> None:
        call.sid = sid
        self.add(call)

    def remove(self, call: LiveCall) -> None:
        if call.sid and self._by_sid.get(call.sid) is call:
            del self._by_sid[call.sid]
        if self._by_call_id.get(call.call_id) is call:
            del self._by_call_id[call.call_id]

    async def start_once(self, sid: str, start: Callable[[], Awaitable[LiveCall]]) -> LiveCall:
        """Register the call for `sid` once, even when Twilio retries the first webhook."""
        known = self._by_sid.get(sid)
        if known is not None:
            return known
        pending = self._starting.get(sid)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[LiveCall] = asyncio.get_running_loop().create_future()
        self._starting[sid] = future
        try:
            call = await start()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            del self._starting[sid]
        self.add(call)
        future.set_result(call)
        return call
