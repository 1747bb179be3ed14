"""Downloading Twilio recordings over real HTTP from a stand-in: only from the configured API host,
with the account's credentials, no redirect elsewhere, retried with backoff."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hotline.settings import TwilioSettings
from hotline.telephony.twilio.recording_source import TwilioRecordingSource
from recordings.errors import DownloadFailed, SourceRefused
from tests.recordings.conftest import make_wav

SID = "AC" + "0" * 32
RE = "RE" + "a" * 32
TOKEN = "token-of-the-test"


class StandIn:
    """Twilio's recording media endpoint, answering a script of statuses before the file."""

    def __init__(self, wav: bytes) -> None:
        self.wav = wav
        self.requests: list[tuple[str, str, str]] = []
        self.script: list[web.Response] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path, request.headers.get("Authorization", "")))
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401)
        if self.script:
            return self.script.pop(0)
        if request.method == "DELETE":
            return web.Response(status=204)
        return web.Response(body=self.wav, content_type="audio/x-wav")


Server = Callable[[web.Application], Awaitable[Any]]


async def _serve(aiohttp_server: Server, stand_in: StandIn) -> str:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stand_in.handle)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def twilio(aiohttp_server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[StandIn, str]:
    stand_in = StandIn(make_wav(tmp_path_factory.mktemp("twilio") / "source.wav", seconds=1.0).read_bytes())
    return stand_in, await _serve(aiohttp_server, stand_in)


@pytest.fixture
async def internal(aiohttp_server: Server) -> tuple[StandIn, str]:
    """An address inside our network that a forged URL would like us to fetch."""
    stand_in = StandIn(b"internal secrets")
    return stand_in, await _serve(aiohttp_server, stand_in)


def _source(api_base: str, **kwargs: Any) -> TwilioRecordingSource:
    settings = TwilioSettings(account_sid=SID, auth_token=TOKEN, api_base=api_base, rest_retries=2)  # type: ignore[arg-type]
    return TwilioRecordingSource(settings, backoff_s=0.01, **kwargs)


def _url(base: str, account: str = SID, sid: str = RE) -> str:
    return f"{base}/2010-04-01/Accounts/{account}/Recordings/{sid}"


async def test_a_recording_is_downloaded_as_wav_with_the_account_credentials(twilio, tmp_path: Path):
    stand_in, base = twilio
    source = _source(base)
    try:
        [path] = await source.fetch(_url(base), tmp_path)
    finally:
        await source.close()
    assert path == tmp_path / f"{RE}.wav" and path.read_bytes() == stand_in.wav
    assert [(m, p) for m, p, _ in stand_in.requests] == [("GET", f"/2010-04-01/Accounts/{SID}/Recordings/{RE}.wav")]


@pytest.mark.parametrize("forge", [
    lambda twilio, internal: _url(internal),  # another host:port
    lambda twilio, internal: _url(twilio.replace("http://", "https://")),  # another scheme
    lambda twilio, internal: _url(twilio, account="AC" + "1" * 32),  # another account
    lambda twilio, internal: _url(twilio, sid="../../../../admin"),
    lambda twilio, internal: f"{twilio}/internal/metadata",
    lambda twilio, internal: _url(twilio.replace("http://", f"http://{SID}:x@")),
    lambda twilio, internal: "http://169.254.169.254/latest/meta-data/",
    lambda twilio, internal: "not a url",
])
async def test_a_forged_recording_url_is_refused_without_fetching_anything(twilio, internal, tmp_path: Path, forge):
    (stand_in, base), (inside, inside_base) = twilio, internal
    source = _source(base)
    try:
        with pytest.raises(SourceRefused):
            await source.fetch(forge(base, inside_base), tmp_path)
    finally:
        await source.close()
    assert stand_in.requests == [] and inside.requests == [] and os.listdir(tmp_path) == []


async def test_a_redirect_to_another_host_is_refused_and_one_on_the_same_host_followed(twilio, internal,
                                                                                        tmp_path: Path):
    (stand_in, base), (inside, inside_base) = twilio, internal
    stand_in.script = [web.Response(status=302, headers={"Location": f"{inside_base}/steal"})]
    source = _source(base)
    try:
        with pytest.raises(SourceRefused, match="redirect to another host refused"):
            await source.fetch(_url(base), tmp_path)
        assert inside.requests == []
        stand_in.script = [web.Response(status=307, headers={"Location": "/media/moved.wav"})]
        [path] = await source.fetch(_url(base), tmp_path)
    finally:
        await source.close()
    assert path.read_bytes() == stand_in.wav and stand_in.requests[-1][1] == "/media/moved.wav"


async def test_server_errors_and_rate_limits_are_retried_then_reported(twilio, tmp_path: Path):
    stand_in, base = twilio
    stand_in.script = [web.Response(status=503), web.Response(status=429)]
    source = _source(base)
    try:
        [path] = await source.fetch(_url(base), tmp_path)
        assert path.read_bytes() == stand_in.wav and len(stand_in.requests) == 3
        stand_in.script = [web.Response(status=500) for _ in range(3)]
        with pytest.raises(DownloadFailed, match=r"HTTP 500 \(after 3 attempts\)"):
            await source.fetch(_url(base), tmp_path)
        stand_in.script = [web.Response(status=404)]
        with pytest.raises(DownloadFailed, match="HTTP 404"):
            await source.fetch(_url(base), tmp_path)
    finally:
        await source.close()


async def test_twilios_copy_is_deleted_only_when_configured(twilio):
    stand_in, base = twilio
    keep, delete = _source(base), _source(base, delete_at_source=True)
    try:
        await keep.discard(_url(base))
        assert stand_in.requests == []
        await delete.discard(_url(base))
    finally:
        await keep.close()
        await delete.close()
    assert [(m, p) for m, p, _ in stand_in.requests] == [("DELETE", f"/2010-04-01/Accounts/{SID}/Recordings/{RE}.json")]


async def test_without_an_account_nothing_is_fetched(twilio, tmp_path: Path):
    stand_in, base = twilio
    source = TwilioRecordingSource(TwilioSettings(api_base=base))
    with pytest.raises(SourceRefused, match="account_sid is empty"):
        await source.fetch(_url(base), tmp_path)
    assert stand_in.requests == []


async def test_a_twilio_recording_is_archived_and_only_then_deleted_at_twilio(twilio, rig):
    from sqlalchemy import select

    from recordings.ingest import enqueue
    from recordings.models import ArchivedFile
    from recordings.states import JobStatus, SourceKind
    from tests.recordings.conftest import add_recording

    stand_in, base = twilio
    _, recording_id = await add_recording(rig.db)
    async with rig.db.session() as s:
        await enqueue(s, recording_id, SourceKind.TWILIO, _url(base))
    source = _source(base, delete_at_source=True)
    archived_when_deleted = []
    original_discard = source.discard

    async def discard(ref: str) -> None:
        async with rig.db.session() as s:
            archived_when_deleted.append(await s.scalar(select(ArchivedFile.sha256)))
        await original_discard(ref)

    source.discard = discard  # type: ignore[method-assign]
    try:
        outcome = await rig.worker({SourceKind.TWILIO: source}).run_once()
    finally:
        await source.close()
    assert outcome is not None and outcome.status == JobStatus.DONE
    assert [m for m, _, _ in stand_in.requests] == ["GET", "DELETE"]
    assert archived_when_deleted[0] is not None  # the archive row was committed before Twilio's copy went
