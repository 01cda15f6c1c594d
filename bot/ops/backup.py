"""`voronka backup` and `voronka restore`: the whole database in one file, and back.

Each database is copied by its own tool rather than row by row: SQLite's online backup API
(a consistent snapshot while the bot keeps writing, as WAL lets readers beside the writer),
and PostgreSQL's `pg_dump` in custom format with `pg_restore`. A backup file appears only
once it is complete (written beside the target and renamed), so a full disk or a killed
command never leaves a half file that looks like a backup. A restore checks the file first
(its kind, that it is whole, that it is Voronka's) and changes nothing when it is not fit;
it replaces a database that holds data only when told to (`--force`), and migrates the
restored database to this version of the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from bot.common.errors import Unavailable
from bot.common.startup import CannotStart
from bot.db.migrate import alembic_config, upgrade
from bot.db.session import create_engine, dispose
from bot.db.sole import hold_sqlite_file
from bot.ops.store import (
    Database,
    Holdings,
    database_of,
    drop_tables_besides,
    holdings,
    other_sessions,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"  # the first bytes of a pg_dump custom-format archive
PG_BIN_VARIABLE = "VORONKA_PG_BIN"
# Tables every Voronka database has since its first migrations: a file without them is
# some other database.
VORONKA_TABLES = frozenset({"alembic_version", "deals", "users"})
T = TypeVar("T")


class BackupError(Exception):
    """Backup or restore cannot go on; the message is one line saying why and what to do."""


# --- backup --------------------------------------------------------------------------------


def backup(url: str, out: Path) -> Holdings:
    """Write the whole database to `out`; what it holds."""
    database = _database(url)
    _check_out(out, database)
    if database.kind == "sqlite":
        assert database.sqlite_file is not None
        return _backup_sqlite(database.sqlite_file, out)
    _backup_postgres(database, out)
    return _run(holdings(url))


def _check_out(out: Path, database: Database) -> None:
    if out.is_dir():
        raise BackupError(f"{out} is a folder: name the backup file, e.g. {out / 'voronka.backup'}")
    if not out.parent.is_dir():
        raise BackupError(f"the folder {out.parent} does not exist: create it or name another")
    if database.sqlite_file is not None and _same_file(out, database.sqlite_file):
        raise BackupError(f"{out} is the database itself: name another file for the backup")


def _same_file(one: Path, other: Path) -> bool:
    return one.resolve() == other.resolve()


@contextlib.contextmanager
def _partial(out: Path) -> Iterator[Path]:
    """A temporary file beside `out` that becomes `out` only when the block completes."""
    try:
        handle, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    except OSError as error:
        raise BackupError(f"cannot write in {out.parent}: {error.strerror or error}") from None
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _read_only(path: Path, *, immutable: bool = False) -> sqlite3.Connection:
    """A connection that can neither create nor change the file.

    `immutable` also skips locking and the WAL: for a backup file, which nothing writes.
    """
    uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    connection = sqlite3.connect(uri, uri=True, timeout=30)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _backup_sqlite(source: Path, out: Path) -> Holdings:
    if not source.is_file():
        raise BackupError(
            f"there is no database at {source}, so nothing to back up: check "
            "VORONKA_DATABASE_URL and VORONKA_DATA_DIR"
        )
    with _partial(out) as partial:
        try:
            with (
                contextlib.closing(_read_only(source)) as origin,
                contextlib.closing(sqlite3.connect(partial)) as copy,
            ):
                # One step: the whole file under one read transaction, so the copy is one
                # moment of the database while the bot goes on writing beside it (WAL).
                origin.backup(copy)
                # A single self-contained file: no -wal beside it is needed to read it.
                copy.execute("PRAGMA journal_mode=DELETE")
                _check_whole(copy, out)
                held = _count(copy)
        except sqlite3.Error as error:
            raise BackupError(f"cannot back up {source}: {error}") from None
    return held


def _count(connection: sqlite3.Connection) -> Holdings:
    (deals,) = connection.execute("SELECT count(*) FROM deals").fetchone()
    (people,) = connection.execute("SELECT count(*) FROM users").fetchone()
    return Holdings(deals=int(deals), people=int(people))


def _check_whole(connection: sqlite3.Connection, file: Path) -> None:
    problems = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise BackupError(f"{file} is damaged ({'; '.join(problems)}): use another backup")


def _backup_postgres(database: Database, out: Path) -> None:
    pg_dump = _pg_tool("pg_dump")
    with _partial(out) as partial:
        _pg_run(
            [pg_dump, "--format=custom", "--no-password", f"--file={partial}"],
            database,
            what="back up the database",
        )
        with partial.open("rb") as written:
            if written.read(len(PG_MAGIC)) != PG_MAGIC:
                raise BackupError("pg_dump did not write a custom-format archive")


# --- restore -------------------------------------------------------------------------------


def restore(url: str, file: Path, *, force: bool) -> Holdings:
    """Replace the database with the backup in `file`, then migrate it; what it now holds."""
    database = _database(url)
    kind = kind_of(file)
    if kind != database.kind:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        article = "an" if kind == "sqlite" else "a"
        raise BackupError(
            f"{file} is a backup of {article} {names[kind]} database, but this Voronka uses "
            f"{names[database.kind]} ({database.label}); restore it where the database is "
            f"{names[kind]}, or carry the deals across with `voronka deals export` and "
            "`voronka deals import`. Nothing was changed"
        )
    if database.sqlite_file is not None and _same_file(file, database.sqlite_file):
        raise BackupError(f"{file} is the database itself, not a backup: nothing was changed")
    tables = _check_sqlite_backup(file) if kind == "sqlite" else _check_pg_archive(file)
    if database.sqlite_file is not None:
        if not database.sqlite_file.exists() and not force:
            # Most likely run from another folder than the bot's: a relative path in
            # VORONKA_DATABASE_URL counts from the current one, and would get a new database.
            raise BackupError(
                f"there is no database at {database.sqlite_file.resolve()} "
                f"(VORONKA_DATABASE_URL {database.label}, from the folder {Path.cwd()}). Run "
                "restore from the bot's folder, or pass --force to restore into a new "
                "database there; nothing was changed"
            )
        try:  # a running bot keeps people's dialogs in memory and would write over them
            hold_sqlite_file(url)
        except CannotStart as error:
            raise BackupError(
                f"{error.problem}. Stop it first, then restore; nothing was changed"
            ) from None
    else:
        others = _run(other_sessions(url))
        if others:  # bots running on it would go on with what they hold, mixing old and new
            raise BackupError(
                f"{others} other {'session is' if others == 1 else 'sessions are'} connected to "
                f"{database.label} (a voronka run, a standby, a webhook worker?). Stop them "
                "first, then restore; nothing was changed"
            )
    present = _run(holdings(url))
    if not present.empty and not force:
        raise BackupError(
            f"the database ({database.label}) already holds {present.summary}; restoring "
            f"replaces all of it with {file}. "
            "Pass --force to do so (nothing was changed)"
        )
    if database.sqlite_file is not None:
        _restore_sqlite(file, database.sqlite_file)
    else:
        _restore_postgres(file, database)
        _run(drop_tables_besides(url, tables))
    _run(_migrate(url))
    return _run(holdings(url))


def kind_of(file: Path) -> str:
    """'sqlite' or 'postgresql', from the file's first bytes."""
    try:
        with file.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"there is no file {file}: nothing was changed") from None
    except IsADirectoryError:
        raise BackupError(f"{file} is a folder, not a backup file: nothing was changed") from None
    except OSError as error:
        raise BackupError(f"cannot read {file}: {error.strerror or error}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise BackupError(
        f"{file} is not a Voronka backup (neither an SQLite database nor a pg_dump "
        "custom-format archive, which `voronka backup` writes): nothing was changed"
    )


