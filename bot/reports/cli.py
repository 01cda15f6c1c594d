"""`voronka digest preview` and `voronka report`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date
from pathlib import Path

from bot.common.errors import DomainError
from bot.common.i18n import catalog
from bot.common.logs import configure_logging
from bot.config import Settings
from bot.container import build_core
from bot.people.service import Person, Role
from bot.reports.digest import digest_json
from bot.reports.files import to_csv, to_xlsx
from bot.reports.telegram.digest import DigestRenderer
from bot.tg.plain import plain

# Whoever runs `voronka` on the server sees what an admin sees.
OPERATOR = Person(
    id=0, telegram_id=0, name="voronka", role=Role.ADMIN, team_id=None, team_name=None,
    language="en", active=True,
)  # fmt: skip


def add_report_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = subparsers.add_parser("digest", help="the head of sales' daily digest")
    actions = digest.add_subparsers(dest="digest_command", metavar="ACTION", required=True)
    preview = actions.add_parser("preview", help="print a team's digest for a day")
    preview.add_argument("--team", required=True, help="team name")
    preview.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    preview.add_argument("--format", choices=("text", "json"), default="text")
    preview.add_argument("--lang", default="ru", help="ru or en (text only)")
    preview.set_defaults(handler=cmd_digest_preview)

    report = subparsers.add_parser("report", help="per-manager measures and deals of a period")
    report.add_argument("--period", required=True, help="YYYY-MM, YYYY-MM-DD, week or month")
    report.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    report.add_argument("--out", type=Path, required=True, help="the file to write")
    report.set_defaults(handler=cmd_report)


def cmd_digest_preview(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")

    async def preview() -> int:
        core = build_core(settings)
        try:
            await core.migrate()
            digest = await core.reports.digest_preview(OPERATOR, args.team, args.date)
            if args.format == "json":
                print(json.dumps(digest_json(digest), ensure_ascii=False, indent=2))
            else:
                await core.load_content()
                titles = core.knowledge.library.titles()
                renderer = DigestRenderer(core.funnels, settings.tz)
                print(plain(renderer.text(digest, catalog(args.lang), titles=titles)))
        except DomainError as error:
            print(catalog("en")(error.key, **error.params), file=sys.stderr)
            return 1
        finally:
            await core.close()
        return 0

    return asyncio.run(preview())


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")

    def progress(done: int, total: int) -> None:
        print(f"teams: {done}/{total}", file=sys.stderr)

    async def report() -> int:
        core = build_core(settings)
        try:
            await core.migrate()
            period = core.reports.period(args.period)
            data = await core.reports.report(OPERATOR, period, progress=progress)
        except DomainError as error:
            print(catalog("en")(error.key, **error.params), file=sys.stderr)
            return 1
        finally:
            await core.close()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.format == "xlsx":
            args.out.write_bytes(to_xlsx(data))
            written = [args.out]
        else:
            managers, deals = to_csv(data)
            deals_path = args.out.with_name(f"{args.out.stem}-deals{args.out.suffix or '.csv'}")
            args.out.write_text(managers, encoding="utf-8")
            deals_path.write_text(deals, encoding="utf-8")
            written = [args.out, deals_path]
        print(
            f"{period.label}: {len(data.managers)} managers, {len(data.deals)} deals → "
            + ", ".join(str(path) for path in written)
        )
        return 0

    return asyncio.run(report())
