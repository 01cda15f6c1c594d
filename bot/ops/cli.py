"""`voronka backup` and `voronka restore`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.common.logs import configure_logging
from bot.config import Settings
from bot.ops.backup import BackupError, backup, restore
from bot.ops.store import database_of


def add_ops_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `backup` and `restore` to the `voronka` parser."""
    save = subparsers.add_parser(
        "backup", help="copy the whole database to one file (safe while the bot runs)"
    )
    save.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="the backup file to write (it appears only once complete)",
    )
    save.set_defaults(handler=cmd_backup)

    load = subparsers.add_parser(
        "restore", help="replace the database with a backup file, then migrate it"
    )
    load.add_argument("file", type=Path, metavar="FILE", help="a file `voronka backup` wrote")
    load.add_argument(
        "--force", action="store_true", help="replace a database that already holds data"
    )
    load.set_defaults(handler=cmd_restore)


def _where(url: str) -> str:
    """The database as a person finds it: an SQLite file by its absolute path."""
    database = database_of(url)
    if database.sqlite_file is not None:
        return str(database.sqlite_file.resolve())
    return database.label


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")
    try:
        held = backup(settings.db_url, args.out)
    except BackupError as error:
        print(f"backup failed: {error}", file=sys.stderr)
        return 1
    size = args.out.stat().st_size
    print(f"backed up {held.summary} to {args.out.resolve()} ({size} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")
    try:
        held = restore(settings.db_url, args.file, force=args.force)
    except BackupError as error:
        print(f"restore refused: {error}", file=sys.stderr)
        return 1
    print(
        f"restored {held.summary} from {args.file} into {_where(settings.db_url)}; "
        "the database is migrated and ready"
    )
    return 0
