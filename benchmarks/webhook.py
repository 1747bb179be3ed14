"""Twilio webhook throughput and latency at 200 concurrent calls, next to a bare aiohttp handler.

    python benchmarks/webhook.py [--quick] [--calls 200] [--turns 20] [--db-url URL]

Each simulated call posts signed webhooks exactly as Twilio does: /twilio/voice (the IVR starts,
the call row is written), then one /twilio/gather per key press through the real IVR on the demo
data (language, then "repeat the menu" over and over: each turn is an IVR step written to the
database), then the final status callback. The baseline is an aiohttp handler in the same process
that reads the same form and answers a fixed TwiML document, driven by the same client at the same
concurrency. The figure to report is ratio_vs_bare (bridge answers/s over bare answers/s).
A second reference runs the same flow straight into IvrService (no HTTP, no bridge): the database
bound that any bridge shares. Last line: {"rps": ..., "p50_ms": ..., "p99_ms": ..., "bare_rps": ..., "bare_p99_ms": ..., "ratio_vs_bare": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.db import Database  # noqa: E402
from hotline.demo import load_demo  # noqa: E402
from hotline.schema import metadata  # noqa: E402
from hotline.settings import PublicSettings, TwilioSettings, load_settings  # noqa: E402
from hotline.telephony import twilio  # noqa: E402
from hotline.web.keys import DB, IVR, SETTINGS  # noqa: E402
from ivr.actions import Gather  # noqa: E402
from ivr.events import CallStarted, Digits  # noqa: E402
from ivr.service import IvrService  # noqa: E402

PUBLIC = "https://hotline.example.com"
TOKEN = "benchmark-auth-token"
TURN = re.compile(r"turn=(\d+)")
BARE_TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="' + PUBLIC +
              '/twilio/gather?turn=1" actionOnEmptyResult="true" finishOnKey="" input="dtmf" numDigits="1" '
              'timeout="5"><Say language="zh-CN">查询余额请按1</Say></Gather></Response>')


async def bare(request: web.Request) -> web.Response:
    await request.post()
    return web.Response(text=BARE_TWIML, content_type="text/xml")


class Client:
    def __init__(self, http: aiohttp.ClientSession, target: str) -> None:
        self.http, self.target = http, target
        self.validator = RequestValidator(TOKEN)
        self.latencies: list[float] = []
        self.errors: dict[int, int] = {}

    async def post(self, path: str, form: dict[str, str]) -> str:
        """The answer, or "" after an error status (counted; Twilio would play its error message)."""
        signature = self.validator.compute_signature(PUBLIC + path, form)
        started = time.perf_counter()
        async with self.http.post(self.target + path, data=form, headers={"X-Twilio-Signature": signature}) as r:
            body = await r.text()
        self.latencies.append(time.perf_counter() - started)
        if r.status >= 400:
            self.errors[r.status] = self.errors.get(r.status, 0) + 1
            return ""
        return body


async def one_call(client: Client, turns: int, bare_path: str | None) -> None:
    sid = "CA" + secrets.token_hex(16)
    base = {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "From": "+8613800138000", "To": "+8695588",
            "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    if bare_path is not None:
        for _ in range(turns + 2):
            await client.post(bare_path, base)
        return
    answer = await client.post("/twilio/voice", {**base, "CallStatus": "ringing"})
    for index in range(turns):
        match = TURN.search(answer)
        if match is None:
            break
        key = "1" if index == 0 else "*"  # Mandarin, then "repeat the menu"
        answer = await client.post(f"/twilio/gather?turn={match.group(1)}", {**base, "Digits": key})
    await client.post("/twilio/status", {**base, "CallStatus": "completed", "CallDuration": "60"})


async def ivr_direct(ivr: IvrService, calls: int, turns: int, rounds: int) -> tuple[float, int]:
    """The same call flow straight into IvrService (no HTTP, no bridge): what the database allows."""
    count = 0

    async def one() -> None:
        nonlocal count
        turn = await ivr.start_call("twilio", "CA" + secrets.token_hex(16), CallStarted("+8613800138000", "+8695588"))
        count += 1
        for index in range(turns):
            actions = await ivr.handle(turn.call_id, Digits("1" if index == 0 else "*"))
            count += 1
            if not isinstance(actions[-1], Gather):
                break
        await ivr.hangup(turn.call_id, "hangup")
        count += 1

    started = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(one() for _ in range(calls)))
    return time.perf_counter() - started, count


async def load(target: str, calls: int, turns: int, rounds: int, bare_path: str | None) -> tuple[float, Client]:
    connector = aiohttp.TCPConnector(limit=calls)
    async with aiohttp.ClientSession(connector=connector) as http:
        client = Client(http, target)
        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(one_call(client, turns, bare_path) for _ in range(calls)))
        return time.perf_counter() - started, client


def summary(elapsed: float, client: Client) -> dict[str, float]:
    ordered = sorted(client.latencies)
    return {"rps": len(ordered) / elapsed, "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, "requests": len(ordered),
            "errors": sum(client.errors.values())}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (well under a minute)")
    parser.add_argument("--calls", type=int, default=200, help="concurrent calls")
    parser.add_argument("--turns", type=int, default=None, help="key presses per call")
    parser.add_argument("--rounds", type=int, default=None, help="waves of concurrent calls")
    parser.add_argument("--db-url", default=None, help="database (default: a fresh SQLite file)")
    args = parser.parse_args()
    turns = args.turns or (3 if args.quick else 20)
    rounds = args.rounds or (1 if args.quick else 3)
    logging.basicConfig(level=logging.CRITICAL)  # server-side errors are counted, not printed

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        settings = load_settings(environ={"HOTLINE_DATABASE_URL": url})
        settings = settings.model_copy(update={"public": PublicSettings(url=PUBLIC),
                                               "twilio": TwilioSettings(auth_token=SecretStr(TOKEN))})
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
        await load_demo(db, settings)

        app = web.Application()
        app[SETTINGS], app[DB], app[IVR] = settings, db, IvrService(settings, db)
        twilio.setup(app)
        app.router.add_post("/bare", bare)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        target = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        try:
            await load(target, min(20, args.calls), 2, 1, None)  # warm-up: imports, pools, caches
            bare_elapsed, bare_client = await load(target, args.calls, turns, rounds, "/bare")
            elapsed, client = await load(target, args.calls, turns, rounds, None)
            direct_elapsed, direct_count = await ivr_direct(app[IVR], args.calls, turns, rounds)
        finally:
            await runner.cleanup()
            await db.dispose()

    ours, base = summary(elapsed, client), summary(bare_elapsed, bare_client)
    print(f"bridge: {ours['requests']} webhooks, {ours['rps']:.0f}/s, p50 {ours['p50_ms']:.1f} ms, "
          f"p99 {ours['p99_ms']:.1f} ms, {ours['errors']} errors {client.errors} "
          f"({args.calls} concurrent calls, {url.split(':')[0]})", file=sys.stderr)
    print(f"bare:   {base['requests']} answers, {base['rps']:.0f}/s, p50 {base['p50_ms']:.1f} ms, "
          f"p99 {base['p99_ms']:.1f} ms", file=sys.stderr)
    direct_rps = direct_count / direct_elapsed
    print(f"IVR called directly (no HTTP, no bridge): {direct_count} steps, {direct_rps:.0f}/s", file=sys.stderr)
    print(json.dumps({"rps": round(ours["rps"], 1), "p50_ms": round(ours["p50_ms"], 2),
                      "p99_ms": round(ours["p99_ms"], 2), "bare_rps": round(base["rps"], 1),
                      "bare_p50_ms": round(base["p50_ms"], 2), "bare_p99_ms": round(base["p99_ms"], 2),
                      "ratio_vs_bare": round(ours["rps"] / base["rps"], 3), "ivr_direct_rps": round(direct_rps, 1),
                      "ratio_vs_ivr_direct": round(ours["rps"] / direct_rps, 3), "concurrency": args.calls,
                      "requests": ours["requests"], "errors": ours["errors"],
                      "database": url.split(":")[0]}))


if __name__ == "__main__":
    asyncio.run(main())
