"""`voronka kb search` and `voronka content check|export-new`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bot.common.logs import configure_logging
from bot.config import Settings
from bot.container import build_core
from bot.knowledge.content import check_content, load_content
from bot.knowledge.search import SearchIndex
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
        "export-new", help="write answers confirmed in the bot as Markdown entries"
    )
    export.add_argument("--out", type=Path, required=True, help="folder to write them to")
    export.set_defaults(handler=cmd_content_export)


def cmd_kb_search(args: argparse.Namespace, settings: Settings) -> int:
    """Build the index once, then answer one query or one per line of standard input."""
    dirs = (args.knowledge_dir or settings.knowledge_dir, args.scripts_dir or settings.scripts_dir)
    loaded = load_content(dirs)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    index = SearchIndex.build(loaded.entries)
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
            written = await core.knowledge.export_new(args.out)
        finally:
            await core.close()
        for path in written:
            print(path)
        print(f"{len(written)} new entr{'y' if len(written) == 1 else 'ies'} written to {args.out}")
        return 0

    return asyncio.run(export())
