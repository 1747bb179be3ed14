"""What the PBX tells us over AMI, turned into domain facts.

    Hangup (Cause)                          → call legs closed, the call's hang-up cause noted,
                                              the channel's recording finished
    DeviceStateChange / ContactStatus       → Acd.set_reachable(agent, reachable)
    VarSet MIXMONITOR_FILENAME + MixMonitorStart → a Recording row on the call's leg
    MixMonitorStop (StopMixMonitor only)    → that recording finished
    resync (login, FullyBooted)             → calls whose channel no longer exists are closed,
                                              every agent endpoint's reachability refreshed

Events are applied in arrival order by one consumer task (see AmiWatcher), so a Hangup can never
overtake the MixMonitorStart before it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calls.models import Call, CallLeg, Recording
from hotline.db import Database, aware, utcnow

log = logging.getLogger(__name__)

UNREACHABLE_STATES = {"UNAVAILABLE", "INVALID"}
REACHABLE_CONTACTS = {"Reachable": True, "Created": True, "NonQualified": True, "Unreachable": False, "Removed": False}


class PresenceSink(Protocol):
    def agent_by_endpoint(self, endpoint: str) -> int | None: ...

    async def set_reachable(self, agent_id: int, reachable: bool) -> None: ...


@dataclass
class PbxFacts:
    db: Database
    acd: PresenceSink | None = None
    recording_channels: dict[str, str] = field(default_factory=dict)  # channel -> recording file
    _pending_files: dict[str, str] = field(default_factory=dict)  # channel -> MIXMONITOR_FILENAME

    # --- presence -----------------------------------------------------------------------------------

    async def device_state(self, device: str, state: str) -> None:
        state = state.upper().replace(" ", "_")
        if state in ("UNKNOWN", ""):
            return  # says nothing either way
        await self._reachable(device, state not in UNREACHABLE_STATES)

    async def contact_status(self, endpoint_name: str, status: str) -> None:
        reachable = REACHABLE_CONTACTS.get(status)
        if reachable is not None:
            await self._reachable(f"PJSIP/{endpoint_name}", reachable)

    async def _reachable(self, endpoint: str, reachable: bool) -> None:
        if self.acd is None:
            return
        agent_id = self.acd.agent_by_endpoint(endpoint)
        if agent_id is not None:
            await self.acd.set_reachable(agent_id, reachable)

    # --- recordings ---------------------------------------------------------------------------------

    def mixmonitor_filename(self, channel: str, filename: str) -> None:
        self._pending_files[channel] = filename

    async def recording_started(self, channel: str, uniqueid: str, linkedid: str) -> None:
        filename = self._pending_files.pop(channel, "")
        if not filename:
            log.warning("ami: MixMonitorStart on %s without MIXMONITOR_FILENAME; not tracked", channel)
            return
        self.recording_channels[channel] = filename
        async with self.db.session() as s:
            call = await _call_for(s, uniqueid, linkedid)
            if call is None:
                log.info("ami: recording %s on %s belongs to no Hotline call", PurePosixPath(filename).name, channel)
                return
            leg = (
                await s.execute(select(CallLeg).where(CallLeg.call_id == call.id, CallLeg.external_id == uniqueid))
            ).scalar_one_or_none()
            if leg is None:
                leg = CallLeg(call_id=call.id, kind="caller", external_id=uniqueid, endpoint=channel)
                s.add(leg)
                await s.flush()
            name = PurePosixPath(filename).name
            existing = (await s.execute(select(Recording).where(Recording.external_id == name))).scalar_one_or_none()
            if existing is not None:
                return  # replayed after a resync
            taken = (await s.execute(select(Recording).where(Recording.leg_id == leg.id))).scalar_one_or_none()
            s.add(
                Recording(
                    call_id=call.id,
                    leg_id=None if taken is not None else leg.id,
                    external_id=name,
                    source_url=filename,
                    format=PurePosixPath(filename).suffix.lstrip(".") or "wav",
                    channels=1,
                    status="recording",
                )
            )

    async def recording_stopped(self, channel: str) -> None:
        filename = self.recording_channels.pop(channel, "")
        if filename:
            await self._finish_recording(filename)

    async def _finish_recording(self, filename: str) -> None:
        async with self.db.session() as s:
            rec = (
                await s.execute(select(Recording).where(Recording.external_id == PurePosixPath(filename).name))
            ).scalar_one_or_none()
            if rec is not None and rec.status == "recording":
                rec.status = "ready"
                rec.duration_ms = _ms_since(rec.created_at)

    # --- hang-ups -------------------------------------------------------------------------------------

    async def hangup(self, channel: str, uniqueid: str, cause: str, cause_txt: str) -> None:
        self._pending_files.pop(channel, None)
        await self.recording_stopped(channel)
        reason = f"cause-{cause}" + (f" {cause_txt}" if cause_txt else "")
        async with self.db.session() as s:
            legs = (
                await s.execute(select(CallLeg).where(CallLeg.external_id == uniqueid, CallLeg.ended_at.is_(None)))
            ).scalars()
            for leg in legs:
                leg.ended_at = utcnow()
                leg.end_reason = reason[:64]
            calls = (await s.execute(select(Call).where(Call.external_id == uniqueid, Call.channel == "asterisk"))).scalars()
            for call in calls:
                call.attributes = {**(call.attributes or {}), "hangup_cause": cause, "hangup_cause_text": cause_txt}

    async def agent_answered(self, call_id: str, agent_id: int | None, uniqueid: str, channel: str) -> None:
        """The agent's phone picked up (DialEnd ANSWER): the agent's leg of the call; its Hangup closes it."""
        async with self.db.session() as s:
            if await s.get(Call, call_id) is None:
                return
            now = utcnow()
            s.add(CallLeg(call_id=call_id, kind="agent", external_id=uniqueid or None, endpoint=channel,
                          agent_id=agent_id, started_at=now, answered_at=now))

    async def call_ended(self, uniqueid: str) -> bool:
        """Whether the call with this Uniqueid is over (one still open is refused by the IVR itself)."""
        async with self.db.session() as s:
            found = await s.scalar(select(Call.id).where(Call.channel == "asterisk", Call.external_id == uniqueid,
                                                         Call.ended_at.is_not(None)))
            return found is not None

    async def annotate_call(self, call_id: str, attributes: dict[str, str]) -> None:
        """Add what the FastAGI header block says about the call to Call.attributes."""
        async with self.db.session() as s:
            call = await s.get(Call, call_id)
            if call is not None:
                call.attributes = {**(call.attributes or {}), **attributes}

    async def close_call(self, call_id: str, reason: str) -> bool:
        """Close the call record if nobody has yet (the IVR closes calls that end in it; a call that
        went to an agent ends here). True when this closed it."""
        async with self.db.session() as s:
            call = await s.get(Call, call_id)
            if call is None or call.ended_at is not None:
                return False
            now = utcnow()
            call.ended_at = now
            call.status = "completed"
            call.end_reason = reason[:64]
            call.duration_s = max(0, int((now - aware(call.started_at)).total_seconds()))
            return True

    async def resync_channels(self, live_uniqueids: set[str], live_channels: set[str], *, keep: Collection[str],
                              started_before: datetime) -> int:
        """Close Asterisk calls left open whose channel is gone (PBX restarted while we were away).
        `keep`: call ids a live AGI session of this process still drives (read at decision time);
        `started_before`: when the channel list was asked for: later calls cannot be in it."""
        for channel in [c for c in self.recording_channels if c not in live_channels]:
            await self.recording_stopped(channel)
        closed = 0
        async with self.db.session() as s:
            open_calls = (
                await s.execute(select(Call).where(Call.channel == "asterisk", Call.ended_at.is_(None),
                                                   Call.started_at < started_before))
            ).scalars()
            for call in open_calls:
                if call.id in keep or (call.external_id or "") in live_uniqueids:
                    continue
                now = utcnow()
                call.ended_at = now
                call.status = "completed"
                call.end_reason = "pbx-channel-gone"
                started = aware(call.started_at)
                call.duration_s = max(0, int((now - started).total_seconds()))
                closed += 1
        if closed:
            log.warning("ami: resync closed %d call(s) whose channel no longer exists", closed)
        return closed


async def _call_for(s: AsyncSession, uniqueid: str, linkedid: str) -> Call | None:
    for external in (uniqueid, linkedid):
        if not external:
            continue
        call = (
            await s.execute(select(Call).where(Call.external_id == external).order_by(Call.started_at.desc()).limit(1))
        ).scalar_one_or_none()
        if call is not None:
            return call
    return None




def _ms_since(moment: datetime) -> int:
    return max(0, int((utcnow() - aware(moment)).total_seconds() * 1000))
