"""The SQLite engine: its pragmas, one connection that transactions queue for, and commits and
rollbacks that reach the file although the dialect skips the ones SQLite would ignore."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.session import create_engine, create_session_factory, dispose, reading, transaction

SCHEMA = (
    "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, "
    "counter_id INTEGER NOT NULL REFERENCES counters (id), body TEXT NOT NULL)",
    "INSERT INTO counters (id, n) VALUES (1, 0)",
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'voronka.db'}"


@pytest.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    async with engine.begin() as connection:
        for statement in SCHEMA:
            await connection.execute(text(statement))
    yield engine
    await dispose(engine)


@pytest.fixture
def factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


async def _notes(url: str) -> list[str]:
    """The notes as another process sees them: through an engine of its own."""
    other = create_engine(url)
    try:
        async with other.connect() as connection:
            rows = await connection.execute(text("SELECT body FROM notes ORDER BY id"))
            return [row.body for row in rows]
    finally:
        await dispose(other)


async def test_the_file_is_created_with_wal_foreign_keys_and_a_busy_timeout(
    engine: AsyncEngine, url: str, tmp_path: Path
) -> None:
    assert (tmp_path / "data" / "voronka.db").exists()
    async with engine.connect() as connection:
        pragmas = {
            name: (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": 5000,
    }


async def test_a_note_for_a_missing_counter_is_refused(
    factory: async_sessionmaker[AsyncSession], url: str
) -> None:
    with pytest.raises(IntegrityError):
        async with transaction(factory) as session:
            await session.execute(text("INSERT INTO notes (counter_id, body) VALUES (2, 'x')"))
    assert await _notes(url) == []


async def test_a_committed_transaction_is_on_disk_for_other_processes(
    factory: async_sessionmaker[AsyncSession], url: str
) -> None:
    async with transaction(factory) as session:
        await session.execute(text("INSERT INTO notes (counter_id, body) VALUES (1, 'won')"))
    assert await _notes(url) == ["won"]


async def test_a_failed_transaction_leaves_nothing_and_the_next_one_goes_through(
    factory: async_sessionmaker[AsyncSession], url: str
) -> None:
    with pytest.raises(RuntimeError):
        async with transaction(factory) as session:
            await session.execute(text("INSERT INTO notes (counter_id, body) VALUES (1, 'lost')"))
            raise RuntimeError("the use case changed its mind")
    async with transaction(factory) as session:
        await session.execute(text("INSERT INTO notes (counter_id, body) VALUES (1, 'kept')"))
    assert await _notes(url) == ["kept"]


async def test_reads_between_writes_change_nothing(
    factory: async_sessionmaker[AsyncSession], url: str
) -> None:
    counts = []
    for body in ("first", "second"):
        async with reading(factory) as connection:
            counts.append((await connection.execute(text("SELECT count(*) FROM notes"))).scalar())
        async with transaction(factory) as session:
            await session.execute(
                text("INSERT INTO notes (counter_id, body) VALUES (1, :body)"), {"body": body}
            )
    assert counts == [0, 1]
    assert await _notes(url) == ["first", "second"]


async def test_concurrent_transactions_queue_and_lose_no_update(
    factory: async_sessionmaker[AsyncSession], url: str
) -> None:
    async def bump() -> None:
        async with transaction(factory) as session:
            n = (await session.execute(text("SELECT n FROM counters WHERE id = 1"))).scalar_one()
            await asyncio.sleep(0)  # the other updates try to start their transactions now
            await session.execute(text("UPDATE counters SET n = :n WHERE id = 1"), {"n": n + 1})

    await asyncio.gather(*(bump() for _ in range(20)))
    async with reading(factory) as connection:
        total = (await connection.execute(text("SELECT n FROM counters WHERE id = 1"))).scalar_one()
    assert total == 20


async def test_a_cancelled_transaction_leaves_nothing_and_frees_the_connection(
    factory: async_sessionmaker[AsyncSession], url: str
) -> None:
    written = asyncio.Event()

    async def interrupted() -> None:
        async with transaction(factory) as session:
            await session.execute(text("INSERT INTO notes (counter_id, body) VALUES (1, 'cut')"))
            written.set()
            await asyncio.Event().wait()  # e.g. a reply to Telegram that never comes

    task = asyncio.create_task(interrupted())
    await written.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with transaction(factory) as session:
        await session.execute(text("INSERT INTO notes (counter_id, body) VALUES (1, 'next')"))
    assert await _notes(url) == ["next"]


async def test_a_read_sees_committed_rows_without_waiting_for_an_open_transaction(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(factory) as session:
        await session.execute(text("INSERT INTO notes (counter_id, body) VALUES (1, 'open')"))
        # The bot's one connection is held by this transaction; the read does not queue
        # behind it (its own connection, WAL) and sees only what was committed.
        async with reading(factory) as connection:
            count = await asyncio.wait_for(
                connection.execute(text("SELECT count(*) FROM notes")), timeout=10
            )
        assert count.scalar() == 0
    async with reading(factory) as connection:
        assert (await connection.execute(text("SELECT count(*) FROM notes"))).scalar() == 1
