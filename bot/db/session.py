"""One engine and session factory per process; SQLite tuned for a bot (`bot.db.sqlite`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeAlias
from weakref import WeakKeyDictionary

from sqlalchemy import Executable, Result, event, exc, insert
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, FrozenResult, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.common.delivery import current as current_delivery
from bot.common.errors import AlreadyHandled, Unavailable
from bot.db.models import HandledUpdate, table_of
from bot.db.sqlite import apply_pragmas, sqlite_url
from bot.db.timing import time_transactions

# What a service holds to open its transactions and hands to its store, named here so that
# services need no SQLAlchemy import of their own.
SessionFactory: TypeAlias = async_sessionmaker[AsyncSession]
Session: TypeAlias = AsyncSession
Engine: TypeAlias = AsyncEngine


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine; SQLite gets one connection, WAL, foreign keys and a busy timeout.

    One connection: transactions wait for it on the event loop (up to `pool_timeout`), so
    this process never meets SQLite's write lock held by itself.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # A folder that cannot be made fails the first connection, which says why
            # (`bot.db.probe`); failing here would only give a traceback.
            with contextlib.suppress(OSError):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60}
        options.update(kwargs)
        engine = create_async_engine(sqlite_url(parsed), **options)
        event.listen(engine.sync_engine, "connect", apply_pragmas)
        time_transactions(engine.sync_engine)
        if parsed.database and parsed.database != ":memory:":
            _THREAD_READS[engine] = _ThreadReads(parsed)
        return engine
    engine = create_async_engine(url, pool_pre_ping=True, **kwargs)
    time_transactions(engine.sync_engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# What "the database cannot be used right now" looks like from SQLAlchemy and the drivers:
# a server gone or refusing, a pool with no connection to lend, SQLite locked or unopenable.
_OUTAGES: tuple[type[BaseException], ...] = (
    exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError, TimeoutError,
)  # fmt: skip

_RECORD = insert(table_of(HandledUpdate))  # built once: it runs in every write of an update


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _OUTAGES)


@asynccontextmanager
async def outage_as_unavailable() -> AsyncIterator[None]:
    """Raise `Unavailable` for an outage, so callers above the database need not know it."""
    try:
        yield
    except Exception as error:
        if _unavailable(error):
            raise Unavailable(f"{type(error).__name__}: {error}") from error
        raise


@asynccontextmanager
async def transaction(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One service call, one transaction: commit on success, roll back on error.

    Inside the handling of a Telegram update (`bot.common.delivery`), the first transaction
    also records the update's id: a redelivered update then raises `AlreadyHandled` here,
    before it changes anything, and the record commits or rolls back with the change. The
    delivery's riders (`bot.common.delivery.Rider`) write what they have pending just
    before the commit. An outage raises `Unavailable`.
    """
    delivery = current_delivery()
    records = delivery is not None and not delivery.committed
    committed: list[Callable[[], None]] = []
    async with outage_as_unavailable(), factory() as session, session.begin():
        if delivery is not None and records:
            await _record(session, delivery.update_id)
        yield session
        for rider in delivery.riders if delivery is not None else ():
            after = await rider(session)  # only once the body succeeded: it commits next
            if after is not None:
                committed.append(after)
    if delivery is not None and records:
        delivery.committed = True
    for after in committed:
        after()


async def _record(session: AsyncSession, update_id: int) -> None:
    """No savepoint: a duplicate ends the whole transaction anyway."""
    try:
        await session.execute(_RECORD, {"update_id": update_id, "handled_at": datetime.now(UTC)})
    except exc.IntegrityError:
        raise AlreadyHandled(update_id) from None


class Reads(Protocol):
    """What `reading` yields: statements in, buffered results out."""

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Result[Any]: ...


class _ThreadReads:
    """SQLite's hot-path reads, one thread hop each.

    Through aiosqlite a read costs two hand-offs to its thread and back (execute, fetch:
    about 50 µs each; `bot.db.sqlite.OneHopCursor`), more than SQLite's own work on the
    bot's hottest path, and it queues behind any open transaction. These reads (who is
    writing, their deals, their dialog) run instead on a second connection of SQLAlchemy's
    sync engine, in one worker thread of their own, so each is a single hop, and the event
    loop still never waits for SQLite. In WAL mode
    that connection sees every committed write of the bot's own connection.
    """

    def __init__(self, url: URL) -> None:
        self._engine = create_sync_engine(url.set(drivername="sqlite+pysqlite"), pool_size=1)
        event.listen(self._engine, "connect", apply_pragmas)
        time_transactions(self._engine)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voronka-reads")

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Result[Any]:
        loop = asyncio.get_running_loop()
        frozen = await loop.run_in_executor(self._thread, self._run, statement, parameters)
        return frozen()

    def _run(
        self, statement: Executable, parameters: Mapping[str, Any] | None
    ) -> FrozenResult[Any]:
        with self._engine.connect() as connection:
            return connection.execute(statement, parameters or {}).freeze()

    def close(self) -> None:
        """Close the connection in the thread that made it (sqlite3 requires that)."""
        self._thread.submit(self._engine.dispose).result()
        self._thread.shutdown(wait=True)


_THREAD_READS: WeakKeyDictionary[AsyncEngine, _ThreadReads] = WeakKeyDictionary()


async def dispose(engine: AsyncEngine) -> None:
    """Close the engine's connections, and its reading thread if it has one."""
    reads = _THREAD_READS.pop(engine, None)
    if reads is not None:
        await asyncio.get_running_loop().run_in_executor(None, reads.close)
    await engine.dispose()


@asynccontextmanager
async def reading(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[Reads]:
    """A read of plain rows on the hottest paths: no session, no transaction of its own.

    Each statement sees committed rows and writes nothing; rows come buffered, so they may
    be read after the block. The session's bookkeeping (a fifth of a short read) is
    skipped. On an SQLite file the reads go to `_ThreadReads`; elsewhere to a connection of
    the pool.
    """
    engine = factory.kw["bind"]
    reads = _THREAD_READS.get(engine)
    async with outage_as_unavailable():
        if reads is not None:
            yield reads
            return
        async with engine.connect() as connection:
            yield connection
