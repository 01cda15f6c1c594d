"""Exactly-once sending of scheduled messages: claim a (kind, recipient, key) before sending."""

from __future__ import annotations

from datetime import timedelta

from bot.common.clock import Clock
from bot.db.session import SessionFactory, transaction
from bot.ops import metrics
from bot.reports.store import ReportsStore

LEASE = timedelta(minutes=5)  # far longer than a digest takes to send, retries included


class SentLogService:
    """Scheduled messages as an outbox: claimed with a lease, confirmed once Telegram took them.

    A claim is a unique row, so a second process, a restart or a retry cannot claim a message
    being sent or sent. A process killed while sending leaves a claim whose lease runs out;
    the next run claims it again and sends it. A message can therefore go out twice only if
    the process dies between Telegram accepting it and `confirm`.

    Being the one place every scheduled message passes, it also counts them
    (`voronka_scheduled_notices_total`): a claim of one given back or left unfinished is a
    retry, a release a failure, a confirmation a message sent or dropped.
    """

    def __init__(
        self, db: SessionFactory, clock: Clock, store: ReportsStore, lease: timedelta = LEASE
    ) -> None:
        self._db = db
        self._clock = clock
        self._store = store
        self._lease = lease

    async def claim(self, kind: str, recipient: int, key: str) -> bool:
        """True when this caller may send; False when it is being sent or was sent."""
        now = self._clock()
        async with transaction(self._db) as session:
            claim = await self._store.claim(session, kind, recipient, key, now, now + self._lease)
        if claim == "retry":
            metrics.notice(kind, "retried")
        return claim is not None

    async def confirm(self, kind: str, recipient: int, key: str, *, sent: bool = True) -> None:
        """Telegram accepted it (`sent`), or it is dropped for good (the recipient blocked
        the bot or was deactivated): never again."""
        async with transaction(self._db) as session:
            await self._store.confirm(session, kind, recipient, key, self._clock())
        metrics.notice(kind, "sent" if sent else "dropped")

    async def release(self, kind: str, recipient: int, key: str) -> None:
        """Give a claim back after a failed send, so a later run retries it."""
        async with transaction(self._db) as session:
            await self._store.release(session, kind, recipient, key)
        metrics.notice(kind, "failed")
