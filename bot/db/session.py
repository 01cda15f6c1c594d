"""One engine and session factory per process; SQLite tuned for a bot (`bot.db.sqlite`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db.sqlite import apply_pragmas, sqlite_url

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
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60}
        options.update(kwargs)
        engine = create_async_engine(sqlite_url(parsed), **options)
        event.listen(engine.sync_engine, "connect", apply_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One service call, one transaction: commit on success, roll back on error."""
    async with factory() as session, session.begin():
        yield session


@asynccontextmanager
async def reading(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A read of plain rows on the hottest paths: a connection without a session around it.

    Each statement sees committed rows; the connection goes back to the pool on return with
    nothing written (on SQLite without even a rollback: a read opens no transaction there).
    Rows come buffered, as from every async driver, so they may be read after the block.
    The session's bookkeeping (a fifth of a short read) is skipped.
    """
    engine = factory.kw["bind"]
    async with engine.connect() as connection:
        yield connection
