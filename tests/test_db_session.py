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


async def test_statements_report_their_counts_ids_and_rows_as_sqlite_gives_them(
    factory: async_sessionmaker[AsyncSession], url: str
) -> None:
    """What stores rely on from each statement (bot.db.sqlite.OneHopCursor): the rows changed
    (an upsert that did nothing says 0: the jobs' claims), the new row's id, every row of a
    SELECT and of RETURNING, and many parameter sets in one call."""
    insert = text("INSERT INTO notes (id, counter_id, body) VALUES (:id, 1, :body)")
    async with transaction(factory) as session:
        first = await session.execute(insert, {"id": 7, "body": "a"})
        assert (first.rowcount, first.lastrowid) == (1, 7)  # type: ignore[attr-defined]
        again = "INSERT INTO notes (id, counter_id, body) VALUES (7, 1, 'b') ON CONFLICT DO NOTHING"
        quiet = await session.execute(text(again))
        assert quiet.rowcount == 0  # type: ignore[attr-defined]
        await session.execute(insert, [{"id": 8 + n, "body": f"n{n}"} for n in range(5)])
        changed = await session.execute(text("UPDATE notes SET body = body || '!' WHERE id > 8"))
        assert changed.rowcount == 4  # type: ignore[attr-defined]
        returned = await session.execute(
            text("UPDATE notes SET body = 'last' WHERE id = 12 RETURNING id, body")
        )
        assert [tuple(row) for row in returned] == [(12, "last")]
        none = await session.execute(text("UPDATE notes SET body = 'x' WHERE id = 99"))
        assert none.rowcount == 0  # type: ignore[attr-defined]
        rows = await session.execute(text("SELECT id FROM notes ORDER BY id"))
        assert [row.id for row in rows] == [7, 8, 9, 10, 11, 12]
    assert await _notes(url) == ["a", "n0", "n1!", "n2!", "n3!", "last"]


async def test_a_streamed_read_still_comes_row_by_row(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(factory) as session:
        await session.execute(
            text("INSERT INTO notes (counter_id, body) VALUES (1, :body)"),
            [{"body": f"n{n}"} for n in range(3)],
        )
        stream = await session.stream(text("SELECT body FROM notes ORDER BY id"))
        assert [row.body async for row in stream] == ["n0", "n1", "n2"]
