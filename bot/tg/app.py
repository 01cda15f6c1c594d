"""build_application(core): the whole bot in one place, with an explicit list of handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.common.i18n import LANGUAGES, catalog
from bot.container import Core
from bot.deals.telegram.funnels import funnel_handlers
from bot.deals.telegram.handlers import deal_handlers
from bot.knowledge.telegram import knowledge_handlers
from bot.offers.telegram import offer_handlers
from bot.people.telegram.invite import invite_handlers
from bot.people.telegram.me import me_handlers
from bot.people.telegram.team import team_handlers
from bot.reports.telegram.handlers import report_handlers
from bot.tg.context import BotData, Ctx
from bot.tg.conversation import AFTER_COMMIT_BACKOFF, SavingRequest
from bot.tg.handlers import basics
from bot.tg.handlers.access import gate
from bot.tg.handlers.errors import on_error
from bot.tg.handlers.text import on_text
from bot.tg.jobs import schedule_jobs
from bot.tg.observe import VoronkaApplication, mark, trace_handler
from bot.tg.ordering import PerPersonOrder
from bot.tg.replies import show

# The command menu, in this order, for every language.
MENU_COMMANDS = (
    "deals", "new", "move", "offer", "approvals", "obj", "script", "kb", "stats", "leaderboard",
    "plan", "export", "funnel", "me", "help", "invite", "team", "cancel", "start",
)  # fmt: skip

# The Telegram language whose menu is the default (everyone not Russian reads English).
MENU_DEFAULT_LANGUAGE = "en"


async def expired_button(update: Update, context: Ctx) -> None:
    """A button from a finished dialog or an older version of the bot."""
    mark("expired", "expired_button")
    await show(update, context.t("common.expired_button"))


def handlers() -> list[BaseHandler[Any, Ctx, Any]]:
    """Every handler in group 0, in the order they are tried."""
    return [
        CommandHandler("start", basics.start),
        CommandHandler("help", basics.help_command),
        *invite_handlers(),
        *me_handlers(),
        *team_handlers(),
        *funnel_handlers(),
        *deal_handlers(),
        *knowledge_handlers(),
        *offer_handlers(),
        *report_handlers(),
        CommandHandler("cancel", basics.nothing_to_cancel),
        MessageHandler(filters.COMMAND, basics.unknown_command),
        MessageHandler(filters.TEXT, on_text),
        MessageHandler(~filters.TEXT & ~filters.StatusUpdate.ALL, basics.not_text),
        CallbackQueryHandler(expired_button),
    ]


async def on_start(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Before the first update: load the knowledge base and register the command menu."""
    await application.bot_data.core.load_content()
    await register_commands(application)


async def register_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """setMyCommands in every language, before the bot answers anything."""
    for language in LANGUAGES:
        t = catalog(language)
        commands = [BotCommand(name, t(f"commands.{name}")) for name in MENU_COMMANDS]
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=language
        )
        if language == MENU_DEFAULT_LANGUAGE:
            await application.bot.set_my_commands(commands, scope=BotCommandScopeDefault())


def build_application(
    core: Core,
    *,
    token: str | None = None,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
    backoff: Sequence[float] = AFTER_COMMIT_BACKOFF,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The real application. Tests and `voronka chat` pass an offline `request`; `backoff`
    is how long to wait before each retry of an answer to a committed action."""
    settings = core.settings
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .application_class(VoronkaApplication)
        .token(token or settings.token() or "0:offline")
        .base_url(f"{settings.bot_api_url}/bot{{token}}")
        .base_file_url(f"{settings.bot_api_url}/file/bot{{token}}")
        .context_types(ContextTypes(context=Ctx, bot_data=BotData))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz))
        .post_init(on_start)
        # One person's updates in order, different people's at once (bot/tg/ordering.py).
        .concurrent_updates(PerPersonOrder())
    )
    # Bot API calls save the person's dialog state first (see bot/tg/conversation.py).
    inner = request or HTTPXRequest(connection_pool_size=256)
    builder = builder.request(SavingRequest(inner, backoff))
    if request is not None:
        builder = builder.get_updates_request(request)
    if rate_limit:  # VORONKA_TELEGRAM_RATE 0: no overall cap, 429s still waited out
        limiter = AIORateLimiter(overall_max_rate=settings.telegram_rate, max_retries=3)
        builder = builder.rate_limiter(limiter)
    application = builder.build()
    application.bot_data.core = core
    application.add_handler(TypeHandler(Update, gate), group=-1)
    for handler in handlers():
        application.add_handler(trace_handler(handler))
    application.add_error_handler(on_error)
    schedule_jobs(application, core)
    return application
