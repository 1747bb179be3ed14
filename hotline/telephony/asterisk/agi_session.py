"""One caller's call over FastAGI: IVR actions out as AGI commands, keys back in as IVR events.

    ANSWER → IvrService.start_call → [Play/SetAttribute]* then Gather | Transfer | Hangup
      Play        STREAM FILE <file> "0123456789*#"   (a key pressed while listening is kept)
      Gather      GET DATA <last file> <timeout ms> <max>    ('#' ends the entry)
                  or, when '#' is a menu key itself, STREAM FILE + WAIT FOR DIGIT per key
      SetAttribute SET VARIABLE HOTLINE_<NAME> "<value>"
      Hangup      STREAM FILE goodbye, HANGUP
      Transfer    Acd.enqueue, then music on hold in short WAIT FOR DIGIT slices; between slices the
                  session checks its offer queue, so an Offer interrupts the wait within one slice.
                  Offer → EXEC Dial <endpoint>,<ring s>,U(hotline-record^<file>) → GET VARIABLE
                  DIALSTATUS → Acd.offer_answered or offer_failed and back to waiting. The recording
                  starts on the agent's channel when they answer (Dial's U() runs the dialplan
                  subroutine `hotline-record`: MixMonitor) and ends with that channel: one file per
                  answered agent leg, none for a Dial that failed. An endpoint that is not Asterisk's
                  (technology/resource) is never dialled; CHANUNAVAIL, CONGESTION and INVALIDARGS are
                  "unavailable": the ACD sets the agent away ("phone_unreachable"), not missed.
      Survey      when the agent hangs up first on a queue with `post_call_survey`: the call leaves
                  the ACD, then qa.survey's steps, the question as GET DATA <file> <timeout ms> 1.

Whatever happens (HANGUP line, 511, closed socket, a command Asterisk never answers, a refused
command, cancellation) the session ends through `_finish`, which closes the IVR call and tells the
ACD exactly once, with the reason: `caller-hangup` (-1 then HANGUP/511, or AGIEXITONHANGUP's close),
`pbx_lost` (the connection closed with no hang-up: the PBX died or the network went), `agi_timeout`,
`server-shutdown`, or how the IVR ended the call. An IVR turn that could not be stored is answered
with an apology and the same question; a second failure in a row ends the call ("service_error").
Keys of a secure gather are never logged; the channel's MixMonitor is muted around them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from acd import endpoints
from acd.ports import Offer, Overflow, QueueStatus, WaitingCall
from calls.exceptions import CallAlreadyOpened
from calls.facts import EndReason
from hotline.logs import mark_secret
from hotline.telephony.asterisk.agi_channel import ALL_KEYS, CALLER, PBX_LOST, AgiChannel
from hotline.telephony.asterisk.agi_protocol import AgiCommandError, AgiHangup, AgiProtocolError
from ivr.actions import BridgeAction, Gather, Hangup, Play, Prompt, SetAttribute, Transfer
from ivr.events import CallStarted, Digits, Timeout
from ivr.service import TurnFailed
from qa import survey as qa_survey

log = logging.getLogger(__name__)

CONNECTOR = "asterisk"

DIALSTATUS_REASONS = {
    "NOANSWER": "no-answer",
    "BUSY": "busy",
    # the phone could not be rung at all: not a missed call (the ACD sets the agent away for a while)
    "CHANUNAVAIL": "unavailable",
    "CONGESTION": "unavailable",
    # Dial refused the endpoint: "Dial argument takes format (technology/resource)"
    "INVALIDARGS": "unavailable",
}


SUPPORTED_LANGUAGES = {"zh": "zh-CN", "zh_cn": "zh-CN", "zh-cn": "zh-CN", "en_us": "en-US", "en-us": "en-US"}
SERVICE_ERROR = "service_error"
SERVICE_ERROR_TRIES = 2  # failed IVR turns in a row before the call is ended


# --- what the session needs from its neighbours (IvrService, Acd, the AMI client) -----------------


# Read-only properties, not plain attributes: a protocol attribute could be assigned through the
# protocol, which a frozen Turn and an IvrService holding a PromptBook do not allow.
class TurnLike(Protocol):
    @property
    def call_id(self) -> str: ...

    @property
    def actions(self) -> list[BridgeAction]: ...


class PromptRenderer(Protocol):
    def render(self, prompt_id: str, language: str, **params: Any) -> Prompt: ...


class IvrLike(Protocol):
    @property
    def prompts(self) -> PromptRenderer: ...

    async def start_call(self, channel: str, external_id: str, event: CallStarted) -> TurnLike: ...

    async def handle(self, call_id: str, event: Digits | Timeout) -> list[BridgeAction]: ...

    async def hangup(self, call_id: str, reason: str) -> None: ...

    def language(self, call_id: str) -> str: ...

    def question(self, call_id: str) -> Gather | None: ...


class AcdLike(Protocol):
    async def enqueue(self, call: WaitingCall) -> QueueStatus: ...

    def queue_status(self, call_id: str) -> QueueStatus | None: ...

    async def offer_answered(self, call_id: str, agent_id: int) -> None: ...

    async def offer_failed(self, call_id: str, agent_id: int, reason: str) -> None: ...

    async def call_ended(self, call_id: str, reason: str) -> None: ...

    async def request_callback(self, call_id: str, number: str) -> int: ...


class RecordingControl(Protocol):
    async def mute_recording(self, channel: str, muted: bool) -> bool:
        """Mute/unmute the channel's MixMonitor if one runs; True when a recording was (un)muted."""
        ...


