"""A PIN and a card number driven through the whole system (signed webhooks, IVR, banking, database)
with every logger at DEBUG and SQL echo on: neither reaches a log line or the database in clear."""

from __future__ import annotations

import io
import logging

from hotline.logs import install_redaction
from hotline.softphone import call_server
from tests.test_softphone_webhooks import softphone_args

CARD, PIN, WRONG_PIN = "6222020000000001", "147258", "963852"


async def test_pin_and_card_digits_never_reach_logs_or_database(live_app, demo_db, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # every statement and its parameters
    install_redaction()
    try:
        keys = f"2 1 {CARD}# {WRONG_PIN}# {PIN}# 2"
        code = await call_server(softphone_args("--keys", keys), live_app.settings, io.StringIO())
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert code == 0
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    # the call really went through the logged layers: its SQL, with parameters, is in the capture
    assert "INSERT INTO ivr_steps" in logged and "UPDATE cards" in logged
    for secret in (CARD, PIN, WRONG_PIN):
        assert secret not in logged, f"{secret} reached a log line"

    async with demo_db.engine.connect() as conn:
        tables = [t for t in (await conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            if demo_db.engine.dialect.name == "postgresql" else
            "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars()]
        dump = []
        for table in tables:
            rows = (await conn.exec_driver_sql(f'SELECT * FROM "{table}"')).fetchall()
            dump.extend(str(value) for row in rows for value in row)
    stored = " ".join(dump)
    for secret in (CARD, PIN, WRONG_PIN):
        assert secret not in stored, f"{secret} stored in clear"
