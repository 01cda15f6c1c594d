"""How offers and their approvals are read and written in SQL.

SQLAlchemy Core statements on the tables of `bot.db.models`, rows mapped to frozen
values; the service passes its transaction's session in and decides when to commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Offer, OfferApproval, User, table_of
from bot.people.service import Person, Role

OFFERS = table_of(Offer)
APPROVALS = table_of(OfferApproval)
USERS = table_of(User)

Tx = AsyncSession
"""The open transaction a store call runs in (the service owns it)."""
Database = async_sessionmaker[AsyncSession]
"""Where the service opens its transactions (`bot.db.session.transaction`)."""


class NumberTaken(Exception):
    """Another offer recorded this number first; the caller picks the next one."""


@dataclass(frozen=True, slots=True)
class OfferRow:
    id: int
    deal_id: int | None
    number: str | None
    status: str
    spec: str
    currency: str
    total: Decimal
    created_by_id: int | None
    created_at: dt.datetime
    pdf_path: str | None
    docx_path: str | None


@dataclass(frozen=True, slots=True)
class Numbered:
    """A number of the yearly sequence: КП-2026-0042 is (2026, 42)."""

    year: int
    seq: int
    number: str


@dataclass(frozen=True, slots=True)
class Issue:
    """What issuing writes on an offer: its number, when, and where its files are."""

    numbered: Numbered
    issued_at: dt.datetime
    pdf_path: str | None
    docx_path: str | None

    def values(self) -> dict[str, Any]:
        return {
            "status": "issued", "year": self.numbered.year, "seq": self.numbered.seq,
            "number": self.numbered.number, "issued_at": self.issued_at,
            "pdf_path": self.pdf_path, "docx_path": self.docx_path,
        }  # fmt: skip


_ROW = select(
    OFFERS.c.id, OFFERS.c.deal_id, OFFERS.c.number, OFFERS.c.status, OFFERS.c.spec,
    OFFERS.c.currency, OFFERS.c.total, OFFERS.c.created_by_id, OFFERS.c.created_at,
    OFFERS.c.pdf_path, OFFERS.c.docx_path,
)  # fmt: skip
_PERSON = select(
    USERS.c.id, USERS.c.telegram_id, USERS.c.name, USERS.c.role, USERS.c.team_id,
    USERS.c.language, USERS.c.active,
)  # fmt: skip


def _offer(row: Any) -> OfferRow:
    return OfferRow(**row)


def _person(row: Any) -> Person:
    return Person(
        id=row["id"], telegram_id=row["telegram_id"], name=row["name"], role=Role(row["role"]),
        team_id=row["team_id"], team_name=None, language=row["language"], active=row["active"],
    )  # fmt: skip


async def next_seq(session: Tx, year: int) -> int:
    """The seq the next offer of `year` would take; the unique (year, seq) settles races."""
    query = select(func.max(OFFERS.c.seq)).where(OFFERS.c.year == year)
    return int((await session.scalar(query)) or 0) + 1


async def add(session: Tx, *, issue: Issue | None = None, **values: Any) -> int:
    """A new offer (pending, or issued at once with `issue`); its id."""
    if issue is not None:
        values.update(issue.values())
    try:
        result = cast(CursorResult[Any], await session.execute(insert(OFFERS).values(**values)))
    except IntegrityError:
        raise NumberTaken from None
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])


async def claim(session: Tx, offer_id: int, *, issue: Issue | None) -> bool:
    """Decide a pending offer: issue it (with `issue`) or reject it. False: decided already."""
    values = issue.values() if issue is not None else {"status": "rejected"}
    statement = (
        update(OFFERS).where(OFFERS.c.id == offer_id, OFFERS.c.status == "pending").values(**values)
    )
    try:
        result = cast(CursorResult[Any], await session.execute(statement))
    except IntegrityError:
        raise NumberTaken from None
    return result.rowcount == 1


async def withdraw(session: Tx, offer_id: int) -> bool:
    """A pending offer taken back (by its author, or as its deal was lost). False: it was
    decided already."""
    statement = (
        update(OFFERS)
        .where(OFFERS.c.id == offer_id, OFFERS.c.status == "pending")
        .values(status="withdrawn")
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


async def offer(session: Tx, offer_id: int) -> OfferRow | None:
    row = (await session.execute(_ROW.where(OFFERS.c.id == offer_id))).mappings().first()
    return None if row is None else _offer(row)


async def of_deal(session: Tx, deal_id: int, limit: int) -> list[OfferRow]:
    query = _ROW.where(OFFERS.c.deal_id == deal_id).order_by(OFFERS.c.id.desc()).limit(limit)
    return [_offer(row) for row in (await session.execute(query)).mappings()]


async def add_approval(session: Tx, **values: Any) -> None:
    await session.execute(insert(APPROVALS).values(**values))


async def person(session: Tx, user_id: int) -> Person | None:
    row = (await session.execute(_PERSON.where(USERS.c.id == user_id))).mappings().first()
    return None if row is None else _person(row)


async def active_people(
    session: Tx, role: Role, *, team_id: int | None = None, besides: int
) -> list[Person]:
    """Active people of a role (in a team, when given) other than `besides`: the approvers."""
    query = _PERSON.where(
        USERS.c.active.is_(True), USERS.c.id != besides, USERS.c.role == role.value
    ).order_by(USERS.c.id)
    if team_id is not None:
        query = query.where(USERS.c.team_id == team_id)
    return [_person(row) for row in (await session.execute(query)).mappings()]


async def pending(session: Tx) -> list[OfferRow]:
    """Offers waiting for a decision, oldest first (few at a time: each is someone's wait)."""
    query = _ROW.where(OFFERS.c.status == "pending").order_by(OFFERS.c.id).limit(1000)
    return [_offer(row) for row in (await session.execute(query)).mappings()]
