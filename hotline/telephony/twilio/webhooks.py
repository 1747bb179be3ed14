"""aiohttp handlers for Twilio's webhooks: signature first, then the form, then the bridge.

A request without a valid X-Twilio-Signature gets 403 and never reaches the bridge. A body that is
not a form (broken multipart, an unknown charset, a file) and a signed but malformed request (no
CallSid, a turn we never handed out, a count that is not a small ASCII number) get 400 with a
one-line reason and no traceback. The form is never logged: a secure gather's Digits are a PIN or a
card number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

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
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
        if not self.checker.is_valid(request, form):  # type: ignore[arg-type]
            raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
        return form  # type: ignore[return-value]

    def _live(self, form: Form) -> tuple[str, LiveCall | None]:
        sid = _sid(form)
        return sid, self.bridge.calls.by_sid(sid)

    @staticmethod
    def _turn(request: web.Request, call: LiveCall) -> int:
        turn = _query_int(request, "turn")
        if turn > call.turn or turn < 1:
            raise BadWebhook(f"turn {turn} was never handed out for this call")
        return turn

    @staticmethod
    def _gone(sid: str, path: str) -> web.Response:
        # A call we do not know (a restart lost it, or a stray request): end it politely.
        log.warning("twilio %s for unknown CallSid %s: hanging up", path, sid)
        return _xml(str(twiml.hangup()))

    # --- handlers --------------------------------------------------------------------------------

    @public(SIGNED)
    async def voice(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        return await _answer(request, self._voice(form))

    async def _voice(self, form: Form) -> web.Response:
        incoming = Incoming(sid=_sid(form), caller=form.get("From", "")[:40], dialled=form.get("To", "")[:40])
        return _xml(await self.bridge.incoming(incoming))

    @public(SIGNED)
    async def gather(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            sid, call = self._live(form)
            if call is None:
                return self._gone(sid, request.path)
            return _xml(await self.bridge.gathered(call, self._turn(request, call), _digits(form)))

        return await _answer(request, work())

    @public(SIGNED)
    async def status(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            sid = _sid(form)
            await self.bridge.call_status(sid, _status(form, "CallStatus"), _optional_int(form, "CallDuration"),
                                          request.query.get("call") or None)
            return web.Response(status=204)

        return await _answer(request, work())

    @public(SIGNED)
    async def queue_wait(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            sid, call = self._live(form)
            if call is None:
                return self._gone(sid, request.path)
            return _xml(await self.bridge.queue_wait(call))

        return await _answer(request, work())

    @public(SIGNED)
    async def queue_key(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            sid, call = self._live(form)
            if call is None:
                return self._gone(sid, request.path)
            return _xml(await self.bridge.queue_key(call, self._turn(request, call), _digits(form)))

        return await _answer(request, work())

    @public(SIGNED)
    async def queue_left(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            sid, call = self._live(form)
            if call is None:
                return self._gone(sid, request.path)
            result = form.get("QueueResult", "")
            return _xml(await self.bridge.queue_left(call, self._turn(request, call), result))

        return await _answer(request, work())

    @public(SIGNED)
    async def dial(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            sid, call = self._live(form)
            if call is None:
                return self._gone(sid, request.path)
            turn = self._turn(request, call)
            agent_id, leg_id = _query_int(request, "agent"), _query_int(request, "leg")
            status = _status(form, "DialCallStatus")
            return _xml(await self.bridge.dial_done(call, turn, agent_id, leg_id, status))

        return await _answer(request, work())

    @public(SIGNED)
    async def dial_status(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            parent = _sid(form, "ParentCallSid")
            call = self.bridge.calls.by_sid(parent)
            if call is not None:
                await self.bridge.dial_status(call, _query_int(request, "agent"), _query_int(request, "leg"),
                                              _sid(form), _status(form, "CallStatus"))
            return web.Response(status=204)

        return await _answer(request, work())

    @public(SIGNED)
    async def recording(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            _sid(form, "RecordingSid")
            _optional_int(form, "RecordingDuration")
            _optional_int(form, "RecordingChannels")
            leg_id = _query_int(request, "leg") if "leg" in request.query else None
            try:
                await self.bridge.recording_status(leg_id, request.query.get("call"), dict(form))
            except LookupError as exc:
                raise BadWebhook(str(exc)) from exc
            return web.Response(status=204)

        return await _answer(request, work())

    @public(SIGNED)
    async def survey(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            sid, call = self._live(form)
            if call is None:
                return self._gone(sid, request.path)
            return _xml(await self.bridge.survey(call, self._turn(request, call), _digits(form)))

        return await _answer(request, work())

    @public(SIGNED)
    async def outbound_dial(self, request: web.Request) -> web.Response:
        form = await self._form(request)

        async def work() -> web.Response:
            _sid(form)
            call_id = request.query.get("call", "")
            if not call_id:
                raise BadWebhook("missing call in the URL")
            answer = await self.bridge.outbound_dial_done(call_id, _query_int(request, "leg"),
                                                          _status(form, "DialCallStatus"),
                                                          _optional_int(form, "DialCallDuration"))
            return _xml(answer)

        return await _answer(request, work())


async def _answer(request: web.Request, work: Awaitable[web.Response]) -> web.Response:
    try:
        return await work
    except BadWebhook as exc:
        log.warning("twilio webhook %s rejected: %s", request.path, exc)
        return web.Response(status=400, text=f"bad Twilio webhook: {exc}\n")
