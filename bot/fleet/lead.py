"""Which process polls Telegram: one active, the others standbys holding nothing.

Telegram gives updates to one `getUpdates` at a time (a second one is refused with 409
Conflict), so on a shared PostgreSQL database exactly one `voronka run` polls and runs the
scheduled jobs; the others wait, trying the polling lock (`bot.db.leadership`) once a
`STANDBY_TRY` and holding no Telegram connection, no job and no database lock meanwhile.
When the active process dies, the server drops its lock at once and a standby takes it at
its next try. The active process asks its lock connection every `HEARTBEAT`: when that
connection is gone (the database restarted, the network cut), so is the lock, and another
process may already have it, so it stops polling (`watch` returns) rather than poll beside
the new one. Updates are never applied twice either way: each is recorded by id in the
change's own transaction (`bot.common.delivery`).

On SQLite there is no lead to take: the file is held by one process (`bot.db.sole`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.db.leadership import PollingLock, shared

log = logging.getLogger("voronka.fleet")

STANDBY_TRY = 1.0  # seconds between a standby's tries of the lock
HEARTBEAT = 1.0  # seconds between the active process's checks of its lock connection
ASK_TIMEOUT = 3.0  # a database that answers none of these within it counts as gone


class PollingLead:
    """The lead of this process: `take` it (waiting as a standby), `watch` it, `release` it."""

    def __init__(self, database_url: str) -> None:
        self._lock = (
            PollingLock(database_url, ask_timeout=ASK_TIMEOUT) if shared(database_url) else None
        )
        self.waited = False  # whether this process stood by before it took the lead

    async def take(self, stop: asyncio.Event) -> bool:
        """Wait until this process holds the lead; False when `stop` is set first."""
        if self._lock is None:
            return not stop.is_set()
        told = unreachable = False
        while not stop.is_set():
            try:
                if await self._lock.try_take():
                    if self.waited:
                        log.info("took over polling")
                    else:
                        log.info("polling: no other process is polling this database")
                    return True
                unreachable = False
                if not told:
                    log.info("standby: another process is polling; taking over when it stops")
                    told = True
            except Exception as error:  # the database is down: wait for it like for a lead
                if not unreachable:
                    log.warning("standby: the database does not answer (%s); trying again", error)
                    unreachable = True
            self.waited = True
            await _sleep(stop, STANDBY_TRY)
        return False

    async def watch(self, stop: asyncio.Event) -> bool:
        """Hold the lead until `stop` is set (False) or the lock connection is lost (True)."""
        if self._lock is None:
            await stop.wait()
            return False
        while not stop.is_set():
            await _sleep(stop, HEARTBEAT)
            if stop.is_set():
                break
            if not await self._lock.check():
                log.warning(
                    "lost the polling lock (its database connection is gone): stepping down, "
                    "another process may be polling now"
                )
                self.waited = True  # taking it again is a takeover like any other
                return True
        return False

    async def release(self) -> None:
        """Let a standby take over (at its next try)."""
        if self._lock is not None:
            await self._lock.release()

    async def close(self) -> None:
        if self._lock is not None:
            await self._lock.close()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
