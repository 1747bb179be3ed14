"""Seconds to compute a week's report: a generated week of 100,000 calls (--quick: 10,000).

The week (tests/reports/week.py: agents' shifts, queues, abandons, callbacks, self-service calls,
surveys; about 4.6 routing events, 2.2 call facts and 5.4 menu steps per call) is written straight into a
fresh SQLite database, or into PostgreSQL with --database-url (or HOTLINE_TEST_DATABASE_URL): a
scratch database, whose tables are dropped and made again. Then `reports.figures.compute` runs for
the ISO week, best of three. The baseline, in the same process: one plain scan of the week's routing
events (count and sum), the least any report must read. Goal: under 5 s for 100,000 calls.

Run from the repository root:  python benchmarks/reports.py [--quick] [--database-url URL]
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from acd.config import load_acd_config  # noqa: E402
from acd.models import RoutingEvent  # noqa: E402
from hotline.db import Database  # noqa: E402
from hotline.schema import metadata  # noqa: E402
from reports import figures, periods  # noqa: E402
from tests.reports import week as generated  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


async def run(url: str, calls: int) -> dict[str, float | int]:
    per_day = calls // 7
    started = time.perf_counter()
    week = generated.generate(calls_per_day=per_day, seed=1, agents=max(3, per_day // 240))
    print(f"generated {len(week.calls):,} calls, {len(week.routing):,} routing events, "
          f"{len(week.call_events):,} call facts, {len(week.steps):,} menu steps "
          f"in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
        started = time.perf_counter()
        await generated.write(db, week)
        print(f"written in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        config = load_acd_config(ROOT / "config" / "acd" / "queues.yaml")
        period = periods.week(generated.WEEK, config.zone)
        scans, runs = [], []
        for _ in range(3):
            started = time.perf_counter()
            async with db.session() as s:
                await s.execute(select(func.count(), func.sum(RoutingEvent.wait_s))
                                .where(RoutingEvent.at >= period.start, RoutingEvent.at < period.end))
            scans.append(time.perf_counter() - started)
            started = time.perf_counter()
            report = await figures.compute(db, config, period)
            runs.append(time.perf_counter() - started)
        print(f"report: {report.calls.total:,} calls, {report.total.offered:,} offered, answer rate "
              f"{report.total.answer_rate:.1%}, {len(report.staffing)} staffing slots; best of 3: "
              f"{min(runs):.2f} s (runs {', '.join(f'{r:.2f}' for r in runs)}); baseline scan {min(scans):.3f} s; "
              f"ratio {min(runs) / min(scans):.1f}x", file=sys.stderr)
        return {"seconds": round(min(runs), 3), "calls": report.calls.total}
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 calls instead of 100,000")
    parser.add_argument("--database-url", default=os.environ.get("HOTLINE_TEST_DATABASE_URL", ""),
                        help="a scratch PostgreSQL database (its tables are dropped); default: a temporary SQLite file")
    args = parser.parse_args()
    calls = 10_000 if args.quick else 100_000
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'reports.db'}"
        result = asyncio.run(run(url, calls))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
