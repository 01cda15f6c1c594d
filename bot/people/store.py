"""People's SQL: users, teams and invites as Core statements, rows as frozen values.

The store also owns the one cache of the feature, the memory of who is writing
(`Identities`). The service passes every session or connection in; nothing here opens a
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lru import LRU
from bot.db.models import Invite, Team, User, table_of
from bot.db.session import Reads

USERS, TEAMS, INVITES = table_of(User), table_of(Team), table_of(Invite)


class Role(StrEnum):
    ADMIN = "admin"
    LEAD = "lead"
    MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    telegram_id: int
    name: str
    role: Role
    team_id: int | None
    team_name: str | None
    language: str
    active: bool

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_lead(self) -> bool:
        return self.role is Role.LEAD


@dataclass(frozen=True, slots=True)
class TeamRow:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class InviteRow:
    id: int
    token: str
    role: Role
    team_id: int | None
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who writes, with what the fast path needs to decide on a write."""

    person: Person
    reachable: bool


# The person with their team's name: every read of a person goes through this.
PERSON: Select[Any] = (
    select(
        USERS.c.id, USERS.c.telegram_id, USERS.c.name, USERS.c.role, USERS.c.team_id,
        TEAMS.c.name.label("team_name"), USERS.c.language, USERS.c.active, USERS.c.reachable,
    )
    .select_from(USERS)
    .outerjoin(TEAMS, TEAMS.c.id == USERS.c.team_id)
)  # fmt: skip
# Who is writing: every update after a pause starts here, so a statement built once, of
# plain columns (see benchmarks/deals.py, the "read every time" case).
_WHO = PERSON.where(USERS.c.telegram_id == bindparam("telegram_id"))


def person_row(row: Row[Any]) -> Person:
    """A row of `PERSON` (or any with its column names) as a Person."""
    return Person(
        row.id, row.telegram_id, row.name, Role(row.role), row.team_id, row.team_name,
        row.language, row.active,
    )  # fmt: skip


# --- the identity cache -------------------------------------------------------------------


