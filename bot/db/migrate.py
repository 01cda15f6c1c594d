"""Apply Alembic migrations from code: the bot, the CLI and the tests share this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Held for the migration's transaction (PostgreSQL's DDL is transactional): workers started
# together migrate one after another, and those after the first find nothing left to do.
# Advisory lock keys are per database; this is "migrate" in hex, apart from bot.db.leadership.
MIGRATION_KEY = 0x6D696772617465
_ONE_AT_A_TIME = text("SELECT pg_advisory_xact_lock(:key)")


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (a no-op when it is current).

    On PostgreSQL one process at a time (see MIGRATION_KEY); SQLite has one process anyway
    (`bot.db.sole`)."""

    def _upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(_ONE_AT_A_TIME, {"key": MIGRATION_KEY})
        await connection.run_sync(_upgrade)


async def pending_revisions(engine: AsyncEngine) -> bool:
    """True when the database is behind the code."""

    def _current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        current = await connection.run_sync(_current)
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return current != heads
