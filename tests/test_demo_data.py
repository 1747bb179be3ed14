from sqlalchemy import select

from hotline.db import digest_number, verify_secret
from hotline.db.models import Account, Card, Customer, User


async def test_demo_customer_li_wei_has_documented_products(demo_db, settings):
    key = settings.security.secret_key.get_secret_value()
    async with demo_db.session() as s:
        li = await s.scalar(select(Customer).where(Customer.mobile == "+8613800138000"))
        assert li.name == "李伟"
        balances = sorted((a.kind, a.balance_fen) for a in await s.scalars(select(Account).where(Account.customer_id == li.id)))
        assert balances == [("current", 100_500), ("savings", 1_234_567)]
        card = await s.scalar(select(Card).where(Card.pan_digest == digest_number(key, "6222020000000001")))
        assert card.customer_id == li.id and card.status == "active"
        assert await verify_secret(card.pin_hash, "147258")
        assert not await verify_secret(card.pin_hash, "147259")
        lost = await s.scalar(select(Card).where(Card.pan_digest == digest_number(key, "6222020000000002")))
        assert lost.status == "lost"
        roles = {u.username: u.role for u in await s.scalars(select(User))}
    assert roles == {"agent1": "agent", "agent2": "agent", "supervisor1": "supervisor", "qa1": "qa", "admin": "admin"}


async def test_no_card_number_or_pin_is_stored_in_clear(demo_db):
    async with demo_db.engine.connect() as conn:
        dump = []
        for table in ("cards", "accounts", "users", "customers"):
            rows = (await conn.exec_driver_sql(f"SELECT * FROM {table}")).fetchall()
            dump.extend(str(v) for row in rows for v in row)
    text = " ".join(dump)
    for secret in ("6222020000000001", "147258", "258369", "agent1-demo", "6217000010000001"):
        assert secret not in text
