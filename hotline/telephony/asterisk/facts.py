"""What the PBX tells us over AMI, turned into facts for the call record and the ACD.

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

from calls.record import CallRecord

log = logging.getLogger(__name__)

CHANNEL = "asterisk"

UNREACHABLE_STATES = {"UNAVAILABLE", "INVALID"}
REACHABLE_CONTACTS = {"Reachable": True, "Created": True, "NonQualified": True, "Unreachable": False, "Removed": False}


class PresenceSink(Protocol):
    def agent_by_endpoint(self, endpoint: str) -> int | None: ...

    async def set_reachable(self, agent_id: int, reachable: bool) -> None: ...


@dataclass
class PbxFacts:
    record: CallRecord
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
        name = PurePosixPath(filename).name
        call_id = await self.record.latest_call(CHANNEL, (uniqueid, linkedid))
        if call_id is None:
            log.info("ami: recording %s on %s belongs to no Hotline call", name, channel)
            return
        await self.record.recording_started(call_id, name, leg_id=await self.record.find_leg(call_id, uniqueid),
                                            source=filename, format=PurePosixPath(filename).suffix.lstrip(".") or "wav")

    async def recording_stopped(self, channel: str) -> None:
        filename = self.recording_channels.pop(channel, "")
        if not filename:
            return
        name = PurePosixPath(filename).name
        call_id = await self.record.call_of_recording(name)
        if call_id is not None:
            await self.record.recording_ready(call_id, name)

    # --- hang-ups -------------------------------------------------------------------------------------

    async def hangup(self, channel: str, uniqueid: str, cause: str, cause_txt: str) -> None:
        self._pending_files.pop(channel, None)
        await self.recording_stopped(channel)
        await self.record.channel_hung_up(CHANNEL, uniqueid, cause, cause_txt)

    async def resync_channels(self, live_uniqueids: set[str], live_channels: set[str], *, keep: Collection[str],
                              started_before: datetime) -> int:
        """Close Asterisk calls left open whose channel is gone (PBX restarted while we were away).
        `keep`: call ids a live AGI session of this process still drives (read at decision time);
        `started_before`: when the channel list was asked for: later calls cannot be in it."""
        for channel in [c for c in self.recording_channels if c not in live_channels]:
            await self.recording_stopped(channel)
        return await self.record.close_gone(CHANNEL, live_external_ids=live_uniqueids, keep=keep,
                                            started_before=started_before)
