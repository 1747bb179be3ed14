"""The Asterisk bridge: FastAGI listener + AMI watcher + the ACD connector, wired together.

AsteriskBridge is the ACD's `Connector` named "asterisk": Offers and Overflows go to the AGI
session carrying the call (its inbox); outbound calls (callbacks, campaigns) become AMI Originates
that ring the agent first and then run the `hotline-outbound` dialplan context to the customer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk.message import Message

from acd.exceptions import UnknownQueue
from acd.ports import Offer, OutboundCall, Overflow
from calls.record import CallRecord
from hotline.db import Database, utcnow
from hotline.settings import Settings
from hotline.telephony.asterisk.agi_channel import AgiChannel
from hotline.telephony.asterisk.agi_server import AgiServer
from hotline.telephony.asterisk.agi_session import (
    CONNECTOR,
    AcdLike,
    AgiCallSession,
    IvrLike,
    SessionOptions,
    report,
)
from hotline.telephony.asterisk.ami import AmiActionError, AmiClient, AmiError
from hotline.telephony.asterisk.facts import PbxFacts
from qa import survey as qa_survey

log = logging.getLogger(__name__)

OrderedStep = Callable[[], Awaitable[object]]  # run by the event consumer between two events

WATCHED_EVENTS = (
    "Hangup",
    "DeviceStateChange",
    "ContactStatus",
    "VarSet",
    "MixMonitorStart",
    "MixMonitorStop",
    "DialEnd",
)
# Sent as AMI Filter actions after login so the PBX only sends what we use (manager.conf's
# eventfilter lines do the same when our user may not send Filter).
# (A header value cannot hold a line break, so "Hangup" also lets HangupRequest through: the
# client only acts on exact event names.)
EVENT_FILTERS = (
    "Event: (Hangup|DeviceStateChange|ContactStatus|MixMonitorStart|MixMonitorStop|DialEnd|"
    "OriginateResponse|FullyBooted)",
    "Variable: MIXMONITOR_FILENAME",
)
OUTBOUND_CONTEXT = "hotline-outbound"


class AsteriskBridge:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        ivr: IvrLike,
        acd: Any | None = None,
        *,
        options: SessionOptions | None = None,
        ami_backoff_s: tuple[float, float] = (0.5, 30.0),
        record: CallRecord | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.ivr = ivr
        self.acd: AcdLike | Any | None = acd
        self.options = options or SessionOptions()
        self.sessions: dict[str, AgiCallSession] = {}  # by call id
        self._by_channel: dict[str, AgiCallSession] = {}
        self._live = 0  # AGI calls being handled (registered or not yet)
        self._idle = asyncio.Event()
        self._idle.set()
        self.record = record or CallRecord(db)
        self.facts = PbxFacts(self.record, acd)
        self.agi: AgiServer | None = None
        self.ami: AmiClient | None = None
        # AMI events and resync snapshots, applied strictly in arrival order by one consumer
        self._events: asyncio.Queue[Message | tuple[OrderedStep, asyncio.Future[None]]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._consumer: asyncio.Task[None] | None = None
        if settings.ami.enabled:
            ami = settings.ami
            self.ami = AmiClient(
                ami.host,
                ami.port,
                ami.username,
                ami.secret.get_secret_value(),
                action_timeout_s=ami.action_timeout_s,
                ping_interval_s=ami.ping_interval_s,
                backoff_initial_s=ami_backoff_s[0],
                backoff_max_s=ami_backoff_s[1],
                event_filters=EVENT_FILTERS,
                on_resync=self._resync,
            )
            for name in WATCHED_EVENTS:
                self.ami.on(name, self._events.put_nowait)

    # --- life cycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.acd is not None and hasattr(self.acd, "register_connector"):
            self.acd.register_connector(CONNECTOR, self)
        if self.ami is not None:
            self._consumer = asyncio.create_task(self._consume_events(), name="ami-events")
            await self.ami.start()
        if self.settings.agi.enabled:
            self.agi = AgiServer(self.handle_call, self.settings.agi.host, self.settings.agi.port,
                                 reply_timeout_s=self.settings.agi.reply_timeout_s)
            await self.agi.start()

    async def stop(self) -> None:
        if self.agi is not None:
            await self.agi.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.ami is not None:
            await self.ami.stop()
        if self._consumer is not None:
            self._consumer.cancel()
            await asyncio.gather(self._consumer, return_exceptions=True)
            self._consumer = None

    def status(self) -> dict[str, bool]:
        result: dict[str, bool] = {}
        if self.settings.agi.enabled:
            result["asterisk_agi"] = self.agi is not None and self.agi.running
        if self.ami is not None:
            result["asterisk_ami"] = self.ami.logged_in.is_set()
        return result

    async def events_drained(self) -> None:
        """Wait until every AMI event received so far has been applied (tests, benchmarks)."""
        await self._events.join()

    # --- FastAGI calls ------------------------------------------------------------------------------

    async def handle_call(self, channel: AgiChannel) -> None:
        uniqueid = channel.request.uniqueid
        if uniqueid and await self.record.has_ended(CONNECTOR, uniqueid):
            # a replayed or repeated session for a call already over: nothing of it runs again, not even ANSWER
            log.warning("agi: Uniqueid %s belongs to a call that has ended; refusing the session", uniqueid)
            await channel.hangup()
            return
        recorder = self if self.ami is not None else None
        session = AgiCallSession(channel, self.ivr, self.acd, recorder, self.options, record=self.record,
                                 survey=self)
        self._live += 1
        self._idle.clear()
        try:
            await session.run(on_started=self._register)
        finally:
            if session.call_id is not None:
                self.sessions.pop(session.call_id, None)
            self._by_channel.pop(session.channel_name, None)
            self._live -= 1
            if self._live == 0:
                self._idle.set()

    @property
    def live_calls(self) -> int:
        """FastAGI calls being handled now."""
        return self._live

    async def wait_idle(self) -> None:
        """Wait until no AGI call is in progress (every session fully closed)."""
        await self._idle.wait()

    async def _register(self, session: AgiCallSession) -> None:
        assert session.call_id is not None
        self.sessions[session.call_id] = session
        self._by_channel[session.channel_name] = session
        req = session.chan.request
        await report(self.record.annotate(session.call_id, {
            "asterisk_channel": req.channel,
            "asterisk_uniqueid": req.uniqueid,
            "caller_name": req.caller_name,
            "channel_language": req.language,
            "dialplan": f"{req.get('agi_context')},{req.get('agi_extension')},{req.get('agi_priority')}",
        }), session.call_id)

    # --- post-call survey (SurveyDesk) ---------------------------------------------------------------

    def survey_wanted(self, queue: str) -> bool:
        queue_config = getattr(self.acd, "queue_config", None)
        if queue_config is None:
            return False
        try:
            return bool(queue_config(queue).post_call_survey)
        except UnknownQueue:  # an unknown queue asks nothing
            return False

    async def store_survey(self, call_id: str, agent_id: int, queue: str, score: int) -> None:
        await qa_survey.store_survey(self.record, self.db, call_id, agent_id, queue, score)

    async def mute_recording(self, channel: str, muted: bool) -> bool:
        if self.ami is None or channel not in self.facts.recording_channels:
            return False
        await self.ami.mix_monitor_mute(channel, muted)
        return True

    # --- Connector (the ACD calls these) ------------------------------------------------------------

    async def offer(self, offer: Offer) -> None:
        session = self.sessions.get(offer.call_id)
        if session is None:  # the caller is gone: the ACD frees the agent at once
            raise LookupError(f"asterisk: offer for call {offer.call_id}, which has no live session here")
        session.inbox.put_nowait(offer)

    async def overflow(self, overflow: Overflow) -> None:
        session = self.sessions.get(overflow.call_id)
        if session is None:
            log.warning("asterisk: overflow for call %s, which has no live session here", overflow.call_id)
            return
        session.inbox.put_nowait(overflow)

    async def place_outbound(self, call: OutboundCall) -> None:
        """Ring the agent first; once they answer, the dialplan dials the customer. Runs in the
        background: the ACD hears offer_answered / offer_failed when the PBX has decided."""
        self._spawn(self._originate(call))

    async def _originate(self, call: OutboundCall) -> None:
        try:
            if self.ami is None:
                raise AmiError("AMI is not configured (HOTLINE_AMI_HOST)")
            await self.ami.originate(
                call.agent_endpoint,
                context=OUTBOUND_CONTEXT,
                exten=call.customer_number,
                caller_id=self.settings.ami.originate_caller_id,
                variables={
                    "HOTLINE_CALL_ID": call.call_id,
                    "HOTLINE_PURPOSE": call.purpose,
                    "HOTLINE_REFERENCE": str(call.reference_id),
                },
                ring_timeout_s=call.ring_timeout_s,
            )
        except AmiActionError as exc:
            log.info("asterisk: outbound %s: agent %s did not answer: %s", call.call_id, call.agent_id, exc.message)
            await self._acd_call("offer_failed", call.call_id, call.agent_id, "no-answer")
        except AmiError as exc:
            log.error("asterisk: outbound %s failed: %s", call.call_id, exc)
            await self._acd_call("offer_failed", call.call_id, call.agent_id, "failed")
        else:
            await self._acd_call("offer_answered", call.call_id, call.agent_id)

    async def _acd_call(self, method: str, *args: Any) -> None:
        if self.acd is None:
            return
        try:
            await getattr(self.acd, method)(*args)
        except Exception:
            log.exception("asterisk: Acd.%s failed", method)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- AMI events → facts -----------------------------------------------------------------------

    async def _consume_events(self) -> None:
        while True:
            item = await self._events.get()
            try:
                if isinstance(item, tuple):
                    step, done = item
                    try:
                        await step()
                    except Exception as exc:
                        if not done.done():
                            done.set_exception(exc)
                    else:
                        if not done.done():
                            done.set_result(None)
                else:
                    await self._apply(item)
            except Exception:
                if isinstance(item, tuple):
                    log.exception("ami: could not run an ordered step")
                else:
                    log.exception("ami: could not apply %s event", item.get("Event", "?"))
            finally:
                self._events.task_done()

    async def _in_order(self, step: OrderedStep) -> None:
        """Run `step()` on the event consumer, after every event received before now."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._events.put_nowait((step, done))
        await done

    async def _apply(self, m: Message) -> None:
        event = m.get("Event", "")
        if event == "Hangup":
            await self.facts.hangup(m.get("Channel", ""), m.get("Uniqueid", ""), m.get("Cause", ""), m.get("Cause-txt", ""))
        elif event == "DeviceStateChange":
            await self.facts.device_state(m.get("Device", ""), m.get("State", ""))
        elif event == "ContactStatus":
            await self.facts.contact_status(m.get("EndpointName", "") or m.get("AOR", ""), m.get("ContactStatus", ""))
        elif event == "VarSet":
            if m.get("Variable", "") == "MIXMONITOR_FILENAME":
                self.facts.mixmonitor_filename(m.get("Channel", ""), m.get("Value", ""))
        elif event == "MixMonitorStart":
            await self.facts.recording_started(m.get("Channel", ""), m.get("Uniqueid", ""), m.get("Linkedid", ""))
        elif event == "MixMonitorStop":
            await self.facts.recording_stopped(m.get("Channel", ""))
        elif event == "DialEnd" and m.get("DialStatus", "") == "ANSWER":
            session = self._by_channel.get(m.get("Channel", ""))
            if session is not None and session.call_id is not None:
                await session.report_answered(m.get("DestUniqueid", ""))

    async def _resync(self, client: AmiClient) -> None:
        asked_at = utcnow()
        channels = await client.list_action({"Action": "CoreShowChannels"}, "CoreShowChannel")
        # Events that arrived before the snapshot are applied first, later ones after it. Calls that
        # began after we asked are not in the snapshot, and the sessions are checked as they are then.
        await self._in_order(
            lambda: self.facts.resync_channels(
                {m.get("Uniqueid", "") for m in channels},
                {m.get("Channel", "") for m in channels},
                keep=self.sessions.keys(),
                started_before=asked_at,
            )
        )
        try:
            devices = await client.list_action({"Action": "DeviceStateList"}, "DeviceStateChange")
            for m in devices:
                await self.facts.device_state(m.get("Device", ""), m.get("State", ""))
        except AmiActionError:  # older PBX: ask PJSIP directly
            endpoints = await client.list_action({"Action": "PJSIPShowEndpoints"}, "EndpointList")
            for m in endpoints:
                await self.facts.device_state(f"PJSIP/{m.get('ObjectName', '')}", m.get("DeviceState", ""))
        log.info("ami: resynchronised %d live channel(s)", len(channels))
