"""`hotline call` against a running server, through real signed webhooks over HTTP."""

from __future__ import annotations

import argparse
import io

from hotline.softphone import add_arguments, call_server


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
