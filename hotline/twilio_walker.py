"""Walk TwiML the way Twilio does, as one caller: the test suite's Twilio stand-in and a softphone
both drive the real webhooks with it, signed exactly as Twilio signs them.

What it follows (Twilio's documented behaviour):
- verbs run in order; the call hangs up when a document ends (except in an <Enqueue> wait loop);
- <Gather>: nested <Say>/<Play> are heard, keys are collected up to numDigits or finishOnKey (the
  finish key is not sent); no keys → the next verb, or the action with Digits="" when
  actionOnEmptyResult="true"; the action's TwiML replaces the rest of the document;
- <Redirect>, <Hangup>, <Pause>, <Play>, <Say>, <Record> (a recording callback is sent);
- <Enqueue>: the waitUrl document is fetched and run (Say/Play/Pause/Gather/Redirect/Leave/Hangup),
  then fetched again while the caller holds; a REST update (`redirect()`) takes the caller out
  of the queue without calling the Enqueue action; <Leave> or a hang-up on hold calls the action;
- <Dial> with <Client>/<Sip>/<Number>: the far end answers or not (the `far_end` callable decides),
  noun status callbacks for the requested events, the recording status callback when recording,
  then the action with DialCallStatus/DialCallSid/DialCallDuration;
- the status callback gets the final CallStatus and CallDuration when the call ends.
Time is simulated (`elapsed_s`), so a ring timeout or a long hold costs no real time.
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import aiohttp
from twilio.request_validator import RequestValidator

from hotline.telephony.twilio.signature import SIGNATURE_HEADER

HANGUP = "hangup"  # a key source returns this to hang up instead of pressing keys
SAY_S = 2.0  # simulated seconds one <Say> takes
API_VERSION = "2010-04-01"


def new_sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Heard:
    verb: Literal["say", "play", "pause", "record"]
    text: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class GatherInfo:
    num_digits: int | None
    finish_on_key: str
    timeout_s: int
    prompts: tuple[str, ...]  # what was said inside the <Gather>
    on_hold: bool  # inside an <Enqueue> wait document
    secure: bool = False  # a PIN or card number: the action URL carries `secure=1`


@dataclass(frozen=True, slots=True)
class FarEnd:
    """How a dialled party behaves: "answered" (then talks `talk_s`), "no-answer", "busy", "failed"."""

    status: Literal["answered", "no-answer", "busy", "failed"] = "answered"
    talk_s: int = 60


KeySource = Callable[[GatherInfo], Awaitable[str | None]]
FarEndPolicy = Callable[[str], FarEnd]


class ScriptedKeys:
    """Key groups pressed in order, one per IVR gather: "1", "147258#", "" or "." (silence), "hangup".
    On hold, keys come from `on_hold` (default: the caller just waits). When the script runs out,
    the caller hangs up."""

    def __init__(self, keys: Iterable[str] = (), on_hold: Iterable[str] = ()) -> None:
        self.keys = list(keys)
        self.on_hold = list(on_hold)
        self.asked: list[GatherInfo] = []

    async def __call__(self, gather: GatherInfo) -> str | None:
        self.asked.append(gather)
        if gather.on_hold:
            return self.on_hold.pop(0) if self.on_hold else None
        if not self.keys:
            return HANGUP
        group = self.keys.pop(0)
        return None if group in ("", ".") else group


class WebhookError(Exception):
    """Our server answered a webhook with an error: Twilio would say "application error" and hang up."""


class _Redirected(Exception):
    pass


class _Ended(Exception):
    def __init__(self, status: str = "completed") -> None:
        self.status = status


@dataclass
class Webhook:
    url: str
    params: dict[str, str]
    status: int
    body: str
    content_type: str = ""


@dataclass
class TwilioCaller:
    """One call as Twilio runs it. `public_url` is what Twilio believes our address is (signatures
    are computed over it); `target_url` is where requests really go (e.g. behind a proxy)."""

    http: aiohttp.ClientSession
    public_url: str
    auth_token: str
    from_: str = "+8613800138000"
    to: str = "+8695588"
    keys: KeySource = field(default_factory=ScriptedKeys)
    far_end: FarEndPolicy = field(default=lambda endpoint: FarEnd())
    target_url: str = ""
    account_sid: str = "AC" + "0" * 32
    api_base: str = "https://api.twilio.com"  # where the RecordingUrl of a recording callback points
    sid: str = field(default_factory=new_sid)
    voice_path: str = "/twilio/voice"
    status_path: str | None = "/twilio/status"
    direction: str = "inbound"
    hold_s: float = 2.0  # real seconds to wait for a REST redirect per pass of the hold music
    max_hold_passes: int = 50
    on_webhook: Callable[[Webhook], None] | None = None

    heard: list[Heard] = field(default_factory=list)
    webhooks: list[Webhook] = field(default_factory=list)
    elapsed_s: float = 0.0
    final_status: str | None = None
    answered: bool = False
    queue_name: str | None = None

    def __post_init__(self) -> None:
        self.public_url = self.public_url.rstrip("/")
        self.target_url = (self.target_url or self.public_url).rstrip("/")
        self._validator = RequestValidator(self.auth_token)
        self._pending: tuple[str | None, str | None] | None = None
        self._redirected = asyncio.Event()
        self.ended = asyncio.Event()

    # --- what tests and softphones look at ------------------------------------------------------

    def said(self) -> list[str]:
        return [h.text for h in self.heard if h.verb == "say"]

    def paths(self) -> list[str]:
        return [w.url.removeprefix(self.public_url).split("?", 1)[0] for w in self.webhooks]

    # --- REST updates (the stand-in's fake API calls this) --------------------------------------

    def redirect(self, *, twiml: str | None = None, url: str | None = None) -> None:
        """calls(sid).update(twiml=... | url=...): run this instead of whatever the call is doing."""
        self._pending = (twiml, url)
        self._redirected.set()

    # --- running the call ----------------------------------------------------------------------

    async def run(self, first_twiml: str | None = None) -> str:
        """Run the call to its end; returns the final CallStatus."""
        try:
            if first_twiml is not None:
                doc, doc_url = first_twiml, self.public_url + self.voice_path
            else:
                doc_url = self.public_url + self.voice_path
                doc = await self.fetch(doc_url, {"CallStatus": "ringing"})
            self.answered = True
            await self._run_documents(doc, doc_url)
            status = "completed"
        except _Ended as end:
            status = end.status
        await self.send_status(status)
        return status

    async def _run_documents(self, doc: str | None, doc_url: str) -> None:
        while doc is not None:
            try:
                doc, doc_url = await self._run(doc, doc_url, on_hold=False)
            except _Redirected:
                doc, doc_url = await self._take_redirect()

    async def _take_redirect(self) -> tuple[str | None, str]:
        assert self._pending is not None
        twiml, url = self._pending
        self._pending = None
        self._redirected.clear()
        if twiml is not None:
            return twiml, self.public_url + self.voice_path
        assert url is not None
        return await self.fetch(url, {}), url

    def _check_redirect(self) -> None:
        if self._pending is not None:
            raise _Redirected

    async def _run(self, doc: str, doc_url: str, *, on_hold: bool) -> tuple[str | None, str]:
        """Run one document. Returns the next document (action, Redirect) or None when the call ends
        (in a wait document: when the document ran out and the hold music loops)."""
        root = ET.fromstring(doc)
        if root.tag != "Response":
            raise WebhookError(f"TwiML root is <{root.tag}>, not <Response>")
        for verb in root:
            self._check_redirect()
            tag = verb.tag
            if tag == "Say":
                self._say(verb)
            elif tag == "Play":
                self.heard.append(Heard("play", verb.text or ""))
            elif tag == "Pause":
                self.heard.append(Heard("pause", verb.get("length", "1")))
                self.elapsed_s += float(verb.get("length", "1"))
            elif tag == "Gather":
                nxt = await self._gather(verb, doc_url, on_hold)
                if nxt is not None:
                    return nxt
            elif tag == "Redirect":
                url = (verb.text or "").strip() or doc_url
                return await self.fetch(url, {}), url
            elif tag == "Hangup" or tag == "Reject":
                raise _Ended("completed" if tag == "Hangup" else "busy")
            elif tag == "Leave" and on_hold:
                raise _Leave
            elif tag == "Enqueue" and not on_hold:
                return await self._enqueue(verb)
            elif tag == "Dial" and not on_hold:
                nxt = await self._dial(verb)
                if nxt is not None:
                    return nxt
            elif tag == "Record":
                await self._record(verb)
            else:
                raise WebhookError(f"<{tag}> is not allowed here (on hold: {on_hold})")
        return None, doc_url

    def _say(self, verb: ET.Element) -> None:
        self.heard.append(Heard("say", verb.text or "", verb.get("language", "")))
        self.elapsed_s += SAY_S

    async def _gather(self, verb: ET.Element, doc_url: str, on_hold: bool) -> tuple[str, str] | None:
        prompts: list[str] = []
        for child in verb:
            if child.tag == "Say":
                self._say(child)
                prompts.append(child.text or "")
            elif child.tag == "Play":
                self.heard.append(Heard("play", child.text or ""))
            elif child.tag == "Pause":
                self.elapsed_s += float(child.get("length", "1"))
            else:
                raise WebhookError(f"<{child.tag}> cannot be nested in <Gather>")
        num_digits_attr = verb.get("numDigits")
        num_digits = int(num_digits_attr) if num_digits_attr else None
        finish = verb.get("finishOnKey", "#")
        timeout = int(verb.get("timeout", "5"))
        secure = parse_qs(urlsplit(verb.get("action") or "").query).get("secure") == ["1"]
        pressed = await self.keys(GatherInfo(num_digits, finish, timeout, tuple(prompts), on_hold, secure))
        self._check_redirect()
        if pressed == HANGUP:
            raise _Ended("completed")
        digits, finished_on = _collect(pressed or "", num_digits, finish)
        if not digits and not finished_on:
            self.elapsed_s += timeout
            if verb.get("actionOnEmptyResult") != "true":
                return None  # Twilio goes on to the next verb
        action = verb.get("action") or doc_url
        params = {"Digits": digits}
        if finished_on:
            params["FinishedOnKey"] = finished_on
        return await self.fetch(action, params), action

    async def _enqueue(self, verb: ET.Element) -> tuple[str | None, str]:
        self.queue_name = (verb.text or "").strip()
        wait_url = verb.get("waitUrl")
        action = verb.get("action")
        queue_sid = new_sid("QU")
        started = self.elapsed_s
        result = "hangup"
        try:
            for _ in range(self.max_hold_passes):
                self._check_redirect()
                params = {"QueueSid": queue_sid, "QueueTime": str(int(self.elapsed_s - started)),
                          "QueuePosition": "1", "CurrentQueueSize": "1", "AvgQueueTime": "0"}
                if wait_url:
                    await self._hold_document(await self.fetch(wait_url, params), wait_url)
                self._check_redirect()
                try:
                    await asyncio.wait_for(self._redirected.wait(), self.hold_s)
                except TimeoutError:
                    self.elapsed_s += 30  # one pass of hold music
            raise _Ended("completed")  # the caller gave up holding
        except _Leave:
            result = "leave"
        except _Ended:
            if action:
                await self.fetch(action, {"QueueResult": result, "QueueSid": queue_sid,
                                          "QueueTime": str(int(self.elapsed_s - started))})
            raise
        finally:
            self.queue_name = None
        if not action:
            return None, ""
        return await self.fetch(action, {"QueueResult": result, "QueueSid": queue_sid,
                                         "QueueTime": str(int(self.elapsed_s - started))}), action

    async def _hold_document(self, doc: str, url: str) -> None:
        """A wait document and the documents its Gather/Redirect lead to, until one ends."""
        nxt: str | None = doc
        while nxt is not None:
            nxt, url = await self._run(nxt, url, on_hold=True)

    async def _dial(self, verb: ET.Element) -> tuple[str, str] | None:
        timeout = int(verb.get("timeout", "30"))
        record = verb.get("record", "do-not-record")
        outcome = FarEnd("failed", 0)
        child_sid = new_sid()
        for noun in verb:
            endpoint = _endpoint(noun)
            outcome = self.far_end(endpoint)
            child_sid = new_sid()
            events = set((noun.get("statusCallbackEvent") or "").split())
            status_url = noun.get("statusCallback")

            async def progress(status: str, duration: int | None = None, *, _events: set[str] = events,
                               _url: str | None = status_url, _child: str = child_sid, _ep: str = endpoint) -> None:
                wanted = {"in-progress": "answered"}.get(status, status)
                if _url and (wanted in _events or (status in _FINAL and "completed" in _events)):
                    params = {"CallSid": _child, "ParentCallSid": self.sid, "CallStatus": status,
                              "To": _ep, "Direction": "outbound-dial", "CallbackSource": "call-progress-events"}
                    if duration is not None:
                        params["CallDuration"] = str(duration)
                    await self.fetch(_url, params, base=False)

            await progress("initiated")
            await progress("ringing")
            if outcome.status == "answered":
                await progress("in-progress")
                self.elapsed_s += outcome.talk_s
                if record.startswith("record-from"):
                    await self._recording_callback(verb.get("recordingStatusCallback"), outcome.talk_s,
                                                   channels=2 if record.endswith("dual") else 1)
                await progress("completed", outcome.talk_s)
                break
            self.elapsed_s += timeout if outcome.status == "no-answer" else 1
            await progress(outcome.status)
        dial_status = "completed" if outcome.status == "answered" else outcome.status
        action = verb.get("action")
        if not action:
            return None
        params = {"DialCallStatus": dial_status, "DialCallSid": child_sid,
                  "DialCallDuration": str(outcome.talk_s if dial_status == "completed" else 0)}
        return await self.fetch(action, params), action

    async def _record(self, verb: ET.Element) -> None:
        self.heard.append(Heard("record", ""))
        length = min(int(verb.get("maxLength", "3600")), 20)
        self.elapsed_s += length
        await self._recording_callback(verb.get("recordingStatusCallback"), length, channels=1)

    async def _recording_callback(self, url: str | None, duration: int, *, channels: int) -> None:
        if not url:
            return
        rec_sid = new_sid("RE")
        await self.fetch(url, {
            "RecordingSid": rec_sid, "RecordingStatus": "completed", "RecordingDuration": str(duration),
            "RecordingChannels": str(channels), "RecordingSource": "DialVerb",
            "RecordingUrl": f"{self.api_base.rstrip('/')}/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{rec_sid}",
        })

    async def send_status(self, status: str) -> None:
        """The status callback; a final status ends the call."""
        if status in _FINAL:
            self.final_status = status
        try:
            if self.status_path is not None:
                params = {"CallStatus": status}
                if status in _FINAL:
                    params["CallDuration"] = str(int(self.elapsed_s))
                await self.fetch(self.public_url + self.status_path, params)
        finally:
            if status in _FINAL:
                self.ended.set()

    # --- HTTP ----------------------------------------------------------------------------------

    async def fetch(self, url: str, extra: dict[str, str], *, base: bool = True) -> str:
        """POST a signed webhook to `url` (a public URL) and return the TwiML answer."""
        params = {"AccountSid": self.account_sid, "ApiVersion": API_VERSION} if not base else {
            "AccountSid": self.account_sid, "CallSid": self.sid, "From": self.from_, "To": self.to,
            "Caller": self.from_, "Called": self.to, "Direction": self.direction, "ApiVersion": API_VERSION,
            "CallStatus": "in-progress"}
        params.update(extra)
        signature = self._validator.compute_signature(url, params)
        async with self.http.post(self._target(url), data=params, headers={SIGNATURE_HEADER: signature},
                                  allow_redirects=False) as response:
            body = await response.text()
            hook = Webhook(url, params, response.status, body, response.content_type)
        self.webhooks.append(hook)
        if self.on_webhook is not None:
            self.on_webhook(hook)
        if response.status >= 400:
            raise WebhookError(f"{url} answered {response.status}: {body.strip()[:200]}")
        return body

    def _target(self, url: str) -> str:
        if not url.startswith(self.public_url):
            raise WebhookError(f"TwiML sent Twilio to {url}, outside our public URL {self.public_url}")
        return self.target_url + url[len(self.public_url):]


class _Leave(Exception):
    pass


_FINAL = {"completed", "no-answer", "busy", "failed", "canceled"}


def _collect(pressed: str, num_digits: int | None, finish: str) -> tuple[str, str]:
    """Keys Twilio would send: up to numDigits, stopping at the finish key (not included)."""
    digits = ""
    for key in pressed:
        if finish and key == finish:
            return digits, key
        digits += key
        if num_digits is not None and len(digits) >= num_digits:
            break
    return digits, ""


def _endpoint(noun: ET.Element) -> str:
    text = (noun.text or "").strip()
    if noun.tag == "Client":
        return "client:" + text
    if noun.tag in ("Sip", "Number"):
        return text
    raise WebhookError(f"<{noun.tag}> cannot be dialled")
