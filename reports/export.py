"""A report as tables, written as CSV or XLSX. Chinese titles first, then English ("接通率 Answer rate").

The same tables make both files: XLSX has a sheet per table; CSV has the tables one after another,
each under a line with its title and separated by an empty line (one file that a spreadsheet opens).
Times are the centre's local time; rates are fractions (0.8 is 80 %, shown as a percentage in XLSX).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from acd.states import AgentState
from reports.errors import UnknownFormat
from reports.figures import CallTotals, Figures, Report

Cell = str | int | float | None


class Kind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    RATE = "rate"
    SECONDS = "seconds"
    NUMBER = "number"


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.COUNT


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: list[list[Cell]]


_FIGURES: tuple[tuple[Column, Callable[[Figures], Cell]], ...] = (
    (Column("呼入 Offered"), lambda f: f.offered),
    (Column("接通 Answered"), lambda f: f.answered),
    (Column("放弃 Abandoned"), lambda f: f.abandoned),
    (Column("5秒内放弃 Abandoned within 5 s"), lambda f: f.short_abandoned),
    (Column("转语音信箱 To voicemail"), lambda f: f.overflowed),
    (Column("转回呼 Left for a callback"), lambda f: f.to_callback),
    (Column("接通率 Answer rate", Kind.RATE), lambda f: f.answer_rate),
    (Column("平均应答速度(秒) Average speed of answer (s)", Kind.SECONDS), lambda f: f.avg_answer_s),
    (Column("服务水平 Service level", Kind.RATE), lambda f: f.service_level),
    (Column("服务水平(不含短放弃) Service level excl. short abandons", Kind.RATE), lambda f: f.service_level_excl_short),
    (Column("平均通话时长(秒) Average talk (s)", Kind.SECONDS), lambda f: f.avg_talk_s),
    (Column("平均话后处理(秒) Average wrap-up (s)", Kind.SECONDS), lambda f: f.avg_wrap_up_s),
    (Column("转接 Transfers"), lambda f: f.transfers),
    (Column("满意度评价数 Surveys"), lambda f: f.surveys),
    (Column("平均满意度 Average survey score", Kind.NUMBER), lambda f: f.avg_survey),
)
_CALLS: tuple[tuple[Column, Callable[[CallTotals], Cell]], ...] = (
    (Column("来电总数 Calls"), lambda c: c.total),
    (Column("仅自助 Self-service only"), lambda c: c.self_service_only),
    (Column("自助完成 Contained"), lambda c: c.contained),
    (Column("转人工 To an agent"), lambda c: c.to_agent),
)
STATES = (AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AWAY)
STATE_TITLES = {AgentState.AVAILABLE: "空闲 Available", AgentState.RESERVED: "振铃 Ringing",
                AgentState.ON_CALL: "通话 On call", AgentState.WRAP_UP: "话后处理 Wrap-up", AgentState.AWAY: "离开 Away"}


def _figure_table(title: str, key_column: Column, slices: dict[str, Figures]) -> Table:
    columns = (key_column, *(column for column, _ in _FIGURES))
    rows = [[key, *(value(f) for _, value in _FIGURES)] for key, f in slices.items()]
    return Table(title, columns, rows)


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def tables(report: Report) -> list[Table]:
    """Every table of the report, in the order of the sheets."""
    p, t, c, cb = report.period, report.total, report.calls, report.callbacks
    summary: list[tuple[str, Cell, Kind]] = [
        ("报告期 Period", p.label, Kind.TEXT),
        ("开始 From", _local(p.local_start), Kind.TEXT),
        ("结束(不含) Until (excluded)", _local(p.local_end), Kind.TEXT),
        ("时区 Time zone", p.zone.key, Kind.TEXT),
        *((column.title, value(c), column.kind) for column, value in _CALLS),
        *((column.title, value(t), column.kind) for column, value in _FIGURES),
        ("服务水平目标 Service level target", report.target_service_level, Kind.RATE),
        ("回呼请求 Callbacks requested", cb.requested, Kind.COUNT),
        ("预约回呼 Callbacks scheduled", cb.scheduled, Kind.COUNT),
        ("回呼拨打 Callback attempts made", cb.made, Kind.COUNT),
        ("回呼接通 Callbacks reached", cb.reached, Kind.COUNT),
        ("回呼失败 Callbacks given up", cb.given_up, Kind.COUNT),
        ("身份验证失败 Verification failures", report.self_service.verification_failures, Kind.COUNT),
        ("密码锁定 Lockouts", report.self_service.lockouts, Kind.COUNT),
    ]
    first = Table("汇总 Summary", (Column("指标 Figure", Kind.TEXT), Column("数值 Value", Kind.NUMBER)),
                  [[name, _typed(value, kind)] for name, value, kind in summary])
    out: list[Table] = []

    days = {d.isoformat(): f for d, f in report.by_day.items()}
    day_table = _figure_table("按日 By day", Column("日期 Day", Kind.TEXT), days)
    call_days = report.calls_by_day
    day_table = Table(day_table.title, (*day_table.columns, *(column for column, _ in _CALLS)),
                      [[*row, *(value(call_days.get(date.fromisoformat(str(row[0])), CallTotals()))
                                for _, value in _CALLS)] for row in day_table.rows])
    out.append(day_table)
    out.append(_figure_table("按时段 By hour", Column("时段 Hour", Kind.TEXT),
                             {f"{hour:02d}:00-{hour + 1:02d}:00": f for hour, f in report.by_hour.items()}))
    out.append(_figure_table("按队列 By queue", Column("队列 Queue", Kind.TEXT), report.by_queue))
    out.append(_figure_table("按业务类别 By category", Column("业务类别 Category", Kind.TEXT), report.by_category))

    agent_columns = (Column("座席编号 Agent id"), Column("姓名 Name", Kind.TEXT), Column("振铃 Offers"),
                     Column("接听 Answered"), Column("未接 Missed offers"), Column("外呼接通 Outbound answered"),
                     Column("通话时长(秒) Talk time (s)", Kind.SECONDS), Column("占用率 Occupancy", Kind.RATE),
                     Column("登录时长(秒) Logged in (s)", Kind.SECONDS),
                     *(Column(f"{STATE_TITLES[state]}(秒) (s)", Kind.SECONDS) for state in STATES),
                     Column("离开原因 Away reasons (s)", Kind.TEXT))
    agent_rows: list[list[Cell]] = [
        [a.agent_id, a.name, a.offered, a.answered, a.missed, a.outbound, a.talk_s, a.occupancy, a.logged_in_s,
         *(a.state_s.get(state, 0.0) for state in STATES),
         "; ".join(f"{reason}: {seconds:.0f}" for reason, seconds in sorted(a.away_s.items()))]
        for a in report.agents.values()]
    out.append(Table("座席 Agents", agent_columns, agent_rows))

    ss = report.self_service
    out.append(Table("自助服务 Self-service",
                     (Column("自助业务 IVR operation", Kind.TEXT), Column("来电 Calls"), Column("自助完成 Contained"),
                      Column("自助完成率 Containment", Kind.RATE)),
                     [[node, op.calls, op.contained, op.containment] for node, op in ss.operations.items()]))
    out.append(Table("离开菜单 Menu exits",
                     (Column("菜单节点 Menu node", Kind.TEXT), Column("结束方式 How it ended", Kind.TEXT),
                      Column("来电 Calls")),
                     [[node, how, n] for (node, how), n in ss.exits.items()]))
    out.append(Table("身份验证 Verification",
                     (Column("操作 Operation", Kind.TEXT), Column("结果 Outcome", Kind.TEXT), Column("次数 Count")),
                     [[op, outcome, n] for (op, outcome), n in sorted(ss.verification.items())]))
    out.append(Table("回呼结果 Callback outcomes",
                     (Column("结果 Outcome", Kind.TEXT), Column("次数 Count")),
                     [[outcome, n] for outcome, n in sorted(cb.outcomes.items())]))
    total_topics = sum(n for _, n in report.topics)
    out.append(Table("热点问题 Top inquiries",
                     (Column("排名 Rank"), Column("业务类别 Category", Kind.TEXT), Column("来电 Calls"),
                      Column("占比 Share", Kind.RATE)),
                     [[rank, topic, n, n / total_topics] for rank, (topic, n) in enumerate(report.topics, 1)]))
    out.append(Table("人员配置 Staffing (Erlang C)",
                     (Column("时段开始 Half hour from", Kind.TEXT), Column("队列 Queue", Kind.TEXT),
                      Column("进线 Arrivals"), Column("平均处理时长(秒) Average handle time (s)", Kind.SECONDS),
                      Column("所需座席 Agents needed"), Column("登录座席 Agents logged in", Kind.NUMBER)),
                     [[_local(slot.start), slot.queue, slot.arrivals, slot.avg_handle_s, slot.needed, slot.logged_in]
                      for slot in report.staffing]))
    typed = [Table(table.title, table.columns,
                   [[_typed(v, col.kind) for v, col in zip(row, table.columns, strict=True)] for row in table.rows])
             for table in out]
    return [first, *typed]


def _typed(value: Cell, kind: Kind) -> Cell:
    """Rounded once here, so CSV and XLSX show the same figures."""
    if isinstance(value, float):
        if kind == Kind.RATE:
            return round(value, 4)
        return round(value, 1) if kind == Kind.SECONDS else round(value, 2)
    return value


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for index, table in enumerate(tables(report)):
        if index:
            writer.writerow([])
        writer.writerow([f"# {table.title}"])
        writer.writerow([column.title for column in table.columns])
        writer.writerows(table.rows)
    return buffer.getvalue()


def to_xlsx(report: Report) -> bytes:
    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    bold = Font(bold=True)
    for table in tables(report):
        sheet = book.create_sheet(_sheet_name(table.title))
        sheet.append([column.title for column in table.columns])
        for cell in sheet[1]:
            cell.font = bold
        for row in table.rows:
            sheet.append(row)
        for index, column in enumerate(table.columns, 1):
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = max(10, min(40, len(column.title) + 2))
            if column.kind in (Kind.RATE, Kind.SECONDS, Kind.NUMBER):
                number_format = {"rate": "0.0%", "seconds": "0.0", "number": "0.00"}[column.kind]
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    if isinstance(cell.value, float):
                        cell.number_format = number_format
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_name(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    cleaned = "".join("-" if ch in "[]:*?/\\" else ch for ch in title)
    return cleaned[:31]


def write(report: Report, fmt: str, path: Path) -> None:
    """Write `report` to `path` as `fmt` (csv: UTF-8 with a byte order mark, so Excel reads the Chinese)."""
    try:
        kind = Format(fmt)
    except ValueError:
        raise UnknownFormat(fmt) from None
    if kind is Format.CSV:
        path.write_text(to_csv(report), encoding="utf-8-sig", newline="")
    else:
        path.write_bytes(to_xlsx(report))
