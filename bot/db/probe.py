"""The first connection at start: a database that cannot be opened says why, in one line."""

from __future__ import annotations

import socket
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.common.startup import CannotStart, reason

SETTING = "VORONKA_DATABASE_URL"


async def open_database(engine: AsyncEngine) -> None:
    """Connect once before migrating; any failure here is the database's, not the code's."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # whatever the driver raises, connecting is all that was tried
        raise _explained(engine.url, error) from error


def _explained(url: URL, error: Exception) -> CannotStart:
    cause: BaseException = error.orig if isinstance(error, DBAPIError) and error.orig else error
    words = reason(cause)
    if url.get_backend_name() == "sqlite":
        return _sqlite(Path(url.database or ""), words)
    where = f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    if isinstance(cause, ConnectionRefusedError):
        return CannotStart(
            f"{where} refused the connection",
            f"Start PostgreSQL there, or correct the host and port in {SETTING}",
        )
    if isinstance(cause, socket.gaierror):
        return CannotStart(
            f"the database host {url.host} was not found ({words})",
            f"Correct the host in {SETTING}",
        )
    if isinstance(cause, OSError):
        return CannotStart(
            f"{where} cannot be reached ({words})",
            f"Check the network and the host and port in {SETTING}",
        )
    return CannotStart(
        f"{where} refused the bot: {words}",
        f"Check the user, password and database name in {SETTING} "
        "(a new database is made with createdb)",
    )


def _sqlite(path: Path, words: str) -> CannotStart:
    if path.is_dir():
        return CannotStart(
            f"the SQLite database {path} is a folder, not a file",
            f"Point {SETTING} at a file (it is created when missing)",
        )
    if not path.parent.is_dir():
        return CannotStart(
            f"the folder of the SQLite database {path} does not exist and cannot be created",
            f"Create {path.parent} for the user running the bot, or point {SETTING} elsewhere",
        )
    if "not a database" in words:
        return CannotStart(
            f"{path} is not an SQLite database ({words})",
            f"Move the file aside (a new database is then created) or point {SETTING} "
            "at the right file",
        )
    if "readonly" in words:
        return CannotStart(
            f"the SQLite database {path} is read-only for this user ({words})",
            f"Give the user running the bot write access to the file and its folder, or point "
            f"{SETTING} elsewhere",
        )
    return CannotStart(
        f"the SQLite database {path} cannot be opened ({words})",
        f"Check that the file and its folder exist and that the user running the bot may "
        f"write to both, or point {SETTING} elsewhere",
    )
