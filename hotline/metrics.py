"""What operations scrape (`GET /metrics`, Prometheus format): the instruments the hot paths feed.

Latencies are observed where they happen (a Twilio webhook answered, an AGI command's reply); the
figures of the moment (callers waiting, agents by state, ingest backlog…) are read at scrape time by
hotline/web/metrics.py. Every ERROR log line counts in `hotline_errors_total` by the logger that
wrote it, so an error anywhere shows up without each place counting its own.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOK_SECONDS = Histogram(
    "hotline_twilio_webhook_seconds", "Time to answer a Twilio webhook, by route", ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY)
AGI_COMMAND_SECONDS = Histogram(
    "hotline_agi_command_seconds", "From sending an AGI command to its reply (commands that wait for the caller included)",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30), registry=REGISTRY)
ERRORS = Counter("hotline_errors_total", "ERROR log lines, by the logger that wrote them", ["logger"],
                 registry=REGISTRY)


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        ERRORS.labels(logger=record.name).inc()


_COUNTER = _ErrorCounter()


def count_errors() -> None:
    """Count every ERROR line from now on (once per process, however many apps are built)."""
    root = logging.getLogger()
    if _COUNTER not in root.handlers:
        root.addHandler(_COUNTER)
