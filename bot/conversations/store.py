"""The conversations table (one JSON document per person, read by id, written by upsert) and
the handled updates (recorded by `bot.db.session.transaction`; read, completed and pruned here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation, HandledUpdate, table_of
from bot.db.session import Reads
from bot.db.upsert import Insert, InsertOf, PerDialect

_CONVERSATIONS = table_of(Conversation)
# Read at every update of a registered person: built once.
_STATE = select(_CONVERSATIONS.c.state).where(
    _CONVERSATIONS.c.telegram_id == bindparam("telegram_id")
)


async def read_state(connection: Reads, telegram_id: int) -> str | None:
    result = await connection.execute(_STATE, {"telegram_id": telegram_id})
    return result.scalar_one_or_none()


def _write(insert: InsertOf) -> Insert:
    """Insert or replace in one statement, so two processes writing at once cannot collide."""
    statement = insert(_CONVERSATIONS)
    return statement.on_conflict_do_update(
        index_elements=[_CONVERSATIONS.c.telegram_id],
        set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
    )


# Written at most updates of a dialog: built once.
_WRITE = PerDialect(_write)
_DELETE = delete(_CONVERSATIONS).where(_CONVERSATIONS.c.telegram_id == bindparam("telegram_id"))


async def write_state(session: AsyncSession, telegram_id: int, state: str, at: datetime) -> None:
    values = {"telegram_id": telegram_id, "state": state, "updated_at": at}
    await session.execute(_WRITE.of(session), values)


async def delete_state(session: AsyncSession, telegram_id: int) -> None:
    await session.execute(_DELETE, {"telegram_id": telegram_id})


_HANDLED = table_of(HandledUpdate)
_SEEN = select(_HANDLED.c.update_id).where(_HANDLED.c.update_id == bindparam("update_id"))


async def handled(connection: Reads, update_id: int) -> bool:
    result = await connection.execute(_SEEN, {"update_id": update_id})
    return result.first() is not None


async def highest_handled(connection: Reads) -> int | None:
    result = await connection.execute(select(func.max(_HANDLED.c.update_id)))
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


# Every update that only answers is recorded: built once.
_MARK = PerDialect(
    lambda insert: insert(_HANDLED).on_conflict_do_nothing(index_elements=[_HANDLED.c.update_id])
)


async def mark_handled(session: AsyncSession, update_id: int, at: datetime) -> None:
    """Record an update that changed nothing; a record already there is kept."""
    await session.execute(_MARK.of(session), {"update_id": update_id, "handled_at": at})


async def forget_handled(session: AsyncSession, before: datetime) -> int:
    statement = delete(_HANDLED).where(_HANDLED.c.handled_at < before)
    result = cast(CursorResult[Any], await session.execute(statement))
    return int(result.rowcount or 0)
