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
    """The update itself when its text is clean (the usual case), else a cleaned copy."""
    if not isinstance(update, Update):
        return update
    data, changed = _clean(update.to_dict())
    return Update.de_json(data, bot) if changed else update
