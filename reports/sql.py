"""Time arithmetic inside the database, the same on SQLite and PostgreSQL.

The figures are summed by the database (a week of a busy centre is millions of event rows), so
instants become seconds since the epoch there: SQLite keeps timestamps as UTC text, which
`julianday` reads; PostgreSQL extracts the epoch of a timestamptz.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

HALF_HOUR_S = 1800


class epoch(FunctionElement[float]):  # noqa: N801 - reads as the SQL function it stands for
    """Seconds since 1970-01-01 UTC of a timestamp column."""

    type = Float()
    inherit_cache = True
    name = "epoch"


class half_hour(FunctionElement[int]):  # noqa: N801
    """The number of the UTC half hour a timestamp falls in: floor(epoch / 1800)."""

    type = Integer()
    inherit_cache = True
    name = "half_hour"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"


@compiles(half_hour, "sqlite")
def _half_hour_sqlite(element: half_hour, compiler: SQLCompiler, **kw: Any) -> str:
    # julianday is a double: a thousandth of a second keeps an event at hh:30:00.000 in its own half hour
    seconds = f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0 + 0.001)"
    return f"CAST({seconds} / {HALF_HOUR_S} AS INTEGER)"


@compiles(half_hour, "postgresql")
def _half_hour_postgresql(element: half_hour, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) / {HALF_HOUR_S}) AS BIGINT)"
