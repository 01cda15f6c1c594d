"""Exactly-once sending of scheduled messages: claim a (kind, recipient, key) before sending."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.common.clock import Clock
from bot.db.models import SentLog
from bot.db.session import transaction


class SentLogService:
    """A claim is a unique row: a second process, a restart or a retry cannot claim it again."""

    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def claim(self, kind: str, recipient: int, key: str) -> bool:
        """True when this caller may send; False when it was (being) sent already."""
        try:
            async with transaction(self._db) as session:
                session.add(SentLog(kind=kind, recipient=recipient, key=key, sent_at=self._clock()))
        except IntegrityError:
            return False
        return True

    async def release(self, kind: str, recipient: int, key: str) -> None:
        """Give a claim back after a failed send, so a later run retries it."""
        async with transaction(self._db) as session:
            await session.execute(
                delete(SentLog).where(
                    SentLog.kind == kind, SentLog.recipient == recipient, SentLog.key == key
                )
            )
