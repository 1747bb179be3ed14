"""`hotline report weekly` run as an operator runs it: a real process writing a real file."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from openpyxl import load_workbook

from hotline.db import Database
from hotline.settings import Settings
from tests.reports import week as generated
from tests.reports.test_figures import END, START


async def _hotline(*args: str, settings: Settings, tmp_path: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE_URL": settings.database.url, "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec"),
                "HOTLINE_LOGGING_FORMAT": "text"})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_weekly_report_as_xlsx_and_csv(db: Database, settings: Settings, tmp_path: Path):
    week = generated.generate(calls_per_day=30, seed=3)
    await generated.write(db, week)
    calls = sum(START <= c.opened < END for c in week.calls)
    out = tmp_path / "w48.xlsx"
    code, stdout, stderr = await _hotline("report", "weekly", "--week", "2026-W48", "--format", "xlsx",
                                          "--out", str(out), settings=settings, tmp_path=tmp_path)
    assert code == 0, stderr
    assert f"2026-W48: {calls} calls" in stdout
    summary = {row[0]: row[1] for row in load_workbook(out)["汇总 Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["来电总数 Calls"] == calls
    code, _, stderr = await _hotline("report", "weekly", "--week", "2026-W48", "--format", "csv",
                                     "--out", str(tmp_path / "w48.csv"), settings=settings, tmp_path=tmp_path)
    assert code == 0, stderr
    assert (tmp_path / "w48.csv").read_text(encoding="utf-8-sig").startswith("# 汇总 Summary")


async def test_bad_input_is_one_line_not_a_traceback(db: Database, settings: Settings, tmp_path: Path):
    code, _, stderr = await _hotline("report", "weekly", "--week", "2026-48", "--out", str(tmp_path / "x.xlsx"),
                                     settings=settings, tmp_path=tmp_path)
    assert code == 2 and "hotline report: '2026-48': expected an ISO week" in stderr
    assert "Traceback" not in stderr and not (tmp_path / "x.xlsx").exists()
    code, _, stderr = await _hotline("report", "weekly", "--week", "2026-W48",
                                     "--out", str(tmp_path / "missing" / "x.xlsx"), settings=settings,
                                     tmp_path=tmp_path)
    assert code == 2 and "cannot write" in stderr and "Traceback" not in stderr
