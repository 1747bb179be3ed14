"""What a report refuses, one class per case; each says what was wrong in words an operator can act on."""

from __future__ import annotations


class ReportError(Exception):
    """Base of the report errors: the message is meant for the person who asked."""


class BadPeriod(ReportError):
    def __init__(self, text: str, why: str) -> None:
        super().__init__(f"{text!r}: {why}")
        self.text, self.why = text, why


class UnknownFormat(ReportError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown export format {name!r} (csv, xlsx)")
        self.name = name
