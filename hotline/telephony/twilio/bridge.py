"""The Twilio bridge: webhook facts in, IVR and ACD calls, TwiML out; ACD decisions out through REST.

Every public coroutine here takes already-validated webhook data (see webhooks.py) and returns the
TwiML text to answer with. Each step that changes anything runs once per (CallSid, step): the answer
is cached on the live call and a retried webhook gets the same bytes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twilio.twiml.voice_response import VoiceResponse

from acd.ports import Offer, OutboundCall, Overflow, WaitingCall
from calls.exceptions import CallAlreadyOpened
from calls.facts import EndReason
from calls.record import CallRecord
from hotline.db import Database
from hotline.logs import mark_secret
from hotline.settings import Settings
from hotline.telephony.twilio import twiml
from hotline.telephony.twilio import urls as paths
from hotline.telephony.twilio.calls import CallRegistry, LiveCall
from hotline.telephony.twilio.rest import RestError, TwilioRest
from ivr.actions import Gather, Hangup, Play, Prompt, SetAttribute, Transfer
from ivr.events import CallStarted, Digits, Timeout
from ivr.service import TurnFailed
from qa import survey as qa_survey

if TYPE_CHECKING:
    from acd.service import Acd
    from ivr.service import IvrService

log = logging.getLogger(__name__)

CHANNEL = "twilio"
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
DIAL_FAILED = frozenset({"no-answer", "busy", "failed", "canceled"})
# A turn whose writes fail is answered with an apology and the same question; when the next try
# fails too, the caller is told and the call is closed rather than left hanging.
SERVICE_ERROR_TRIES = 2
SERVICE_ERROR = "service_error"
_COUNT = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class Incoming:
    sid: str
    caller: str
    dialled: str


class TwilioBridge:
    """One per application. Also the ACD's "twilio" connector (offer, overflow, place_outbound)."""

    def __init__(self, settings: Settings, db: Database, ivr: IvrService, acd: Acd | None,
                 rest: TwilioRest, record: CallRecord | None = None) -> None:
        self.settings = settings
        self.db = db
        self.record = record or CallRecord(db)
        self.ivr = ivr
        self.acd = acd
        self.rest = rest
        self.calls = CallRegistry()
        self.url = paths.Urls(settings.public.url)
        self._tasks: set[asyncio.Task[None]] = set()

    # --- prompts ---------------------------------------------------------------------------------

    def _prompt(self, call: LiveCall, prompt_id: str, **params: Any) -> Prompt:
        return self.ivr.prompts.render(prompt_id, call.language, **params)

    def _remember_language(self, call: LiveCall) -> None:
        try:
            call.language = self.ivr.language(call.call_id)
        except Exception:  # noqa: BLE001 - the IVR may have closed the session: keep the last known
            pass

    # --- incoming call and IVR turns ----------------------------------------------------------

    async def incoming(self, incoming: Incoming) -> str:
        """POST /twilio/voice: a new call (or Twilio retrying the first webhook). A CallSid the
        database already holds (a replay of a finished call's webhook) is never started again."""

        async def start() -> LiveCall:
            turn = await self.ivr.start_call(CHANNEL, incoming.sid,
                                             CallStarted(caller_number=incoming.caller,
                                                         dialled_number=incoming.dialled))
            call = LiveCall(sid=incoming.sid, call_id=turn.call_id, caller_number=incoming.caller,
                            first_actions=list(turn.actions))
            self._remember_language(call)
            return call

        try:
            call = await self.calls.start_once(incoming.sid, start)
        except CallAlreadyOpened:
            log.warning("twilio: CallSid %s was already started here: hanging up", incoming.sid)
            return str(twiml.hangup())
        except TurnFailed:
            log.error("twilio: CallSid %s: the call could not be started; told the caller", incoming.sid)
            language = self.settings.ivr.default_language
            return str(twiml.hangup([self.ivr.prompts.render(SERVICE_ERROR, language)]))
        return await call.once("voice", lambda: self._render(call, call.first_actions))

    async def gathered(self, call: LiveCall, turn: int, digits: str) -> str:
        """POST /twilio/gather?turn=N: the keys of one IVR gather (empty: the caller said nothing)."""

        if turn in call.secure_turns and digits:
            mark_secret(digits)  # whatever logs it from here on, by mistake, logs it masked

        async def step() -> str:
            event = Digits(digits) if digits else Timeout()
            try:
                actions = await self.ivr.handle(call.call_id, event)
            except LookupError:  # ivr.service.UnknownCall: the IVR no longer has this call
                log.warning("call %s: the IVR has no session for it; hanging up", call.call_id)
                return str(twiml.hangup([self._prompt(call, "service_error")]))
            call.failed_turns = 0
            self._remember_language(call)
            return await self._render(call, actions)

        try:
            return await call.once(f"gather:{turn}", step)
        except TurnFailed:
            # not cached: a retry of this request runs the turn again, from where the caller was
            return await self._turn_failed(call)

    async def _turn_failed(self, call: LiveCall) -> str:
        """Apologise and ask the same question again; after SERVICE_ERROR_TRIES failures in a row,
        say goodbye and close the call."""
        call.failed_turns += 1
        sorry = self._prompt(call, SERVICE_ERROR)
        question = None
        if call.failed_turns < SERVICE_ERROR_TRIES:
            try:
                question = self.ivr.question(call.call_id)
            except LookupError:  # ivr.service.UnknownCall: hung up meanwhile
                question = None
        if question is not None:
            log.warning("call %s: IVR turn failed (%d in a row): asking again", call.call_id, call.failed_turns)
            return await self._render(call, [Play((sorry,)), question])
        log.error("call %s: IVR turns keep failing: ending the call", call.call_id)
        call.end_reason = SERVICE_ERROR
        try:
            await self.ivr.hangup(call.call_id, SERVICE_ERROR)
        except Exception:  # noqa: BLE001 - the final status callback closes the record as service_error
            log.exception("call %s: the IVR could not close the call", call.call_id)
        return str(twiml.hangup([sorry, self._prompt(call, "goodbye")]))

    async def _render(self, call: LiveCall, actions: Sequence[Any]) -> str:
        response = VoiceResponse()
        for action in actions:
            if isinstance(action, Play):
                twiml.say(response, action.prompts)
            elif isinstance(action, Gather):
                turn = call.next_turn()
                if action.secure:
                    call.secure_turns.add(turn)
                # `secure=1` tells a softphone to hide the typing; the server trusts only secure_turns
                secure = {"secure": 1} if action.secure else {}
                twiml.gather(response, action, self.url(paths.GATHER, turn=turn, **secure))
            elif isinstance(action, Transfer):
                await self._transfer(call, action, response)
            elif isinstance(action, Hangup):
                twiml.say(response, action.prompts)
                response.hangup()
            elif isinstance(action, SetAttribute):
                continue  # the IVR stores call attributes itself; nothing for Twilio to do
            else:
                raise TypeError(f"unknown IVR action {type(action).__name__}")
        return str(response)

    # --- the queue -------------------------------------------------------------------------------

    async def _transfer(self, call: LiveCall, action: Transfer, response: VoiceResponse) -> None:
        twiml.say(response, action.prompts)
        if self.acd is None:
            log.error("call %s: transfer to %s but no ACD is configured", call.call_id, action.queue)
            twiml.say(response, [self._prompt(call, "agent_unavailable")])
            response.hangup()
            return
        customer_id = await self.record.customer_of(call.call_id)
        call.queue = action.queue
        call.acd_waiting = True
        try:
            await self.acd.enqueue(WaitingCall(
                call_id=call.call_id, queue=action.queue, category=action.category, connector=CHANNEL,
                skills=action.skills, priority=action.priority, customer_id=customer_id,
                caller_number=call.caller_number))
        except Exception:  # noqa: BLE001 - the caller hears why instead of Twilio's "application error"
            log.exception("call %s: the ACD refused the caller for queue %s", call.call_id, action.queue)
            call.acd_waiting = False
            twiml.say(response, [self._prompt(call, "agent_unavailable")])
            response.hangup()
            return
        await self.record.queued(call.call_id, action.queue, action.category)
        self._enqueue(call, response)

    def _enqueue(self, call: LiveCall, response: VoiceResponse) -> None:
        twiml.enqueue(response, call.queue or "general", self.url(paths.QUEUE_WAIT),
                      self.url(paths.QUEUE_LEFT, turn=call.next_turn()))

    async def queue_wait(self, call: LiveCall) -> str:
        """POST /twilio/queue/wait: Twilio's hold loop; re-fetched each time the document ends."""
        call.in_queue.set()
        response = VoiceResponse()
        status = self.acd.queue_status(call.call_id) if self.acd is not None else None
        if status is not None:
            minutes = max(1, math.ceil(status.estimated_wait_s / 60))
            twiml.say(response, [self._prompt(call, "queue_position", position=status.position, minutes=minutes)])
        else:
            twiml.say(response, [self._prompt(call, "queue_hold")])
        twiml.key_gather(response, [self._prompt(call, "callback_offer")],
                         self.url(paths.QUEUE_KEY, turn=call.next_turn()), timeout_s=3, on_empty=False)
        response.play(twiml.HOLD_MUSIC)
        return str(response)

    async def queue_key(self, call: LiveCall, turn: int, digits: str) -> str:
        """POST /twilio/queue/key?turn=N: a key pressed on hold. 1 books a callback."""

        async def step() -> str:
            if digits != "1" or self.acd is None:
                return str(VoiceResponse())  # back to the hold loop
            try:
                await self.acd.request_callback(call.call_id, call.caller_number)
            except Exception:  # noqa: BLE001 - e.g. already being connected: keep holding
                log.exception("call %s: callback request refused", call.call_id)
                return str(VoiceResponse())
            call.acd_waiting = False  # the ACD turned the waiting call into a callback
            call.end_reason = EndReason.CALLBACK
            return str(twiml.hangup([self._prompt(call, "callback_confirmed")]))

        return await call.once(f"queue-key:{turn}", step)

    async def queue_left(self, call: LiveCall, turn: int, result: str) -> str:
        """POST /twilio/queue/left: <Enqueue> ended without us redirecting the call."""
        call.in_queue.clear()
        if result == "hangup":
            # the caller gave up holding: tell the ACD now rather than only on the status callback
            await call.once(f"queue-left:{turn}", lambda: self._abandoned(call))
            return str(twiml.hangup())
        if result in ("queue-full", "system-error", "error"):
            log.error("call %s: Twilio queue %s failed: %s", call.call_id, call.queue, result)
            return str(twiml.hangup([self._prompt(call, "agent_unavailable")]))
        return str(twiml.hangup())

    async def _abandoned(self, call: LiveCall) -> str:
        await self._end_in_acd(call, EndReason.CALLER_HANGUP)
        return ""

    # --- offers to agents ------------------------------------------------------------------------

    async def offer(self, offer: Offer) -> None:
        """Connector: ring an agent for a queued call by redirecting it to <Dial> through REST.

        The ACD runs this as a background task; a failure raises (RestError, LookupError, ValueError)
        and the ACD puts the caller back without blaming the agent."""
        call = self.calls.by_call_id(offer.call_id)
        if call is None or call.ended:
            raise LookupError(f"offer for call {offer.call_id}: not a live Twilio call")
        # The caller must be executing <Enqueue> before we redirect: an offer decided while the
        # enqueueing webhook is still being answered would otherwise race with that answer.
        if not await _first_of(call.in_queue.wait(), call.gone.wait()) or call.ended:
            return  # hung up meanwhile: the ACD hears it through call_ended
        leg_id = await self.record.offered(call.call_id, offer.agent_id, offer.endpoint)
        try:
            response = twiml.dial_agent(
                offer.endpoint, ring_timeout_s=offer.ring_timeout_s, record=offer.record,
                action_url=self.url(paths.DIAL, turn=call.next_turn(), agent=offer.agent_id, leg=leg_id),
                status_url=self.url(paths.DIAL_STATUS, agent=offer.agent_id, leg=leg_id),
                recording_url=self.url(paths.RECORDING, leg=leg_id))
        except ValueError:
            await self.record.leg_closed(call.call_id, leg_id, "bad-endpoint")
            raise
        call.in_queue.clear()
        call.agent_id, call.agent_leg_id = offer.agent_id, leg_id
        try:
            await self.rest.update_call(call.sid, twiml=str(response))
        except RestError as exc:
            call.in_queue.set()  # Twilio never got the redirect: the caller is still holding
            call.agent_id = call.agent_leg_id = None
            await self.record.leg_closed(call.call_id, leg_id, "failed")
            log.error("call %s: could not ring agent %s: %s", call.call_id, offer.agent_id, exc)
            raise

    async def dial_status(self, call: LiveCall, agent_id: int, leg_id: int, child_sid: str, status: str) -> None:
        """POST /twilio/dial/status: progress of the agent's leg; "in-progress" means the agent answered."""
        if status != "in-progress":
            return

        async def answered() -> str:
            await self.record.answered(call.call_id, agent_id, leg_id, child_sid)
            call.last_agent_id = agent_id
            if self.acd is not None:
                try:
                    await self.acd.offer_answered(call.call_id, agent_id)
                except Exception:
                    # Twilio has already bridged them: the call goes on, the ACD's view is off
                    log.exception("call %s: the ACD refused the answer by agent %s", call.call_id, agent_id)
            return ""

        await call.once(f"answered:{leg_id}", answered)

    async def dial_done(self, call: LiveCall, turn: int, agent_id: int, leg_id: int, dial_status: str) -> str:
        """POST /twilio/dial?turn=N: the agent's leg ended. Unanswered → back to the queue."""

        async def step() -> str:
            call.agent_id = call.agent_leg_id = None
            if dial_status in DIAL_FAILED:
                await self.record.leg_closed(call.call_id, leg_id, dial_status)
                response = VoiceResponse()
                self._enqueue(call, response)
                if self.acd is not None and not call.ended:
                    # told after the answer is built: a new offer waits for the caller to be back in <Enqueue>
                    await self.acd.offer_failed(call.call_id, agent_id, _offer_failure(dial_status))
                return str(response)
            await self.record.leg_closed(call.call_id, leg_id, EndReason.COMPLETED)
            call.end_reason = EndReason.COMPLETED
            await self._end_in_acd(call, EndReason.COMPLETED)
            return await self._after_agent(call)

        return await call.once(f"dial:{turn}", step)

    async def _after_agent(self, call: LiveCall) -> str:
        if qa_survey.should_ask(self._survey_enabled(call.queue), call.last_agent_id is not None):
            return self._survey_question(call, qa_survey.first_question())
        return str(twiml.hangup([self._prompt(call, qa_survey.GOODBYE)]))

    def _survey_enabled(self, queue: str | None) -> bool:
        if self.acd is None or queue is None:
            return False
        try:
            return bool(self.acd.queue_config(queue).post_call_survey)
        except Exception:  # noqa: BLE001 - an unknown queue has no survey
            return False

    # --- post-call survey (the steps are qa.survey's) ------------------------------------------------

    def _survey_question(self, call: LiveCall, step: qa_survey.SurveyTurn) -> str:
        call.survey_tries += 1
        response = VoiceResponse()
        twiml.say(response, [self._prompt(call, p) for p in step.prompts])
        twiml.key_gather(response, [self._prompt(call, qa_survey.QUESTION)],
                         self.url(paths.SURVEY, turn=call.next_turn()))
        twiml.say(response, [self._prompt(call, qa_survey.GOODBYE)])
        response.hangup()
        return str(response)

    async def survey(self, call: LiveCall, turn: int, digits: str) -> str:
        """POST /twilio/survey?turn=N: the caller's 1-5 rating (asked twice at most)."""

        async def step() -> str:
            next_step = qa_survey.answer(digits, call.survey_tries)
            if next_step.step is qa_survey.SurveyStep.ASK:
                return self._survey_question(call, next_step)
            if next_step.score is not None:
                await qa_survey.store_survey(self.record, self.db, call.call_id, call.last_agent_id, call.queue,
                                             next_step.score)
            return str(twiml.hangup([self._prompt(call, p) for p in next_step.prompts]))

        return await call.once(f"survey:{turn}", step)

    # --- call status and recordings --------------------------------------------------------------

    async def call_status(self, sid: str, status: str, duration_s: int | None, call_id: str | None) -> None:
        """POST /twilio/status: the call's life cycle; final statuses close the call record."""
        call = self.calls.by_sid(sid) or (self.calls.by_call_id(call_id) if call_id else None)
        if call is not None and call.direction == "outbound":
            await self._outbound_status(call, status)
        if status == "in-progress":
            if call is not None and call.direction == "outbound":
                await self.record.connected(call.call_id)
            return
        if status not in FINAL_STATUSES:
            return
        if call is not None:
            await call.once("final", lambda: self._end_live(call, status, duration_s))
            return
        # not live (any more): the record keeps the first close; a retried status changes nothing
        known = call_id or await self.record.find(CHANNEL, sid)
        if known is None:
            log.warning("status %s for unknown call (CallSid %s)", status, sid)
            return
        await self.record.closed(known, _reason(status), by=CHANNEL, status=status, duration_s=duration_s)

    async def _end_live(self, call: LiveCall, status: str, duration_s: int | None) -> str:
        call.ended = True
        call.gone.set()
        reason = call.end_reason or _reason(status)
        if call.direction == "inbound":
            try:
                await self.ivr.hangup(call.call_id, reason)
            except Exception:
                log.exception("call %s: the IVR failed to close the call", call.call_id)
        await self._end_in_acd(call, reason)
        if call.agent_leg_id is not None:
            await self.record.leg_closed(call.call_id, call.agent_leg_id, reason)
        await self.record.closed(call.call_id, call.end_reason or _reason(status), by=CHANNEL, status=status,
                                 duration_s=duration_s)
        self.calls.remove(call)
        return ""

    async def _end_in_acd(self, call: LiveCall, reason: str) -> None:
        if call.acd_waiting and self.acd is not None:
            call.acd_waiting = False
            await self.acd.call_ended(call.call_id, reason)

    async def recording_status(self, leg_id: int | None, call_id: str | None, form: dict[str, str]) -> None:
        """POST /twilio/recording: a dual-channel recording of the agent's leg (or a voicemail)."""
        recording_sid, status = form["RecordingSid"], form.get("RecordingStatus", "")
        if leg_id is not None:
            call_id = await self.record.call_of_leg(leg_id)
            if call_id is None:
                raise LookupError(f"recording {recording_sid}: unknown call leg {leg_id}")
        if call_id is None or not await self.record.exists(call_id):
            raise LookupError(f"recording {recording_sid}: unknown call")
        source = form.get("RecordingUrl", "")
        if status == "completed":
            duration = _int(form.get("RecordingDuration"))
            await self.record.recording_ready(call_id, recording_sid, leg_id=leg_id, source=source,
                                              channels=_int(form.get("RecordingChannels")) or 2,
                                              duration_ms=duration * 1000 if duration is not None else None)
        elif status in ("failed", "absent"):
            await self.record.recording_failed(call_id, recording_sid, leg_id=leg_id, source=source)
        else:
            await self.record.recording_started(call_id, recording_sid, leg_id=leg_id, source=source,
                                                channels=_int(form.get("RecordingChannels")) or 2)

    # --- outbound: callbacks and campaigns -------------------------------------------------------

    async def place_outbound(self, outbound: OutboundCall) -> None:
        """Connector: ring the agent, then the customer (callbacks, campaign calls). The ACD runs
        this as a background task; a failure raises and the ACD releases the agent."""
        caller_id = self.settings.twilio.caller_id
        to = _dialable(outbound.agent_endpoint)
        await self.record.open_outbound(outbound.call_id, CHANNEL, agent_id=outbound.agent_id,
                                        customer_number=outbound.customer_number, caller_id=caller_id,
                                        purpose=outbound.purpose, reference_id=outbound.reference_id)
        leg_id = await self.record.offered(outbound.call_id, outbound.agent_id, outbound.agent_endpoint)
        call = LiveCall(sid="", call_id=outbound.call_id, caller_number=outbound.customer_number,
                        direction="outbound", agent_id=outbound.agent_id, agent_leg_id=leg_id,
                        acd_waiting=True)
        response = twiml.dial_customer(
            outbound.customer_number, caller_id=caller_id, ring_timeout_s=outbound.ring_timeout_s,
            action_url=self.url(paths.OUTBOUND_DIAL, call=outbound.call_id, leg=leg_id),
            recording_url=self.url(paths.RECORDING, leg=leg_id))
        self.calls.add_pending(call)
        try:
            sid = await self.rest.create_call(
                to=to, from_=caller_id, twiml=str(response), timeout_s=outbound.ring_timeout_s,
                status_callback=self.url(paths.STATUS, call=outbound.call_id))
        except RestError as exc:
            self.calls.remove(call)
            await self.record.leg_closed(outbound.call_id, leg_id, "failed")
            await self.record.closed(outbound.call_id, "failed", by=CHANNEL, status="failed")
            log.error("outbound call %s to agent %s failed: %s", outbound.call_id, outbound.agent_id, exc)
            raise
        self.calls.attach_sid(call, sid)
        await self.record.named(outbound.call_id, sid, leg_id)

    async def _outbound_status(self, call: LiveCall, status: str) -> None:
        """The agent's leg of an outbound call: answered → offer_answered; never answered → offer_failed."""
        acd = self.acd
        if acd is None or call.agent_id is None:
            return
        agent_id = call.agent_id
        if status == "in-progress":

            async def answered() -> str:
                call.last_agent_id = agent_id
                if call.agent_leg_id is not None:
                    await self.record.answered(call.call_id, agent_id, call.agent_leg_id)
                try:
                    await acd.offer_answered(call.call_id, agent_id)
                except Exception:
                    # the agent is on the phone whatever the ACD thinks (e.g. it answered after the
                    # ring timeout): the call goes on, as on the inbound path
                    log.exception("call %s: the ACD refused the answer by agent %s", call.call_id, agent_id)
                return ""

            await call.once("agent-answered", answered)
        elif status in DIAL_FAILED and call.last_agent_id is None:

            async def failed() -> str:
                call.acd_waiting = False
                await acd.offer_failed(call.call_id, agent_id, status)
                return ""

            await call.once("agent-failed", failed)

    async def outbound_dial_done(self, call_id: str, leg_id: int, dial_status: str, duration_s: int | None) -> str:
        """POST /twilio/outbound/dial: the customer's leg ended (or never answered)."""
        call = self.calls.by_call_id(call_id)
        if await self.record.exists(call_id):
            await self.record.ending(call_id, f"customer-{dial_status}")
        if call is not None:

            async def step() -> str:
                await self.record.leg_closed(call_id, leg_id, "completed")
                await self._end_in_acd(call, dial_status)
                return str(twiml.hangup())

            return await call.once("outbound-dial", step)
        return str(twiml.hangup())

    async def overflow(self, overflow: Overflow) -> None:
        """Connector: the ACD moves a waiting caller elsewhere."""
        call = self.calls.by_call_id(overflow.call_id)
        if call is None:
            log.warning("overflow for unknown call %s", overflow.call_id)
            return
        if overflow.kind == "queue":
            call.queue = overflow.target  # the ACD requeued it; Twilio's queue name follows on the next <Enqueue>
            await self.record.queued(call.call_id, overflow.target)
            return
        self._spawn(self._overflow(call, overflow), f"overflow {overflow.call_id} → {overflow.kind}")

    async def _overflow(self, call: LiveCall, overflow: Overflow) -> None:
        if not await _first_of(call.in_queue.wait(), call.gone.wait()) or call.ended:
            return
        response = VoiceResponse()
        if overflow.kind == "callback":
            twiml.key_gather(response, [self._prompt(call, "callback_offer")],
                             self.url(paths.QUEUE_KEY, turn=call.next_turn()), on_empty=False)
            self._enqueue(call, response)
        else:  # voicemail
            call.acd_waiting = False
            if self.acd is not None:
                await self.acd.call_ended(call.call_id, EndReason.VOICEMAIL)
            call.end_reason = EndReason.VOICEMAIL
            twiml.say(response, [self._prompt(call, "agent_unavailable")])
            response.record(max_length=120, play_beep=True, recording_status_callback=self.url(
                paths.RECORDING, call=call.call_id), recording_status_callback_method="POST")
            response.hangup()
        call.in_queue.clear()
        try:
            await self.rest.update_call(call.sid, twiml=str(response))
        except RestError:
            call.in_queue.set()
            log.exception("call %s: overflow to %s failed", call.call_id, overflow.kind)

    # --- background work -----------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("twilio bridge: %s failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for background offers and outbound calls (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _first_of(*waits: Awaitable[Any]) -> bool:
    """Wait for the first of several events; True when it was the first one."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return tasks[0] in done
    finally:
        for task in tasks:
            task.cancel()


def _dialable(endpoint: str) -> str:
    """calls.create's To: client:NAME and sip: URIs are accepted as they are, numbers in E.164."""
    if endpoint.startswith(("client:", "sip:", "sips:")) or (endpoint.startswith("+") and endpoint[1:].isdigit()):
        return endpoint
    raise ValueError(f"endpoint {endpoint!r} cannot be called through Twilio")


def _int(value: str | None) -> int | None:
    """A count Twilio sent, or None: ASCII digits only (int() takes "²"), and small enough to store."""
    return int(value) if value is not None and _COUNT.fullmatch(value) else None


def _offer_failure(dial_status: str) -> str:
    """"failed" is Twilio's word for a party it could not route to at all (a Client not registered):
    the phone is unreachable, not an agent who let it ring, as CHANUNAVAIL on Asterisk."""
    return "unavailable" if dial_status == "failed" else dial_status


def _reason(status: str) -> str:
    """Why a call ended, from Twilio's final status when nothing more precise is known."""
    return EndReason.CALLER_HANGUP if status == "completed" else status

