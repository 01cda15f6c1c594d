"""The small Markdown of content files, as Telegram HTML.

Content is written by people in Markdown; Telegram understands a handful of HTML tags. Text
is escaped first, so nothing in a file can inject markup of its own.
"""

from __future__ import annotations

import html
import re

_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(
    r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])|(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"
)
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*(?:\{#[^}]*\})?\s*#*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_QUOTE = re.compile(r"^&gt;\s?")


def to_telegram_html(markdown: str) -> str:
    lines = []
    for raw in markdown.strip().splitlines():
        line = html.escape(raw, quote=False)
        heading = _HEADING.match(line)
        if heading:
            lines.append(f"<b>{_inline(heading.group(1))}</b>")
            continue
        line = _BULLET.sub(lambda m: f"{m.group(1)}• ", line)
        if _QUOTE.match(line):
            line = f"<i>{_inline(_QUOTE.sub('', line))}</i>"
            lines.append(line)
            continue
        lines.append(_inline(line))
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text)


def _inline(line: str) -> str:
    line = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", line)
    line = _BOLD.sub(lambda m: f"<b>{m.group(1) or m.group(2)}</b>", line)
    line = _ITALIC.sub(lambda m: f"<i>{m.group(1) or m.group(2)}</i>", line)
    return _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', line)


def to_plain(markdown: str) -> str:
    """For inline-mode descriptions: no markup at all."""
    text = re.sub(r"[*_`#>]", "", markdown)
    return " ".join(text.split())
