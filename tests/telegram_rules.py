"""What Telegram accepts: the limits and the HTML of every Bot API call the bot makes.

The offline request answers every call; Telegram would refuse some. `problems(call)` says
which rules of Telegram's a recorded call breaks, so that a test can hold every outgoing
call to them: text 1-4096 characters and a caption at most 1024 (counted after entities
are parsed, as Telegram counts), at most 100 buttons with 1-64 bytes of callback data and
a label each, an alert at most 200 characters, and HTML that Telegram's parser takes:
only its tags, balanced, every other `<`, `>` and `&` escaped.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from bot.tg.offline import ApiCall

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ALERT_LIMIT = 200
BUTTON_LIMIT = 100
CALLBACK_DATA_LIMIT = 64
INLINE_RESULTS_LIMIT = 50

# Telegram's HTML: each tag with the attributes it may carry.
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(), "strong": frozenset(), "i": frozenset(), "em": frozenset(),
    "u": frozenset(), "ins": frozenset(), "s": frozenset(), "strike": frozenset(),
    "del": frozenset(), "tg-spoiler": frozenset(), "span": frozenset({"class"}),
    "a": frozenset({"href"}), "tg-emoji": frozenset({"emoji-id"}), "code": frozenset({"class"}),
    "pre": frozenset(), "blockquote": frozenset({"expandable"}),
}  # fmt: skip
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:=\"[^\"<>]*\")?)*)\s*>")
_ATTRIBUTE = re.compile(r"([a-zA-Z-]+)(?:=\"[^\"]*\")?")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


def parse_html(text: str) -> tuple[str, list[str]]:
    """The text Telegram would show for `text` in HTML mode, and what its parser refuses."""
    shown: list[str] = []
    problems: list[str] = []
    open_tags: list[str] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char == "<":
            tag = _TAG.match(text, at)
            if tag is None:
                problems.append(f"an unescaped '<' at {at}: {text[at : at + 20]!r}")
                at += 1
                continue
            closing, name, attributes = tag.group(1), tag.group(2).lower(), tag.group(3)
            if name not in ALLOWED_TAGS:
                problems.append(f"a tag Telegram does not know: <{closing}{name}>")
            elif closing:
                if not open_tags or open_tags[-1] != name:
                    problems.append(f"</{name}> closes {open_tags[-1:] or 'nothing'}")
                else:
                    open_tags.pop()
            else:
                for attribute in _ATTRIBUTE.findall(attributes):
                    if attribute.lower() not in ALLOWED_TAGS[name]:
                        problems.append(f"<{name}> may not have the attribute {attribute!r}")
                open_tags.append(name)
            at = tag.end()
        elif char == "&":
            entity = _ENTITY.match(text, at)
            if entity is None:
                problems.append(f"an unescaped '&' at {at}: {text[at : at + 12]!r}")
                shown.append(char)
                at += 1
                continue
            shown.append(html.unescape(entity.group()))
            at = entity.end()
        elif char == ">":
            problems.append(f"an unescaped '>' at {at}")
            shown.append(char)
            at += 1
        else:
            shown.append(char)
            at += 1
    if open_tags:
        problems.append(f"tags left open: {open_tags}")
    return "".join(shown), problems


def _text_problems(
    text: Any, parse_mode: Any, limit: int, what: str, *, required: bool
) -> list[str]:
    if text is None or text == "":
        return [f"an empty {what}"] if required else []
    if not isinstance(text, str):
        return [f"the {what} is not a string: {text!r}"]
    shown, problems = parse_html(text) if parse_mode == "HTML" else (text, [])
    problems = [f"{what}: {problem}" for problem in problems]
    if required and not shown.strip():
        problems.append(f"the {what} shows nothing: {text[:60]!r}")
    if len(shown) > limit:
        problems.append(f"the {what} has {len(shown)} characters, more than {limit}")
    return problems


def markup_problems(markup: Any) -> list[str]:
    if markup is None:
        return []
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = markup.get("inline_keyboard")
    if rows is None:
        return []
    problems = []
    buttons = [button for row in rows for button in row]
    if len(buttons) > BUTTON_LIMIT:
        problems.append(f"{len(buttons)} buttons, more than {BUTTON_LIMIT}")
    if any(not row for row in rows):
        problems.append("an empty row of buttons")
    for button in buttons:
        label = button.get("text")
        if not isinstance(label, str) or not label.strip():
            problems.append(f"a button without a label: {button!r}")
        data = button.get("callback_data")
        if data is not None:
            size = len(str(data).encode())
            if not 1 <= size <= CALLBACK_DATA_LIMIT:
                problems.append(f"callback data of {size} bytes: {data!r}")
        elif "url" not in button and "switch_inline_query" not in button:
            problems.append(f"a button that does nothing: {button!r}")
    return problems


def problems(call: ApiCall) -> list[str]:
    """Each rule of Telegram's that this call breaks (none: Telegram would accept it)."""
    params = call.params
    mode = params.get("parse_mode")
    found: list[str] = []
    if call.method in ("sendMessage", "editMessageText"):
        found += _text_problems(params.get("text"), mode, TEXT_LIMIT, "text", required=True)
    elif call.method in ("sendDocument", "sendPhoto", "editMessageCaption"):
        found += _text_problems(
            params.get("caption"), mode, CAPTION_LIMIT, "caption", required=False
        )
    elif call.method == "answerCallbackQuery":
        text = params.get("text")
        if text is not None and len(str(text)) > ALERT_LIMIT:
            found.append(f"a callback answer of {len(str(text))} characters")
    elif call.method == "answerInlineQuery":
        found += _inline_problems(params.get("results"))
    found += markup_problems(params.get("reply_markup"))
    return [f"{call.method}: {problem}" for problem in found]


def _inline_problems(results: Any) -> list[str]:
    if isinstance(results, str):
        results = json.loads(results)
    results = results or []
    found = []
    if len(results) > INLINE_RESULTS_LIMIT:
        found.append(f"{len(results)} inline results")
    ids = [str(result.get("id", "")) for result in results]
    if len(set(ids)) != len(ids):
        found.append(f"inline result ids repeat: {ids}")
    for result in results:
        if not 1 <= len(str(result.get("id", "")).encode()) <= 64:
            found.append(f"an inline result id of the wrong size: {result.get('id')!r}")
        if not str(result.get("title", "")).strip():
            found.append("an inline result without a title")
        content = result.get("input_message_content") or {}
        found += _text_problems(
            content.get("message_text"), content.get("parse_mode"), TEXT_LIMIT, "inline text",
            required=True,
        )  # fmt: skip
        found += markup_problems(result.get("reply_markup"))
    return found
