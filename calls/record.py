"""The call record's one writer: bridges and the IVR report what happened, this stores it.

Each fact changes the call's rows (calls, call_legs, recordings) and is kept as a `call_events` row
in the same transaction. A fact is recorded once: (call, fact, key) is unique, so a retried webhook,
a replayed AMI event or a second report of the same thing changes nothing and returns False.

    open_inbound → ivr_turn* → queued → offered → answered → leg_closed → recording_* → survey_answered
                 → closed (the IVR, the transport, the start-up sweep: the first sets the end, the
                   transport's own word adds its status and duration)
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from calls.batch import BatchWriter, Write
from calls.exceptions import CallAlreadyOpened, NoSuchCall, NoSuchLeg
from calls.facts import PBX_CHANNEL_GONE, SERVER_RESTART, Direction, Fact, LegKind
from calls.models import Call, CallEvent, CallLeg, IvrStep, Recording
from hotline.db import Database, aware, utcnow

log = logging.getLogger(__name__)

Change = Callable[[AsyncSession, Call], Awaitable[dict[str, Any] | None]]
# Told in the fact's own transaction when a recording is complete at its source (the archive queues
# its ingest there, so "ready" and "to be archived" commit together).
RecordingReady = Callable[[AsyncSession, Call, Recording], Awaitable[None]]


class _Duplicate(Exception):
    """The fact is already recorded."""


class CallRecord:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self._clock = clock
        self._batch = BatchWriter(db)
        self.on_recording_ready: list[RecordingReady] = []

    # --- reading ----------------------------------------------------------------------------------

    async def exists(self, call_id: str) -> bool:
        async with self.db.session() as s:
            return bool(await s.scalar(select(func.count()).select_from(Call).where(Call.id == call_id)))

    async def find(self, channel: str, external_id: str) -> str | None:
        """Our id of the call the transport calls `external_id`."""
        async with self.db.session() as s:
            return await s.scalar(select(Call.id).where(Call.channel == channel, Call.external_id == external_id))

    async def has_ended(self, channel: str, external_id: str) -> bool:
        async with self.db.session() as s:
            found = await s.scalar(select(Call.id).where(Call.channel == channel, Call.external_id == external_id,
                                                         Call.ended_at.is_not(None)))
            return found is not None

    async def call_of_leg(self, leg_id: int) -> str | None:
        async with self.db.session() as s:
            return await s.scalar(select(CallLeg.call_id).where(CallLeg.id == leg_id))

    async def latest_call(self, channel: str, external_ids: Sequence[str]) -> str | None:
        """The newest call the transport knows by any of these ids (a channel's Uniqueid, then its Linkedid)."""
        async with self.db.session() as s:
            for external_id in (e for e in external_ids if e):
                found = await s.scalar(select(Call.id).where(Call.channel == channel, Call.external_id == external_id)
                                       .order_by(Call.started_at.desc()).limit(1))
                if found is not None:
                    return found
        return None

    async def find_leg(self, call_id: str, external_id: str) -> int | None:
        """The call's leg the transport calls `external_id` (the caller's channel, an agent's)."""
        async with self.db.session() as s:
            return await s.scalar(select(CallLeg.id).where(CallLeg.call_id == call_id,
                                                           CallLeg.external_id == external_id).limit(1))

    async def call_of_recording(self, external_id: str) -> str | None:
        async with self.db.session() as s:
            return await s.scalar(select(Recording.call_id).where(Recording.external_id == external_id))

    async def customer_of(self, call_id: str) -> int | None:
        async with self.db.session() as s:
            return await s.scalar(select(Call.customer_id).where(Call.id == call_id))

    # --- the call begins and goes through the menus -------------------------------------------------

    async def open_inbound(self, channel: str, external_id: str, *, caller: str, dialled: str,
                           language: str) -> str:
        """A caller rang in: the call and the caller's leg, answered now (the IVR answers at once).
        CallAlreadyOpened: `external_id` is already recorded (the unique index on (channel, external_id)
        says so, no read first: this is every call's first write); nothing is written."""
        call_id, now = str(uuid.uuid4()), self._clock()
        write = Write(
            calls=[{"id": call_id, "channel": channel, "external_id": external_id or None,
                    "direction": Direction.INBOUND, "caller_number": caller, "dialled_number": dialled,
                    "language": language, "status": "in-progress", "started_at": now, "answered_at": now,
                    "verified": False, "self_service_done": False, "attributes": {}}],
            legs=[{"call_id": call_id, "kind": LegKind.CALLER, "external_id": external_id or None,
                   "endpoint": caller, "started_at": now, "answered_at": now}],
            events=[_event(call_id, Fact.OPENED, external_id, now, channel=channel, direction=Direction.INBOUND)])
        try:
            await self._batch.write(write)
        except IntegrityError as exc:  # the same id: replayed, or opened at once by another request or node
            raise CallAlreadyOpened(channel, external_id) from exc
        return call_id

    async def ivr_turn(self, call_id: str, steps: Sequence[dict[str, Any]], learnt: dict[str, Any]) -> None:
        """New steps of the caller's path (IvrStep rows) and what the IVR learnt of the call
        (customer, verified, language, category, containment). Turns of concurrent calls share a commit."""
        await self._batch.write(Write(steps=list(steps), update={"id": call_id, **learnt}))

    async def annotate(self, call_id: str, attributes: dict[str, str]) -> bool:
        """What the transport tells about the call (PBX channel, caller name, dialplan position…)."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            call.attributes = {**(call.attributes or {}), **attributes}
            return attributes

        return await self._fact(call_id, Fact.ANNOTATED, _digest(attributes), change)

    # --- the queue and the agents -------------------------------------------------------------------

    async def queued(self, call_id: str, queue: str, category: str | None = None) -> bool:
        """The caller waits in `queue` (again, after an overflow: the category stays)."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            call.queue = queue
            call.business_category = category or call.business_category
            return {"queue": queue, "category": call.business_category}

        return await self._fact(call_id, Fact.QUEUED, queue, change)

    async def offered(self, call_id: str, agent_id: int, endpoint: str) -> int:
        """An agent's phone rings for the call: their leg, whose id the transport carries along."""
        legs: list[int] = []

        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            leg = CallLeg(call_id=call_id, kind=LegKind.AGENT, agent_id=agent_id, endpoint=endpoint,
                          started_at=self._clock())
            s.add(leg)
            await s.flush()
            legs.append(leg.id)
            return {"agent_id": agent_id, "leg_id": leg.id, "endpoint": endpoint}

        # every ring is a fact of its own: the key is the leg, which exists only once
        await self._fact(call_id, Fact.OFFERED, f"ring:{uuid.uuid4()}", change)
        return legs[0]

    async def answered(self, call_id: str, agent_id: int, leg_id: int, external_id: str | None = None) -> bool:
        """The agent picked up: the call is theirs."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            leg = await _leg_of(s, call_id, leg_id)
            leg.answered_at = leg.answered_at or self._clock()
            leg.external_id = external_id or leg.external_id
            call.agent_id = agent_id
            return {"agent_id": agent_id, "leg_id": leg_id}

        return await self._fact(call_id, Fact.ANSWERED, str(leg_id), change)

    async def leg_named(self, call_id: str, leg_id: int, external_id: str) -> bool:
        """The transport's id of a leg, learnt after the leg began (the agent channel's Uniqueid)."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            (await _leg_of(s, call_id, leg_id)).external_id = external_id
            return {"leg_id": leg_id, "external_id": external_id}

        return await self._fact(call_id, Fact.NAMED, f"leg:{leg_id}", change)

    async def connected(self, call_id: str) -> bool:
        """The transport answered the call itself (an outbound call's first leg picked up)."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            if call.answered_at is None:
                call.answered_at, call.status = self._clock(), "in-progress"
            return {}

        return await self._fact(call_id, Fact.CONNECTED, "", change)

    async def leg_closed(self, call_id: str, leg_id: int, reason: str) -> bool:
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            leg = await _leg_of(s, call_id, leg_id)
            if leg.ended_at is None:
                leg.ended_at, leg.end_reason = self._clock(), reason[:64]
            return {"leg_id": leg_id, "reason": leg.end_reason}

        return await self._fact(call_id, Fact.LEG_CLOSED, str(leg_id), change)

    async def channel_hung_up(self, channel: str, external_id: str, cause: str, cause_text: str) -> int:
        """The PBX says a channel hung up: its legs end with the cause, which the call keeps too.
        Returns how many legs this closed."""
        reason = (f"cause-{cause}" + (f" {cause_text}" if cause_text else ""))[:64]
        async with self.db.session() as s:
            legs = list(await s.scalars(select(CallLeg).where(CallLeg.external_id == external_id,
                                                              CallLeg.ended_at.is_(None))))
            owners = list(await s.scalars(select(Call).where(Call.channel == channel, Call.external_id == external_id)))
        for call in owners:
            await self.annotate(call.id, {"hangup_cause": cause, "hangup_cause_text": cause_text})
        closed = 0
        for leg in legs:
            closed += await self.leg_closed(leg.call_id, leg.id, reason)
        return closed

    # --- outbound calls (callbacks, campaigns) ------------------------------------------------------

    async def open_outbound(self, call_id: str, channel: str, *, agent_id: int, customer_number: str,
                            caller_id: str, purpose: str, reference_id: int | None) -> bool:
        """The ACD places a call: the agent first, then the customer. The id is the ACD's."""
        now = self._clock()
        try:
            async with self.db.session() as s:
                if await s.get(Call, call_id) is not None:
                    return False
                s.add(Call(id=call_id, channel=channel, direction=Direction.OUTBOUND, caller_number=caller_id,
                           dialled_number=customer_number, status="initiated", started_at=now, agent_id=agent_id,
                           attributes={"purpose": purpose, "reference_id": reference_id}))
                await s.flush()
                s.add(CallEvent(call_id=call_id, fact=Fact.OPENED, key="", at=now,
                                data={"channel": channel, "direction": Direction.OUTBOUND, "agent_id": agent_id,
                                      "purpose": purpose}))
        except IntegrityError:
            return False
        return True

    async def named(self, call_id: str, external_id: str, leg_id: int | None = None) -> bool:
        """The transport gave the outbound call its id (a CallSid), carried by its first leg too."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            call.external_id = external_id
            if leg_id is not None:
                (await _leg_of(s, call_id, leg_id)).external_id = external_id
            return {"external_id": external_id}

        return await self._fact(call_id, Fact.NAMED, external_id, change)

    # --- recordings ---------------------------------------------------------------------------------

    async def recording_started(self, call_id: str, external_id: str, *, leg_id: int | None, source: str,
                                format: str = "wav", channels: int = 1) -> bool:
        """A recording of the call (of one leg, when `leg_id` is given) began. `external_id`: the
        transport's name of it (RecordingSid, file name)."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            if await s.scalar(select(Recording.id).where(Recording.external_id == external_id)) is None:
                s.add(Recording(call_id=call_id, leg_id=await _free_leg(s, leg_id), external_id=external_id,
                                source_url=source, format=format, channels=channels, status="recording",
                                created_at=self._clock()))
            return {"recording": external_id, "leg_id": leg_id}

        return await self._fact(call_id, Fact.RECORDING_STARTED, external_id, change)

    async def recording_ready(self, call_id: str, external_id: str, *, leg_id: int | None = None,
                              source: str | None = None, channels: int | None = None,
                              duration_ms: int | None = None) -> bool:
        """The recording is complete at its source (Twilio's URL, the PBX's file); it may never have
        been reported started (Twilio sends only the end). Without a duration, the time since it began."""
        return await self._recording_end(call_id, external_id, Fact.RECORDING_READY, "ready", leg_id=leg_id,
                                         source=source, channels=channels, duration_ms=duration_ms)

    async def recording_failed(self, call_id: str, external_id: str, *, leg_id: int | None = None,
                               source: str | None = None) -> bool:
        return await self._recording_end(call_id, external_id, Fact.RECORDING_FAILED, "failed", leg_id=leg_id,
                                         source=source, channels=None, duration_ms=None)

    async def _recording_end(self, call_id: str, external_id: str, fact: Fact, status: str, *, leg_id: int | None,
                             source: str | None, channels: int | None, duration_ms: int | None) -> bool:
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            row = await s.scalar(select(Recording).where(Recording.external_id == external_id))
            if row is None:
                row = Recording(call_id=call_id, leg_id=await _free_leg(s, leg_id), external_id=external_id,
                                created_at=self._clock())
                s.add(row)
            if source:
                row.source_url = source
            if channels:
                row.channels = channels
            if duration_ms is not None:
                row.duration_ms = duration_ms
            elif status == "ready" and row.duration_ms is None and row.created_at is not None:
                row.duration_ms = max(0, int((self._clock() - aware(row.created_at)).total_seconds() * 1000))
            row.status = status
            if status == "ready":
                await s.flush()
                for hook in self.on_recording_ready:
                    await hook(s, call, row)
            return {"recording": external_id, "duration_ms": row.duration_ms}

        return await self._fact(call_id, fact, external_id, change)

    # --- after the conversation ---------------------------------------------------------------------

    async def survey_answered(self, call_id: str, agent_id: int | None, queue: str | None, score: int) -> bool:
        """The caller's 1-5 rating of the agent; once per call."""
        if not 1 <= score <= 5:
            raise ValueError(f"survey score {score} is not 1-5")

        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            return {"score": score, "agent_id": agent_id, "queue": queue}

        return await self._fact(call_id, Fact.SURVEY_ANSWERED, "", change)

    async def wrapped_up(self, call_id: str, agent_id: int, code: str, notes: str) -> bool:
        """The agent's wrap-up: what the call was about (a category), their notes. Saving the same
        again changes nothing; a different wrap-up replaces it."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            call.wrapup_code, call.notes = code, notes
            if call.business_category is None:
                call.business_category = code
            return {"agent_id": agent_id, "code": code}

        return await self._fact(call_id, Fact.WRAPPED_UP, _digest([agent_id, code, notes]), change)

    # --- the end --------------------------------------------------------------------------------------

    async def ending(self, call_id: str, reason: str) -> bool:
        """Why the call is ending, known before the transport's last word (a customer who was busy)."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            if call.end_reason is None:
                call.end_reason = reason[:64]
            return {"reason": reason}

        return await self._fact(call_id, Fact.ENDING, "", change)

    async def ivr_ended(self, call_id: str, steps: Sequence[dict[str, Any]], learnt: dict[str, Any],
                        reason: str, *, by: str) -> bool:
        """The call ended in the menus: its last steps, what the IVR learnt and the close, at once."""
        async def first(s: AsyncSession, call: Call) -> None:
            if steps:
                await s.execute(insert(IvrStep), list(steps))
            for name, value in learnt.items():
                setattr(call, name, value)

        return await self.closed(call_id, reason, by=by, before=first)

    async def closed(self, call_id: str, reason: str, *, by: str, status: str = "completed",
                     duration_s: int | None = None,
                     before: Callable[[AsyncSession, Call], Awaitable[None]] | None = None) -> bool:
        """The call is over, says `by` (the IVR, a transport, the start-up sweep). The first to say
        so sets the end and its reason; a transport saying so later adds its final status and its
        own count of the duration. Open legs end with the call."""
        async def change(s: AsyncSession, call: Call) -> dict[str, Any]:
            if before is not None:
                await before(s, call)
            now = self._clock()
            if call.ended_at is None:
                call.ended_at = now
                call.end_reason = call.end_reason or reason[:64]
                call.duration_s = max(0, int((now - aware(call.started_at)).total_seconds()))
            call.status = status
            if duration_s is not None:
                call.duration_s = duration_s  # the transport's own count is the call's true length
            legs = await s.scalars(select(CallLeg).where(CallLeg.call_id == call_id, CallLeg.ended_at.is_(None)))
            for leg in legs:
                leg.ended_at, leg.end_reason = call.ended_at, leg.end_reason or call.end_reason
                s.add(_leg_closed_event(call_id, leg, now))
            return {"reason": call.end_reason, "status": status, "duration_s": call.duration_s, "by": by}

        return await self._fact(call_id, Fact.CLOSED, by, change)

    async def close_left_open(self) -> int:
        """At start-up: every call still open was served by a run that is gone."""
        async with self.db.session() as s:
            left = list(await s.scalars(select(Call.id).where(Call.ended_at.is_(None))))
        closed = sum([await self.closed(call_id, SERVER_RESTART, by="sweep") for call_id in left])
        if closed:
            log.warning("closed %d calls left open by the previous run", closed)
        return closed

    async def close_gone(self, channel: str, *, live_external_ids: Collection[str], keep: Collection[str],
                         started_before: datetime) -> int:
        """Close the transport's open calls whose channel the PBX no longer has. `keep`: call ids a
        live session still drives; `started_before`: when the PBX was asked (later calls are not in its list)."""
        async with self.db.session() as s:
            candidates = list(await s.execute(
                select(Call.id, Call.external_id).where(Call.channel == channel, Call.ended_at.is_(None),
                                                        Call.started_at < started_before)))
        closed = 0
        for call_id, external_id in candidates:
            # read at decision time: a session that began since the query holds its call
            if call_id in keep or (external_id or "") in live_external_ids:
                continue
            closed += await self.closed(call_id, PBX_CHANNEL_GONE, by="resync")
        if closed:
            log.warning("%s: closed %d call(s) whose channel no longer exists", channel, closed)
        return closed

    # --- one fact ---------------------------------------------------------------------------------

    async def _fact(self, call_id: str, fact: Fact, key: str, change: Change) -> bool:
        """Record `fact` once: its event first (a duplicate stops here), then its change, one transaction."""
        now = self._clock()
        try:
            async with self.db.session() as s:
                event = CallEvent(call_id=call_id, fact=fact, key=key[:80], at=now, data={})
                s.add(event)
                try:
                    await s.flush()
                except IntegrityError as exc:
                    raise _Duplicate from exc
                call = await s.get(Call, call_id)
                if call is None:
                    raise NoSuchCall(call_id)
                event.data = await change(s, call) or {}
        except _Duplicate:
            if not await self.exists(call_id):
                raise NoSuchCall(call_id) from None
            log.debug("call %s: %s %s already recorded", call_id, fact, key)
            return False
        return True


async def _leg_of(s: AsyncSession, call_id: str, leg_id: int) -> CallLeg:
    leg = await s.get(CallLeg, leg_id)
    if leg is None or leg.call_id != call_id:
        raise NoSuchLeg(leg_id)
    return leg


async def _free_leg(s: AsyncSession, leg_id: int | None) -> int | None:
    """The leg a new recording belongs to, unless another recording already holds it (one per leg)."""
    if leg_id is None:
        return None
    taken = await s.scalar(select(Recording.id).where(Recording.leg_id == leg_id))
    return None if taken is not None else leg_id


def _event(call_id: str, fact: Fact, key: str, at: datetime, **data: Any) -> dict[str, Any]:
    return {"call_id": call_id, "fact": fact, "key": key[:80], "at": at, "data": data}


def _leg_closed_event(call_id: str, leg: CallLeg, at: datetime) -> CallEvent:
    return CallEvent(call_id=call_id, fact=Fact.LEG_CLOSED, key=str(leg.id), at=at,
                     data={"leg_id": leg.id, "reason": leg.end_reason})


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]
