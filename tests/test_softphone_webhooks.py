"""`hotline call` against a running server, through real signed webhooks over HTTP."""

from __future__ import annotations

import argparse
import io

from aiohttp import web

from hotline.app import create_app
from hotline.settings import load_settings
from hotline.softphone import add_arguments, call_server


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


async def test_demo_customer_checks_a_balance_with_the_softphone(demo_db, settings, unused_tcp_port):
    env = {"HOTLINE_DATABASE_URL": settings.database.url, "HOTLINE_TWILIO_AUTH_TOKEN": "softphone-test-token",
           "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{unused_tcp_port}", "HOTLINE_AGI_ENABLED": "false",
           "HOTLINE_HTTP_PORT": str(unused_tcp_port)}
    served = load_settings(environ=env)
    runner = web.AppRunner(create_app(served, demo_db), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    out = io.StringIO()
    try:
        code = await call_server(_args("--keys", "2 1 6222020000000001# 147258# 2"), served, out)
    finally:
        await runner.cleanup()
    transcript = out.getvalue()
    assert code == 0, transcript
    assert "twelve thousand three hundred forty-five yuan sixty-seven" in transcript
    assert "one thousand five yuan" in transcript
    assert "147258" not in transcript and "6222020000000001" not in transcript
    assert "[call ended: completed]" in transcript


async def test_softphone_without_a_token_explains_what_to_do(settings, capsys):
    code = await call_server(_args("--keys", "1"), settings, io.StringIO())
    assert code == 2
    assert "config/demo.yaml" in capsys.readouterr().err
