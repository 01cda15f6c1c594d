"""Exactly-once sending of scheduled messages: claim a (kind, recipient, key) before sending."""

from __future__ import annotations

from bot.common.clock import Clock
from bot.db.session import SessionFactory, transaction
from bot.reports.store import ReportsStore


class SentLogService:
    """A claim is a unique row: a second process, a restart or a retry cannot claim it again."""

    def __init__(self, db: SessionFactory, clock: Clock, store: ReportsStore) -> None:
        self._db = db
        self._clock = clock
        self._store = store

    async def claim(self, kind: str, recipient: int, key: str) -> bool:
        """True when this caller may send; False when it was (being) sent already."""
        async with transaction(self._db) as session:
            return await self._store.claim(session, kind, recipient, key, self._clock())

    async def release(self, kind: str, recipient: int, key: str) -> None:
        """Give a claim back after a failed send, so a later run retries it."""
        async with transaction(self._db) as session:
            await self._store.release(session, kind, recipient, key)
