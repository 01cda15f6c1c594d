"""The conversations table: one JSON document per person, read by id, written by upsert."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Conversation, table_of
from bot.db.session import Reads

_CONVERSATIONS = table_of(Conversation)
# Read at every update of a registered person: built once.
_STATE = select(_CONVERSATIONS.c.state).where(
    _CONVERSATIONS.c.telegram_id == bindparam("telegram_id")
)


async def read_state(connection: Reads, telegram_id: int) -> str | None:
    result = await connection.execute(_STATE, {"telegram_id": telegram_id})
    return result.scalar_one_or_none()


async def write_state(session: AsyncSession, telegram_id: int, state: str, at: datetime) -> None:
    """Insert or replace in one statement, so two processes writing at once cannot collide."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_CONVERSATIONS).values(telegram_id=telegram_id, state=state, updated_at=at)
    statement = statement.on_conflict_do_update(
        index_elements=[_CONVERSATIONS.c.telegram_id],
        set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
    )
    await session.execute(statement)


async def delete_state(session: AsyncSession, telegram_id: int) -> None:
    await session.execute(delete(_CONVERSATIONS).where(_CONVERSATIONS.c.telegram_id == telegram_id))
