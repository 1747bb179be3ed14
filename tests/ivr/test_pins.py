"""Which new PINs are refused, and why."""

from datetime import date

import pytest

from ivr.banking.pins import birth_date_forms, weak_pin_reason

BIRTH = date(1985, 6, 18)


@pytest.mark.parametrize(("pin", "reason"), [
    ("12345", "format"), ("1234567", "format"), ("12a456", "format"),
    ("000000", "same_digit"), ("777777", "same_digit"),
    ("123456", "sequence"), ("012345", "sequence"), ("654321", "sequence"), ("987654", "sequence"),
    ("147258", "same_as_old"),
    ("850618", "birth_date"), ("061885", "birth_date"), ("180685", "birth_date"),
    ("135790", None), ("123457", None), ("112233", None),
])
def test_weak_pins(pin: str, reason: str | None) -> None:
    assert weak_pin_reason(pin, old="147258", birth=BIRTH) == reason


def test_birth_date_forms() -> None:
    assert birth_date_forms(date(2001, 3, 9)) == {"010309", "030901", "090301"}
