"""Texts made to fit Telegram: split past 4,096 characters, or cut with «…» as valid HTML."""

import re
from html.parser import HTMLParser

import pytest

from bot.tg.render import MESSAGE_LIMIT, fit, split_message

ALLOWED = {"b", "i", "u", "s", "code", "pre", "a", "tg-spoiler", "blockquote"}


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.bad = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.bad |= tag not in ALLOWED
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.bad = True


def valid_html(text: str) -> bool:
    """Tags Telegram knows, balanced, no '<' or '&' left that is not a tag or an entity."""
    parser = _Balance()
    parser.feed(text)
    parser.close()
    stray = re.search(r"<(?![a-z/])|&(?!(amp|lt|gt|quot|#\d+);)", text)
    return not parser.bad and not parser.stack and stray is None


@pytest.mark.parametrize(
    "text",
    [
        "<b>" + "ы" * 5000 + "</b>",
        "слово &amp; " * 800,
        "<i>вопрос</i> " + "<b>жирно</b> обычный " * 400,
        '<a href="https://example.com/x">ссылка</a> ' * 300,
        "x" * 4095 + "<b>y</b>",
    ],
)
def test_a_cut_text_is_valid_html_within_the_limit(text: str) -> None:
    cut = fit(text)
    assert len(cut) <= MESSAGE_LIMIT and cut.endswith(("…", ">"))
    assert valid_html(cut), cut[-80:]


def test_a_short_text_is_left_alone() -> None:
    assert fit("<b>Ромашка</b>") == "<b>Ромашка</b>"


def test_a_long_text_is_split_at_lines_each_part_within_the_limit() -> None:
    text = "\n".join(f"<b>строка {n}</b> — описание шага" for n in range(600))
    parts = split_message(text)
    assert len(parts) > 1 and all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert all(valid_html(p) for p in parts)
    assert "\n".join(parts) == text


@pytest.mark.parametrize(
    "line",
    [
        "Морж <b>жирный</b> <i>курсив</i> &lt;b&gt;html &amp; текст. " * 400,
        "<b>" + "очень длинное слово " * 600 + "</b>",
        '<a href="https://example.com/x">ссылка на источник</a> и текст ' * 300,
        "слово" * 2000,
    ],
)
def test_a_line_longer_than_a_message_is_cut_into_valid_html_pieces(line: str) -> None:
    parts = split_message(line)
    assert len(parts) > 1 and all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert all(valid_html(p) for p in parts), [p[-60:] for p in parts if not valid_html(p)]
    plain = re.sub(r"<[^>]+>", "", "".join(parts)).replace(" ", "")
    assert plain == re.sub(r"<[^>]+>", "", line).replace(" ", "")  # nothing lost
