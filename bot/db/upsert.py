"""INSERT … ON CONFLICT for either database: the one place a store picks the dialect's insert.

Both PostgreSQL and SQLite (3.24+) take ON CONFLICT DO NOTHING / DO UPDATE, which lets two
writers meet on a unique key without a violation (one that, on PostgreSQL, would leave the
transaction aborted); only the construct that spells it is per dialect.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_or_conflict(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The insert of `table` for the session's database, with `on_conflict_do_*`."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