class CallRecordLike(Protocol):
    """The facts of a call this session reports (calls.record.CallRecord)."""

    async def offered(self, call_id: str, agent_id: int, endpoint: str) -> int: ...

    async def answered(self, call_id: str, agent_id: int, leg_id: int, external_id: str | None = None) -> bool: ...

    async def leg_named(self, call_id: str, leg_id: int, external_id: str) -> bool: ...

    async def leg_closed(self, call_id: str, leg_id: int, reason: str) -> bool: ...

    async def customer_of(self, call_id: str) -> int | None: ...

    async def queued(self, call_id: str, queue: str, category: str | None = None) -> bool: ...

    async def closed(self, call_id: str, reason: str, *, by: str, status: str = "completed",
                     duration_s: int | None = None) -> bool: ...


async def report(fact: Awaitable[object], call_id: str | None) -> None:
    """Report a fact to the call record without ever breaking the call: the caller is served on
    even when the record cannot be written (the failure is logged with the call)."""
    try:
        await fact
    except Exception:
        log.exception("agi: call %s: the call record refused a fact", call_id)


class SurveyDesk(Protocol):
    """Which queues ask callers to rate the agent, and where the ratings go."""

    def survey_wanted(self, queue: str) -> bool: ...

    async def store_survey(self, call_id: str, agent_id: int, queue: str, score: int) -> None: ...


@dataclass(frozen=True, slots=True)
class SessionOptions:
    hold_slice_s: float = 1.0  # an Offer waits at most this long for the current MOH slice to end
    announce_every_s: float = 30.0  # position / estimated wait announcement period
    music_class: str = "default"
    continue_file: str = "silence/1"  # GET DATA file used to keep collecting after a key cut a prompt
    callback_key: str = "1"
    record_dir: str = "hotline"  # MixMonitor file (relative: under Asterisk's monitor directory)
    record_gosub: str = "hotline-record"  # dialplan subroutine Dial's U() runs on the answering agent's channel
    prompt_position: str = "queue_position"
    prompt_callback_offer: str = "callback_offer"
    prompt_callback_confirmed: str = "callback_confirmed"
    survey_timeout_s: float = 5.0  # for the one-key rating, as on Twilio


