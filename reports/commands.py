"""`hotline report weekly --week 2026-W48 --format xlsx|csv --out FILE`: what the CLI runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from acd.config import load_for
from hotline.db import Database
from hotline.settings import Settings
from reports import export, figures, periods
from reports.errors import ReportError, UnknownFormat


async def report(settings: Settings, kind: str, text: str, fmt: str, out: Path, *,
                 stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    """Compute the report of one period and write it; 2 with one line on stderr when anything is wrong."""
    config = load_for(settings)  # a broken queue file: SettingsError, reported by the CLI
    try:
        period = periods.parse(kind, text, config.zone)
        if fmt not in tuple(export.Format):
            raise UnknownFormat(fmt)
    except ReportError as exc:
        print(f"hotline report: {exc}", file=stderr)
        return 2
    db = Database(settings.database.url)
    try:
        result = await figures.compute(db, config, period)
    except SQLAlchemyError as exc:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        print(f"hotline report: the database could not be read: {detail}", file=stderr)
        return 2
    finally:
        await db.dispose()
    try:
        export.write(result, fmt, out)
    except OSError as exc:
        print(f"hotline report: cannot write {out}: {exc.strerror or exc}", file=stderr)
        return 2
    print(f"{period.label}: {result.calls.total} calls, {result.total.offered} offered to agents, "
          f"answer rate {result.total.answer_rate:.1%} -> {out}", file=stdout)
    return 0


async def weekly(settings: Settings, week: str, fmt: str, out: Path) -> int:
    return await report(settings, periods.PeriodKind.WEEK, week, fmt, out)
