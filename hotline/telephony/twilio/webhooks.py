"""aiohttp handlers for Twilio's webhooks: signature first, then the form, then the bridge.

A request without a valid X-Twilio-Signature gets 403 and never reaches the bridge. A body that is
not a form (broken multipart, an unknown charset, a file) and a signed but malformed request (no
CallSid, a turn we never handed out, a count that is not a small ASCII number) get 400 with a
one-line reason and no traceback. The form is never logged: a secure gather's Digits are a PIN or a
card number.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from calls.exceptions import NoSuchCall, NoSuchLeg
from hotline.metrics import WEBHOOK_SECONDS
from hotline.telephony.twilio import twiml
from hotline.telephony.twilio import urls as paths
from hotline.telephony.twilio.bridge import Incoming, TwilioBridge
from hotline.telephony.twilio.calls import LiveCall
from hotline.telephony.twilio.signature import SignatureChecker
from hotline.web.access import public

log = logging.getLogger(__name__)

SIGNED = "Twilio webhook: X-Twilio-Signature"
# fullmatch only, never `$` (it lets a trailing newline through); [0-9], never \d or str.isdigit()
# (both take "²" and "①", which int() then refuses)
_SID = re.compile(r"[A-Za-z]{2}[0-9a-fA-F]{32}")
_DIGITS = re.compile(r"[0-9*#]{0,64}")
_STATUS = re.compile(r"[a-z-]{1,20}")
_NUMBER = re.compile(r"[0-9]{1,9}")  # turns, ids, seconds: fits any INTEGER column
# what aiohttp raises for a body it cannot read as a form: broken multipart (ValueError, bad part
# headers), an unknown charset (LookupError), an unknown Content-Transfer-Encoding (RuntimeError)
_UNREADABLE = (ValueError, LookupError, RuntimeError, HttpProcessingError)

Form = MultiDictProxy[str]
# A webhook's work once its form is signed and read; and the work of one that belongs to a live call,
# which answers TwiML text.
Work = Callable[["TwilioWebhooks", web.Request, "Form"], Awaitable[web.Response]]
CallWork = Callable[["TwilioWebhooks", web.Request, "Form", LiveCall], Awaitable[str]]
Route = Callable[["TwilioWebhooks", web.Request], Awaitable[web.Response]]


class BadWebhook(Exception):
    """Signed but unusable: answered with 400 and the reason."""


def _xml(body: str) -> web.Response:
    return web.Response(text=body, content_type=twiml.CONTENT_TYPE)


def _sid(form: Form, name: str = "CallSid") -> str:
    value = form.get(name, "")
    if not _SID.fullmatch(value):
        raise BadWebhook(f"missing or malformed {name}")
    return value


def _query_int(request: web.Request, name: str) -> int:
    value = request.query.get(name, "")
    if not _NUMBER.fullmatch(value):
        raise BadWebhook(f"missing or malformed {name} in the URL")
    return int(value)


def _digits(form: Form) -> str:
    value = form.get("Digits", "")
    if not _DIGITS.fullmatch(value):
        raise BadWebhook("malformed Digits")
    return value


def _status(form: Form, name: str) -> str:
    value = form.get(name, "")
    if not _STATUS.fullmatch(value):
        raise BadWebhook(f"missing or malformed {name}")
    return value


def _optional_int(form: Form, name: str) -> int | None:
    value = form.get(name, "")
    if value == "":
        return None
    if not _NUMBER.fullmatch(value):
        raise BadWebhook(f"malformed {name}")
    return int(value)


def signed(work: Work) -> Route:
    """The route: the signature is checked before anything is read or done (403), then the work runs;
    a signed but unusable request (or one naming a leg of another call) is a 400 with the reason (the
    form is never logged)."""

    @public(SIGNED)
    @functools.wraps(work)
    async def route(self: TwilioWebhooks, request: web.Request) -> web.Response:
        with WEBHOOK_SECONDS.labels(work.__name__).time():
            return await checked(self, request)

    async def checked(self: TwilioWebhooks, request: web.Request) -> web.Response:
        form = await self._form(request)
        try:
            return await work(self, request, form)
        except (BadWebhook, NoSuchCall, NoSuchLeg) as exc:  # signed, but naming what the call does not have
            log.warning("twilio webhook %s rejected: %s", request.path, exc)
            return web.Response(status=400, text=f"bad Twilio webhook: {exc}\n")

    return route


def on_live_call(work: CallWork) -> Work:
    """Work on the live call the form's CallSid names; a call we do not hold (a restart lost it, or a
    stray request) is ended politely with a bare <Hangup/>."""

    @functools.wraps(work)
    async def answer(self: TwilioWebhooks, request: web.Request, form: Form) -> web.Response:
        sid = _sid(form)
        call = self.bridge.calls.by_sid(sid)
        if call is None:
            log.warning("twilio %s for unknown CallSid %s: hanging up", request.path, sid)
            return _xml(str(twiml.hangup()))
        return _xml(await work(self, request, form, call))

    return answer


class TwilioWebhooks:
    def __init__(self, bridge: TwilioBridge, checker: SignatureChecker) -> None:
        self.bridge = bridge
        self.checker = checker

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(paths.VOICE, self.voice),
            web.post(paths.GATHER, self.gather),
            web.post(paths.STATUS, self.status),
            web.post(paths.QUEUE_WAIT, self.queue_wait),
            web.post(paths.QUEUE_KEY, self.queue_key),
            web.post(paths.QUEUE_LEFT, self.queue_left),
            web.post(paths.DIAL, self.dial),
            web.post(paths.DIAL_STATUS, self.dial_status),
            web.post(paths.RECORDING, self.recording),
            web.post(paths.SURVEY, self.survey),
            web.post(paths.OUTBOUND_DIAL, self.outbound_dial),
        ]

    async def _form(self, request: web.Request) -> Form:
        """The signed form, or 403. Checked before anything else is read or done."""
        try:
            form = await request.post()
        except _UNREADABLE as exc:
            log.warning("twilio webhook %s refused: unreadable form body (%s)", request.path, type(exc).__name__)
            raise web.HTTPBadRequest(text="bad Twilio webhook: unreadable form body\n") from None
        if any(not isinstance(value, str) for value in form.values()):
            log.warning("twilio webhook %s refused: a file in the form", request.path)
            raise web.HTTPBadRequest(text="bad Twilio webhook: Twilio never posts files\n")
        fields = cast(Form, form)  # every value was just checked to be a str
        if not self.checker.is_valid(request, fields):
            raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
        return fields

    @staticmethod
    def _turn(request: web.Request, call: LiveCall) -> int:
        turn = _query_int(request, "turn")
        if turn > call.turn or turn < 1:
            raise BadWebhook(f"turn {turn} was never handed out for this call")
        return turn

    # --- handlers --------------------------------------------------------------------------------

    @signed
    async def voice(self, request: web.Request, form: Form) -> web.Response:
        incoming = Incoming(sid=_sid(form), caller=form.get("From", "")[:40], dialled=form.get("To", "")[:40])
        return _xml(await self.bridge.incoming(incoming))

    @signed
    @on_live_call
    async def gather(self, request: web.Request, form: Form, call: LiveCall) -> str:
        return await self.bridge.gathered(call, self._turn(request, call), _digits(form))

    @signed
    async def status(self, request: web.Request, form: Form) -> web.Response:
        await self.bridge.call_status(_sid(form), _status(form, "CallStatus"), _optional_int(form, "CallDuration"),
                                      request.query.get("call") or None)
        return web.Response(status=204)

    @signed
    @on_live_call
    async def queue_wait(self, request: web.Request, form: Form, call: LiveCall) -> str:
        return await self.bridge.queue_wait(call)

    @signed
    @on_live_call
    async def queue_key(self, request: web.Request, form: Form, call: LiveCall) -> str:
        return await self.bridge.queue_key(call, self._turn(request, call), _digits(form))

    @signed
    @on_live_call
    async def queue_left(self, request: web.Request, form: Form, call: LiveCall) -> str:
        return await self.bridge.queue_left(call, self._turn(request, call), form.get("QueueResult", ""))

    @signed
    @on_live_call
    async def dial(self, request: web.Request, form: Form, call: LiveCall) -> str:
        turn = self._turn(request, call)
        agent_id, leg_id = _query_int(request, "agent"), _query_int(request, "leg")
        return await self.bridge.dial_done(call, turn, agent_id, leg_id, _status(form, "DialCallStatus"))

    @signed
    async def dial_status(self, request: web.Request, form: Form) -> web.Response:
        call = self.bridge.calls.by_sid(_sid(form, "ParentCallSid"))
        if call is not None:
            await self.bridge.dial_status(call, _query_int(request, "agent"), _query_int(request, "leg"),
                                          _sid(form), _status(form, "CallStatus"))
        return web.Response(status=204)

    @signed
    async def recording(self, request: web.Request, form: Form) -> web.Response:
        _sid(form, "RecordingSid")
        _optional_int(form, "RecordingDuration")
        _optional_int(form, "RecordingChannels")
        leg_id = _query_int(request, "leg") if "leg" in request.query else None
        try:
            await self.bridge.recording_status(leg_id, request.query.get("call"), dict(form))
        except LookupError as exc:
            raise BadWebhook(str(exc)) from exc
        return web.Response(status=204)

    @signed
    @on_live_call
    async def survey(self, request: web.Request, form: Form, call: LiveCall) -> str:
        return await self.bridge.survey(call, self._turn(request, call), _digits(form))

    @signed
    async def outbound_dial(self, request: web.Request, form: Form) -> web.Response:
        _sid(form)
        call_id = request.query.get("call", "")
        if not call_id:
            raise BadWebhook("missing call in the URL")
        return _xml(await self.bridge.outbound_dial_done(call_id, _query_int(request, "leg"),
                                                         _status(form, "DialCallStatus"),
                                                         _optional_int(form, "DialCallDuration")))
