"""`hotline call` against a running server, through real signed webhooks over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy import select

from calls.models import Call
from hotline.db import Database
from hotline.settings import Settings, load_settings
from hotline.softphone import add_arguments, call_server

TRANSFER_100_YUAN = "2 3 6222020000000001# 147258# 1 100# 1 2"  # English, transfer, card, PIN, from, amount, confirm


def softphone_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


async def test_demo_customer_checks_a_balance_with_the_softphone(live_app):
    out = io.StringIO()
    code = await call_server(softphone_args("--keys", "2 1 6222020000000001# 147258# 2"), live_app.settings, out)
    transcript = out.getvalue()
    assert code == 0, transcript
    assert "twelve thousand three hundred forty-five yuan sixty-seven" in transcript
    assert "one thousand five yuan" in transcript
    assert "147258" not in transcript and "6222020000000001" not in transcript
    assert "[call ended: completed]" in transcript


async def test_softphone_without_a_token_explains_what_to_do(settings, capsys):
    code = await call_server(softphone_args("--keys", "1"), settings, io.StringIO())
    assert code == 2
    assert "config/demo.yaml" in capsys.readouterr().err


async def test_scripted_keys_hide_card_and_pin_but_show_menu_keys_and_amounts(live_app):
    out = io.StringIO()
    assert await call_server(softphone_args("--keys", TRANSFER_100_YUAN), live_app.settings, out) == 0
    typed = [line for line in out.getvalue().splitlines() if line.startswith("> ")]
    assert typed == ["> 2", "> 3", "> ****************#", "> ******#", "> 1", "> 100#", "> 1", "> 2"]
    assert "The transfer is done." in out.getvalue()


class _Typist:
    """The person at the terminal: answers each question in turn, noting which were typed hidden."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.hidden: list[tuple[str, bool]] = []

    def can_hide(self) -> bool:
        return True

    async def ask(self, label: str, hidden: bool) -> str | None:
        if not self.lines:
            return None
        line = self.lines.pop(0)
        self.hidden.append((line, hidden))
        return line


async def test_typing_hides_only_the_entries_the_server_marks_secure(live_app):
    typist = _Typist(TRANSFER_100_YUAN.split())
    code = await call_server(softphone_args(), live_app.settings, io.StringIO(), reader=typist)
    assert code == 0
    assert typist.hidden == [("2", False), ("3", False), ("6222020000000001#", True), ("147258#", True),
                             ("1", False), ("100#", False), ("1", False), ("2", False)]


# --- the real `hotline call` process, configured only by the environment the server runs with -------


def _cli_env(env: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}, **env}


@pytest.fixture
async def env_server(demo_db: Database, settings: Settings, unused_tcp_port: int) -> AsyncIterator[dict[str, str]]:
    """A server run from environment variables alone: a non-default port and no HOTLINE_PUBLIC_URL."""
    from hotline.app import create_app

    env = {"HOTLINE_DATABASE_URL": settings.database.url, "HOTLINE_HTTP_PORT": str(unused_tcp_port),
           "HOTLINE_TWILIO_AUTH_TOKEN": "env-only-token", "HOTLINE_AGI_ENABLED": "false",
           "HOTLINE_RECORDINGS_DIR": str(settings.recordings.dir), "HOTLINE_LOGGING_FORMAT": "text"}
    served = load_settings(environ=env)
    runner = web.AppRunner(create_app(served, demo_db), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, served.http.host, served.http.port).start()
    yield env
    await runner.cleanup()


async def test_hotline_call_reaches_the_server_on_its_configured_port_without_flags(env_server):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", "call", "--keys", "2 1 6222020000000001# 147258# 2",
        env=_cli_env(env_server), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-2000:]
    port = env_server["HOTLINE_HTTP_PORT"]
    assert f"[calling http://127.0.0.1:{port} from" in out.decode()
    assert "twelve thousand three hundred forty-five yuan sixty-seven" in out.decode()


async def test_ctrl_c_hangs_up_at_once_and_the_server_hears_the_call_end(env_server, demo_db):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", "call", env=_cli_env(env_server), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        heard = await asyncio.wait_for(process.stdout.readuntil(b"keys> "), timeout=60)  # the first question
        assert "For English, press 2." in heard.decode()
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), timeout=15)  # stdin stays open: no Enter needed
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    out = heard + await process.stdout.read()
    assert code == 130, (await process.stderr.read()).decode()[-2000:]
    assert out.decode().splitlines()[-2:] == ["[you hang up]", "[call ended: completed]"]
    async with demo_db.session() as s:
        call = await s.scalar(select(Call))
    assert call.status == "completed" and call.ended_at is not None
