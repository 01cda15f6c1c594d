"""Turning texts into Telegram messages: limits and splitting."""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_BUTTONS = 100  # in one inline keyboard
MAX_ROW = 8  # buttons in one row


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split at paragraph, then line boundaries, so HTML tags (never multi-line here) stay
    whole; a line longer than a message is cut between words, never inside a tag or an
    entity, its open tags closed at the cut and opened again after it."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        if len(line) > limit:  # a single monster line
            if current:
                parts.append(current)
                current = ""
            *whole, line = _cut_line(line, limit)
            parts.extend(whole)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def _cut_line(line: str, limit: int) -> list[str]:
    """One long line of HTML in pieces of at most `limit`, each valid on its own."""
    pieces: list[str] = []
    reopen = ""
    while len(reopen) + len(line) > limit:
        budget = limit - len(reopen)
        while True:
            cut = _safe_cut(line, budget)
            head = line[:cut]
            tags = _open_tags(reopen + head)
            closers = "".join(f"</{name}>" for name, _ in reversed(tags))
            if len(reopen) + len(head) + len(closers) <= limit or budget <= 1:
                break
            budget -= max(len(closers), 1)
        pieces.append(reopen + head.rstrip() + closers)
        reopen = "".join(opening for _, opening in tags)
        line = line[cut:].lstrip()
    pieces.append(reopen + line)
    return pieces


def _safe_cut(line: str, budget: int) -> int:
    """Where to cut within `budget` characters: after a space if there is one in the last
    fifth, and never inside a tag or an entity."""
    cut = budget
    space = line.rfind(" ", budget * 4 // 5, budget)
    if space > 0:
        cut = space + 1
    head = line[:cut]
    for pattern in (_HALF_TAG, _HALF_ENTITY):
        half = pattern.search(head)
        if half:
            cut = half.start()
            head = line[:cut]
    return max(cut, 1)


def _open_tags(html: str) -> list[tuple[str, str]]:
    """The tags left open in `html`, outermost first: (name, the opening tag as written)."""
    still_open: list[tuple[str, str]] = []
    for match in _TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if not closing:
            still_open.append((name, match.group(0)))
        else:
            for index in range(len(still_open) - 1, -1, -1):
                if still_open[index][0] == name:
                    del still_open[index]
                    break
    return still_open


_TAG = re.compile(r"<(/?)([a-zA-Z-]+)[^>]*>")
_HALF_TAG = re.compile(r"<[^>]*$")
_HALF_ENTITY = re.compile(r"&[#\w]*$")
MORE = "…"


def fit(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """The text cut to `limit` with «…», still valid Telegram HTML: no tag or entity cut in
    half, every tag left open closed. For one message that must not be split (an inline
    answer, a caption)."""
    if len(text) <= limit:
        return text
    budget = limit - len(MORE)
    while True:
        cut = _HALF_ENTITY.sub("", _HALF_TAG.sub("", text[:budget]))
        closers = _closers(cut)
        if len(cut) + len(MORE) + len(closers) <= limit:
            return cut + MORE + closers
        budget -= max(len(closers), 1)


def _closers(html: str) -> str:
    """The closing tags of the tags left open in `html`, innermost first."""
    return "".join(f"</{name}>" for name, _ in reversed(_open_tags(html)))


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
