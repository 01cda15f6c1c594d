"""How a deal is read and written in SQL: statements built once, executed many times.

A text move is the bot's hottest path, and building an ORM statement costs more than SQLite
spends running it. So deals are read as flat rows (deal, client and owner in one) and
changed by UPDATEs that carry the version read: a change made meanwhile by someone else
matches no row, and the caller is told instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Insert,
    Select,
    Update,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.errors import Conflict
from bot.db.models import Client, Deal, StageTransition, User, table_of
from bot.people.service import Person, Role

DEALS = table_of(Deal)
CLIENTS = table_of(Client)
USERS = table_of(User)
TRANSITIONS = table_of(StageTransition)

DealRow = Mapping[str, Any]  # a row of VIEW: DealView's stored fields by name


@dataclass(frozen=True, slots=True)
class Scope:
    """The deals a person may change: an admin everyone's, a lead the team's, a manager own.

    The one statement of that rule, for a row at hand (`holds`) and for a query (`where`).
    A lead without a team reaches no deal.
    """

    everyone: bool = False
    team_id: int | None = None
    owner_id: int | None = None

    @classmethod
    def of(cls, person: Person) -> Scope:
        if person.role is Role.ADMIN:
            return cls(everyone=True)
        if person.role is Role.LEAD:
            return cls(team_id=person.team_id)
        return cls(owner_id=person.id)

    def holds(self, owner_id: int, team_id: int | None) -> bool:
        if self.everyone:
            return True
        if self.owner_id is not None:
            return owner_id == self.owner_id
        return self.team_id is not None and team_id == self.team_id

    def where(self, query: Select[Any]) -> Select[Any]:
        if self.everyone:
            return query
        if self.owner_id is not None:
            return query.where(DEALS.c.owner_id == self.owner_id)
        return query.where(DEALS.c.team_id == self.team_id)  # no team: "= NULL", no deal


# Labelled as DealView's fields, so a row becomes a view without renaming.
VIEW: Select[Any] = (
    select(
        DEALS.c.id, DEALS.c.title, CLIENTS.c.name.label("client"),
        CLIENTS.c.contact.label("contact"), CLIENTS.c.phone.label("phone"), DEALS.c.owner_id,
        USERS.c.name.label("owner_name"), USERS.c.telegram_id.label("owner_telegram_id"),
        DEALS.c.team_id, DEALS.c.funnel, DEALS.c.stage, DEALS.c.status, DEALS.c.amount,
        DEALS.c.currency, DEALS.c.probability, DEALS.c.lost_reason, DEALS.c.next_step_text,
        DEALS.c.next_step_due, DEALS.c.created_at, DEALS.c.stage_changed_at, DEALS.c.version,
    )
    .select_from(DEALS)
    .outerjoin(CLIENTS, CLIENTS.c.id == DEALS.c.client_id)
    .join(USERS, USERS.c.id == DEALS.c.owner_id)
)  # fmt: skip
ONE = VIEW.where(DEALS.c.id == bindparam("deal_id"))
ONE_FOR_UPDATE = ONE.with_for_update(of=DEALS)  # PostgreSQL locks the row; SQLite ignores it

# The deals a person may change, for matching text commands: open ones and recent closed ones.
_REFS = (
    select(
        DEALS.c.id, DEALS.c.title, CLIENTS.c.name, DEALS.c.funnel, DEALS.c.stage,
        DEALS.c.status, DEALS.c.version,
    )
    .select_from(DEALS)
    .outerjoin(CLIENTS, CLIENTS.c.id == DEALS.c.client_id)
    .where(or_(DEALS.c.status == "open", DEALS.c.updated_at >= bindparam("since")))
)  # fmt: skip
REFS_ALL = _REFS
REFS_OF_TEAM = _REFS.where(DEALS.c.team_id == bindparam("team_id"))
REFS_OF_OWNER = _REFS.where(DEALS.c.owner_id == bindparam("owner_id"))

INSERT_TRANSITION: Insert = insert(TRANSITIONS)


@lru_cache(maxsize=64)
def _update(columns: tuple[str, ...]) -> Update:
    """UPDATE deals SET <columns>, version = version + 1 WHERE id = ? AND version = ?"""
    return (
        update(DEALS)
        .where(DEALS.c.id == bindparam("row_id"), DEALS.c.version == bindparam("row_version"))
        .values({DEALS.c[name]: bindparam(f"new_{name}") for name in columns})
        .values(version=DEALS.c.version + 1)
    )


async def read(session: AsyncSession, deal_id: int, *, for_update: bool = False) -> DealRow | None:
    result = await session.execute(ONE_FOR_UPDATE if for_update else ONE, {"deal_id": deal_id})
    row: DealRow | None = result.mappings().first()
    return row


async def write(session: AsyncSession, row: DealRow, **values: Any) -> DealRow:
    """Change a deal read as `row`; Conflict when it changed since. Returns the row as now."""
    columns = tuple(sorted(values))
    params = {f"new_{name}": values[name] for name in columns}
    params.update(row_id=row["id"], row_version=row["version"])
    result = cast(CursorResult[Any], await session.execute(_update(columns), params))
    if result.rowcount != 1:
        raise Conflict("deal.changed", title=row["title"])
    changed = {name: value for name, value in values.items() if name in row}
    return {**row, **changed, "version": row["version"] + 1}


async def add_transition(session: AsyncSession, **values: Any) -> int:
    """One stage-history row; its id (for ↩ Undo)."""
    result = cast(CursorResult[Any], await session.execute(INSERT_TRANSITION, values))
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])