class AgiCallSession:
    def __init__(
        self,
        channel: AgiChannel,
        ivr: IvrLike,
        acd: AcdLike | None,
        recorder: RecordingControl | None = None,
        options: SessionOptions | None = None,
        *,
        record: CallRecordLike | None = None,
        survey: SurveyDesk | None = None,
    ) -> None:
        self.chan = channel
        self.survey = survey
        self.record = record
        self.ivr = ivr
        self.acd = acd
        self.recorder = recorder
        self.options = options or SessionOptions()
        self.call_id: str | None = None
        self.inbox: asyncio.Queue[Offer | Overflow] = asyncio.Queue()  # from the ACD via the connector
        self.agent_answered = asyncio.Event()  # set early by AMI DialEnd, or after Dial returns
        self.end_reason: str | None = None
        self._in_acd = False
        self._offer: Offer | None = None
        self._offer_reported = False
        self._leg_id: int | None = None  # the ringing or answered agent's leg in the call record
        self._answered_leg_id: int | None = None  # the leg of the agent who answered last
        self._waiting: WaitingCall | None = None
        self._dials = 0  # Dials of this call: numbers the recording of each agent leg

    @property
    def channel_name(self) -> str:
        return self.chan.request.channel

    # --- life cycle ---------------------------------------------------------------------------------

    async def run(self, on_started: Callable[[AgiCallSession], Awaitable[None]] | None = None) -> None:
        """Drive the call to its end. Never raises except CancelledError (re-raised after cleanup)."""
        reason: str = EndReason.COMPLETED
        try:
            await self.chan.answer()
            turn = await self.ivr.start_call(CONNECTOR, self.chan.request.uniqueid, self._call_started())
            self.call_id = turn.call_id
            if on_started is not None:
                await on_started(self)
            actions = turn.actions
            failures = 0
            while True:
                event = await self._render(actions)
                if event is None:
                    break
                try:
                    actions = await self.ivr.handle(self.call_id, event)
                    failures = 0
                except TurnFailed:
                    failures += 1
                    actions = self._ask_again(failures)
            reason = self.end_reason or EndReason.COMPLETED
        except CallAlreadyOpened:
            reason = "duplicate"
            log.warning("agi: Uniqueid %s belongs to a call already started; hanging up", self.chan.request.uniqueid)
        except TurnFailed:
            reason = SERVICE_ERROR
            log.error("agi: call %s: turn failed; hanging up", self.call_id or self.chan.request.uniqueid)
        except AgiHangup as gone:
            reason = _hangup_reason(gone.reason)
            if reason == EndReason.PBX_LOST:
                log.warning("agi: call %s: the PBX went away mid-call (no hang-up came)",
                            self.call_id or self.chan.request.uniqueid)
            elif reason == EndReason.CALLER_HANGUP:
                log.info("agi: call %s: the caller hung up", self.call_id or self.chan.request.uniqueid)
            else:
                log.info("agi: call %s ended by %s", self.call_id or self.chan.request.uniqueid, gone.reason)
        except (AgiCommandError, AgiProtocolError) as exc:
            reason = "error"
            log.error("agi: call %s: protocol error: %s", self.call_id, exc)
        except asyncio.CancelledError:
            await self._finish("server-shutdown")
            raise
        except Exception:
            reason = "error"
            log.exception("agi: call %s failed", self.call_id)
        await self._finish(reason)

    def _ask_again(self, failures: int) -> list[BridgeAction]:
        """After a failed turn (the IVR put the caller back where they were): sorry, and the same
        question; after too many in a row, sorry and goodbye."""
        assert self.call_id is not None
        language = self.ivr.language(self.call_id)
        sorry = tuple(p for p in [self._prompt(SERVICE_ERROR, language)] if p is not None)
        question = self.ivr.question(self.call_id) if failures < SERVICE_ERROR_TRIES else None
        if question is None:
            log.error("agi: call %s: IVR turns keep failing; ending the call", self.call_id)
            goodbye = tuple(p for p in [self._prompt("goodbye", language)] if p is not None)
            return [Hangup(SERVICE_ERROR, sorry + goodbye)]
        log.warning("agi: call %s: IVR turn failed (%d in a row); asking again", self.call_id, failures)
        return [Play(sorry), question]

    def _call_started(self) -> CallStarted:
        req = self.chan.request
        language = SUPPORTED_LANGUAGES.get(req.language.lower()) if req.language else None
        forced = req.params.get("lang") or req.params.get("language")
        if forced in ("zh-CN", "en-US"):
            language = forced
        return CallStarted(caller_number=req.caller_number, dialled_number=req.dialled_number, language=language)

    async def _finish(self, reason: str) -> None:
        """Close the call everywhere exactly once; failures here are logged, never raised."""
        if self.end_reason is not None and self.end_reason.startswith("finished:"):
            return
        self.end_reason = f"finished:{reason}"
        if self.call_id is None:
            await self._quiet(self.chan.hangup())
            return
        if self._in_acd and self.acd is not None:
            await self._quiet(self.acd.call_ended(self.call_id, reason))
        await self._quiet(self.ivr.hangup(self.call_id, reason))
        if self.record is not None:
            await report(self.record.closed(self.call_id, reason, by=CONNECTOR), self.call_id)
        await self._quiet(self.chan.hangup())

    async def _quiet(self, awaitable: Any) -> None:
        try:
            await awaitable
        except (AgiHangup, AgiCommandError, ConnectionError):
            pass
        except LookupError as exc:  # e.g. the IVR already forgot the call
            log.debug("agi: call %s: cleanup: %r", self.call_id, exc)
        except Exception:
            log.exception("agi: call %s: cleanup step failed", self.call_id)

    # --- one turn -------------------------------------------------------------------------------------

    async def _render(self, actions: list[BridgeAction]) -> Digits | Timeout | None:
        """Carry out one turn. Returns the caller's answer to its Gather, or None when the call is over."""
        early_key = ""  # a key that cut a prompt short belongs to the Gather that follows
        for action in actions:
            if isinstance(action, Play):
                if not early_key:
                    early_key = await self._play(action.prompts, interruptible=True)
            elif isinstance(action, SetAttribute):
                await self.chan.set_variable("HOTLINE_" + _var_name(action.name), action.value)
            elif isinstance(action, Gather):
                return await self._gather(action, early_key)
            elif isinstance(action, Transfer):
                await self._play(action.prompts, interruptible=False)
                await self._transfer(action)
                return None
            elif isinstance(action, Hangup):
                await self._play(action.prompts, interruptible=False)
                self.end_reason = action.reason
                return None
            else:
                log.error("agi: call %s: unexpected action %s", self.call_id, type(action).__name__)
        log.error("agi: call %s: turn ended without Gather/Transfer/Hangup; hanging up", self.call_id)
        self.end_reason = "error"
        return None

    async def _play(self, prompts: tuple[Prompt, ...], *, interruptible: bool) -> str:
        escape = ALL_KEYS if interruptible else ""
        for prompt in prompts:
            for name in prompt.audio:
                key = await self.chan.stream_file(name, escape)
                if key:
                    return key
        return ""

    async def _gather(self, gather: Gather, early_key: str) -> Digits | Timeout:
        muted = await self._mute(gather.secure, True)
        try:
            keys = await self._collect(gather, early_key)
        finally:
            if muted:
                await self._mute(True, False)
        if gather.secure:
            if keys:
                mark_secret(keys)  # whatever logs it from here on, by mistake, logs it masked
            log.info("agi: call %s: secure entry of %d keys", self.call_id, len(keys))
        else:
            log.debug("agi: call %s: keys %r", self.call_id, keys)
        return Digits(keys) if keys else Timeout()

    async def _collect(self, gather: Gather, early_key: str) -> str:
        timeout_ms = max(1, int(gather.timeout_s * 1000))
        files = [name for prompt in gather.prompts for name in prompt.audio]
        finish = gather.finish_on_key
        if finish != "#":
            # '#' may be a menu choice ("back"): GET DATA would swallow it, so read key by key.
            return await self._collect_keys(files, gather.max_digits, timeout_ms, finish, early_key)
        keys = early_key
        if not keys:
            for name in files[:-1]:
                keys = await self.chan.stream_file(name, ALL_KEYS)
                if keys:
                    break
        if keys == "#":
            return ""
        if keys and len(keys) >= gather.max_digits:
            return keys
        if keys:
            more, _ = await self.chan.get_data(self.options.continue_file, timeout_ms, gather.max_digits - len(keys))
            return keys + more
        last = files[-1] if files else self.options.continue_file
        entered, _ = await self.chan.get_data(last, timeout_ms, gather.max_digits)
        return entered  # "" is "nothing entered", whether timed out or ended by a stray '#'

    async def _collect_keys(self, files: list[str], max_digits: int, timeout_ms: int, finish: str, early: str) -> str:
        keys = early
        if not keys:
            for name in files:
                keys = await self.chan.stream_file(name, ALL_KEYS)
                if keys:
                    break
        while len(keys) < max_digits and not (finish and keys.endswith(finish)):
            key = await self.chan.wait_for_digit(timeout_ms)
            if not key:
                break
            keys += key
        if finish and keys.endswith(finish):
            keys = keys[: -len(finish)]
        return keys

    async def _mute(self, wanted: bool, muted: bool) -> bool:
        if not wanted or self.recorder is None:
            return False
        try:
            return await self.recorder.mute_recording(self.channel_name, muted)
        except Exception as exc:  # the PBX said no or AMI is down: say so loudly, keep serving
            log.error("agi: call %s: could not %s recording: %s", self.call_id, "mute" if muted else "unmute", exc)
            return False

    # --- waiting for an agent ---------------------------------------------------------------------

    async def _transfer(self, transfer: Transfer) -> None:
        assert self.call_id is not None
        if self.acd is None:
            log.error("agi: call %s: transfer requested but no ACD is configured", self.call_id)
            self.end_reason = "no-acd"
            return
        waiting = WaitingCall(
            call_id=self.call_id,
            queue=transfer.queue,
            category=transfer.category,
            connector=CONNECTOR,
            skills=transfer.skills,
            priority=transfer.priority,
            customer_id=await self.record.customer_of(self.call_id) if self.record is not None else None,
            caller_number=self.chan.request.caller_number,
        )
        self._waiting = waiting
        status = await self.acd.enqueue(waiting)
        self._in_acd = True
        if self.record is not None:
            await report(self.record.queued(self.call_id, transfer.queue, transfer.category), self.call_id)
        await self._wait_for_agent(status)

    def _queued(self) -> tuple[AcdLike, str]:
        """The ACD and the call id, for the steps that only run once `_transfer` queued the call."""
        if self.acd is None or self.call_id is None:
            raise RuntimeError("agi: waiting for an agent without an ACD or a started call")
        return self.acd, self.call_id

    async def _wait_for_agent(self, status: QueueStatus | None) -> None:
        acd, call_id = self._queued()
        opts = self.options
        slice_ms = max(1, int(opts.hold_slice_s * 1000))
        slices_per_announcement = max(1, round(opts.announce_every_s / opts.hold_slice_s))
        callback_offered = await self._announce(status)
        if self.end_reason == EndReason.CALLBACK:
            return
        await self.chan.set_music(True, opts.music_class)
        slices = 0
        while True:
            while not self.inbox.empty():
                item = self.inbox.get_nowait()
                if isinstance(item, Overflow):
                    await self.chan.set_music(False)
                    await self._overflow(item)
                    return
                await self.chan.set_music(False)
                if await self._ring(item):
                    return
                await self.chan.set_music(True, opts.music_class)
            key = await self.chan.wait_for_digit(slice_ms)
            if key == opts.callback_key and callback_offered:
                await self.chan.set_music(False)
                await self._take_callback()
                return
            slices += 1
            if slices >= slices_per_announcement:
                slices = 0
                await self.chan.set_music(False)
                callback_offered = await self._announce(acd.queue_status(call_id)) or callback_offered
                if self.end_reason == EndReason.CALLBACK:
                    return
                await self.chan.set_music(True, opts.music_class)

    async def _announce(self, status: QueueStatus | None) -> bool:
        """Position and estimated wait, then the callback offer. A '1' during it takes the callback."""
        if status is None:
            return False
        _, call_id = self._queued()
        language = self.ivr.language(call_id)
        minutes = max(1, round(status.estimated_wait_s / 60))
        prompts = [
            self._prompt(self.options.prompt_position, language, position=status.position, minutes=minutes),
            self._prompt(self.options.prompt_callback_offer, language),
        ]
        key = await self._play(tuple(p for p in prompts if p is not None), interruptible=True)
        if key == self.options.callback_key:
            await self._take_callback()
        return prompts[1] is not None

    def _prompt(self, prompt_id: str, language: str, **params: Any) -> Prompt | None:
        try:
            return self.ivr.prompts.render(prompt_id, language, **params)
        except Exception as exc:
            log.warning("agi: prompt %s unavailable: %s", prompt_id, exc)
            return None

    async def _take_callback(self) -> None:
        acd, call_id = self._queued()
        await acd.request_callback(call_id, self.chan.request.caller_number)
        self._in_acd = False  # the ACD keeps the caller's place as a callback: not an abandon
        confirmed = self._prompt(self.options.prompt_callback_confirmed, self.ivr.language(call_id))
        if confirmed is not None:
            await self._play((confirmed,), interruptible=False)
        self.end_reason = EndReason.CALLBACK

    async def _ring(self, offer: Offer) -> bool:
        """Ring the agent. True when the agent answered (the conversation is over when Dial returns)."""
        acd, call_id = self._queued()
        self._offer, self._offer_reported = offer, False
        self.agent_answered.clear()
        if not endpoints.fits(CONNECTOR, offer.endpoint):
            # Dial would refuse it ("Dial argument takes format (technology/resource)"): never dialled
            log.error("agi: call %s: agent %s's endpoint %r is not an Asterisk endpoint (%s); not dialled",
                      call_id, offer.agent_id, offer.endpoint, endpoints.EXPECTED[endpoints.Transport.ASTERISK])
            await acd.offer_failed(call_id, offer.agent_id, DIALSTATUS_REASONS["INVALIDARGS"])
            self._offer = None
            return False
        self._dials += 1
        dial = f"{offer.endpoint},{max(1, round(offer.ring_timeout_s))}"
        if offer.record:
            # Recorded from the agent's answer to the end of their leg: U() runs on the answering channel only.
            name = f"{self.options.record_dir}/{call_id}-{offer.agent_id}-{self._dials}.wav"
            dial += f",U({self.options.record_gosub}^{name})"
        log.info("agi: call %s: ringing agent %s", self.call_id, offer.agent_id)
        self._leg_id = await self._record_offer(call_id, offer)
        await self.chan.exec("Dial", dial)
        status = await self.chan.get_variable("DIALSTATUS") or ""
        if status == "ANSWER" or self.agent_answered.is_set():
            await self.report_answered()
            await self._record_leg_end(call_id, EndReason.COMPLETED)
            self._in_acd = True  # call_ended at the finish puts the agent into wrap-up
            self.end_reason = EndReason.COMPLETED
            if status == "ANSWER" and not self.chan.hung_up:  # the agent hung up first
                await self._after_agent(offer)
            return True
        if not status:
            await self.chan.command("CHANNEL STATUS")  # no DIALSTATUS: is the caller still there?
        await self._record_leg_end(call_id, status.lower() or "failed")
        if self.chan.hung_up:
            raise AgiHangup(self.chan.hangup_reason or CALLER)  # ACD hears call_ended, agent not blamed
        reason = DIALSTATUS_REASONS.get(status, "failed")
        if reason == "unavailable":
            log.warning("agi: call %s: agent %s's phone %s cannot be reached (DIALSTATUS=%s)",
                        call_id, offer.agent_id, offer.endpoint, status)
        await acd.offer_failed(call_id, offer.agent_id, reason)
        self._offer = None
        return False

    # --- post-call survey (the steps are qa.survey's) -------------------------------------------------

    async def _after_agent(self, offer: Offer) -> None:
        acd, call_id = self._queued()
        queue = self._waiting.queue if self._waiting is not None else None
        if self.survey is None or queue is None:
            return
        if not qa_survey.should_ask(self.survey.survey_wanted(queue), agent_answered=True):
            return
        # The conversation is over: the agent goes into wrap-up now, not when the caller has rated.
        self._in_acd = False
        await self._quiet(acd.call_ended(call_id, EndReason.COMPLETED))
        try:
            await self._run_survey(call_id, offer.agent_id, queue)
        except AgiHangup:  # leaving without rating is the caller's right; the call was completed
            log.info("agi: call %s: caller hung up during the survey", call_id)

    async def _run_survey(self, call_id: str, agent_id: int, queue: str) -> None:
        assert self.survey is not None
        language = self.ivr.language(call_id)
        step, asked = qa_survey.first_question(), 0
        while step.step is qa_survey.SurveyStep.ASK:
            asked += 1
            question = self._prompts((*step.prompts, qa_survey.QUESTION), language)
            keys = await self._collect(Gather(question, max_digits=1, timeout_s=self.options.survey_timeout_s), "")
            step = qa_survey.answer(keys, asked)
        if step.score is not None:
            try:
                await self.survey.store_survey(call_id, agent_id, queue, step.score)
            except Exception:  # the caller is still thanked; the rating is lost, loudly
                log.exception("agi: call %s: could not store the survey", call_id)
        await self._play(self._prompts(step.prompts, language), interruptible=False)

    def _prompts(self, prompt_ids: tuple[str, ...], language: str) -> tuple[Prompt, ...]:
        return tuple(p for p in (self._prompt(prompt_id, language) for prompt_id in prompt_ids) if p is not None)

    async def report_answered(self, agent_uniqueid: str = "") -> None:
        """Tell the ACD and the record the agent picked up: from AMI's DialEnd as it happens (with the
        agent channel's Uniqueid), else after Dial returns. Whichever comes second only adds the
        agent channel's Uniqueid to their leg (the PBX's later events name the leg by it)."""
        offer = self._offer
        self.agent_answered.set()
        if offer is None:
            return
        if not self._offer_reported:
            self._offer_reported = True
            self._answered_leg_id = self._leg_id
            if self.acd is not None:
                await self.acd.offer_answered(offer.call_id, offer.agent_id)
            if self.record is not None and self._leg_id is not None:
                await report(self.record.answered(offer.call_id, offer.agent_id, self._leg_id), offer.call_id)
        if agent_uniqueid and self.record is not None and self._answered_leg_id is not None:
            await report(self.record.leg_named(offer.call_id, self._answered_leg_id, agent_uniqueid), offer.call_id)

    async def _record_offer(self, call_id: str, offer: Offer) -> int | None:
        if self.record is None:
            return None
        try:
            return await self.record.offered(call_id, offer.agent_id, offer.endpoint)
        except Exception:
            log.exception("agi: call %s: the call record refused the offer to agent %s", call_id, offer.agent_id)
            return None

    async def _record_leg_end(self, call_id: str, reason: str) -> None:
        leg_id, self._leg_id = self._leg_id, None
        if self.record is not None and leg_id is not None:
            await report(self.record.leg_closed(call_id, leg_id, reason), call_id)

    async def _overflow(self, overflow: Overflow) -> None:
        acd, call_id = self._queued()
        if overflow.kind == "queue":
            assert self._waiting is not None
            self._waiting = dataclasses.replace(self._waiting, queue=overflow.target)
            status = await acd.enqueue(self._waiting)
            if self.record is not None:
                await report(self.record.queued(call_id, overflow.target), call_id)
            await self._wait_for_agent(status)
        elif overflow.kind == "voicemail":
            self._in_acd = False
            await acd.call_ended(call_id, EndReason.VOICEMAIL)
            await self.chan.exec("VoiceMail", f"{overflow.target},u")
            self.end_reason = EndReason.VOICEMAIL
        else:  # callback
            key = await self._play(
                tuple(p for p in [self._prompt(self.options.prompt_callback_offer, self.ivr.language(call_id))] if p),
                interruptible=True,
            ) or await self.chan.wait_for_digit(5000)
            if key == self.options.callback_key:
                await self._take_callback()
            else:
                self.end_reason = "overflow"


def _hangup_reason(reason: str) -> str:
    if reason in (CALLER, "closed"):
        return EndReason.CALLER_HANGUP
    if reason == PBX_LOST:
        return EndReason.PBX_LOST
    return reason


def _var_name(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).upper()