class Identities:
    """A short, bounded memory of who is writing, on the injected clock.

    Every update starts by identifying its sender; this spares the database that query on a
    busy chat. Invalidation: any change to people made through this process's PeopleService
    calls `forget` (all of it at once: changes are rare). A change made by another process
    (the CLI, a second bot process) shows up here when the entry expires, after at most
    `ttl`. At `limit` people the least recently seen one is dropped.
    """

    def __init__(self, clock: Clock, *, ttl: timedelta, limit: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._people: LRU[int, tuple[datetime, Person]] = LRU(limit)

    def get(self, telegram_id: int) -> Person | None:
        found = self._people.get(telegram_id, None)
        if found is None:
            return None
        if self._clock() >= found[0]:
            self._people.pop(telegram_id)
            return None
        return found[1]

    def put(self, person: Person) -> None:
        self._people.put(person.telegram_id, (self._clock() + self._ttl, person))

    def forget(self) -> None:
        self._people.clear()

    def __len__(self) -> int:
        return len(self._people)


# --- users ----------------------------------------------------------------------------------


async def identity(connection: Reads, telegram_id: int) -> Identity | None:
    """The fast path: one prebuilt statement on a bare connection."""
    row = (await connection.execute(_WHO, {"telegram_id": telegram_id})).first()
    return Identity(person_row(row), row.reachable) if row is not None else None


async def person_where(session: AsyncSession, condition: Any) -> Person | None:
    row = (await session.execute(PERSON.where(condition))).first()
    return person_row(row) if row is not None else None


async def person_by_id(session: AsyncSession, person_id: int) -> Person | None:
    return await person_where(session, USERS.c.id == person_id)


async def person_by_telegram_id(session: AsyncSession, telegram_id: int) -> Person | None:
    return await person_where(session, USERS.c.telegram_id == telegram_id)


async def people(
    session: AsyncSession, *, team_id: int | None = None, active_only: bool = False, by: str = "id"
) -> list[Person]:
    """People ordered by id or name, optionally of one team and only the active ones."""
    query = PERSON.order_by(USERS.c.name if by == "name" else USERS.c.id)
    if team_id is not None:
        query = query.where(USERS.c.team_id == team_id)
    if active_only:
        query = query.where(USERS.c.active.is_(True))
    return [person_row(row) for row in await session.execute(query)]


async def active_with_role(
    session: AsyncSession, role: Role, *, team_id: int | None = None, besides: int | None = None
) -> list[Person]:
    """Active people of one role (of one team when given), by id, maybe besides someone."""
    query = PERSON.where(USERS.c.active.is_(True), USERS.c.role == role.value)
    if team_id is not None:
        query = query.where(USERS.c.team_id == team_id)
    if besides is not None:
        query = query.where(USERS.c.id != besides)
    return [person_row(row) for row in await session.execute(query.order_by(USERS.c.id))]


async def profile(session: AsyncSession, person_id: int) -> tuple[Any, ...] | None:
    """The name in the bot and the /me fields: (name, full_name, position, phone, email)."""
    columns = USERS.c
    query = select(
        columns.name, columns.full_name, columns.position, columns.phone, columns.email
    ).where(columns.id == person_id)
    row = (await session.execute(query)).first()
    return None if row is None else tuple(row)


async def insert_user(session: AsyncSession, **values: Any) -> int:
    result = cast(CursorResult[Any], await session.execute(insert(USERS).values(**values)))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def update_user(session: AsyncSession, user_id: int, **values: Any) -> None:
    await session.execute(update(USERS).where(USERS.c.id == user_id).values(**values))


async def set_reachable(session: AsyncSession, telegram_id: int, reachable: bool) -> None:
    await session.execute(
        update(USERS).where(USERS.c.telegram_id == telegram_id).values(reachable=reachable)
    )


# --- teams ----------------------------------------------------------------------------------


async def team_by_id(session: AsyncSession, team_id: int) -> TeamRow | None:
    row = (
        await session.execute(select(TEAMS.c.id, TEAMS.c.name).where(TEAMS.c.id == team_id))
    ).first()
    return TeamRow(row.id, row.name) if row is not None else None


async def team_by_name(session: AsyncSession, name: str) -> TeamRow | None:
    row = (
        await session.execute(select(TEAMS.c.id, TEAMS.c.name).where(TEAMS.c.name == name))
    ).first()
    return TeamRow(row.id, row.name) if row is not None else None


async def teams(session: AsyncSession, team_id: int | None = None) -> list[TeamRow]:
    query = select(TEAMS.c.id, TEAMS.c.name).order_by(TEAMS.c.name)
    if team_id is not None:
        query = query.where(TEAMS.c.id == team_id)
    return [TeamRow(row.id, row.name) for row in await session.execute(query)]


async def insert_team(session: AsyncSession, name: str, created_at: datetime) -> TeamRow:
    statement = insert(TEAMS).values(name=name, created_at=created_at)
    result = cast(CursorResult[Any], await session.execute(statement))
    key = result.inserted_primary_key
    assert key is not None
    return TeamRow(int(key[0]), name)


# --- invites --------------------------------------------------------------------------------


async def insert_invite(session: AsyncSession, **values: Any) -> None:
    await session.execute(insert(INVITES).values(**values))


async def invite_by_token(session: AsyncSession, token: str) -> InviteRow | None:
    columns = INVITES.c
    row = (
        await session.execute(
            select(
                columns.id, columns.token, columns.role, columns.team_id, columns.expires_at,
                columns.used_at,
            ).where(columns.token == token)
        )
    ).first()  # fmt: skip
    if row is None:
        return None
    return InviteRow(row.id, row.token, Role(row.role), row.team_id, row.expires_at, row.used_at)


async def spend_invite(
    session: AsyncSession, invite_id: int, used_by_id: int, used_at: datetime
) -> bool:
    """Mark the invite used unless someone else did first; True when this call spent it."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(INVITES)
            .where(INVITES.c.id == invite_id, INVITES.c.used_at.is_(None))
            .values(used_at=used_at, used_by_id=used_by_id)
        ),
    )
    return result.rowcount == 1
