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
from collections.abc import AsyncIterator

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


# The two-key advisory locks (a space apart from the one-key polling lock): one per chat.
_CHAT_SPACE = 0x566B  # "Vk"
_TURN = text("SELECT pg_advisory_lock(:space, CAST(:chat % 2147483647 AS integer))")
_END_TURN = text("SELECT pg_advisory_unlock(:space, CAST(:chat % 2147483647 AS integer))")


class ChatLocks:
    """A lock per chat, held while one update of the chat is handled, on any process.

    Its own small pool, apart from the one transactions use: an update holding its chat's
    lock and waiting for a connection to write must never wait behind updates holding the
    pool's every connection for their locks. Two chats whose ids meet modulo 2^31 share a
    lock: they are then served one after the other, which is slower, never wrong. A lock
    waited for longer than `wait` is given up (`lock_timeout`): the update then goes on
    without it, late rather than never. No ping before each use (a round trip per update):
    a connection found dead fails its lock, that update goes on without it, and the pool
    drops the connections opened before the failure.
    """

    def __init__(self, url: str, *, size: int, wait: float) -> None:
        self._engine: AsyncEngine = create_async_engine(
            url,
            pool_size=size,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"lock_timeout": str(int(wait * 1000))}},
        )

    @contextlib.asynccontextmanager
    async def held(self, chat_id: int) -> AsyncIterator[bool]:
        """Hold the chat's lock for the block; yields False when it could not be taken."""
        params = {"space": _CHAT_SPACE, "chat": chat_id}
        try:
            connection = await self._engine.connect()
        except Exception:
            yield False
            return
        try:
            try:
                await connection.execute(_TURN, params)
            except Exception:
                yield False
                return
            try:
                yield True
            finally:
                with contextlib.suppress(Exception):
                    await connection.execute(_END_TURN, params)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        await self._engine.dispose()
