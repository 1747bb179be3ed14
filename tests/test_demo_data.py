from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, update

from bank.models import Account, Card, Customer
from calls.models import Call
from hotline.db import digest_number, verify_secret
from hotline.demo import NotDemoData, reset_demo
from hotline.staff import User
from hotline.users import add_user


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


async def test_reset_restores_the_demo_after_it_was_used(demo_db, settings):
    async with demo_db.session() as s:
        await s.execute(update(Account).values(balance_fen=1))
        s.add(Call(id="used-call", channel="softphone", direction="inbound", status="completed",
                   started_at=datetime.now(UTC)))
        await s.execute(update(User).where(User.username == "agent1").values(display_name="renamed"))
    await reset_demo(demo_db, settings)
    async with demo_db.session() as s:
        balances = sorted(await s.scalars(select(Account.balance_fen)))
        assert balances == [100_500, 1_234_567, 5_000_000, 88_888_800]
        assert await s.scalar(select(func.count()).select_from(Call)) == 0
        agent1 = await s.scalar(select(User).where(User.username == "agent1"))
        assert agent1.display_name == "Wang Fang 王芳"


async def test_reset_refuses_to_delete_users_or_customers_the_demo_did_not_create(demo_db, settings):
    await add_user(demo_db, "frank", "frank-password-1", "supervisor")
    async with demo_db.session() as s:
        s.add(Customer(name="王强", surname="王", mobile="+8613500135000", birth_date=date(1970, 1, 1)))
    with pytest.raises(NotDemoData, match=r"\(user frank, 1 customer\(s\)\); nothing was deleted"):
        await reset_demo(demo_db, settings)
    async with demo_db.session() as s:
        assert await s.scalar(select(User).where(User.username == "frank")) is not None
    await reset_demo(demo_db, settings, force=True)
    async with demo_db.session() as s:
        assert await s.scalar(select(User).where(User.username == "frank")) is None
        assert await s.scalar(select(func.count()).select_from(Customer)) == 3
