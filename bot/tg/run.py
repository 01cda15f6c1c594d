"""The Telegram side of the `voronka` command: polling, and asking Telegram who the bot is."""

from __future__ import annotations

from telegram import Bot, Update

from bot.config import Settings
from bot.container import Core
from bot.tg.app import build_application


def run_polling(core: Core, token: str) -> None:
    """Poll Telegram until stopped (Ctrl+C or SIGTERM)."""
    application = build_application(core, token=token)
    application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)


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
