"""The polling lock: which `voronka run` on one PostgreSQL database talks to Telegram.

A session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own, opened
for nothing else. Why this rather than a lease row: the server itself lets go of a session
lock the moment the session ends, however it ends (kill -9, a lost machine once TCP gives
up, a database restart), so there is no expiry to tune, no clock to trust and no migration;
a lease row would make the standby wait out the lease after a kill -9 and make the active
process renew it forever. The connection is not pooled: a pool would recycle it, and with
it the lock, behind the holder's back. It runs in autocommit, so it never sits idle in a
transaction (which a server's `idle_in_transaction_session_timeout` would end).

SQLite has no such lock and needs none: one process holds its file (`bot.db.sole`).
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

# Advisory lock keys are per database; this one is Voronka's polling lock ("voronka" in hex).
POLLING_KEY = 0x766F726F6E6B61
_TRY = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")
_ALIVE = text("SELECT 1")


def shared(url: str) -> bool:
    """Whether several bot processes may serve this database (PostgreSQL, not SQLite)."""
    return make_url(url).get_backend_name() == "postgresql"


class PollingLock:
    """The lock and the one connection that holds it."""

    def __init__(self, url: str, *, ask_timeout: float) -> None:
        """`ask_timeout`: seconds after which a database that has not answered counts as gone."""
        self._timeout = ask_timeout
        self._engine: AsyncEngine = create_async_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        self._connection: AsyncConnection | None = None

    async def try_take(self) -> bool:
        """Take the lock if nobody holds it; False when another session has it.

        Raises (the driver's error, or TimeoutError) when the database cannot be asked;
        the connection is then dropped, and the next call opens a new one.
        """
        try:
            if self._connection is None:
                self._connection = await asyncio.wait_for(self._engine.connect(), self._timeout)
            result = await asyncio.wait_for(
                self._connection.execute(_TRY, {"key": POLLING_KEY}), self._timeout
            )
            taken = bool(result.scalar())
        except BaseException:
            await self.drop()
            raise
        if not taken:
            await self.drop()  # a standby holds nothing between its tries
        return taken

    async def check(self) -> bool:
        """Whether the connection holding the lock still answers (so the lock is held)."""
        if self._connection is None:
            return False
        try:
            await asyncio.wait_for(self._connection.execute(_ALIVE), self._timeout)
        except Exception:
            await self.drop()
            return False
        return True

    async def release(self) -> None:
        """Unlock and close; if the database is already gone, so is the lock."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._connection.execute(_UNLOCK, {"key": POLLING_KEY}), 2)
        await self.drop()

    async def drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)
            if not connection.closed:
                with contextlib.suppress(Exception):
                    await connection.invalidate()

    async def close(self) -> None:
        await self.release()
        await self._engine.dispose()
