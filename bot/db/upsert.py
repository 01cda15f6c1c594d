"""INSERT … ON CONFLICT for either database: the one place a store picks the dialect's insert.

Both PostgreSQL and SQLite (3.24+) take ON CONFLICT DO NOTHING / DO UPDATE, which lets two
writers meet on a unique key without a violation (one that, on PostgreSQL, would leave the
transaction aborted); only the construct that spells it is per dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

Insert = postgresql.Insert | sqlite.Insert
InsertOf = Callable[[Table], Insert]
_INSERTS: dict[str, InsertOf] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_Built = TypeVar("_Built")


def insert_or_conflict(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The insert of `table` for the session's database, with `on_conflict_do_*`."""
    return _INSERTS[_dialect(session)](table)


class PerDialect(Generic[_Built]):
    """A statement built once for each database, for the hottest writes.

    Building an upsert per call costs more than running it (SQLAlchemy derives its cache
    key from the whole construct each time); built once with bound parameters, it costs
    a dictionary lookup.
    """

    def __init__(self, build: Callable[[InsertOf], _Built]) -> None:
        self._built = {name: build(insert) for name, insert in _INSERTS.items()}

    def of(self, session: AsyncSession) -> _Built:
        return self._built[_dialect(session)]


def _dialect(session: AsyncSession) -> str:
    return "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"