def _check_sqlite_backup(file: Path) -> set[str]:
    """The file is a whole SQLite database of Voronka's at a revision this code knows."""
    with file.open("rb") as handle:
        header = handle.read(100)
    size = file.stat().st_size
    page_size = int.from_bytes(header[16:18], "big") if len(header) == 100 else 0
    page_size = 65536 if page_size == 1 else page_size
    # The header's page count is valid when its change counter matches (SQLite >= 3.7.0).
    pages = int.from_bytes(header[28:32], "big") if header[24:28] == header[92:96] else 0
    if page_size == 0 or size % page_size or size < page_size * pages:
        raise BackupError(
            f"{file} is cut short ({size} bytes of {page_size * pages}): it was not copied "
            "whole; copy it again or use another backup. Nothing was changed"
        )
    try:
        with contextlib.closing(_read_only(file, immutable=True)) as backup_file:
            _check_whole(backup_file, file)
            tables = {row[0] for row in backup_file.execute("SELECT name FROM sqlite_master")}
            if not VORONKA_TABLES.issubset(tables):
                raise BackupError(
                    f"{file} is an SQLite database but not Voronka's (it has no deals): "
                    "nothing was changed"
                )
            revisions = [row[0] for row in backup_file.execute("SELECT * FROM alembic_version")]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{file} is damaged ({error}): nothing was changed") from None
    _check_revisions(file, revisions)
    return tables


