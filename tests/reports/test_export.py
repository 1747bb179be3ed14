"""CSV and XLSX of a generated week: opened back and read like a person would read them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from acd.config import load_for
from hotline.db import Database
from hotline.settings import Settings
from reports import export, figures, periods
from reports.errors import UnknownFormat
from tests.reports import week as generated
from tests.reports.test_figures import END, START


@pytest.fixture
async def report(db: Database, settings: Settings) -> figures.Report:
    config = load_for(settings)
    await generated.write(db, generated.generate(calls_per_day=40, seed=5))
    return await figures.compute(db, config, periods.week(generated.WEEK, config.zone))


def counted() -> dict[str, int]:
    """The generated week's offered, answered and calls, counted from its truth."""
    week = generated.generate(calls_per_day=40, seed=5)
    outcomes = [o for o in week.outcomes if START <= o.at < END]
    return {"offered": len(outcomes), "answered": sum(o.kind == "answered" for o in outcomes),
            "calls": sum(START <= c.opened < END for c in week.calls)}


SHEETS = ["汇总 Summary", "按日 By day", "按时段 By hour", "按队列 By queue", "按业务类别 By category", "座席 Agents",
          "自助服务 Self-service", "离开菜单 Menu exits", "身份验证 Verification", "回呼结果 Callback outcomes",
          "热点问题 Top inquiries", "人员配置 Staffing (Erlang C)"]


async def test_xlsx_opens_with_chinese_titles_first_and_the_week_figures(report, tmp_path: Path):
    path = tmp_path / "week.xlsx"
    export.write(report, "xlsx", path)
    book = load_workbook(path)
    assert book.sheetnames == SHEETS
    summary = {row[0]: row[1] for row in book["汇总 Summary"].iter_rows(min_row=2, values_only=True)}
    truth = counted()
    assert summary["报告期 Period"] == "2026-W48"
    assert summary["开始 From"] == "2026-11-23 00:00" and summary["时区 Time zone"] == "Asia/Shanghai"
    assert (summary["呼入 Offered"], summary["接通 Answered"], summary["来电总数 Calls"]) == (
        truth["offered"], truth["answered"], truth["calls"])
    assert summary["接通率 Answer rate"] == pytest.approx(truth["answered"] / truth["offered"], abs=5e-5)
    by_queue = book["按队列 By queue"]
    header = [cell.value for cell in by_queue[1]]
    assert header[:3] == ["队列 Queue", "呼入 Offered", "接通 Answered"]
    assert "接通率 Answer rate" in header and "服务水平(不含短放弃) Service level excl. short abandons" in header
    rate = header.index("接通率 Answer rate") + 1
    rows = {row[0]: row for row in by_queue.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == set(report.by_queue)
    assert sum(row[1] for row in rows.values()) == truth["offered"]
    assert by_queue.cell(row=2, column=rate).number_format == "0.0%"
    days = list(book["按日 By day"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in days] == [f"2026-11-{d}" for d in range(23, 30)]
    agents = list(book["座席 Agents"].iter_rows(min_row=2, values_only=True))
    assert [row[1] for row in agents] == ["座席1", "座席2", "座席3"]
    topics = list(book["热点问题 Top inquiries"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in topics] == list(range(1, len(topics) + 1))
    assert [row[2] for row in topics] == sorted((row[2] for row in topics), reverse=True)


async def test_csv_has_the_same_tables_one_after_another(report, tmp_path: Path):
    path = tmp_path / "week.csv"
    export.write(report, "csv", path)
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode())  # so a spreadsheet reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    titles = [row[0][2:] for row in rows if row and row[0].startswith("# ")]
    assert titles == SHEETS
    summary = rows[2:rows.index([])]
    values = {row[0]: row[1] for row in summary}
    truth = counted()
    assert (int(values["呼入 Offered"]), int(values["接通 Answered"]), int(values["来电总数 Calls"])) == (
        truth["offered"], truth["answered"], truth["calls"])
    assert rows[1] == ["指标 Figure", "数值 Value"]


async def test_an_unknown_format_is_refused(report, tmp_path: Path):
    with pytest.raises(UnknownFormat, match="csv, xlsx"):
        export.write(report, "pdf", tmp_path / "week.pdf")
    assert not (tmp_path / "week.pdf").exists()
