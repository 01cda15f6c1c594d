"""Telegram HTML as terminal text, for `voronka chat` and the CLI's previews.

Apart from the terminal chat so that a CLI command can print what the bot would send
without importing the bot.
"""

from __future__ import annotations

import html
import re

TAGS = [
    (re.compile(r"</?(b|strong)>"), "*"),
    (re.compile(r"</?(i|em)>"), "_"),
    (re.compile(r"</?(code|pre)>"), "`"),
    (re.compile(r"</?(u|ins|s|strike|del|tg-spoiler|blockquote)>"), ""),
    (re.compile(r'<a href="([^"]*)">'), ""),
    (re.compile(r"</a>"), ""),
]


def plain(text: str) -> str:
    """Telegram HTML to readable terminal text: bold as *x*, italics as _x_, code as `x`."""
    for pattern, replacement in TAGS:
        text = pattern.sub(replacement, text)
    return html.unescape(text)