def _check_revisions(file: Path, revisions: list[str]) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    for revision in revisions:
        try:
            known = scripts.get_revision(revision) is not None
        except CommandError:
            known = False
        if not known:
            raise BackupError(
                f"{file} comes from a newer Voronka (database revision {revision}): upgrade "
                "Voronka to the version that made it, then restore. Nothing was changed"
            )


_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", re.MULTILINE)


def _check_pg_archive(file: Path) -> set[str]:
    """The archive reads as pg_dump's and holds Voronka's tables; their names."""
    listing = _pg_run(
        [_pg_tool("pg_restore"), "--list", str(file)],
        None,
        what=f"read {file} (nothing was changed)",
    )
    tables = set(_TOC_TABLE.findall(listing))
    if not VORONKA_TABLES.issubset(tables):
        raise BackupError(
            f"{file} is a pg_dump archive but not of a Voronka database (it has no deals): "
            "nothing was changed"
        )
    return tables


def _restore_sqlite(file: Path, target: Path) -> None:
    """Copy the pages in with SQLite's backup API, in one write transaction of the target.

    The target's own locking and WAL are respected (replacing the file under a WAL would
    mix the old log into the new file), and a failure leaves it as it was.
    """
    try:
        with (
            contextlib.closing(_read_only(file, immutable=True)) as origin,
            contextlib.closing(sqlite3.connect(target, timeout=30)) as database,
        ):
            database.execute("PRAGMA busy_timeout=30000")
            origin.backup(database)
            database.execute("PRAGMA journal_mode=WAL")
            _check_whole(database, target)
    except sqlite3.Error as error:
        raise BackupError(f"cannot restore into {target}: {error}") from None


def _restore_postgres(file: Path, database: Database) -> None:
    """pg_restore in one transaction: a cut-short archive fails and changes nothing."""
    _pg_run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-acl",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={database.pg_env['PGDATABASE']}",
            str(file),
        ],
        database,
        what=f"restore {file} (nothing was changed)",
    )


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await dispose(engine)


# --- shared --------------------------------------------------------------------------------


def _database(url: str) -> Database:
    try:
        return database_of(url)
    except ValueError as error:
        raise BackupError(f"{error} (VORONKA_DATABASE_URL)") from None


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    except Unavailable as error:
        raise BackupError(
            f"cannot reach the database ({error}): check VORONKA_DATABASE_URL and that the "
            "server runs"
        ) from None


def _pg_tool(name: str) -> str:
    """The PostgreSQL client program: in VORONKA_PG_BIN when set, else on PATH."""
    folder = os.environ.get(PG_BIN_VARIABLE)
    if folder:
        program = Path(folder) / name
        if program.is_file() and os.access(program, os.X_OK):
            return str(program)
        raise BackupError(
            f"{PG_BIN_VARIABLE}={folder} has no {name}: point it at the folder of the "
            "PostgreSQL client programs (e.g. /usr/lib/postgresql/15/bin)"
        )
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed, and PostgreSQL is backed up and restored with it: "
            "install the PostgreSQL client of your server's version (Debian, Ubuntu: "
            f"apt-get install postgresql-client), or set {PG_BIN_VARIABLE} to its folder"
        )
    return found


def _pg_run(command: list[str], database: Database | None, *, what: str = "") -> str:
    """Run a PostgreSQL client program; its output, or BackupError with its own words."""
    env = {**os.environ, **(database.pg_env if database else {})}
    try:
        finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as error:
        raise BackupError(f"cannot run {command[0]}: {error.strerror or error}") from None
    if finished.returncode != 0:
        program = Path(command[0]).name
        lines = [line for line in finished.stderr.splitlines() if line.strip()]
        said = "; ".join(lines[-2:]) if lines else f"exit code {finished.returncode}"
        raise BackupError(f"{program} could not {what or 'run'}: {said}")
    return finished.stdout
