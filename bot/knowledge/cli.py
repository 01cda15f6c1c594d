"""`voronka kb search` and `voronka content check|export-new|gaps`."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from bot.common.logs import configure_logging
from bot.common.sheets import CsvWriter, append_row
from bot.config import Settings
from bot.container import build_core
from bot.knowledge.content import check_content, load_content
from bot.knowledge.search import SearchIndex
from bot.knowledge.semantic import semantic_from
from bot.knowledge.service import ALIASES_FILE, ScriptGap
from bot.offers.catalog import check_catalog
from bot.offers.documents import check_templates


def add_knowledge_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb = subparsers.add_parser("kb", help="search the knowledge base from the shell")
    kb_actions = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    search = kb_actions.add_parser("search", help="search; QUERY '-' reads one query per line")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--limit", type=int, default=3)
    search.add_argument("--knowledge-dir", type=Path, default=None)
    search.add_argument("--scripts-dir", type=Path, default=None)
    search.set_defaults(handler=cmd_kb_search)

    content = subparsers.add_parser("content", help="check content files, export learned answers")
    actions = content.add_subparsers(dest="content_command", metavar="ACTION", required=True)
    actions.add_parser(
        "check", help="validate knowledge, scripts, the catalog and the offer templates"
    ).set_defaults(handler=cmd_content_check)
    export = actions.add_parser(
        "export-new",
        help="write answers confirmed in the bot as Markdown entries, and learned phrasings"
        f" as {ALIASES_FILE}",
    )
    export.add_argument("--out", type=Path, required=True, help="folder to write them to")
    export.set_defaults(handler=cmd_content_export)
    gaps = actions.add_parser(
        "gaps",
        help="what clients said where a call script had no answer («Нет подходящего ответа»)",
    )
    gaps.add_argument(
        "--format", choices=("csv", "xlsx"), default="csv", help="file format (default: csv)"
    )
    gaps.add_argument(
        "--out", type=Path, default=None, metavar="FILE",
        help="file to write (default: stdout; required for xlsx)",
    )  # fmt: skip
    gaps.add_argument(
        "--since", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
        help="only gaps recorded on this day (in VORONKA_TIMEZONE) or later",
    )  # fmt: skip
    gaps.set_defaults(handler=cmd_content_gaps)


def cmd_kb_search(args: argparse.Namespace, settings: Settings) -> int:
    """Build the index once, then answer one query or one per line of standard input."""
    dirs = (args.knowledge_dir or settings.knowledge_dir, args.scripts_dir or settings.scripts_dir)
    loaded = load_content(dirs)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    semantic = semantic_from(settings.embeddings_url, settings.embeddings_model, settings.data_dir)
    index = SearchIndex.build(loaded.entries, semantic=semantic)
    if args.limit < 1:
        print("--limit must be at least 1", file=sys.stderr)
        return 2

    def results(query: str) -> list[dict[str, Any]]:
        hits = index.search(query, limit=args.limit)
        return [
            {"id": h.entry_id, "kind": h.kind, "title": h.title, "score": round(h.score, 4)}
            for h in hits
        ]

    if args.query == "-":
        for line in sys.stdin:
            query = line.rstrip("\n")
            found = results(query)
            if args.json:
                print(json.dumps({"query": query, "results": found}, ensure_ascii=False))
            else:
                _print_readable(query, found)
        return 0
    found = results(args.query)
    if args.json:
        print(json.dumps(found, ensure_ascii=False))
    else:
        _print_readable(args.query, found)
    return 0


def _print_readable(query: str, found: list[dict[str, Any]]) -> None:
    print(f"{query}:")
    if not found:
        print("  (nothing relevant enough)")
    for rank, hit in enumerate(found, 1):
        print(f"  {rank}. {hit['title']}  [{hit['kind']}: {hit['id']}]  {hit['score']:.3f}")


def cmd_content_check(args: argparse.Namespace, settings: Settings) -> int:
    """Every problem with its file and line; non-zero when there is any."""
    problems = [str(p) for p in check_content((settings.knowledge_dir, settings.scripts_dir))]
    if settings.catalog_file.exists():
        problems += [f"{settings.catalog_file}: {p}" for p in check_catalog(settings.catalog_file)]
    else:
        problems.append(f"{settings.catalog_file}: the catalog file does not exist")
    problems += check_templates(settings.offer_templates_dir)
    for problem in problems:
        print(problem)
    entries = len(load_content((settings.knowledge_dir, settings.scripts_dir)).entries)
    print(f"content check: {entries} entries, {len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_content_export(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")

    async def export() -> int:
        core = build_core(settings)
        try:
            await core.migrate()
            await core.load_content()  # phrasings are named by their entries' files
            written = await core.knowledge.export_new(args.out)
        finally:
            await core.close()
        for path in written:
            print(path)
        entries = sum(1 for path in written if path.name != ALIASES_FILE)
        print(f"{entries} new entr{'y' if entries == 1 else 'ies'} written to {args.out}")
        if any(path.name == ALIASES_FILE for path in written):
            print(
                f"learned phrasings to merge into the entries' aliases: {args.out / ALIASES_FILE}"
            )
        return 0

    return asyncio.run(export())


GAP_HEADERS = (
    "script", "script_id", "step", "step_id", "client_said", "who", "team", "when",
)  # fmt: skip


def cmd_content_gaps(args: argparse.Namespace, settings: Settings) -> int:
    """The script gaps for their authors: a row per «no suitable answer», oldest first,
    times in the team's time zone. A file appears only once it is complete."""
    configure_logging("WARNING")
    if args.format == "xlsx" and args.out is None:
        print(
            "--format xlsx needs --out FILE (a spreadsheet is not for a terminal)", file=sys.stderr
        )
        return 2

    async def export() -> list[ScriptGap]:
        core = build_core(settings)
        try:
            await core.migrate()
            await core.load_content()  # to name scripts and steps by their titles
            since = datetime.combine(args.since, time(), settings.tz) if args.since else None
            return await core.knowledge.script_gaps(since=since)
        finally:
            await core.close()

    gaps = asyncio.run(export())
    rows: list[tuple[str, ...]] = [
        (gap.script, gap.script_id, gap.step, gap.step_id, gap.said, gap.who, gap.team,
         gap.at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M"))
        for gap in gaps
    ]  # fmt: skip
    if args.format == "xlsx":
        _write_atomically(args.out, _gaps_xlsx(rows))
    elif args.out is None:
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(encoding="utf-8")
        _gaps_csv(sys.stdout, rows)
    else:
        buffer = io.StringIO()
        _gaps_csv(buffer, rows)
        _write_atomically(args.out, buffer.getvalue().encode("utf-8"))
    where = f" to {args.out}" if args.out else ""
    print(f"exported {len(rows)} script gap(s){where}", file=sys.stderr)
    return 0


def _gaps_csv(out: TextIO, rows: list[tuple[str, ...]]) -> None:
    writer = CsvWriter(out)
    writer.writerow(GAP_HEADERS)
    for row in rows:
        writer.writerow(row)


def _gaps_xlsx(rows: list[tuple[str, ...]]) -> bytes:
    from openpyxl import Workbook  # here: openpyxl is slow to import at start

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Script gaps")
    append_row(sheet, GAP_HEADERS)
    for row in rows:
        append_row(sheet, row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _write_atomically(path: Path, content: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_bytes(content)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
