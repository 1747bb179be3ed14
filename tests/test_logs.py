import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from hotline.logs import MASK, JsonFormatter, RedactingFilter, install_redaction, mark_secret
from hotline.settings import load_settings
from hotline.twilio_walker import ScriptedKeys, TwilioCaller


def _capture() -> tuple[logging.Logger, list[str]]:
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [ListHandler()]
    logger.handlers[0].setFormatter(JsonFormatter())
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    install_redaction(logger)
    return logger, lines


def test_marked_secrets_never_reach_a_log_line():
    logger, lines = _capture()
    mark_secret("907153")
    logger.info("caller entered %s", "907153")
    logger.info("pin=%s", "x", extra={"digits": "pin 907153"})
    try:
        raise ValueError("bad pin 907153")
    except ValueError:
        logger.exception("failed")
    text = "\n".join(lines)
    assert "907153" not in text and text.count(MASK) >= 3
    assert json.loads(lines[1])["digits"] == f"pin {MASK}"


def test_card_numbers_are_masked_without_being_marked():
    logger, lines = _capture()
    logger.warning("card 6222020000000009 from +8613800138000 sid CA1234567890123456789012345678ab")
    assert lines[0].count(MASK) == 1
    assert "+8613800138000" in lines[0] and "CA1234567890123456789012345678ab" in lines[0]


def test_short_values_are_not_marked():
    filt = RedactingFilter()
    mark_secret("12")
    record = logging.LogRecord("x", logging.INFO, "", 0, "queue 12 position 1", None, None)
    filt.filter(record)
    assert record.getMessage() == "queue 12 position 1"


async def test_the_twilio_bridge_marks_digits_of_secure_gathers(live_app):
    """A PIN typed into a secure gather is masked in any log line that later quotes it by mistake."""
    import io

    from hotline.logs import redact
    from hotline.softphone import call_server
    from tests.test_softphone_webhooks import softphone_args

    wrong_pin = "591736"  # used by no other test: the registry of marked secrets is process-wide
    assert redact(f"pin {wrong_pin}") == f"pin {wrong_pin}"  # nothing marked it yet
    keys = f"2 1 6222020000000001# {wrong_pin}# 147258# 2"
    code = await call_server(softphone_args("--keys", keys), live_app.settings, io.StringIO())
    assert code == 0
    assert redact(f"pin {wrong_pin}") == f"pin {MASK}"
    assert redact("menu 1") == "menu 1"  # menu keys are not secrets


# --- one line per HTTP request, one per call start and end ------------------------------------------

CARD, PIN = "6222020000000001", "147258"


@dataclass
class Served:
    url: str
    runner: web.AppRunner
    stopped: bool = False

    async def stop(self) -> None:
        """Once stopped, every request has finished and written its access line."""
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()


@pytest.fixture
async def served(demo_db, settings, unused_tcp_port):
    """The app run the way `hotline serve` runs it (hotline.cli.app_runner)."""
    from hotline.app import create_app
    from hotline.cli import app_runner

    url = f"http://127.0.0.1:{unused_tcp_port}"
    config = load_settings(environ={
        "HOTLINE_DATABASE_URL": settings.database.url, "HOTLINE_TWILIO_AUTH_TOKEN": "access-log-token",
        "HOTLINE_HTTP_PORT": str(unused_tcp_port), "HOTLINE_AGI_ENABLED": "false",
        "HOTLINE_RECORDINGS_DIR": str(settings.recordings.dir)})
    runner = app_runner(create_app(config, demo_db))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    server = Served(url, runner)
    try:
        yield server
    finally:
        await server.stop()


async def _balance_call(url: str) -> TwilioCaller:
    async with aiohttp.ClientSession() as http:
        caller = TwilioCaller(http, url, "access-log-token", keys=ScriptedKeys(["2", "1", f"{CARD}#", f"{PIN}#", "2"]))
        assert await caller.run() == "completed"
    return caller


async def test_each_request_writes_one_access_line_without_query_or_form(served, caplog):
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as http, \
            http.get(f"{served.url}/healthz?token=s3cret-in-a-query") as response:
        assert response.status == 200
    caller = await _balance_call(served.url)
    await served.stop()
    access = [record for record in caplog.records if record.name == "hotline.access"]
    assert [(r.method, r.path, r.status) for r in access] == [("GET", "/healthz", 200)] + [
        ("POST", urlsplit(hook.url).path, hook.status) for hook in caller.webhooks]
    assert not [record for record in caplog.records if record.name == "aiohttp.access"]
    lines = [JsonFormatter().format(record) for record in access]
    entry = json.loads(lines[0])
    assert entry["msg"] == "GET /healthz 200" and entry["duration_ms"] >= 0
    for secret in ("s3cret-in-a-query", CARD, PIN, "Digits", "?"):
        assert secret not in "\n".join(lines)


async def test_a_call_writes_one_line_when_it_starts_and_one_when_it_ends(served, caplog):
    caplog.set_level(logging.INFO)
    await _balance_call(served.url)
    await served.stop()
    calls = [record for record in caplog.records if record.getMessage() in ("call started", "call ended")]
    assert [record.getMessage() for record in calls] == ["call started", "call ended"]
    assert calls[0].call_id == calls[1].call_id and calls[0].channel == "twilio"
    text = "\n".join(JsonFormatter().format(record) for record in calls)
    assert CARD not in text and PIN not in text
