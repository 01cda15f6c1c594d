"""SQLite through aiosqlite with public APIs only, and as few thread hand-offs as it allows.

aiosqlite runs every SQLite call on its own thread, so the event loop never waits for SQLite
(a long report query, or another process holding the write lock for up to the busy
timeout). The price is a hand-off to that thread and back per call: on a text move those
cost more than SQLite's own work (benchmarks/deals.py; docs/ARCHITECTURE.md). Two things
keep them few:

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

from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import PoolProxiedConnection

DRIVER = "voronka_aiosqlite"


class SQLiteDialect(SQLiteDialect_aiosqlite):
    """SQLAlchemy's aiosqlite dialect, minus the commits and rollbacks of no transaction."""

    supports_statement_cache = True

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
