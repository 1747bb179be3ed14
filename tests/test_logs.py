import json
import logging

from hotline.logs import MASK, JsonFormatter, RedactingFilter, install_redaction, mark_secret


def _capture() -> tuple[logging.Logger, list[str]]:
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [ListHandler()]
    logger.handlers[0].setFormatter(JsonFormatter())
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    install_redaction(logger)
    return logger, lines


def test_marked_secrets_never_reach_a_log_line():
    logger, lines = _capture()
    mark_secret("907153")
    logger.info("caller entered %s", "907153")
    logger.info("pin=%s", "x", extra={"digits": "pin 907153"})
    try:
        raise ValueError("bad pin 907153")
    except ValueError:
        logger.exception("failed")
    text = "\n".join(lines)
    assert "907153" not in text and text.count(MASK) >= 3
    assert json.loads(lines[1])["digits"] == f"pin {MASK}"


def test_card_numbers_are_masked_without_being_marked():
    logger, lines = _capture()
    logger.warning("card 6222020000000009 from +8613800138000 sid CA1234567890123456789012345678ab")
    assert lines[0].count(MASK) == 1
    assert "+8613800138000" in lines[0] and "CA1234567890123456789012345678ab" in lines[0]


def test_short_values_are_not_marked():
    filt = RedactingFilter()
    mark_secret("12")
    record = logging.LogRecord("x", logging.INFO, "", 0, "queue 12 position 1", None, None)
    filt.filter(record)
    assert record.getMessage() == "queue 12 position 1"


async def test_the_twilio_bridge_marks_digits_of_secure_gathers(live_app):
    """A PIN typed into a secure gather is masked in any log line that later quotes it by mistake."""
    import io

    from hotline.logs import redact
    from hotline.softphone import call_server
    from tests.test_softphone_webhooks import softphone_args

    wrong_pin = "591736"  # used by no other test: the registry of marked secrets is process-wide
    assert redact(f"pin {wrong_pin}") == f"pin {wrong_pin}"  # nothing marked it yet
    keys = f"2 1 6222020000000001# {wrong_pin}# 147258# 2"
    code = await call_server(softphone_args("--keys", keys), live_app.settings, io.StringIO())
    assert code == 0
    assert redact(f"pin {wrong_pin}") == f"pin {MASK}"
    assert redact("menu 1") == "menu 1"  # menu keys are not secrets
