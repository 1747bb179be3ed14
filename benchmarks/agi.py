"""FastAGI call driving: concurrent calls through a menu, ours vs a bare asyncio AGI server.

Both servers face the same stand-in Asterisk (tests/standins/asterisk.py) over loopback TCP and send
the same command sequence per call; the bare one only writes each command and reads its reply.
Turnaround = time from Asterisk's reply to the server's next command (what the server adds).

    python benchmarks/agi.py [--quick]

Last line: {"p99_turn_ms": ..., "ratio_vs_bare": ...}  (ratio = our commands/s ÷ bare commands/s)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.telephony.asterisk.agi_channel import AgiChannel  # noqa: E402
from hotline.telephony.asterisk.agi_protocol import read_header_block  # noqa: E402
from hotline.telephony.asterisk.agi_server import AgiServer  # noqa: E402
from hotline.telephony.asterisk.agi_session import AgiCallSession  # noqa: E402
from tests.asterisk.doubles import ScriptedIvr  # noqa: E402
from tests.standins.asterisk import FakeAgiCall  # noqa: E402

KEYS = ["1", "6222020000000001#", "147258#"]


async def run_calls(port: int, calls: int, concurrency: int) -> tuple[float, list[float], int]:
    gate = asyncio.Semaphore(concurrency)
    phones: list[FakeAgiCall] = []

    async def one(i: int) -> None:
        async with gate:
            phone = FakeAgiCall(port, keys=list(KEYS), uniqueid=f"1795400000.{i}", channel=f"PJSIP/c-{i:08x}")
            phones.append(phone)
            await phone.run()

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    elapsed = time.perf_counter() - start
    turns = [t for p in phones for t in p.turnarounds[1:]]  # the first is the header → ANSWER
    return elapsed, turns, sum(len(p.commands) for p in phones)


async def ours(calls: int, concurrency: int) -> tuple[float, list[float], int, list[str]]:
    ivr = ScriptedIvr()
    script: list[str] = []

    async def handler(chan: AgiChannel) -> None:
        await AgiCallSession(chan, ivr, None).run()

    server = AgiServer(handler, "127.0.0.1", 0)
    await server.start()
    probe = FakeAgiCall(server.port, keys=list(KEYS))
    await probe.run()
    script.extend(probe.commands)
    result = await run_calls(server.port, calls, concurrency)
    await server.stop()
    return (*result, script)


async def bare(calls: int, concurrency: int, script: list[str]) -> tuple[float, list[float], int]:
    lines = [c.encode() + b"\n" for c in script]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_header_block(reader)
        for line in lines:
            writer.write(line)
            await writer.drain()
            if not await reader.readline():
                break
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    result = await run_calls(server.sockets[0].getsockname()[1], calls, concurrency)
    server.close()
    await server.wait_closed()
    return result


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] * 1000 if len(values) > 1 else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    calls, concurrency = (300, 50) if args.quick else (3000, 200)
    o_time, o_turns, o_cmds, script = await ours(calls, concurrency)
    b_time, b_turns, b_cmds = await bare(calls, concurrency, script)
    o_cps, b_cps = o_cmds / o_time, b_cmds / b_time
    print(f"calls={calls} concurrency={concurrency} commands/call={len(script)}")
    print(f"ours: {o_cps:,.0f} commands/s, p50 turn {statistics.median(o_turns) * 1000:.3f} ms, p99 {p99(o_turns):.3f} ms")
    print(f"bare: {b_cps:,.0f} commands/s, p50 turn {statistics.median(b_turns) * 1000:.3f} ms, p99 {p99(b_turns):.3f} ms")
    print(json.dumps({
        "p99_turn_ms": round(p99(o_turns), 3),
        "bare_p99_turn_ms": round(p99(b_turns), 3),
        "commands_per_s": round(o_cps),
        "bare_commands_per_s": round(b_cps),
        "ratio_vs_bare": round(o_cps / b_cps, 3),
    }))


if __name__ == "__main__":
    asyncio.run(main())
