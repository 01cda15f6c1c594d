"""SQLite through aiosqlite with public APIs only, and as few thread hand-offs as it allows.

aiosqlite runs every SQLite call on its own thread, so the event loop never waits for SQLite
(a long report query, or another process holding the write lock for up to the busy
timeout). The price is a hand-off to that thread and back per call: on a text move those
cost more than SQLite's own work (benchmarks/deals.py; docs/ARCHITECTURE.md). Three things
keep them few:

- `OneHopCursor` runs a statement in one hand-off (two when it returns rows) where
  SQLAlchemy's own aiosqlite cursor takes three or four (see the class).

- `SQLiteDialect` is SQLAlchemy's aiosqlite dialect whose `do_commit` and `do_rollback`
  (documented `Dialect` methods) do nothing when aiosqlite's public `in_transaction` says
  SQLite has no transaction open. SQLAlchemy ends every connection it lends with one of
  them, also after a read-only `SELECT` and again when the pool takes a committed
  connection back; SQLite would treat those as no-ops, so skipping them changes nothing
  but a hand-off each.
- The engine keeps one connection (`bot.db.session.create_engine`): transactions queue for
  it on the event loop, and SQLite never sees two writers of this process at once.

The dialect is registered as `sqlite+voronka_aiosqlite` through SQLAlchemy's documented
`registry.register`; `create_engine` uses it for every SQLite URL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    SQLiteDialect_aiosqlite,
    SQLiteExecutionContext_aiosqlite,
)
from sqlalchemy.engine import URL, AdaptedConnection
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.pool import PoolProxiedConnection

DRIVER = "voronka_aiosqlite"


class OneHopCursor:
    """A DBAPI cursor over aiosqlite's public `Connection.execute`: one hand-off a statement.

    SQLAlchemy's own aiosqlite cursor makes a cursor in aiosqlite's thread, executes on it
    and closes it, three hand-offs (four with rows to fetch) where SQLite's work is a few
    microseconds. Here `Connection.execute` makes the cursor and runs the statement in one
    hand-off, and rows, when there are any, come in a second (`Cursor.fetchall`); nothing is
    left to close, since every statement has run to its end by then (sqlite3 resets it).
    The awaits run through `AdaptedConnection.run_async`, SQLAlchemy's documented way to
    call an asyncio driver from its synchronous side. Errors are sqlite3's own, which the
    dialect already knows (aiosqlite re-exports them), so SQLAlchemy wraps them as before.
    """

    arraysize = 1

    def __init__(self, connection: AdaptedConnection) -> None:
        self._connection = connection
        self._cursor: aiosqlite.Cursor | None = None
        self._rows: deque[Any] = deque()

    @property
    def description(self) -> Any:
        return None if self._cursor is None else self._cursor.description

    @property
    def rowcount(self) -> int:
        return -1 if self._cursor is None else self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return None if self._cursor is None else self._cursor.lastrowid

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> None:
        arguments = () if parameters is None else parameters
        self._cursor = self._connection.run_async(
            lambda driver: driver.execute(operation, arguments)
        )
        self._fetch()

    def executemany(self, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> None:
        self._cursor = self._connection.run_async(
            lambda driver: driver.executemany(operation, seq_of_parameters)
        )
        self._fetch()

    def _fetch(self) -> None:
        cursor = self._cursor
        if cursor is not None and cursor.description is not None:
            self._rows = deque(self._connection.run_async(lambda _: cursor.fetchall()))
        else:
            self._rows = deque()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def close(self) -> None:
        """Drop the rows; the counts stay readable, as SQLAlchemy reads them after closing."""
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """Nothing to close early: the rows are already here and the statement has ended.

        SQLAlchemy's asyncio layer awaits this on every cursor of an asyncio dialect after
        an `execute` (so that a cursor is never closed from synchronous code); it is the one
        name here that SQLAlchemy, not DBAPI, asks for. Doing nothing is what its own cursor
        does when it holds no open driver cursor.
        """

    def setinputsizes(self, *sizes: Any) -> None:
        """Nothing to set: sqlite3 takes no sizes (DBAPI allows doing nothing)."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """As `setinputsizes`."""


class SQLiteExecutionContext(SQLiteExecutionContext_aiosqlite):
    """Statements get a `OneHopCursor`; streamed results keep SQLAlchemy's own cursor."""

    def create_cursor(self) -> DBAPICursor:
        if self.execution_options.get("stream_results", False):
            return super().create_cursor()
        # An asyncio dialect's DBAPI connection is SQLAlchemy's AdaptedConnection.
        adapted = cast(AdaptedConnection, self.root_connection.connection.dbapi_connection)
        return cast(DBAPICursor, OneHopCursor(adapted))


class SQLiteDialect(SQLiteDialect_aiosqlite):
    """SQLAlchemy's aiosqlite dialect with one hand-off per statement, minus the commits and
    rollbacks of no transaction."""

    supports_statement_cache = True
    execution_ctx_cls = SQLiteExecutionContext

    def do_commit(self, dbapi_connection: PoolProxiedConnection) -> None:
        if _in_transaction(dbapi_connection):
            super().do_commit(dbapi_connection)  # type: ignore[no-untyped-call]

    def do_rollback(self, dbapi_connection: PoolProxiedConnection) -> None:
        if _in_transaction(dbapi_connection):
            super().do_rollback(dbapi_connection)  # type: ignore[no-untyped-call]


def _in_transaction(dbapi_connection: PoolProxiedConnection) -> bool:
    """Whether SQLite holds an open transaction on this connection (read without a hand-off).

    The flag is current: SQLAlchemy never ends a transaction while a statement of the same
    connection is still running in aiosqlite's thread (a statement interrupted by a
    cancellation invalidates the connection instead). A closed aiosqlite connection answers
    with ValueError, or has no driver connection left; the driver's own commit or rollback
    then decides what that means, as it would without this dialect.
    """
    driver = dbapi_connection.driver_connection
    if driver is None:
        return True
    try:
        return bool(driver.in_transaction)
    except ValueError:
        return True


def sqlite_url(url: URL) -> URL:
    """The same database, reached through `SQLiteDialect`."""
    return url.set(drivername=f"sqlite+{DRIVER}")


def apply_pragmas(dbapi_connection: DBAPIConnection, _record: Any) -> None:
    """WAL for readers beside a writer, enforced foreign keys, a wait instead of 'locked'."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


registry.register(f"sqlite.{DRIVER}", __name__, SQLiteDialect.__name__)
