"""The Telegram side of the `voronka` command: polling, and asking Telegram who the bot is."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.common.startup import CannotStart, reason
from bot.config import Settings
from bot.container import Core
from bot.tg.app import build_application
from bot.web.server import start_beside_polling

App = Application[Any, Any, Any, Any, Any, Any]


def run_polling(core: Core, token: str) -> None:
    """Open the database, reach Telegram, migrate, then poll until stopped (Ctrl+C, SIGTERM).

    Both checks come before the migrations, so a start that cannot work changes nothing and
    says why in one line (`CannotStart`). It all runs on one event loop: the engine and the
    Bot API client the checks opened are the ones the bot goes on with.
    """
    application = build_application(core, token=token)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_prepare(core, application, token))
        # Health and metrics on VORONKA_HTTP_PORT, when set (bot/web/server.py).
        http = loop.run_until_complete(start_beside_polling(core, application.bot.get_me))
        try:
            application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
        except NetworkError as error:  # lost between the check and the command menu
            raise _unreachable(core.settings.bot_api_url, error, token) from error
        finally:
            if http is not None:
                loop.run_until_complete(http.stop())
    finally:
        loop.run_until_complete(core.close())
        loop.close()
        asyncio.set_event_loop(None)


async def _prepare(core: Core, application: App, token: str) -> None:
    await core.open_database()
    await reach_telegram(application, core.settings.bot_api_url, token)
    try:
        await core.migrate()
    except BaseException:
        await application.shutdown()
        raise


async def reach_telegram(application: App, api_url: str, token: str) -> None:
    """The first Bot API call (getMe), with its failure put in the operator's words."""
    try:
        await application.initialize()
    except InvalidToken as error:
        raise CannotStart(
            "Telegram rejected the bot token",
            "Copy the token @BotFather gave the bot into VORONKA_BOT_TOKEN",
        ) from error
    except NetworkError as error:
        raise _unreachable(api_url, error, token) from error
    except TelegramError as error:
        raise CannotStart(
            f"Telegram at {api_url} answered the bot's first call with an error "
            f"({_words(error, token)})",
            "Check VORONKA_BOT_API_URL, or start the bot again in a minute",
        ) from error


def _unreachable(api_url: str, error: TelegramError, token: str) -> CannotStart:
    return CannotStart(
        f"Telegram cannot be reached at {api_url} ({_words(error, token)})",
        "Check the network (and HTTPS_PROXY, if this machine needs one) and "
        "VORONKA_BOT_API_URL, then start the bot again",
    )


def _words(error: TelegramError, token: str) -> str:
    return reason(error).replace(token, "<token>")


async def bot_username(settings: Settings) -> str | None:
    """The bot's @username: from the settings, else asked of Telegram with the token."""
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    token = settings.token()
    if not token:
        return None
    bot = Bot(
        token,
        base_url=f"{settings.bot_api_url}/bot{{token}}",
        base_file_url=f"{settings.bot_api_url}/file/bot{{token}}",
    )
    async with bot:
        return bot.username
