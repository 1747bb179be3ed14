"""Customers and their banking products: accounts, cards, loss reports, billers and payments.

The bank's own records behind the voice menu's self-service (ivr.banking.sql reads and writes them);
calls, callbacks and campaign contacts point at `customers` by table name, so the persistence base
never imports this module. Card and account numbers are stored only as keyed digests plus the last
four digits; PINs only as argon2 hashes. Money is kept in fen (1/100 CNY) as integers.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base, utcnow

Timestamp = DateTime(timezone=True)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # as written in the customer's own script: 李伟
    name_en: Mapped[str] = mapped_column(String(100), default="")  # Li Wei
    surname: Mapped[str] = mapped_column(String(50))  # 李
    surname_en: Mapped[str] = mapped_column(String(50), default="")  # Li
    title: Mapped[str] = mapped_column(String(10), default="")  # 先生 / 女士
    title_en: Mapped[str] = mapped_column(String(10), default="")  # Mr / Ms
    mobile: Mapped[str | None] = mapped_column(String(32), unique=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    segment: Mapped[str] = mapped_column(String(16), default="standard")  # standard | vip
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    accounts: Mapped[list[Account]] = relationship(back_populates="customer", order_by="Account.id")
    cards: Mapped[list[Card]] = relationship(back_populates="customer", order_by="Card.id")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    number_digest: Mapped[str] = mapped_column(String(64), unique=True)
    last4: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16))  # savings | current
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")

    customer: Mapped[Customer] = relationship(back_populates="accounts")


class Card(Base):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    pan_digest: Mapped[str] = mapped_column(String(64), unique=True)
    last4: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16), default="debit")  # debit | credit
    pin_hash: Mapped[str] = mapped_column(String(200))
    failed_pin_attempts: Mapped[int] = mapped_column(Integer, default=0)
    phone_banking_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | lost | frozen

    customer: Mapped[Customer] = relationship(back_populates="cards")


class LossReport(Base):
    __tablename__ = "loss_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), unique=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Biller(Base):
    __tablename__ = "billers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # electricity | mobile
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32))  # utility | phone


class BillerRegistration(Base):
    """A biller the customer has registered, with the customer's reference at that biller."""

    __tablename__ = "biller_registrations"
    __table_args__ = (UniqueConstraint("customer_id", "biller_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    biller_id: Mapped[int] = mapped_column(ForeignKey("billers.id"))
    reference: Mapped[str] = mapped_column(String(40))  # meter or phone number at the biller

    biller: Mapped[Biller] = relationship()


class Payment(Base):
    """A transfer between own accounts or a bill payment. `idempotency_key` makes a retried
    confirmation a no-op: the second insert violates the unique key instead of moving money twice."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # transfer | bill
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    to_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    biller_id: Mapped[int | None] = mapped_column(ForeignKey("billers.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, index=True)
