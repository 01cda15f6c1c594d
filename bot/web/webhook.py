"""`voronka run` in webhook mode: Telegram posts updates to us instead of being polled.

Following python-telegram-bot's "custom webhook bot" pattern: the Application is started
without an Updater, our Starlette route puts each update on `Application.update_queue`, and
uvicorn serves on the same event loop, so the engine, the Bot API client and the handlers
are the ones the start-up checks opened. Telegram gets its 200 once the update has been
handled, or after ANSWER_WITHIN seconds if that takes longer (Telegram retries a post it
got no answer to, so it must not wait for a slow handler). Answering after handling means an
update Telegram was told "done" is in the database, unless it had waited ANSWER_WITHIN: a
process killed (kill -9, the machine lost) with updates queued behind a slow one loses none
of those, since Telegram posts again what it got no 200 for, to whichever worker answers.

On stop (SIGTERM, SIGINT) the server stops taking requests, those in flight finish, then the
Application handles what is queued and stops. The webhook is left registered: with several
workers behind one proxy, or during a rolling upgrade, deleting it would lose updates;
Telegram keeps them while nobody answers and delivers them later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any, cast

from telegram import Update
from telegram.error import TelegramError

from bot.common.startup import CannotStart
from bot.config import Settings
from bot.container import Core
from bot.tg.app import build_application
from bot.tg.observe import VoronkaApplication
from bot.tg.run import App, reach_telegram
from bot.web.app import BadUpdate, Webhook, build_app
from bot.web.health import Health
from bot.web.server import HttpServer, bind

log = logging.getLogger("voronka")

USED_UPDATES = ("message", "edited_message", "callback_query", "inline_query", "my_chat_member")
"""The update types the handlers read (edits are told they are not applied); Telegram sends
no others, so it does not post what would be dropped anyway."""

NO_SECRET = CannotStart(
    "VORONKA_WEBHOOK_URL is set but VORONKA_WEBHOOK_SECRET is not, so anyone who finds the "
    "URL could post updates as any person",
    "Set VORONKA_WEBHOOK_SECRET to a random string of letters, digits, _ and - (e.g. the "
    "output of: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), the same "
    "for every worker",
)


def run_webhook(core: Core, token: str) -> None:
    """Check the port, the database and Telegram, migrate, register the webhook, serve
    until SIGTERM or SIGINT. Every check comes before a change, as in polling mode."""
    settings = core.settings
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    if not secret:
        raise NO_SECRET
    port = settings.http_port_to_serve
    assert port is not None  # webhook mode always serves
    sock = bind(settings.http_host, port)
    application = build_application(core, token=token)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve(core, application, token, secret, sock))
    finally:
        sock.close()
        loop.run_until_complete(core.close())
        loop.close()
        asyncio.set_event_loop(None)


async def _serve(
    core: Core, application: App, token: str, secret: str, sock: socket.socket
) -> None:
    settings = core.settings
    await core.open_database()
    await reach_telegram(application, settings.bot_api_url, token)
    try:
        await core.migrate()
        await _set_webhook(application, settings, secret)
        health = Health(core, application.bot.get_me)
        health.telegram_answered()
        if application.post_init is not None:  # content and the command menu, as in polling
            await application.post_init(application)
        await application.start()
        try:
            webhook = Webhook(settings.webhook_path, secret, _deliverer(application))
            server = HttpServer(build_app(health, webhook), sock)
            await server.start()
            host, port = sock.getsockname()[:2]
            log.info(
                "webhook mode: Telegram posts to %s; serving it, /healthz, /readyz and "
                "/metrics on %s:%s",
                settings.webhook_url,
                host,
                port,
            )
            _stop_on_signals(server)
            await server.wait()
        finally:
            await application.stop()
            log.info("stopped")
    finally:
        await application.shutdown()


async def _set_webhook(application: App, settings: Settings, secret: str) -> None:
    try:
        await application.bot.set_webhook(
            url=settings.webhook_url or "",
            secret_token=secret,
            allowed_updates=list(USED_UPDATES),
            # Updates sent while no worker answered are still wanted (a rolling upgrade).
            drop_pending_updates=False,
        )
    except TelegramError as error:
        raise CannotStart(
            f"Telegram refused the webhook {settings.webhook_url} ({error.message})",
            "Check VORONKA_WEBHOOK_URL: Telegram calls only public https:// URLs, on port "
            "443, 80, 88 or 8443",
        ) from error


ANSWER_WITHIN = 5.0
"""Seconds Telegram waits at most for our 200: well within its timeout, and longer than all
but the slowest updates (an offer's PDF takes about a second)."""


def _deliverer(application: App) -> Callable[[dict[str, Any]], Awaitable[None]]:
    bot = application.bot
    handled = cast(VoronkaApplication, application).handled

    async def deliver(data: dict[str, Any]) -> None:
        try:
            update = Update.de_json(data, bot)
        except (KeyError, TypeError, ValueError) as error:
            raise BadUpdate(f"not an update ({type(error).__name__}: {error})") from error
        done = handled(update.update_id)
        await application.update_queue.put(update)
        # shield: a timeout ends our wait, not the handling
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done), ANSWER_WITHIN)

    return deliver


def _stop_on_signals(server: HttpServer) -> None:
    loop = asyncio.get_running_loop()

    def stopping(number: int) -> None:
        log.info("%s: stopping; finishing the updates in hand", signal.Signals(number).name)
        server.request_stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping, sig)
