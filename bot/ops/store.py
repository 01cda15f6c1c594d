"""What backup and restore need to know of the configured database, in SQL.

Backup and restore work on the whole database rather than on one feature's rows, so they
ask only what every Voronka database answers: which kind it is, where it lives, how much it
holds, and which tables it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, make_url

from bot.db.models import Deal, User, table_of
from bot.db.session import create_engine, dispose, outage_as_unavailable


@dataclass(frozen=True)
class Database:
    """The configured database as the backup tools see it."""

    kind: Literal["sqlite", "postgresql"]
    label: str  # for messages: the URL without its password
    sqlite_file: Path | None = None
    # libpq's variables for pg_dump / pg_restore: the password never goes on a command line
    pg_env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Holdings:
    deals: int
    people: int

    @property
    def empty(self) -> bool:
        return self.deals == 0 and self.people == 0

    @property
    def summary(self) -> str:
        """«1 deal and 3 people», for the commands' messages."""
        deals = f"{self.deals} deal{'' if self.deals == 1 else 's'}"
        people = f"{self.people} {'person' if self.people == 1 else 'people'}"
        return f"{deals} and {people}"


def database_of(url: str) -> Database:
    """The kind and address of the database a `VORONKA_DATABASE_URL` names."""
    parsed = make_url(url)
    label = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("an in-memory SQLite database has nothing to back up")
        return Database("sqlite", label, sqlite_file=Path(parsed.database))
    if backend != "postgresql":
        raise ValueError(f"backup knows SQLite and PostgreSQL, not {backend}")
    env = {"PGDATABASE": parsed.database or "postgres"}
    for name, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
    ):
        if value is not None:
            env[name] = str(value)
    query = dict(parsed.query)
    for key in ("ssl", "sslmode"):  # asyncpg spells it ssl=require, libpq sslmode=require
        mode = query.get(key)
        if isinstance(mode, str):
            env["PGSSLMODE"] = mode
    if "host" in query and isinstance(query["host"], str):  # a Unix socket folder
        env["PGHOST"] = query["host"]
    return Database("postgresql", label, pg_env=env)


_DEALS = table_of(Deal)
_PEOPLE = table_of(User)


async def holdings(url: str) -> Holdings:
    """How many deals and people the database holds (none before its first migration);
    `Unavailable` when it cannot be reached."""

    def count(connection: Connection) -> Holdings:
        names = set(inspect(connection).get_table_names())
        deals = people = 0
        if _DEALS.name in names:
            deals = connection.execute(select(func.count()).select_from(_DEALS)).scalar_one()
        if _PEOPLE.name in names:
            people = connection.execute(select(func.count()).select_from(_PEOPLE)).scalar_one()
        return Holdings(deals=deals, people=people)

    engine = create_engine(url)
    try:
        async with outage_as_unavailable(), engine.connect() as connection:
            return await connection.run_sync(count)
    finally:
        await dispose(engine)


async def other_sessions(url: str) -> int:
    """PostgreSQL: how many other sessions are connected to this database (a running
    `voronka run`, a standby, a webhook worker, or someone's psql)."""
    engine = create_engine(url)
    try:
        async with outage_as_unavailable(), engine.connect() as connection:
            found = await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return int(found.scalar_one())
    finally:
        await dispose(engine)


async def drop_tables_besides(url: str, keep: set[str]) -> list[str]:
    """Drop the tables of the public schema that `keep` does not name; the dropped ones.

    A restored PostgreSQL archive drops and recreates only its own tables; a table that a
    newer migration added after the backup was taken would stay, and the migration that
    follows the restore would then fail to create it again.
    """

    def drop(connection: Connection) -> list[str]:
        extra = sorted(set(inspect(connection).get_table_names()) - keep)
        for name in extra:
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.execute(text(f"DROP TABLE IF EXISTS {quoted} CASCADE"))
        return extra

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(drop)
    finally:
        await dispose(engine)
