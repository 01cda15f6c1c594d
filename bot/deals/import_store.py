"""The SQL of the deals export and import: bulk reads in id order and bulk inserts.

Statements are SQLAlchemy Core on the model tables and rows come back as typed tuples, never
ORM objects: an import writes a million moves, and the ORM's bookkeeping would cost more than
the database spends. The transfer module (`bot.deals.io`) decides the transactions; each
method here takes the session it runs in, except the two that are a whole read by themselves.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import uuid4

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Client, Deal, StageTransition, Team, User, table_of
from bot.db.session import transaction

DEALS = table_of(Deal)
CLIENTS = table_of(Client)
TEAMS = table_of(Team)
USERS = table_of(User)
TRANSITIONS = table_of(StageTransition)

ClientKey = tuple[str, str | None, str | None, str | None]  # name, contact, phone, email


class StoredDeal(NamedTuple):
    """A deal as exported: its client, owner and team read in the same row."""

    id: int
    external_id: str | None
    title: str
    client_id: int | None
    client_name: str | None
    contact: str | None
    phone: str | None
    email: str | None
    owner_telegram_id: int
    team: str | None
    funnel: str
    stage: str
    status: str
    amount: Decimal | None
    currency: str
    lost_reason: str | None
    next_step_text: str | None
    next_step_due: datetime | None
    created_at: datetime


class StoredMove(NamedTuple):
    deal_id: int
    from_stage: str | None
    to_stage: str
    at: datetime
    by_telegram_id: int | None
    via: str


class StoredTeam(NamedTuple):
    name: str
    id: int
    funnel: str | None  # the funnel key the team chose, None for the default


class NewDeal(NamedTuple):
    """One deal to insert, its people, team and client already resolved to row ids."""

    external_id: str
    title: str
    client_id: int | None
    owner_id: int
    team_id: int | None
    funnel: str
    stage: str
    status: str
    amount: Decimal | None
    currency: str
    lost_reason: str | None
    next_step_text: str | None
    next_step_due: datetime | None
    created_at: datetime
    last_moved_at: datetime


class NewMove(NamedTuple):
    external_id: str  # the deal's, mapped to its new id on insert
    from_stage: str | None
    to_stage: str
    at: datetime
    by_id: int | None
    via: str
    lost_reason: str | None


_DEAL_COLUMNS = (
    DEALS.c.id, DEALS.c.external_id, DEALS.c.title, DEALS.c.client_id,
    CLIENTS.c.name.label("client_name"), CLIENTS.c.contact, CLIENTS.c.phone, CLIENTS.c.email,
    USERS.c.telegram_id.label("owner_telegram_id"), TEAMS.c.name.label("team"), DEALS.c.funnel,
    DEALS.c.stage, DEALS.c.status, DEALS.c.amount, DEALS.c.currency, DEALS.c.lost_reason,
    DEALS.c.next_step_text, DEALS.c.next_step_due, DEALS.c.created_at,
)  # fmt: skip
_MOVE_COLUMNS = (
    TRANSITIONS.c.deal_id, TRANSITIONS.c.from_stage, TRANSITIONS.c.to_stage, TRANSITIONS.c.at,
    USERS.c.telegram_id, TRANSITIONS.c.via,
)  # fmt: skip


class ImportStore:
    """The deals transfer's SQL, over the process's session factory."""

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One transaction for the caller to pass to the methods below."""
        return transaction(self._db)

    # --- export ---------------------------------------------------------------------------

    async def stamp_external_ids(self, session: AsyncSession) -> None:
        """Give every deal without an external_id a random, never colliding one."""
        missing = (
            await session.scalars(select(DEALS.c.id).where(DEALS.c.external_id.is_(None)))
        ).all()
        if missing:
            await session.execute(
                update(DEALS)
                .where(DEALS.c.id == bindparam("deal_id"))
                .values(external_id=bindparam("stamp")),
                [{"deal_id": deal_id, "stamp": f"voronka-{uuid4().hex}"} for deal_id in missing],
            )

    async def deal_batches(
        self, batch_size: int
    ) -> AsyncGenerator[tuple[list[StoredDeal], dict[int, list[StoredMove]]], None]:
        """Every deal, oldest id first, a batch at a time with the batch's moves by deal id.

        One read session throughout; on PostgreSQL a snapshot, so a deal and its history
        always agree even while the bot keeps working.
        """
        async with self._snapshot() as session:
            after = 0
            while True:
                rows = (await session.execute(_deals_after(after, batch_size))).all()
                if not rows:
                    return
                deals = [StoredDeal._make(row) for row in rows]
                yield deals, await _moves_of(session, deals[0].id, deals[-1].id)
                after = deals[-1].id

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncSession]:
        async with self._db() as session:
            if self._db.kw["bind"].dialect.name == "postgresql":
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    # --- import ---------------------------------------------------------------------------

    async def users(
        self, session: AsyncSession, telegram_ids: Iterable[int] | None = None
    ) -> dict[int, int]:
        """users.id by Telegram id: of everyone, or of the people with these ids."""
        query = select(USERS.c.telegram_id, USERS.c.id)
        if telegram_ids is not None:
            query = query.where(USERS.c.telegram_id.in_(list(telegram_ids)))
        rows = await session.execute(query)
        return {row.telegram_id: row.id for row in rows}

    async def teams(self, session: AsyncSession) -> list[StoredTeam]:
        rows = await session.execute(select(TEAMS.c.name, TEAMS.c.id, TEAMS.c.funnel))
        return [StoredTeam._make(row) for row in rows]

    async def clients(self, session: AsyncSession) -> dict[ClientKey, int]:
        """Every client's id by all its fields, so a client named alike twice is stored once."""
        rows = await session.execute(
            select(
                CLIENTS.c.name, CLIENTS.c.contact, CLIENTS.c.phone, CLIENTS.c.email, CLIENTS.c.id
            )
        )
        return {(name, contact, phone, email): id_ for name, contact, phone, email, id_ in rows}

    async def known_external_ids(self, session: AsyncSession, external_ids: list[str]) -> set[str]:
        """Which of these external ids the database holds already."""
        found = await session.scalars(
            select(DEALS.c.external_id).where(DEALS.c.external_id.in_(external_ids))
        )
        return {external_id for external_id in found if external_id is not None}

    async def insert_clients(
        self, session: AsyncSession, clients: Mapping[ClientKey, datetime]
    ) -> dict[ClientKey, int]:
        """Insert clients (each with its creation time); returns their new ids."""
        if not clients:
            return {}
        returned = (CLIENTS.c.id, CLIENTS.c.name, CLIENTS.c.contact, CLIENTS.c.phone)
        result = await session.execute(
            # keyed by the values: SQLite keeps no row order in RETURNING
            insert(CLIENTS).returning(*returned, CLIENTS.c.email),
            [
                {"name": name, "contact": contact, "phone": phone, "email": email, "created_at": at}
                for (name, contact, phone, email), at in clients.items()
            ],
        )
        return {(name, contact, phone, email): id_ for id_, name, contact, phone, email in result}

    async def insert_deals(self, session: AsyncSession, deals: Sequence[NewDeal]) -> dict[str, int]:
        """Insert deals in bulk; returns each external_id's new deal id."""
        params = [
            {
                "external_id": d.external_id, "title": d.title, "client_id": d.client_id,
                "owner_id": d.owner_id, "team_id": d.team_id, "funnel": d.funnel,
                "stage": d.stage, "status": d.status, "amount": d.amount, "currency": d.currency,
                "probability": None, "lost_reason": d.lost_reason,
                "next_step_text": d.next_step_text, "next_step_due": d.next_step_due,
                "followup_asked_for": None, "created_at": d.created_at,
                "updated_at": d.last_moved_at, "stage_changed_at": d.last_moved_at, "version": 1,
            }
            for d in deals
        ]  # fmt: skip
        result = await session.execute(
            insert(DEALS).returning(DEALS.c.id, DEALS.c.external_id), params
        )
        return {external_id: deal_id for deal_id, external_id in result}

    async def insert_history(
        self, session: AsyncSession, moves: Iterable[NewMove], deal_ids: Mapping[str, int]
    ) -> None:
        """Insert the moves of deals just inserted (`deal_ids` from `insert_deals`)."""
        params: list[dict[str, Any]] = [
            {
                "deal_id": deal_ids[m.external_id], "from_stage": m.from_stage,
                "to_stage": m.to_stage, "at": m.at, "by_id": m.by_id, "via": m.via,
                "comment": None, "lost_reason": m.lost_reason,
            }
            for m in moves
        ]  # fmt: skip
        if params:
            await session.execute(insert(TRANSITIONS), params)


