"""Links into Telegram that the bot and the shell both print."""

from __future__ import annotations


def invite_link(bot_username: str, token: str) -> str:
    """A t.me deep link whose /start carries the invite token."""
    return f"https://t.me/{bot_username}?start={token}"
