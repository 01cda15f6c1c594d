"""The Telegram side of the `voronka` command: polling, and asking Telegram who the bot is."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot.common.startup import CannotStart, reason
from bot.config import Settings
from bot.container import Core
from bot.fleet.lead import PollingLead
from bot.tg.app import build_application
from bot.tg.jobs import schedule_jobs
from bot.web.server import start_beside_polling

App = Application[Any, Any, Any, Any, Any, Any]
log = logging.getLogger("voronka")
STOP_WITHIN = 8.0  # seconds from SIGTERM to the lead released; the process exits within 10


def run_polling(core: Core, token: str) -> None:
    """Open the database, reach Telegram, migrate, then poll until stopped (Ctrl+C, SIGTERM).

    Both checks come before the migrations, so a start that cannot work changes nothing and
    says why in one line (`CannotStart`). It all runs on one event loop: the engine and the
    Bot API client the checks opened are the ones the bot goes on with. On PostgreSQL the
    process polls only while it holds the polling lead (`bot.fleet.lead`); until then it is
    a standby that holds nothing.
    """
    application = build_application(core, token=token)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_prepare(core, application, token))
        # Health and metrics on VORONKA_HTTP_PORT, when set (bot/web/server.py): a standby
        # answers them too, so an orchestrator sees every process alive.
        http = loop.run_until_complete(start_beside_polling(core, application.bot.get_me))
        try:
            loop.run_until_complete(_serve(core, application, token))
        finally:
            if http is not None:
                loop.run_until_complete(http.stop())
    finally:
        loop.run_until_complete(core.close())
        loop.close()
        asyncio.set_event_loop(None)


async def _serve(core: Core, application: App, token: str) -> None:
    """Poll while this process has the lead; on SIGTERM or SIGINT stop gracefully.

    Graceful means: no more `getUpdates` (the last one confirms what was received), the
    updates received are handled to the end and their replies sent, running jobs finish,
    then the lead is released so that a standby takes over, all within `STOP_WITHIN`.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        loop.add_signal_handler(number, _stopping, stop, number)
    lead = PollingLead(core.settings.db_url)
    started = False
    try:
        while await lead.take(stop):
            if not started:
                await _on_start(core, application, token)
                started = True
                if stop.is_set():  # told to stop while the content was loading
                    await lead.release()
                    break
            # The jobs' first runs count from now, not from when a standby was built: the
            # catch-up sends what fell due while nobody polled, seconds after a takeover.
            schedule_jobs(application, core)
            await application.start()
            assert application.updater is not None  # built with one (build_application)
            try:
                await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
                lost = await lead.watch(stop)
            except NetworkError as error:  # Telegram lost between the check and the first poll
                raise _unreachable(core.settings.bot_api_url, error, token) from error
            finally:
                await _stop_taking(application)
                await lead.release()
            if not lost:
                break
        log.info("stopped")
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
        await lead.close()
        with contextlib.suppress(Exception):
            await application.shutdown()


def _stopping(stop: asyncio.Event, number: int) -> None:
    if not stop.is_set():
        log.info("%s: stopping; finishing the updates in hand", signal.Signals(number).name)
    stop.set()


async def _on_start(core: Core, application: App, token: str) -> None:
    """What PTB's `run_polling` would do before its first poll: `post_init`."""
    if application.post_init is None:
        return
    try:
        await application.post_init(application)
    except NetworkError as error:  # lost between the check and the command menu
        raise _unreachable(core.settings.bot_api_url, error, token) from error


async def _stop_taking(application: App) -> None:
    """Stop polling, finish what was received, stop the jobs; give up after `STOP_WITHIN`."""

    async def wind_down() -> None:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()

    try:
        await asyncio.wait_for(wind_down(), STOP_WITHIN)
    except TimeoutError:
        log.warning("updates still in hand after %.0f s: stopping without them", STOP_WITHIN)


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
