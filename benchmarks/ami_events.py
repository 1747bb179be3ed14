"""AMI events ingested per second: our AmiClient (panoramisk Manager + byte buffering + dispatch)
vs a bare asyncio reader that splits messages and parses headers, on the same byte stream.

The stand-in AMI server sends N DeviceStateChange events in one burst over loopback TCP.

    python benchmarks/ami_events.py [--quick]

Last line: {"events_per_s": ..., "ratio_vs_bare": ...}  (ratio = ours ÷ bare)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.telephony.asterisk.ami import AmiClient  # noqa: E402
from tests.standins.asterisk import FakeAmiServer, ami_message  # noqa: E402


def burst(count: int) -> bytes:
    return b"".join(
        ami_message(("Event", "DeviceStateChange"), ("Privilege", "call,all"), ("Device", f"PJSIP/agent{i % 50}"),
                    ("State", "NOT_INUSE" if i % 2 else "INUSE"))
        for i in range(count)
    )


async def ours(server: FakeAmiServer, blob: bytes, count: int) -> float:
    done = asyncio.Event()
    seen = 0

    def on_event(message: object) -> None:
        nonlocal seen
        seen += 1
        if seen == count:
            done.set()

    client = AmiClient("127.0.0.1", server.port, "hotline", "s3cret")
    client.on("DeviceStateChange", on_event)
    await client.start()
    await client.wait_logged_in()
    start = time.perf_counter()
    for session in server.sessions:
        session.writer.write(blob)
    await done.wait()
    elapsed = time.perf_counter() - start
    await client.stop()
    return count / elapsed


async def bare(server: FakeAmiServer, blob: bytes, count: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    await reader.readuntil(b"\r\n")
    writer.write(b"Action: Login\r\nUsername: hotline\r\nSecret: s3cret\r\n\r\n")
    await reader.readuntil(b"Status: Fully Booted\r\n\r\n")
    start = time.perf_counter()
    for session in server.sessions:
        session.writer.write(blob)
    seen = 0
    while seen < count:
        raw = await reader.readuntil(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in raw.decode("utf-8").split("\r\n") if ": " in line)
        if fields.get("Event") == "DeviceStateChange":
            seen += 1
    elapsed = time.perf_counter() - start
    writer.close()
    return count / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 50_000 if args.quick else 500_000
    blob = burst(count)
    server = FakeAmiServer()
    await server.start()
    ours_rate = await ours(server, blob, count)
    await server.restart()
    bare_rate = await bare(server, blob, count)
    await server.stop()
    print(f"events={count} ({len(blob) / count:.0f} bytes each)")
    print(f"ours: {ours_rate:,.0f} events/s   bare asyncio reader: {bare_rate:,.0f} events/s")
    print(json.dumps({"events_per_s": round(ours_rate), "bare_events_per_s": round(bare_rate),
                      "ratio_vs_bare": round(ours_rate / bare_rate, 3)}))


if __name__ == "__main__":
    asyncio.run(main())
