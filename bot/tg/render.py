"""Turning texts into Telegram messages: limits and splitting."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_BUTTONS = 100  # in one inline keyboard
MAX_ROW = 8  # buttons in one row


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split at paragraph, then line boundaries, so HTML tags (never multi-line here) stay whole."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single monster line: cut it hard
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Rows of (label, callback data) pairs, within Telegram's limits or not at all.

    Telegram refuses the whole message otherwise; failing here names the keyboard at fault
    in every test, where the offline Bot API would have accepted it. Long lists page
    (`bot.tg.paging`).
    """
    if sum(len(row) for row in rows) > MAX_BUTTONS or any(len(row) > MAX_ROW for row in rows):
        raise ValueError(f"keyboard too large for Telegram: {[len(row) for row in rows]}")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def column(buttons: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    return keyboard([[button] for button in buttons])
