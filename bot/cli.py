"""The `voronka` command. It only builds the core and calls it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn

from bot.common.errors import DomainError, InvalidFile
from bot.common.i18n import catalog
from bot.common.logs import configure_logging
from bot.common.startup import CannotStart, check_data_dir
from bot.config import Settings, SettingsError, load_settings
from bot.container import build_core
from bot.db.sole import hold_sqlite_file
from bot.deals.cli import add_deals_commands
from bot.knowledge.cli import add_knowledge_commands
from bot.offers.cli import add_offer_commands
from bot.ops.cli import add_ops_commands
from bot.people.service import Role
from bot.reports.cli import add_report_commands

NO_TOKEN = """\
VORONKA_BOT_TOKEN is not set, so the bot cannot connect to Telegram.

How to get a token:
  1. In Telegram, open @BotFather and send /newbot.
  2. Choose a display name and a username ending in "bot".
  3. BotFather answers with a token like 123456789:AA...; put it in .env:
       VORONKA_BOT_TOKEN=123456789:AA...
  4. In @BotFather, /setinline turns on inline mode (for answers in any chat).

To try the bot without Telegram or a token, run:
  voronka chat --role admin
"""

Handler = Callable[[argparse.Namespace, Settings], int]


def _run_async(coroutine: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coroutine)


# --- run ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Check the data folder, the database and Telegram, migrate, then poll until stopped
    (or, with VORONKA_WEBHOOK_URL, serve the webhook)."""
    from bot.tg.run import run_polling
    from bot.web.webhook import run_webhook

    token = settings.token()
    if not token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, token)
    check_data_dir(settings.data_dir)
    hold_sqlite_file(settings.db_url)
    if settings.webhook_url:
        run_webhook(build_core(settings), token)
    else:
        run_polling(build_core(settings), token)
    return _exit_now(0)


def _exit_now(code: int) -> NoReturn:
    """Leave once the bot has stopped cleanly (updates handled, database closed), without
    Python's exit joining the worker threads: a hybrid index still being built for a large
    new base (minutes of CPU) would otherwise hold a SIGTERM up until it is done. The build
    is only a cache on disk (written to a temporary file, then renamed), so it is redone at
    the next start. Under a profiler (`benchmarks/load.py --profile`) the exit is Python's
    own, which writes the profile."""
    if sys.getprofile() is not None:
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def _migrate(settings: Settings) -> int:
    core = build_core(settings)
    try:
        await core.open_database()
        await core.migrate()
    finally:
        await core.close()
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level)
    _run_async(_migrate(settings))
    print("database is up to date")
    return 0


# --- chat --------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.tg.terminal import run_terminal_chat

    configure_logging("WARNING")
    check_data_dir(settings.data_dir)  # the same one-line start-up faults as `voronka run`
    hold_sqlite_file(settings.db_url)

    async def chat() -> int:
        core = build_core(settings)
        try:
            await core.open_database()
            await run_terminal_chat(
                core,
                user_id=args.user_id,
                role=Role(args.role) if args.role else None,
                name=args.name,
                team=args.team,
                language=args.lang,
                files_dir=args.files_dir or settings.data_dir / "chat-files",
            )
        finally:
            await core.close()
        return 0

    return _run_async(chat())


# --- invite ------------------------------------------------------------------------------


def cmd_invite(args: argparse.Namespace, settings: Settings) -> int:
    """Print a one-time invite link (the first admin is made this way)."""
    from bot.tg.links import invite_link
    from bot.tg.run import bot_username

    async def invite() -> int:
        # Without a username (no token yet, trying it in `voronka chat`) the invite is made
        # all the same: its token is what the link carries, and `/start TOKEN` uses it.
        username = await bot_username(settings)
        core = build_core(settings)
        try:
            await core.migrate()
            info = await core.people.create_invite(None, Role(args.role), team_name=args.team)
        finally:
            await core.close()
        link = invite_link(username, info.token) if username else None
        if args.json:
            payload = {
                "token": info.token,
                "link": link,
                "role": info.role.value,
                "team": info.team_name,
                "expires_at": info.expires_at.isoformat(),
            }
            print(json.dumps(payload, ensure_ascii=False))
            return 0
        team = f", team {info.team_name}" if info.team_name else ""
        print(
            f"Invite for a {info.role.value}{team}, "
            f"valid until {info.expires_at:%Y-%m-%d %H:%M} UTC:"
        )
        if link:
            print(link)
        else:
            print(f"/start {info.token}")
            print(catalog("en")("invite.no_username"), file=sys.stderr)
        return 0

    return _run_async(invite())


# --- the parser --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voronka",
        description="Voronka: a Telegram assistant for B2B sales teams.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run", help="apply migrations and run the bot (polling, or webhook: VORONKA_WEBHOOK_URL)"
    )
    run.set_defaults(handler=cmd_run)

    chat = commands.add_parser(
        "chat",
        help="try the bot in this terminal, without Telegram; /as NAME types as anyone",
    )
    chat.add_argument(
        "--user-id", type=int, default=1, help="who types first: a pretend Telegram id (default 1)"
    )
    chat.add_argument(
        "--role", choices=[r.value for r in Role], help="create this person with the role"
    )
    chat.add_argument(
        "--name", default=None, help="the person's name (default: the known one, or Terminal User)"
    )
    chat.add_argument("--team", default=None, help="the person's team (created if missing)")
    chat.add_argument(
        "--lang",
        default="ru",
        help="Telegram language code (ru, en, ...), also of the terminal's own lines",
    )
    chat.add_argument("--files-dir", type=Path, default=None, help="where sent documents are saved")
    chat.set_defaults(handler=cmd_chat)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations").set_defaults(
        handler=cmd_db_upgrade
    )

    invite = commands.add_parser("invite", help="print a one-time invite link")
    invite.add_argument("--role", required=True, choices=[r.value for r in Role])
    invite.add_argument("--team", default=None, help="team name (created if it does not exist)")
    invite.add_argument("--json", action="store_true", help="print JSON")
    invite.set_defaults(handler=cmd_invite)

    add_deals_commands(commands)
    add_knowledge_commands(commands)
    add_offer_commands(commands)
    add_report_commands(commands)
    add_ops_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"Invalid settings:\n{error}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except DomainError as error:
        message = catalog("en")
        text = message(error.key, **error.params) if message.has(error.key) else error.key
        print(text, file=sys.stderr)
        return 1
    except InvalidFile as error:  # a file the settings name: the bot cannot start
        print(f"{error.heading}:", file=sys.stderr)
        for problem in error.problems:
            print(f"{error.file}: {problem}" if error.file else problem, file=sys.stderr)
        return 2
    except CannotStart as error:  # the one line says it all; the traceback is for DEBUG
        logging.getLogger("voronka").debug("start-up failed", exc_info=error)
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