def _deals_after(after: int, limit: int) -> Any:
    return (
        select(*_DEAL_COLUMNS)
        .select_from(DEALS)
        .outerjoin(CLIENTS, CLIENTS.c.id == DEALS.c.client_id)
        .join(USERS, USERS.c.id == DEALS.c.owner_id)
        .outerjoin(TEAMS, TEAMS.c.id == DEALS.c.team_id)
        .where(DEALS.c.id > after)
        .order_by(DEALS.c.id)
        .limit(limit)
    )


async def _moves_of(
    session: AsyncSession, first_id: int, last_id: int
) -> dict[int, list[StoredMove]]:
    """The moves of a batch of deals in one range query (deal ids are contiguous in a batch)."""
    rows = await session.execute(
        select(*_MOVE_COLUMNS)
        .select_from(TRANSITIONS)
        .outerjoin(USERS, USERS.c.id == TRANSITIONS.c.by_id)
        .where(TRANSITIONS.c.deal_id.between(first_id, last_id))
        .order_by(TRANSITIONS.c.deal_id, TRANSITIONS.c.at, TRANSITIONS.c.id)
    )
    history: dict[int, list[StoredMove]] = {}
    for row in rows:
        move = StoredMove._make(row)
        history.setdefault(move.deal_id, []).append(move)
    return history
