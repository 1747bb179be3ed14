"""Twilio, as far as Hotline can tell: a fake REST API over real HTTP and callers walking our TwiML.

    twilio = TwilioStandIn(public_url="https://hotline.example.com", auth_token=TOKEN,
                           account_sid=SID, far_end={"client:agent1": FarEnd("no-answer")})
    api_base = await twilio.start()          # point settings.twilio.api_base here
    twilio.target_url = str(server.make_url(""))   # where the app really listens (behind the "proxy")
    caller = await twilio.call(["1", "6222020000000001#", "147258#"])   # walks until hang-up
    caller.said(), caller.paths(), twilio.requests, twilio.outbound
    await twilio.close()

Webhooks are signed exactly as Twilio signs them (RequestValidator.compute_signature over the
public URL and the posted form). The REST API answers calls.create (a new outbound call is walked in
the background: the agent's endpoint answers or not per `far_end`, then the TwiML dials the
customer) and calls(sid).update (the live caller leaves what it is doing and runs the new TwiML).
Every REST request is recorded; `fail(status, times)` and `stall(times)` inject failures.
Recordings: the callbacks' RecordingUrl points here, and `GET …/Recordings/RE….wav` serves a real
stereo WAV rendered by ffmpeg (a tone per channel, `recording_s` long), as Twilio serves the media.
Used by tests/twilio and by browser tests of the agent desktop and the softphone.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from hotline.twilio_walker import (
    FarEnd,
    FarEndPolicy,
    KeySource,
    ScriptedKeys,
    TwilioCaller,
)

__all__ = ["FarEnd", "RestRequest", "ScriptedKeys", "TwilioCaller", "TwilioStandIn"]

TEST_ACCOUNT_SID = "AC" + "1" * 32
TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"


@dataclass(frozen=True)
class RestRequest:
    method: str
    path: str
    form: dict[str, list[str]]
    status: int  # 0: never answered (stalled)
    at: float = 0.0  # loop time the request arrived

    def first(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class TwilioStandIn:
    public_url: str
    auth_token: str = TEST_AUTH_TOKEN
    account_sid: str = TEST_ACCOUNT_SID
    target_url: str = ""  # where webhooks really go; defaults to public_url
    far_end: FarEndPolicy | Mapping[str, FarEnd] = field(default_factory=dict)
    hold_s: float = 2.0
    recording_s: float = 3.0

    requests: list[RestRequest] = field(default_factory=list)
    callers: dict[str, TwilioCaller] = field(default_factory=dict)
    outbound: list[TwilioCaller] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._failures: list[int] = []  # statuses to answer the next REST requests with
        self._stalls = 0
        self._released = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.api_base = ""
        self._wav: bytes | None = None
        self.rest_seen = asyncio.Condition()

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve the fake REST API on 127.0.0.1; returns its base URL (for settings.twilio.api_base)."""
        app = web.Application()
        prefix = "/2010-04-01/Accounts/{account}/Calls"
        app.router.add_post(prefix + ".json", self._create)
        app.router.add_post(prefix + "/{sid}.json", self._update)
        app.router.add_get("/2010-04-01/Accounts/{account}/Recordings/{sid}.wav", self._recording_media)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.api_base = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession()
        return self.api_base

    async def close(self) -> None:
        self._released.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- failure injection ---------------------------------------------------------------------

    def fail(self, status: int, times: int = 1) -> None:
        """Answer the next `times` REST requests with HTTP `status` (a Twilio JSON error)."""
        self._failures.extend([status] * times)

    def stall(self, times: int = 1) -> None:
        """Never answer the next `times` REST requests (until close): the client must time out."""
        self._stalls += times

    # --- callers -------------------------------------------------------------------------------

    def caller(self, keys: Iterable[str] | KeySource = (), *, on_hold: Iterable[str] = (),
               from_: str = "+8613800138000", to: str = "+8695588") -> TwilioCaller:
        """A caller ready to dial in (`await caller.run()`); REST updates of its CallSid reach it."""
        source = keys if callable(keys) else ScriptedKeys(keys, on_hold)
        caller = TwilioCaller(self._session(), self.public_url, self.auth_token, from_=from_, to=to,
                              keys=source, far_end=self._far_end, target_url=self.target_url,
                              account_sid=self.account_sid, hold_s=self.hold_s, api_base=self.api_base)
        self.callers[caller.sid] = caller
        return caller

    async def call(self, keys: Iterable[str] | KeySource = (), **kwargs: object) -> TwilioCaller:
        caller = self.caller(keys, **kwargs)  # type: ignore[arg-type]
        await caller.run()
        return caller

    async def settle(self) -> None:
        """Wait until every outbound call the REST API started has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def wait_rest(self, count: int) -> None:
        """Wait until at least `count` REST requests were received."""
        async with self.rest_seen:
            await self.rest_seen.wait_for(lambda: len(self.requests) >= count)

    def _far_end(self, endpoint: str) -> FarEnd:
        if callable(self.far_end):
            return self.far_end(endpoint)
        return self.far_end.get(endpoint, FarEnd())

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("TwilioStandIn.start() first")
        return self._http

    # --- REST API ------------------------------------------------------------------------------

    async def _record(self, request: web.Request, status: int) -> dict[str, list[str]]:
        form = await request.post()
        data: dict[str, list[str]] = {}
        for key, value in form.items():
            data.setdefault(key, []).append(str(value))
        self.requests.append(RestRequest(request.method, request.path, data, status,
                                         asyncio.get_running_loop().time()))
        async with self.rest_seen:
            self.rest_seen.notify_all()
        return data

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}" and \
            request.match_info["account"] == self.account_sid

    async def _gate(self, request: web.Request) -> web.Response | None:
        """Authentication and injected failures, in the order Twilio's edge would apply them."""
        if not self._authorised(request):
            await self._record(request, 401)
            return _error(401, 20003, "Authenticate")
        if self._stalls:
            self._stalls -= 1
            await self._record(request, 0)
            await self._released.wait()
            return _error(503, 20500, "stalled")
        if self._failures:
            status = self._failures.pop(0)
            await self._record(request, status)
            return _error(status, 20500 if status >= 500 else 21220, "injected failure")
        return None

    async def _create(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        form = await self._record(request, 201)
        to, from_ = _one(form, "To"), _one(form, "From")
        twiml, status_callback = _one(form, "Twiml"), _one(form, "StatusCallback")
        if not to or not (twiml or _one(form, "Url")):
            return _error(400, 21201, "To and Twiml or Url are required")
        caller = TwilioCaller(self._session(), self.public_url, self.auth_token, from_=from_ or "", to=to,
                              keys=ScriptedKeys(), far_end=self._far_end, target_url=self.target_url,
                              account_sid=self.account_sid, direction="outbound-api", hold_s=self.hold_s,
                              api_base=self.api_base,
                              status_path=status_callback.removeprefix(self.public_url) if status_callback else None)
        self.callers[caller.sid] = caller
        self.outbound.append(caller)
        self._spawn(self._run_outbound(caller, twiml or "", set(form.get("StatusCallbackEvent", []))))
        return web.json_response(_call_json(self.account_sid, caller, "queued"), status=201)

    async def _run_outbound(self, caller: TwilioCaller, twiml: str, events: set[str]) -> None:
        """The called party (an agent's endpoint) answers or not; then the TwiML runs."""
        if "initiated" in events:
            await caller.send_status("initiated")
        if "ringing" in events:
            await caller.send_status("ringing")
        outcome = self._far_end(caller.to)
        if outcome.status != "answered":
            await caller.send_status(outcome.status)
            return
        if "answered" in events:
            await caller.send_status("in-progress")
        await caller.run(first_twiml=twiml)

    async def _update(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        sid = request.match_info["sid"]
        caller = self.callers.get(sid)
        if caller is None or caller.ended.is_set():
            await self._record(request, 404)
            return _error(404, 20404, f"The requested resource /Calls/{sid}.json was not found")
        form = await self._record(request, 200)
        twiml, url = _one(form, "Twiml"), _one(form, "Url")
        if not (twiml or url):
            return _error(400, 21201, "Twiml or Url is required")
        caller.redirect(twiml=twiml, url=url)
        return web.json_response(_call_json(self.account_sid, caller, "in-progress"))

    async def _recording_media(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        await self._record(request, 200)
        if self._wav is None:
            self._wav = await _render_wav(self.recording_s)
        return web.Response(body=self._wav, content_type="audio/x-wav")

    def _spawn(self, work: object) -> None:
        task = asyncio.get_running_loop().create_task(work)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _render_wav(seconds: float) -> bytes:
    """A dual-channel recording as Twilio makes it: 8 kHz 16-bit PCM, agent left, caller right."""
    from recordings.transcode import ffmpeg_exe

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recording.wav"
        proc = await asyncio.create_subprocess_exec(
            ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f=440:r=8000:d={seconds}",
            "-f", "lavfi", "-i", f"sine=f=660:r=8000:d={seconds}",
            "-filter_complex", "[0:a][1:a]join=inputs=2:channel_layout=stereo", "-c:a", "pcm_s16le", str(path))
        await proc.wait()
        return path.read_bytes()


def _one(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "more_info": "", "status": status},
                             status=status)


def _call_json(account_sid: str, caller: TwilioCaller, status: str) -> dict[str, object]:
    return {"sid": caller.sid, "account_sid": account_sid, "to": caller.to, "from": caller.from_,
            "status": status, "direction": caller.direction, "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{caller.sid}.json"}
