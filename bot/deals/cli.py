"""`voronka deals export|import`: move deals with their history and notes, and the teams and
people behind them, between CRMs and databases."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from bot.common.errors import FileProblem, InvalidFile
from bot.common.logs import configure_logging
from bot.config import Settings
from bot.container import Core, build_core
from bot.deals.import_store import ImportStore
from bot.deals.io import IMPORT_BATCH, DealTransfer, ImportReport


def add_deals_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `deals export` and `deals import` to the `voronka` parser."""
    deals = subparsers.add_parser("deals", help="export and import deals with their history")
    actions = deals.add_subparsers(dest="deals_command", metavar="ACTION", required=True)

    export = actions.add_parser(
        "export", help="write the teams, the people and every deal with its history and notes"
    )
    export.add_argument(
        "--format", choices=("json", "csv"), default="json", help="file format (default: json)"
    )
    export.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="file to write (default: stdout)"
    )
    export.set_defaults(handler=cmd_deals_export)

    load = actions.add_parser(
        "import", help="import deals from a JSON file in the export format (by external_id)"
    )
    load.add_argument(
        "file",
        type=Path,
        metavar="FILE.json",
        help="the file export writes (an array of deals, as older versions wrote, works too)",
    )
    load.add_argument(
        "--create-users",
        action="store_true",
        help="create the teams and people the database lacks: as the file describes them "
        "(role, team, active), or, when only a deal names them, as managers of its team",
    )
    load.set_defaults(handler=cmd_deals_import)


def deal_transfer(core: Core) -> DealTransfer:
    """The export and import over the core's database, funnels, people and clock."""
    return DealTransfer(
        ImportStore(core.db),
        core.funnels,
        core.people,
        clock=core.clock,
        written=core.deals.forget_refs,
    )


# --- export --------------------------------------------------------------------------------


def cmd_deals_export(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")
    return asyncio.run(_export(settings, args.format, args.out))


async def _export(settings: Settings, file_format: str, path: Path | None) -> int:
    core = build_core(settings)
    try:
        await core.migrate()
        with _output(path) as out:
            transfer = deal_transfer(core)
            write = transfer.write_json if file_format == "json" else transfer.write_csv
            count = await write(out)
    finally:
        await core.close()
    where = f" to {path}" if path else ""
    print(f"exported {count} deals{where}", file=sys.stderr)
    return 0


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """UTF-8 text to stdout, or to a file that appears only once it is complete."""
    if path is None:
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(encoding="utf-8")
        yield sys.stdout
        sys.stdout.flush()
        return
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as file:
            yield file
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


# --- import --------------------------------------------------------------------------------


def cmd_deals_import(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")
    try:
        rows = read_file(args.file)
    except InvalidFile as error:  # not JSON of the right shape: nothing to check row by row
        print(error, file=sys.stderr)
        return 1
    return asyncio.run(_import(settings, rows, args.create_users))


def read_file(path: Path) -> list[Any] | dict[str, Any]:
    """The file as JSON (an object, or an older file's array of deals); numbers with a point
    are read exactly, as Decimal."""
    try:
        with path.open(encoding="utf-8-sig") as file:
            data = json.load(file, parse_float=Decimal)
    except OSError as error:
        raise _unreadable(path, f"cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise _unreadable(path, "not UTF-8 text") from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise _unreadable(path, f"not valid JSON: {error.msg} ({where})") from None
    if not isinstance(data, list | dict):
        raise _unreadable(path, "expected a JSON object, as `voronka deals export` writes")
    return data


def _unreadable(path: Path, why: str) -> InvalidFile:
    return InvalidFile([FileProblem(why)], path)


async def _import(settings: Settings, rows: list[Any] | dict[str, Any], create_users: bool) -> int:
    core = build_core(settings)
    try:
        await core.migrate()
        report = await deal_transfer(core).import_deals(
            rows,
            create_users=create_users,
            progress=_show_progress if _deal_count(rows) > IMPORT_BATCH else None,
        )
    except InvalidFile as error:
        _print_problems(error)
        return 1
    finally:
        await core.close()
    print(_describe(report))
    return 0


def _deal_count(rows: list[Any] | dict[str, Any]) -> int:
    deals = rows.get("deals") if isinstance(rows, dict) else rows
    return len(deals) if isinstance(deals, list) else 0


def _print_problems(error: InvalidFile) -> None:
    """Every problem on its own line, so a big file can be fixed in one pass."""
    for problem in error.problems:
        print(problem, file=sys.stderr)
    rows = len({problem.row for problem in error.problems if problem.row is not None})
    elsewhere = sum(problem.row is None for problem in error.problems)
    where = f"{rows} row(s)" + (f" and {elsewhere} outside the deals" if elsewhere else "")
    print(f"{len(error.problems)} problem(s) in {where}; nothing was imported", file=sys.stderr)


def _show_progress(done: int, total: int) -> None:
    print(f"imported {done}/{total} deals", file=sys.stderr, flush=True)


def _describe(report: ImportReport) -> str:
    return (
        f"created {report.created} deals, {report.unchanged} already there (unchanged), "
        f"{report.users_created} users created"
    )
