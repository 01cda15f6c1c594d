"""Text as it enters: characters that no database column or later message can hold are replaced.

Telegram passes on whatever a client typed, NUL and other control characters included.
PostgreSQL refuses a NUL in any text (`invalid byte sequence for encoding "UTF8": 0x00`),
after the person was told nothing; an XLSX cell refuses the other C0 controls, and a lone
surrogate cannot be encoded at all. So every update is looked at once, before any handler
runs, and each such character becomes a space (a lone surrogate U+FFFD): one character
for one, so the UTF-16 offsets of the message's entities (its /command) still hold.
"""

from __future__ import annotations

import re
from typing import Any

from telegram import Bot, Update

UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def _replace(match: re.Match[str]) -> str:
    return " " if match.group() < "\x20" else "\ufffd"


def clean_text(text: str) -> str:
    """`text` with control characters (but tab and line breaks) and lone surrogates replaced."""
    return UNSAFE.sub(_replace, text)


def _clean(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        cleaned = clean_text(value)
        return cleaned, cleaned != value
    if isinstance(value, dict):
        changed = False
        for key, item in value.items():
            value[key], dirty = _clean(item)
            changed = changed or dirty
        return value, changed
    if isinstance(value, list):
        changed = False
        for index, item in enumerate(value):
            value[index], dirty = _clean(item)
            changed = changed or dirty
        return value, changed
    return value, False


def cleaned(update: object, bot: Bot) -> object:
    """The update itself when its text is clean (the usual case), else a cleaned copy.

    The texts the bot reads are looked at first, without serialising the update (which
    cost a fifth of a text move); only an update with something to replace is rebuilt,
    every string of it cleaned.
    """
    if not isinstance(update, Update):
        return update
    if not any(UNSAFE.search(text) for text in _read_texts(update) if text):
        return update
    data, changed = _clean(update.to_dict())
    return Update.de_json(data, bot) if changed else update


def _read_texts(update: Update) -> list[str | None]:
    """Every text of an update that a handler reads or stores."""
    message = update.effective_message
    user = update.effective_user
    chat = update.effective_chat
    texts: list[str | None] = []
    if message is not None:
        document = message.document
        texts += [message.text, message.caption, document.file_name if document else None]
    if update.callback_query is not None:
        texts.append(update.callback_query.data)
    if update.inline_query is not None:
        texts.append(update.inline_query.query)
    if user is not None:
        texts += [user.first_name, user.last_name, user.username]
    if chat is not None:
        texts += [chat.title, chat.first_name, chat.last_name]
    return texts
