"""Which new PINs are too easy to guess. Pure: the engine checks early, the backend checks again."""

from __future__ import annotations

from datetime import date

PIN_LENGTH = 6


def birth_date_forms(birth: date) -> set[str]:
    """A birth date as a caller might key it: YYMMDD, MMDDYY and DDMMYY."""
    yy, mm, dd = f"{birth.year % 100:02d}", f"{birth.month:02d}", f"{birth.day:02d}"
    return {yy + mm + dd, mm + dd + yy, dd + mm + yy}


def weak_pin_reason(new: str, old: str | None = None, birth: date | None = None) -> str | None:
    """None for an acceptable PIN, else the reason: format, same_digit, sequence, same_as_old,
    birth_date (each has a prompt `pin_weak_<reason>`, format has `pin_format`)."""
    if len(new) != PIN_LENGTH or not new.isdigit():
        return "format"
    if len(set(new)) == 1:
        return "same_digit"
    steps = {int(b) - int(a) for a, b in zip(new, new[1:], strict=False)}
    if steps in ({1}, {-1}):
        return "sequence"
    if old is not None and new == old:
        return "same_as_old"
    if birth is not None and new in birth_date_forms(birth):
        return "birth_date"
    return None
