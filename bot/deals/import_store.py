"""The SQL of the deals export and import: bulk reads in id order and bulk inserts.

Statements are SQLAlchemy Core on the model tables and rows come back as typed tuples, never
ORM objects: an import writes a million moves, and the ORM's bookkeeping would cost more than
the database spends. The transfer module (`bot.deals.io`) decides the transactions; each
method here takes the session it runs in (an export's from `snapshot`).
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

from bot.db.models import Client, Deal, Note, StageTransition, Team, User, table_of
from bot.db.session import transaction

DEALS = table_of(Deal)
CLIENTS = table_of(Client)
TEAMS = table_of(Team)
USERS = table_of(User)
TRANSITIONS = table_of(StageTransition)
NOTES = table_of(Note)

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
    followup_asked_for: datetime | None  # the due time the bot asked "how did it go?" about
    created_at: datetime


class StoredMove(NamedTuple):
    deal_id: int
    from_stage: str | None
    to_stage: str
    at: datetime
    by_telegram_id: int | None
    via: str
    comment: str | None
    lost_reason: str | None
    owner_telegram_id: int | None


class StoredNote(NamedTuple):
    deal_id: int
    text: str
    at: datetime
    by_telegram_id: int | None


class DealBatch(NamedTuple):
    """A batch of deals with their moves and notes, each by deal id, oldest first."""

    deals: list[StoredDeal]
    history: dict[int, list[StoredMove]]
    notes: dict[int, list[StoredNote]]


class StoredTeam(NamedTuple):
    name: str
    id: int
    funnel: str | None  # the funnel key the team chose, None for the default


class TeamRecord(NamedTuple):
    """A team as exported and imported: what a team is besides its people and deals."""

    name: str
    funnel: str | None
    group_chat_id: int | None


class PersonRecord(NamedTuple):
    """A person as exported and imported, their team by name."""

    telegram_id: int
    name: str
    username: str | None
    role: str
    team: str | None
    language: str
    active: bool


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
    followup_asked_for: datetime | None
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
    comment: str | None
    owner_id: int | None


class NewNote(NamedTuple):
    external_id: str  # the deal's, mapped to its new id on insert
    text: str
    at: datetime
    by_id: int | None


_DEAL_COLUMNS = (
    DEALS.c.id, DEALS.c.external_id, DEALS.c.title, DEALS.c.client_id,
    CLIENTS.c.name.label("client_name"), CLIENTS.c.contact, CLIENTS.c.phone, CLIENTS.c.email,
    USERS.c.telegram_id.label("owner_telegram_id"), TEAMS.c.name.label("team"), DEALS.c.funnel,
    DEALS.c.stage, DEALS.c.status, DEALS.c.amount, DEALS.c.currency, DEALS.c.lost_reason,
    DEALS.c.next_step_text, DEALS.c.next_step_due, DEALS.c.followup_asked_for,
    DEALS.c.created_at,
)  # fmt: skip
_OWNERS = USERS.alias("owners")  # whose deal it was at a move, beside who made it
_MOVE_COLUMNS = (
    TRANSITIONS.c.deal_id, TRANSITIONS.c.from_stage, TRANSITIONS.c.to_stage, TRANSITIONS.c.at,
    USERS.c.telegram_id, TRANSITIONS.c.via, TRANSITIONS.c.comment, TRANSITIONS.c.lost_reason,
    _OWNERS.c.telegram_id,
)  # fmt: skip
_NOTE_COLUMNS = (NOTES.c.deal_id, NOTES.c.text, NOTES.c.at, USERS.c.telegram_id)


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

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """One read session for a whole export; on PostgreSQL a snapshot, so the teams, the
        people, a deal, its history and its notes always agree even while the bot works."""
        async with self._db() as session:
            if self._db.kw["bind"].dialect.name == "postgresql":
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    async def team_records(self, session: AsyncSession) -> list[TeamRecord]:
        rows = await session.execute(
            select(TEAMS.c.name, TEAMS.c.funnel, TEAMS.c.group_chat_id).order_by(TEAMS.c.id)
        )
        return [TeamRecord._make(row) for row in rows]

    async def person_records(self, session: AsyncSession) -> list[PersonRecord]:
        users = USERS.c
        rows = await session.execute(
            select(
                users.telegram_id, users.name, users.username, users.role,
                TEAMS.c.name.label("team"), users.language, users.active,
            )
            .select_from(USERS)
            .outerjoin(TEAMS, TEAMS.c.id == users.team_id)
            .order_by(users.id)
        )  # fmt: skip
        return [PersonRecord._make(row) for row in rows]

    async def deal_batches(
        self, session: AsyncSession, batch_size: int
    ) -> AsyncGenerator[DealBatch, None]:
        """Every deal, oldest id first, a batch at a time with the batch's moves and notes."""
        after = 0
        while True:
            rows = (await session.execute(_deals_after(after, batch_size))).all()
            if not rows:
                return
            deals = [StoredDeal._make(row) for row in rows]
            first, last = deals[0].id, deals[-1].id
            yield DealBatch(
                deals, await _moves_of(session, first, last), await _notes_of(session, first, last)
            )
            after = last

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

    async def insert_teams(
        self, session: AsyncSession, teams: Sequence[TeamRecord], at: datetime
    ) -> dict[str, int]:
        """Insert teams as the file describes them; returns their new ids by name."""
        if not teams:
            return {}
        result = await session.execute(
            insert(TEAMS).returning(TEAMS.c.id, TEAMS.c.name),
            [
                {"name": t.name, "funnel": t.funnel, "group_chat_id": t.group_chat_id,
                 "created_at": at}
                for t in teams
            ],
        )  # fmt: skip
        return {name: team_id for team_id, name in result}

    async def insert_people(
        self, session: AsyncSession, people: Sequence[PersonRecord], teams: Mapping[str, int],
        at: datetime,
    ) -> dict[int, int]:  # fmt: skip
        """Insert people with their role, team and state; returns users.id by Telegram id."""
        if not people:
            return {}
        result = await session.execute(
            insert(USERS).returning(USERS.c.id, USERS.c.telegram_id),
            [
                {"telegram_id": p.telegram_id, "name": p.name, "username": p.username,
                 "role": p.role, "team_id": teams[p.team] if p.team else None,
                 "language": p.language, "active": p.active, "reachable": True,
                 "created_at": at}
                for p in people
            ],
        )  # fmt: skip
        return {telegram_id: user_id for user_id, telegram_id in result}

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
                "followup_asked_for": d.followup_asked_for, "created_at": d.created_at,
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
                "comment": m.comment, "lost_reason": m.lost_reason, "owner_id": m.owner_id,
            }
            for m in moves
        ]  # fmt: skip
        if params:
            await session.execute(insert(TRANSITIONS), params)

    async def insert_notes(
        self, session: AsyncSession, notes: Iterable[NewNote], deal_ids: Mapping[str, int]
    ) -> None:
        """Insert the notes of deals just inserted (`deal_ids` from `insert_deals`)."""
        params = [
            {"deal_id": deal_ids[n.external_id], "author_id": n.by_id, "text": n.text, "at": n.at}
            for n in notes
        ]
        if params:
            await session.execute(insert(NOTES), params)


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
        .outerjoin(_OWNERS, _OWNERS.c.id == TRANSITIONS.c.owner_id)
        .where(TRANSITIONS.c.deal_id.between(first_id, last_id))
        .order_by(TRANSITIONS.c.deal_id, TRANSITIONS.c.at, TRANSITIONS.c.id)
    )
    history: dict[int, list[StoredMove]] = {}
    for row in rows:
        move = StoredMove._make(row)
        history.setdefault(move.deal_id, []).append(move)
    return history


async def _notes_of(
    session: AsyncSession, first_id: int, last_id: int
) -> dict[int, list[StoredNote]]:
    rows = await session.execute(
        select(*_NOTE_COLUMNS)
        .select_from(NOTES)
        .outerjoin(USERS, USERS.c.id == NOTES.c.author_id)
        .where(NOTES.c.deal_id.between(first_id, last_id))
        .order_by(NOTES.c.deal_id, NOTES.c.at, NOTES.c.id)
    )
    notes: dict[int, list[StoredNote]] = {}
    for row in rows:
        note = StoredNote._make(row)
        notes.setdefault(note.deal_id, []).append(note)
    return notes
