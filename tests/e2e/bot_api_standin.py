"""A fake Telegram Bot API server for end-to-end tests of Voronka.

Why this exists: the e2e tests run the real ``voronka run`` process (python-telegram-bot 22)
and need something on the other end of the wire that behaves like ``api.telegram.org``
closely enough that PTB cannot tell the difference, while letting the test play the user
(send messages, press buttons) and inspect everything the bot did.

Design decisions, and the reasons for them:

* Standard library only (``http.server`` in a background thread). A thread works the same
  from sync tests, async tests and tests that drive a subprocess; nothing to install.
* Binds ``127.0.0.1`` on a free port and nothing else, and never opens outgoing
  connections: file URLs passed to ``sendDocument``/``sendPhoto`` are refused (as an
  unreachable URL would be) instead of being fetched.
* Wire details follow the real Bot API, because PTB parses strictly: ``getMe`` returns a full
  bot ``User``, dates are Unix *seconds*, edits return the edited ``Message``, callback
  queries carry ``chat_instance``, ``getUpdates`` long-polls and confirms by ``offset``, a
  second concurrent ``getUpdates`` terminates the first one with 409 (so two bot instances
  are noticed), a wrong token yields 401 and an unknown method 404.
* Requests Telegram would reject are rejected here too, with Telegram's wording, so that
  production-only failures show up in tests: malformed HTML/MarkdownV2 ("can't parse
  entities"), empty or over-long texts, callback data over 64 bytes, "message is not
  modified" edits, messages to chats that never talked to the bot, blocked users, unknown
  callback/inline query ids.
* Everything is recorded (``calls``, ``sent()``, ``errors``, ``unknown_methods``) behind
  one lock and condition variable, so tests can both assert and block until something
  happens without sleeping.

Parameter decoding: PTB's default ``HTTPXRequest`` sends
``application/x-www-form-urlencoded`` (or ``multipart/form-data`` when uploading), where
string parameters are sent verbatim and every other value is JSON-encoded (so
``reply_markup`` arrives as a JSON string and ``chat_id`` as ``"123"``). The server JSON-decodes
every field except those that are strings in the Bot API (``text``, ``caption``,
``callback_query_id`` ...), which would otherwise turn a text like ``"42"`` into a number.
``application/json`` bodies and GET query strings are accepted as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import hashlib
import itertools
import json
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Final, TypedDict, TypeVar
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qsl, unquote, urlsplit
from urllib.request import ProxyHandler, Request, build_opener

__all__ = [
    "LOOPBACK_HOST",
    "ApiError",
    "BotApiStandin",
    "EntityParseError",
    "ErrorRecord",
    "SentRecord",
    "UploadedFile",
    "command_scope_key",
    "format_text",
    "running_standin",
]

JsonDict = dict[str, Any]
T = TypeVar("T")

LOOPBACK_HOST: Final = "127.0.0.1"
"""The only address the stand-in ever binds to."""

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64

#: Update types Telegram delivers when ``allowed_updates`` is unset or empty.
_DEFAULT_EXCLUDED_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)

#: Methods whose results are messages the user sees; these make up ``sent()``.
_SENT_METHODS: Final = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageCaption"}
)

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

#: Parameters that are strings in the Bot API; form values for them are never JSON-decoded.
_STRING_PARAMS: Final = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "file_id",
        "url",
        "language_code",
        "description",
        "short_description",
        "name",
        "action",
        "next_offset",
        "switch_pm_text",
        "switch_pm_parameter",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "ip_address",
        "title",
        "emoji",
        "custom_emoji_id",
        "query",
        "document",
        "photo",
        "thumbnail",
        "audio",
        "video",
        "animation",
        "voice",
        "video_note",
        "sticker",
    }
)

#: Integer parameters that JSON clients sometimes send as strings (Telegram accepts both).
_INT_PARAMS: Final = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "message_thread_id",
        "reply_to_message_id",
    }
)
_INT_RE: Final = re.compile(r"-?\d+")

_INLINE_BUTTON_ACTIONS: Final = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


# --------------------------------------------------------------------------------------------
# Public value types
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UploadedFile:
    """A file the bot uploaded (multipart part), kept byte-for-byte for assertions."""

    filename: str
    content: bytes
    content_type: str


class SentRecord(TypedDict):
    """One message the bot sent or edited in a chat, as returned by ``sent()``.

    It is a plain dict (so ``record["text"]`` works) with a declared shape for type checkers.
    ``text`` is the visible text (or caption) after ``parse_mode`` was applied; the raw value
    the bot sent is in ``params``. ``message`` is the Message as it was returned to the bot
    at that moment (later edits do not change it; see ``BotApiStandin.message`` for that).
    """

    index: int
    method: str
    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None
    reply_markup: JsonDict | None
    file: UploadedFile | None
    params: JsonDict
    message: JsonDict


class ErrorRecord(TypedDict):
    """An API call the stand-in answered with an error (what Telegram would have refused)."""

    method: str
    error_code: int
    description: str
    params: JsonDict


class ApiError(Exception):
    """Raised inside method handlers; becomes a Telegram-style ``{"ok": false, ...}`` reply."""

    def __init__(self, error_code: int, description: str) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description


class EntityParseError(ValueError):
    """``parse_mode`` markup Telegram would refuse with "can't parse entities"."""


# --------------------------------------------------------------------------------------------
# Text formatting (parse_mode) — so markup bugs fail in tests the way they fail in production
# --------------------------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    """Telegram measures entity offsets/lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    """Telegram reports parse error positions as UTF-8 byte offsets into the source."""
    return len(src[:index].encode("utf-8"))


class _TextBuilder:
    """Accumulates visible text and entities while a markup source is parsed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos16 = 0
        self.entities: list[JsonDict] = []

    def emit(self, piece: str) -> None:
        self.parts.append(piece)
        self.pos16 += _utf16_len(piece)

    def add_entity(self, proto: JsonDict, start16: int) -> None:
        if self.pos16 > start16:
            self.entities.append({**proto, "offset": start16, "length": self.pos16 - start16})

    def result(self) -> tuple[str, list[JsonDict]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


_HTML_TAG_RE: Final = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[^\s=>/]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*/?>"
)
_HTML_ATTR_RE: Final = re.compile(r"([^\s=>/]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_HTML_ENTITY_RE: Final = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def _html_unescape(value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        return _html_entity(match) or match.group(0)

    return _HTML_ENTITY_RE.sub(repl, value)


def _html_entity(match: re.Match[str]) -> str | None:
    dec, hexa, named = match.groups()
    if named:
        return _HTML_NAMED[named]
    code = int(dec) if dec else int(hexa, 16)
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return None


def _parse_html(src: str) -> tuple[str, list[JsonDict]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, JsonDict | None]] = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "<":
            m = _HTML_TAG_RE.match(src, i)
            if m is None:
                bad = re.match(r"</?([^\s<>]*)", src[i:])
                name = bad.group(1) if bad else ""
                raise EntityParseError(
                    f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}'
                )
            closing, name = m.group(1) == "/", m.group(2).lower()
            if closing:
                if not stack:
                    raise EntityParseError(
                        f"Unexpected end tag at byte offset {_byte_offset(src, i)}"
                    )
                open_name, start16, proto = stack.pop()
                if open_name != name:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                        f'expected "</{open_name}>", found "</{name}>"'
                    )
                if proto is not None:
                    out.add_entity(proto, start16)
            else:
                stack.append((name, out.pos16, _html_entity_proto(src, i, name, m, stack)))
            i = m.end()
            continue
        if ch == "&" and (em := _HTML_ENTITY_RE.match(src, i)) and (decoded := _html_entity(em)):
            out.emit(decoded)
            i = em.end()
            continue
        out.emit(ch)
        i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _html_entity_proto(
    src: str,
    index: int,
    name: str,
    match: re.Match[str],
    stack: list[tuple[str, int, JsonDict | None]],
) -> JsonDict | None:
    """The entity an opening tag produces (``None`` for tags that only modify their parent)."""
    if name not in _HTML_TAGS:
        raise EntityParseError(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, index)}'
        )
    attrs: dict[str, str] = {}
    for am in _HTML_ATTR_RE.finditer(match.group(3) or ""):
        value = am.group(2) if am.group(2) is not None else am.group(3) or am.group(4) or ""
        attrs[am.group(1).lower()] = _html_unescape(value)
    kind = _HTML_TAGS[name]
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError('Tag "span" must have class "tg-spoiler"')
    if name == "code" and stack and stack[-1][0] == "pre" and stack[-1][2] is not None:
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][2]["language"] = language.removeprefix("language-")
            return None
    if name == "a":
        href = attrs.get("href")
        return {"type": kind, "url": href} if href else None
    if name == "tg-emoji":
        return {"type": kind, "custom_emoji_id": attrs.get("emoji-id", "")}
    if name == "blockquote" and "expandable" in attrs:
        return {"type": "expandable_blockquote"}
    return {"type": kind}


_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!\\")
_MDV2_NAMES: Final = {
    "*": ("Bold", "bold"),
    "_": ("Italic", "italic"),
    "__": ("Underline", "underline"),
    "~": ("Strikethrough", "strikethrough"),
    "||": ("Spoiler", "spoiler"),
    "[": ("TextUrl", "text_link"),
}


def _read_escaped(src: str, start: int, terminator: str) -> tuple[str, int]:
    """Read code/url content up to an unescaped terminator; returns (content, index after)."""
    parts: list[str] = []
    i = start
    while i < len(src):
        if src[i] == "\\" and i + 1 < len(src):
            parts.append(src[i + 1])
            i += 2
            continue
        if src.startswith(terminator, i):
            return "".join(parts), i + len(terminator)
        parts.append(src[i])
        i += 1
    raise LookupError(terminator)


def _parse_markdown_v2(src: str) -> tuple[str, list[JsonDict]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # (marker, start16, source index)
    quote_start: int | None = None
    i = 0

    def toggle(marker: str, index: int) -> None:
        if any(entry[0] == marker for entry in stack):
            opened, start16, source_index = stack.pop()
            if opened != marker:
                raise EntityParseError(
                    f"Can't find end of {_MDV2_NAMES[opened][0]} entity at byte offset "
                    f"{_byte_offset(src, source_index)}"
                )
            out.add_entity({"type": _MDV2_NAMES[marker][1]}, start16)
        else:
            stack.append((marker, out.pos16, index))

    while i < len(src):
        ch = src[i]
        at_line_start = i == 0 or src[i - 1] == "\n"
        if at_line_start and quote_start is not None and ch != ">":
            out.add_entity({"type": "blockquote"}, quote_start)
            quote_start = None
        if at_line_start and ch == ">":
            if quote_start is None:
                quote_start = out.pos16
            i += 1
            continue
        if ch == "\\":
            if i + 1 < len(src) and 0 < ord(src[i + 1]) <= 126:
                out.emit(src[i + 1])
                i += 2
                continue
            raise EntityParseError("Character '\\' is reserved and must be escaped with '\\'")
        if src.startswith("```", i):
            body_start = i + 3
            newline = src.find("\n", body_start)
            language = ""
            closing = src.find("```", body_start)
            if newline != -1 and (closing == -1 or newline < closing):
                language = src[body_start:newline].strip()
                body_start = newline + 1
            try:
                content, i = _read_escaped(src, body_start, "```")
            except LookupError:
                raise EntityParseError(
                    f"Can't find end of Pre entity at byte offset {_byte_offset(src, i)}"
                ) from None
            start16 = out.pos16
            out.emit(content)
            out.add_entity({"type": "pre", **({"language": language} if language else {})}, start16)
            continue
        if ch == "`":
            try:
                content, end = _read_escaped(src, i + 1, "`")
            except LookupError:
                raise EntityParseError(
                    f"Can't find end of Code entity at byte offset {_byte_offset(src, i)}"
                ) from None
            start16 = out.pos16
            out.emit(content)
            out.add_entity({"type": "code"}, start16)
            i = end
            continue
        if src.startswith("__", i) or src.startswith("||", i):
            toggle(src[i : i + 2], i)
            i += 2
            continue
        if ch in "*_~":
            toggle(ch, i)
            i += 1
            continue
        if ch == "[":
            stack.append(("[", out.pos16, i))
            i += 1
            continue
        if ch == "]" and stack and stack[-1][0] == "[" and src.startswith("(", i + 1):
            _, start16, _ = stack.pop()
            try:
                url, i = _read_escaped(src, i + 2, ")")
            except LookupError:
                raise EntityParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(src, i)}"
                ) from None
            out.add_entity({"type": "text_link", "url": url}, start16)
            continue
        if ch in _MDV2_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.emit(ch)
        i += 1
    if quote_start is not None:
        out.add_entity({"type": "blockquote"}, quote_start)
    if stack:
        marker, _, source_index = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[marker][0]} entity at byte offset "
            f"{_byte_offset(src, source_index)}"
        )
    return out.result()


def _parse_markdown_legacy(src: str) -> tuple[str, list[JsonDict]]:
    out = _TextBuilder()
    i = 0
    simple = {"*": "bold", "_": "italic"}
    while i < len(src):
        ch = src[i]
        if ch == "\\" and i + 1 < len(src) and src[i + 1] in "_*`[":
            out.emit(src[i + 1])
            i += 2
            continue
        marker = "```" if src.startswith("```", i) else ch
        if marker in ("```", "`", "*", "_"):
            end = src.find(marker, i + len(marker))
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}"
                )
            start16 = out.pos16
            out.emit(src[i + len(marker) : end])
            kind = {"```": "pre", "`": "code"}.get(marker) or simple[marker]
            out.add_entity({"type": kind}, start16)
            i = end + len(marker)
            continue
        if ch == "[":
            link = re.match(r"\[([^\]]*)\]\(([^)]*)\)", src[i:])
            if link:
                start16 = out.pos16
                out.emit(link.group(1))
                out.add_entity({"type": "text_link", "url": link.group(2)}, start16)
                i += link.end()
                continue
        out.emit(ch)
        i += 1
    return out.result()


def format_text(
    text: str, parse_mode: str | None, entities: list[JsonDict] | None = None
) -> tuple[str, list[JsonDict]]:
    """Turn ``text`` + ``parse_mode`` into (visible text, entities), like Telegram does.

    Raises ``EntityParseError`` for markup Telegram rejects and ``ApiError`` for an unknown
    parse mode. With no parse mode, explicit ``entities`` are passed through unchanged.
    """
    if not parse_mode:
        return text, list(entities or [])
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown_legacy(text)
    raise ApiError(400, "Bad Request: unsupported parse_mode")


# --------------------------------------------------------------------------------------------
# Request decoding
# --------------------------------------------------------------------------------------------


def _header_param(header: str, key: str) -> str | None:
    """A parameter of a header like ``form-data; name="x"``, undoing httpx's HTML5 escaping."""
    m = re.search(
        r"(?:^|;)\s*" + re.escape(key) + r"\s*=\s*(?:\"((?:[^\"\\]|\\.)*)\"|([^;\s]*))",
        header,
        re.IGNORECASE,
    )
    if m is None:
        return None
    if m.group(1) is None:
        return m.group(2)
    value = re.sub(r"%(22|[01][0-9A-Fa-f])", lambda x: chr(int(x.group(1), 16)), m.group(1))
    return value.replace("\\\\", "\\")


def _parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Split a multipart/form-data body into text fields and uploaded files.

    Hand-written because ``cgi`` is deprecated and ``email`` mangles the raw UTF-8 filenames
    httpx sends (Cyrillic file names are the norm for this bot).
    """
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise ValueError("multipart body without boundary")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for chunk in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("malformed multipart part")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name")
        if name is None:
            continue
        filename_star = _header_param(disposition, "filename*")
        filename = (
            unquote(filename_star.split("''", 1)[-1])
            if filename_star
            else _header_param(disposition, "filename")
        )
        if filename is not None:
            content_type_part = headers.get("content-type", "application/octet-stream")
            files[name] = UploadedFile(filename, data, content_type_part)
        else:
            fields[name] = data.decode("utf-8")
    return fields, files


def _decode_form_value(name: str, raw: str) -> Any:
    """Form fields: strings verbatim, everything else is JSON (see the module docstring)."""
    if name in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _normalize_json_value(name: str, value: Any) -> Any:
    """JSON bodies may still carry numbers or objects as strings; Telegram accepts that."""
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    if name in _INT_PARAMS and _INT_RE.fullmatch(value):
        return int(value)
    if value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def decode_request_params(query: str, content_type: str, body: bytes) -> JsonDict:
    """Decode a Bot API request's parameters from its query string and body."""
    params: JsonDict = {
        k: _decode_form_value(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
    }
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params
    if media_type == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        params.update({k: _normalize_json_value(k, v) for k, v in decoded.items()})
    elif media_type == "multipart/form-data":
        fields, files = _parse_multipart(body, content_type)
        params.update({k: _decode_form_value(k, v) for k, v in fields.items()})
        params.update(files)
    else:  # application/x-www-form-urlencoded and anything unlabelled
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        params.update({k: _decode_form_value(k, v) for k, v in pairs})
    return params


def command_scope_key(scope: Mapping[str, Any] | None) -> str:
    """Stable key of a BotCommandScope: ``"default"``, ``"all_private_chats"``, ``"chat:42"``.

    ``chat_member`` scopes become ``"chat_member:<chat_id>:<user_id>"``.
    """
    if not scope:
        return "default"
    parts = [str(scope.get("type", "default"))]
    parts += [str(scope[k]) for k in ("chat_id", "user_id") if k in scope]
    return ":".join(parts)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG/GIF/JPEG, (0, 0) for WebP, ``None`` if not an image."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 0, 0
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:
                i += 1 if marker == 0xFF else 2
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            (segment_length,) = struct.unpack(">H", data[i + 2 : i + 4])
            i += 2 + int(segment_length)
    return None


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server bound to 127.0.0.1 that can cut its keep-alive connections."""

    daemon_threads = True

    def __init__(self, standin: BotApiStandin) -> None:
        self.standin = standin
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((LOOPBACK_HOST, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn(), i.e. a reverse DNS lookup;
        # we promised not to talk to anything but 127.0.0.1.
        TCPServer.server_bind(self)
        self.server_name = LOOPBACK_HOST
        self.server_port = int(self.server_address[1])

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def drop_connections(self) -> None:
        """Close idle keep-alive sockets so the port is really dead after ``stop()``."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (PTB cancelling a long poll) are normal; real bugs surface as
        # 500 answers recorded in BotApiStandin.errors instead of stderr noise.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm plus delayed ACKs
    # every response would stall ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _client_gone(self) -> bool:
        """Whether the client hung up (EOF pending on the socket), e.g. a cancelled long poll."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _dispatch(self) -> None:
        standin = self.server.standin
        url = urlsplit(self.path)
        path = unquote(url.path)
        body = self._read_body()
        status: int
        content_type = "application/json"
        if path.startswith("/file/bot"):
            token, _, file_path = path.removeprefix("/file/bot").partition("/")
            status, data, content_type = standin.handle_file_download(token, file_path)
        elif path.startswith("/bot") and path.count("/") == 2:
            token, _, method = path.removeprefix("/bot").partition("/")
            try:
                params = decode_request_params(
                    url.query, self.headers.get("Content-Type", ""), body
                )
            except (ValueError, UnicodeDecodeError) as exc:
                status, payload = standin.reject_undecodable(method, str(exc))
            else:
                status, payload = standin.handle_api_call(
                    token, method, params, client_gone=self._client_gone
                )
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        else:
            status = HTTPStatus.NOT_FOUND
            data = b'{"ok":false,"error_code":404,"description":"Not Found"}'
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # client went away (e.g. a cancelled long poll)
            self.close_connection = True


# --------------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    filename: str
    content: bytes
    mime_type: str

    def as_file(self) -> JsonDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }

    def as_upload(self) -> UploadedFile:
        return UploadedFile(self.filename, self.content, self.mime_type)


def _now() -> int:
    """Unix time in *seconds*, as Telegram sends it (PTB would misread milliseconds)."""
    return int(time.time())


class BotApiStandin:
    """In-process fake of the Telegram Bot API for one bot token, served on 127.0.0.1.

    The test plays the user through ``send_message``/``click_button``/``inline_query`` and
    observes the bot through ``sent``/``wait_for_reply``/``calls``. Only private chats are
    modelled: a user's chat id equals their user id.

    All state is guarded by one re-entrant lock; ``_cond`` is notified on every change so
    waiters (long polls and ``wait_*`` helpers) never need to sleep-poll.
    """

    def __init__(
        self,
        token: str,
        bot_username: str = "voronka_test_bot",
        *,
        bot_first_name: str = "Voronka Test",
        supports_inline_queries: bool = True,
        strict_chats: bool = True,
    ) -> None:
        """Create a stopped stand-in; call ``start()`` (or use it as a context manager).

        ``strict_chats``: like Telegram, sending to a chat that never talked to the bot fails
        with "chat not found"; register such chats with ``add_chat`` (e.g. a manager seeded
        into the database) or pass ``False`` to let any positive chat id through.
        """
        if not token:
            raise ValueError("token must not be empty")
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 7_000_000_001
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.supports_inline_queries = supports_inline_queries
        self.strict_chats = strict_chats

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._request_context = threading.local()

        self._ids = itertools.count(1)
        self._next_update_id = 100_000_001
        self._faults: list[tuple[str, int, int]] = []  # (method, status, retry_after), in order
        self._holds: dict[str, threading.Event] = {}  # method -> released when set
        self._answer_after_hold: set[str] = set()  # held methods carried out when released
        self._delivered: dict[int, JsonDict] = {}  # update id -> the update as delivered
        self._delivery_counts: dict[int, int] = {}  # update id -> times returned by getUpdates
        self._redeliveries: list[JsonDict] = []
        self._updates: list[JsonDict] = []
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._webhook_url = ""
        self._webhook_secret: str | None = None
        self._webhook_thread: threading.Thread | None = None
        self._webhook_answers: list[tuple[int, int]] = []  # (update id, HTTP status)
        self.webhook_sink: Callable[[JsonDict], None] | None = None
        """Webhook mode: when set, new updates go here instead of being posted one by one
        (the load test posts them itself, concurrently, and times the replies)."""
        self.call_listener: Callable[[str, JsonDict], None] | None = None
        """Called (under the lock; keep it quick) with every API call as it arrives."""

        self._users: dict[int, JsonDict] = {}
        self._chats: dict[int, JsonDict] = {}
        self._blocked: set[int] = set()
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JsonDict] = {}
        self._reply_keyboards: dict[int, JsonDict] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}

        self._calls: list[tuple[str, JsonDict]] = []
        self._sent: list[SentRecord] = []
        self._errors: list[ErrorRecord] = []
        self._unknown_methods: list[str] = []
        self._deleted: list[tuple[int, int]] = []
        self._commands: dict[tuple[str, str], list[JsonDict]] = {}
        self._descriptions: dict[str, str] = {}
        self._short_descriptions: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._menu_buttons: dict[int | None, JsonDict] = {}
        self._callback_queries: dict[str, JsonDict] = {}
        self._callback_answers: dict[str, JsonDict] = {}
        self._inline_queries: dict[str, JsonDict] = {}
        self._inline_answers: dict[str, JsonDict] = {}

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("stand-in already started")
        self._stopping = False
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"bot-api-standin:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: wake pending long polls, close connections, free the port. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> BotApiStandin:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("stand-in is not running; call start() first")
        return self._server.server_port

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:PORT`` — the value for ``VORONKA_BOT_API_URL``."""
        return f"http://{LOOPBACK_HOST}:{self.port}"

    @property
    def api_base_url(self) -> str:
        """For PTB's ``base_url``: PTB appends the token, giving ``<url>/bot<token>``."""
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        """For PTB's ``base_file_url``: PTB appends the token, giving ``<url>/file/bot<token>``."""
        return f"{self.url}/file/bot"

    def bot_env(self) -> dict[str, str]:
        """Environment for a ``voronka run`` subprocess pointed at this stand-in.

        ``NO_PROXY`` keeps httpx from routing 127.0.0.1 through a proxy set in the CI env.
        """
        return {
            "VORONKA_BOT_API_URL": self.url,
            "VORONKA_BOT_TOKEN": self.token,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    # ---------------------------------------------------------------- observation

    @property
    def calls(self) -> list[tuple[str, JsonDict]]:
        """Every API call (method name as sent, decoded params), in order. A snapshot."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[JsonDict]:
        """Params of every call to ``method`` (case-insensitive), in order."""
        with self._lock:
            return [p for m, p in self._calls if m.lower() == method.lower()]

    @property
    def unknown_methods(self) -> list[str]:
        """Methods the stand-in does not implement that the bot called (answered with 404)."""
        with self._lock:
            return list(self._unknown_methods)

    @property
    def errors(self) -> list[ErrorRecord]:
        """Every call answered with an error — what Telegram would have refused."""
        with self._lock:
            return list(self._errors)

    @property
    def commands(self) -> dict[tuple[str, str], list[JsonDict]]:
        """``setMyCommands`` state keyed by (``command_scope_key(scope)``, language_code)."""
        with self._lock:
            return copy.deepcopy(self._commands)

    def commands_for(
        self, scope: str | Mapping[str, Any] = "default", language_code: str = ""
    ) -> list[JsonDict] | None:
        """Commands set for one scope/language, or ``None`` if never set."""
        key = scope if isinstance(scope, str) else command_scope_key(scope)
        with self._lock:
            found = self._commands.get((key, language_code))
            return copy.deepcopy(found) if found is not None else None

    @property
    def descriptions(self) -> dict[str, str]:
        """``setMyDescription`` by language code ("" = default)."""
        with self._lock:
            return dict(self._descriptions)

    @property
    def short_descriptions(self) -> dict[str, str]:
        """``setMyShortDescription`` by language code ("" = default)."""
        with self._lock:
            return dict(self._short_descriptions)

    @property
    def deleted(self) -> list[tuple[int, int]]:
        """(chat_id, message_id) of messages the bot deleted, in order."""
        with self._lock:
            return list(self._deleted)

    @property
    def pending_update_count(self) -> int:
        """Updates not yet confirmed by the bot through ``getUpdates`` offsets."""
        with self._lock:
            return len(self._updates)

    def sent(self, chat_id: int | None = None) -> list[SentRecord]:
        """Messages sent/edited by the bot (see ``SentRecord``), optionally for one chat."""
        with self._lock:
            return [r for r in self._sent if chat_id is None or r["chat_id"] == chat_id]

    def sent_count(self, chat_id: int) -> int:
        """How many records ``sent(chat_id)`` has now — pass it as ``after=`` to wait for more."""
        return len(self.sent(chat_id))

    def message(self, chat_id: int, message_id: int) -> JsonDict | None:
        """Current state of a message (reflecting edits), or ``None`` if unknown/deleted."""
        with self._lock:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found is not None else None

    def buttons(self, chat_id: int, message_id: int | None = None) -> list[list[str]]:
        """Button texts of a bot message's inline keyboard (default: the latest keyboard)."""
        with self._lock:
            msg = self._keyboard_message(chat_id, message_id)
            return [[b["text"] for b in row] for row in msg["reply_markup"]["inline_keyboard"]]

    def reply_keyboard(self, chat_id: int) -> list[list[str]] | None:
        """Texts of the reply keyboard currently shown in a chat, if any."""
        with self._lock:
            markup = self._reply_keyboards.get(chat_id)
            if markup is None:
                return None
            return [
                [b if isinstance(b, str) else b["text"] for b in row] for row in markup["keyboard"]
            ]

    def callback_answer(self, query_id: str) -> JsonDict | None:
        """Params of ``answerCallbackQuery`` for a click, or ``None`` if not answered yet."""
        with self._lock:
            return copy.deepcopy(self._callback_answers.get(query_id))

    def inline_answer(self, query_id: str) -> JsonDict | None:
        """Params of ``answerInlineQuery`` (``results`` etc.), or ``None`` if not answered."""
        with self._lock:
            return copy.deepcopy(self._inline_answers.get(query_id))

    # ---------------------------------------------------------------- waiting

    def wait_until(
        self, probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition"
    ) -> T:
        """Block until ``probe()`` (called under the lock) returns non-None; return that.

        Raises ``TimeoutError`` whose message includes what the bot did meanwhile.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = probe()
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"timed out after {timeout}s waiting for {what}; " + self._debug_summary()
                    )
                self._cond.wait(remaining)

    def wait_for_reply(self, chat_id: int, *, after: int = 0, timeout: float = 10.0) -> SentRecord:
        """Block until ``sent(chat_id)`` has more than ``after`` records; return record ``after``.

        Typical use: ``n = standin.sent_count(chat)``, act, then
        ``standin.wait_for_reply(chat, after=n)``.
        Counts ``sendMessage``/``sendDocument``/``sendPhoto``/``editMessageText``/
        ``editMessageCaption`` (keyboard-only edits are in ``calls``).
        """

        def probe() -> SentRecord | None:
            records = [r for r in self._sent if r["chat_id"] == chat_id]
            return records[after] if len(records) > after else None

        return self.wait_until(probe, timeout=timeout, what=f"reply #{after} in chat {chat_id}")

    async def wait_for_reply_async(
        self,
        chat_id: int,
        *,
        after: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109 -- mirrors wait_for_reply; enforced in the thread
    ) -> SentRecord:
        """``wait_for_reply`` for async tests where the bot shares the event loop.

        Blocking the loop would starve the in-process bot, so the wait runs in a thread.
        """
        return await asyncio.to_thread(self.wait_for_reply, chat_id, after=after, timeout=timeout)

    def wait_for_callback_answer(self, query_id: str, *, timeout: float = 10.0) -> JsonDict:
        """Block until the bot answered the callback query (spinner stops for the user)."""
        return self.wait_until(
            lambda: self._callback_answers.get(query_id),
            timeout=timeout,
            what=f"answerCallbackQuery({query_id})",
        )

    def wait_for_inline_answer(self, query_id: str, *, timeout: float = 10.0) -> JsonDict:
        """Block until the bot answered the inline query; returns the call's params."""
        return self.wait_until(
            lambda: self._inline_answers.get(query_id),
            timeout=timeout,
            what=f"answerInlineQuery({query_id})",
        )

    def wait_for_confirmed(self, *, timeout: float = 10.0) -> None:
        """Block until the bot confirmed (via ``offset``) every update enqueued so far.

        Useful to know a reply-less update was consumed; note PTB confirms with its *next*
        ``getUpdates``, i.e. after it fetched, not necessarily after handlers finished.
        """
        self.wait_until(
            lambda: True if not self._updates else None,
            timeout=timeout,
            what="all updates to be confirmed",
        )

    def _debug_summary(self) -> str:
        recent = [f"{r['method']}@{r['chat_id']}: {r['text']!r}" for r in self._sent[-5:]]
        errors = [f"{e['method']}: {e['description']}" for e in self._errors[-5:]]
        methods = [m for m, _ in self._calls[-10:]]
        return (
            f"last sent={recent}, last errors={errors}, unknown methods={self._unknown_methods}, "
            f"last calls={methods}, pending updates={len(self._updates)}"
        )

    # ---------------------------------------------------------------- playing the user

    def add_chat(
        self,
        user_id: int,
        *,
        first_name: str = "Test",
        language_code: str = "ru",
        username: str | None = None,
    ) -> None:
        """Register a private chat as if the user had started the bot before (no update)."""
        with self._cond:
            self._ensure_user(user_id, first_name, language_code, username)

    def block_bot(self, user_id: int) -> None:
        """Make the user block the bot: further sends fail with 403 like in Telegram."""
        with self._cond:
            self._blocked.add(user_id)

    def unblock_bot(self, user_id: int) -> None:
        """Undo ``block_bot`` (writing to the bot also unblocks it)."""
        with self._cond:
            self._blocked.discard(user_id)

    def send_message(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Test",
        language_code: str = "ru",
        username: str | None = None,
    ) -> int:
        """Enqueue a text message from a user in their private chat; return its message_id.

        ``/commands`` anywhere in the text get ``bot_command`` entities, as Telegram adds them.
        """
        with self._cond:
            user = self._ensure_user(user_id, first_name, language_code, username)
            self._blocked.discard(user_id)
            msg = self._new_message(user_id, user, {"text": text})
            entities = [
                {
                    "type": "bot_command",
                    "offset": _utf16_len(text[: m.start()]),
                    "length": _utf16_len(m.group(0)),
                }
                for m in re.finditer(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?", text)
            ]
            if entities:
                msg["entities"] = entities
            self._enqueue({"message": copy.deepcopy(msg)})
            return int(msg["message_id"])

    def press_reply_button(self, user_id: int, text: str) -> int:
        """Tap a reply-keyboard button (sends its text); fails if no such button is shown."""
        shown = self.reply_keyboard(user_id) or []
        if not any(text in row for row in shown):
            raise LookupError(
                f"no reply keyboard button {text!r} in chat {user_id}; shown: {shown}"
            )
        user = self._users[user_id]
        return self.send_message(
            user_id,
            text,
            first_name=user["first_name"],
            language_code=user.get("language_code", "ru"),
            username=user.get("username"),
        )

    def send_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        *,
        caption: str | None = None,
        mime_type: str = "application/octet-stream",
    ) -> int:
        """Enqueue a document upload from the user; the bot can ``getFile`` and download it."""
        with self._cond:
            user = self._users.get(user_id) or self._ensure_user(user_id, "Test", "ru", None)
            stored = self._store_file("documents", UploadedFile(filename, content, mime_type))
            body: JsonDict = {"document": self._document_json(stored)}
            if caption is not None:
                body["caption"] = caption
            msg = self._new_message(user_id, user, body)
            self._enqueue({"message": copy.deepcopy(msg)})
            return int(msg["message_id"])

    def click(
        self, user_id: int, message_id: int, callback_data: str, *, language_code: str = "ru"
    ) -> str:
        """Enqueue a callback_query as if the user pressed a button; return the query id.

        ``callback_data`` is not checked against the keyboard, so stale or forged data can be
        tested; use ``click_button`` to press what is actually shown.
        """
        with self._cond:
            msg = self._messages.get((user_id, message_id))
            if msg is None:
                raise LookupError(f"no message {message_id} in chat {user_id} to click on")
            user = dict(
                self._users.get(user_id) or self._ensure_user(user_id, "Test", language_code, None)
            )
            user["language_code"] = language_code
            query_id = str(4_000_000_000_000_000_000 + next(self._ids))
            query: JsonDict = {
                "id": query_id,
                "from": user,
                "message": copy.deepcopy(msg),
                "chat_instance": self._chat_instance(user_id),
                "data": callback_data,
            }
            self._callback_queries[query_id] = query
            self._enqueue({"callback_query": copy.deepcopy(query)})
            return query_id

    def click_button(self, user_id: int, text: str, *, message_id: int | None = None) -> str:
        """Press the inline button labelled ``text`` in the latest bot message with a keyboard.

        Sees the keyboard as currently edited. Raises ``LookupError`` listing the buttons on
        screen if there is no such button, ``ValueError`` for non-callback (e.g. URL) buttons.
        """
        with self._cond:
            msg = self._keyboard_message(user_id, message_id)
            rows = msg["reply_markup"]["inline_keyboard"]
            for row in rows:
                for button in row:
                    if button["text"] == text:
                        if "callback_data" not in button:
                            raise ValueError(f"button {text!r} has no callback_data: {button}")
                        language = self._users.get(user_id, {}).get("language_code", "ru")
                        return self.click(
                            user_id,
                            int(msg["message_id"]),
                            button["callback_data"],
                            language_code=language,
                        )
            shown = [[b["text"] for b in row] for row in rows]
            raise LookupError(
                f"no button {text!r} on message {msg['message_id']} in chat {user_id}; "
                f"shown: {shown}"
            )

    def inline_query(
        self, user_id: int, query: str, *, offset: str = "", chat_type: str = "sender"
    ) -> str:
        """Enqueue an inline query typed by the user; return its id (see ``inline_answer``)."""
        with self._cond:
            user = self._users.get(user_id) or self._ensure_user(user_id, "Test", "ru", None)
            query_id = str(5_000_000_000_000_000_000 + next(self._ids))
            body: JsonDict = {
                "id": query_id,
                "from": dict(user),
                "query": query,
                "offset": offset,
                "chat_type": chat_type,
            }
            self._inline_queries[query_id] = body
            self._enqueue({"inline_query": copy.deepcopy(body)})
            return query_id

    # ---------------------------------------------------------------- internals (lock held)

    def _ensure_user(
        self, user_id: int, first_name: str, language_code: str, username: str | None
    ) -> JsonDict:
        if user_id <= 0:
            raise ValueError("user ids are positive (only private chats are modelled)")
        user: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: JsonDict = {"id": user_id, "type": "private", "first_name": first_name}
        if username:
            user["username"] = chat["username"] = username
        user["language_code"] = language_code
        self._users[user_id] = user
        self._chats[user_id] = chat
        return user

    def _bot_user(self) -> JsonDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _chat_instance(self, chat_id: int) -> str:
        digest = hashlib.sha256(f"{self.bot_id}:{chat_id}".encode()).digest()
        return str(-(int.from_bytes(digest[:8], "big") >> 1))

    def _alloc_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _new_message(self, chat_id: int, sender: JsonDict, body: JsonDict) -> JsonDict:
        msg: JsonDict = {
            "message_id": self._alloc_message_id(chat_id),
            "from": dict(sender),
            "chat": dict(self._chats[chat_id]),
            "date": _now(),
            **body,
        }
        self._messages[(chat_id, msg["message_id"])] = msg
        return msg

    def fail_next(self, method: str, status: int, times: int = 1, retry_after: int = 0) -> None:
        """Answer the next `times` calls of `method` with `status`, as Telegram does when it
        is overloaded (429 with `retry_after`, 5xx). Injected faults are not `errors`."""
        with self._cond:
            self._faults.extend([(method, status, retry_after)] * times)

    def hold_next(self, method: str, *, then_answer: bool = False) -> threading.Event:
        """Keep the next call of `method` waiting, unanswered, until the event is set: the
        bot is then caught in the middle of an update (to be killed there, say). Released,
        the call fails with 502, or with `then_answer` is carried out as if it had been slow."""
        released = threading.Event()
        with self._cond:
            self._holds[method] = released
            if then_answer:
                self._answer_after_hold.add(method)
        return released

    def redeliver(self, update_id: int) -> None:
        """Deliver an update again with its own id, as Telegram does when the bot's
        confirming `getUpdates` was lost: the next poll returns it whatever its offset."""
        with self._cond:
            self._redeliveries.append(copy.deepcopy(self._delivered[update_id]))
            self._cond.notify_all()

    def times_delivered(self, update_id: int) -> int:
        """How many times getUpdates returned this update (more than once: redelivered)."""
        with self._cond:
            return self._delivery_counts.get(update_id, 0)

    def last_update_id(self, user_id: int) -> int:
        """The id of the latest update delivered from this user."""
        with self._cond:
            ids = [
                update_id
                for update_id, update in self._delivered.items()
                if any(
                    isinstance(part, dict) and part.get("from", {}).get("id") == user_id
                    for part in update.values()
                )
            ]
            return max(ids)

    def _enqueue(self, body: JsonDict) -> None:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        if self._webhook_url and self.webhook_sink is not None:
            self._delivered[update["update_id"]] = update
            self.webhook_sink(copy.deepcopy(update))
            return
        self._updates.append(update)
        self._cond.notify_all()

    # ---------------------------------------------------------------- webhook mode

    @property
    def webhook_answers(self) -> list[tuple[int, int]]:
        """(update id, HTTP status) of every post to the bot's webhook, in order."""
        with self._lock:
            return list(self._webhook_answers)

    def post_webhook(
        self, body: JsonDict | bytes, *, secret: str | None, url: str | None = None
    ) -> int:
        """Post to the registered webhook (or `url`) as anyone could: `secret` is the
        X-Telegram-Bot-Api-Secret-Token header sent (None: none). Returns the HTTP status."""
        target = url or self._webhook_url
        if not target:
            raise RuntimeError("no webhook registered (setWebhook) and no url given")
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return _post(target, data, secret)

    def _push_updates(self) -> None:
        """Telegram's side of a webhook: each pending update posted in order, the next one
        only once the last was answered with 2xx; anything else is retried shortly."""
        while True:
            with self._cond:
                while not self._stopping and not (self._webhook_url and self._updates):
                    self._cond.wait(0.5)
                if self._stopping:
                    return
                self._updates = [u for u in self._updates if self._update_allowed(u)]
                if not self._updates:
                    continue
                update = copy.deepcopy(self._updates[0])
                url, secret = self._webhook_url, self._webhook_secret
            status = _post(url, json.dumps(update).encode(), secret)
            with self._cond:
                self._webhook_answers.append((update["update_id"], status))
                if 200 <= status < 300:
                    self._updates = [
                        u for u in self._updates if u["update_id"] != update["update_id"]
                    ]
                    self._delivered[update["update_id"]] = update
                    count = self._delivery_counts.get(update["update_id"], 0)
                    self._delivery_counts[update["update_id"]] = count + 1
                self._cond.notify_all()
                if not 200 <= status < 300:
                    self._cond.wait(0.2)

    def _keyboard_message(self, chat_id: int, message_id: int | None) -> JsonDict:
        if message_id is not None:
            msg = self._messages.get((chat_id, message_id))
            if msg is None or "inline_keyboard" not in msg.get("reply_markup", {}):
                raise LookupError(f"message {message_id} in chat {chat_id} has no inline keyboard")
            return msg
        candidates = [
            m
            for (cid, _), m in self._messages.items()
            if cid == chat_id
            and m["from"]["id"] == self.bot_id
            and "inline_keyboard" in m.get("reply_markup", {})
        ]
        if not candidates:
            raise LookupError(f"no bot message with an inline keyboard in chat {chat_id}")
        return max(candidates, key=lambda m: int(m["message_id"]))

    def _store_file(self, folder: str, upload: UploadedFile) -> _StoredFile:
        n = next(self._ids)
        suffix = upload.filename.rsplit(".", 1)[-1] if "." in upload.filename else "bin"
        prefix = "AgAC" if folder == "photos" else "BQAC"
        stored = _StoredFile(
            file_id=f"{prefix}AgADstandin{n:06d}{hashlib.sha1(upload.content).hexdigest()[:16]}",
            file_unique_id=f"AQAD{n:06d}",
            file_path=f"{folder}/file_{n}.{suffix}",
            filename=upload.filename,
            content=upload.content,
            mime_type=upload.content_type,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    @staticmethod
    def _document_json(stored: _StoredFile) -> JsonDict:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": stored.filename,
            "mime_type": stored.mime_type,
            "file_size": len(stored.content),
        }

    # ---------------------------------------------------------------- HTTP entry points

    def handle_api_call(
        self,
        token: str,
        method: str,
        params: JsonDict,
        *,
        client_gone: Callable[[], bool] | None = None,
    ) -> tuple[int, JsonDict]:
        """Run one Bot API method; returns (HTTP status, Telegram JSON payload).

        ``client_gone`` lets a long poll tell a cancelled request (PTB stopping) from a live
        competing bot instance, so only the latter is reported as a 409 error.
        """
        self._request_context.client_gone = client_gone
        with self._cond:
            held = self._holds.pop(method, None)
        if held is not None:
            with self._cond:
                self._calls.append((method, params))
                self._cond.notify_all()
            held.wait(timeout=60)
            with self._cond:
                answer = method in self._answer_after_hold
                self._answer_after_hold.discard(method)
            if answer:
                return self._carry_out(token, method, params)
            return HTTPStatus.BAD_GATEWAY, {"ok": False, "error_code": 502, "description": "Held"}
        with self._cond:
            self._calls.append((method, params))
            if self.call_listener is not None:
                self.call_listener(method, params)
            self._cond.notify_all()
        return self._carry_out(token, method, params)

    def _carry_out(self, token: str, method: str, params: JsonDict) -> tuple[int, JsonDict]:
        with self._cond:
            if token != self.token:
                return self._fail(method, params, ApiError(401, "Unauthorized"))
            fault = next((f for f in self._faults if f[0] == method), None)
            if fault is not None:
                self._faults.remove(fault)
                _, status, retry_after = fault
                payload: JsonDict = {"ok": False, "error_code": status, "description": "Fault"}
                if status == 429:
                    payload["description"] = f"Too Many Requests: retry after {retry_after}"
                    payload["parameters"] = {"retry_after": retry_after}
                return status, payload
            handler: Callable[[JsonDict], Any] | None = getattr(
                self, f"_api_{method.lower()}", None
            )
            if handler is None:
                self._unknown_methods.append(method)
                return self._fail(method, params, ApiError(404, "Not Found: method not found"))
            try:
                result = handler(params)
            except ApiError as exc:
                return self._fail(method, params, exc)
            except EntityParseError as exc:
                return self._fail(
                    method, params, ApiError(400, f"Bad Request: can't parse entities: {exc}")
                )
            except Exception as exc:  # a stand-in bug or a shape we did not foresee
                return self._fail(
                    method,
                    params,
                    ApiError(500, f"Internal Server Error: stand-in failed: {exc!r}"),
                )
            return HTTPStatus.OK, {"ok": True, "result": result}

    def reject_undecodable(self, method: str, reason: str) -> tuple[int, JsonDict]:
        """Answer a request whose body could not be decoded."""
        with self._cond:
            self._calls.append((method, {}))
            return self._fail(
                method, {}, ApiError(400, f"Bad Request: can't parse request: {reason}")
            )

    def handle_file_download(self, token: str, file_path: str) -> tuple[int, bytes, str]:
        """Serve ``/file/bot<token>/<file_path>``; returns (status, body, content type)."""
        with self._lock:
            stored = self._files_by_path.get(file_path) if token == self.token else None
        if stored is None:
            return (
                HTTPStatus.NOT_FOUND,
                b'{"ok":false,"error_code":404,"description":"Not Found"}',
                "application/json",
            )
        return HTTPStatus.OK, stored.content, "application/octet-stream"

    def _fail(self, method: str, params: JsonDict, error: ApiError) -> tuple[int, JsonDict]:
        self._errors.append(
            {
                "method": method,
                "error_code": error.error_code,
                "description": error.description,
                "params": params,
            }
        )
        self._cond.notify_all()
        payload = {"ok": False, "error_code": error.error_code, "description": error.description}
        return error.error_code, payload

    # ---------------------------------------------------------------- validation helpers

    @staticmethod
    def _require(params: JsonDict, name: str) -> Any:
        value = params.get(name)
        if value is None or value == "":
            raise ApiError(400, f"Bad Request: {name} is empty")
        return value

    def _require_chat(self, params: JsonDict) -> int:
        chat_id = self._require(params, "chat_id")
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id not in self._chats:
            if self.strict_chats or chat_id <= 0:
                raise ApiError(400, "Bad Request: chat not found")
            self._ensure_user(chat_id, "Test", "ru", None)
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _formatted(
        self, params: JsonDict, field: str, entities_field: str, limit: int, too_long: str
    ) -> tuple[str, list[JsonDict]]:
        raw = params.get(field)
        if not isinstance(raw, str):
            raw = "" if raw is None else str(raw)
        text, entities = format_text(raw, params.get("parse_mode"), params.get(entities_field))
        if len(text) > limit:
            raise ApiError(400, f"Bad Request: {too_long}")
        return text, entities

    @staticmethod
    def _validate_inline_keyboard(markup: JsonDict) -> None:
        rows = markup.get("inline_keyboard")
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array of Array')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
                if not any(k in button for k in _INLINE_BUTTON_ACTIONS):
                    raise ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _apply_send_markup(self, chat_id: int, msg: JsonDict, markup: Any) -> None:
        if markup is None:
            return
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._validate_inline_keyboard(markup)
            msg["reply_markup"] = markup
        elif "keyboard" in markup:
            self._reply_keyboards[chat_id] = markup
        elif markup.get("remove_keyboard"):
            self._reply_keyboards.pop(chat_id, None)

    def _edit_markup(self, params: JsonDict) -> JsonDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        self._validate_inline_keyboard(markup)
        return markup if markup["inline_keyboard"] else None

    def _reply_target(self, chat_id: int, params: JsonDict) -> JsonDict | None:
        reply = params.get("reply_parameters")
        reply_id = reply.get("message_id") if isinstance(reply, dict) else None
        reply_id = reply_id or params.get("reply_to_message_id")
        if reply_id is None:
            return None
        target = self._messages.get((chat_id, int(reply_id)))
        if target is None:
            allow = (
                isinstance(reply, dict) and reply.get("allow_sending_without_reply")
            ) or params.get("allow_sending_without_reply")
            if allow:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    def _send(
        self,
        method: str,
        params: JsonDict,
        body: JsonDict,
        visible_text: str | None,
        file: UploadedFile | None,
    ) -> JsonDict:
        chat_id = self._require_chat(params)
        reply_to = self._reply_target(chat_id, params)
        msg = self._new_message(chat_id, self._bot_user(), body)
        try:
            self._apply_send_markup(chat_id, msg, params.get("reply_markup"))
        except ApiError:
            del self._messages[(chat_id, msg["message_id"])]
            raise
        if reply_to is not None:
            msg["reply_to_message"] = reply_to
        self._record_sent(method, chat_id, msg, params, visible_text, file)
        return copy.deepcopy(msg)

    def _record_sent(
        self,
        method: str,
        chat_id: int,
        msg: JsonDict,
        params: JsonDict,
        visible_text: str | None,
        file: UploadedFile | None,
    ) -> None:
        markup = params.get("reply_markup")
        self._sent.append(
            {
                "index": sum(1 for r in self._sent if r["chat_id"] == chat_id),
                "method": method,
                "chat_id": chat_id,
                "message_id": int(msg["message_id"]),
                "text": visible_text,
                "parse_mode": params.get("parse_mode"),
                "reply_markup": markup if isinstance(markup, dict) else None,
                "file": file,
                "params": params,
                "message": copy.deepcopy(msg),
            }
        )
        self._cond.notify_all()

    def _input_file(self, params: JsonDict, field: str, folder: str) -> _StoredFile:
        value = params.get(field)
        if value is None or value == "":
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
            if not isinstance(value, UploadedFile):
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if isinstance(value, UploadedFile):
            if not value.content:
                raise ApiError(400, "Bad Request: file must be non-empty")
            return self._store_file(folder, value)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            # Never fetched: the stand-in does not contact any address but its own.
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        stored = self._files.get(str(value))
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return stored

    def _edit_target(self, params: JsonDict) -> JsonDict | None:
        """The stored message an edit applies to; ``None`` for inline messages."""
        if params.get("inline_message_id"):
            return None
        chat_id = self._require(params, "chat_id")
        message_id = self._require(params, "message_id")
        msg = self._messages.get((chat_id, message_id))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    @staticmethod
    def _not_modified() -> ApiError:
        return ApiError(
            400,
            "Bad Request: message is not modified: specified new message content and reply "
            "markup are exactly the same as a current content and reply markup of the message",
        )

    @staticmethod
    def _set_or_drop(msg: JsonDict, key: str, value: Any) -> None:
        if value:
            msg[key] = value
        else:
            msg.pop(key, None)

    # ---------------------------------------------------------------- Bot API methods

    def _api_getme(self, params: JsonDict) -> JsonDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_logout(self, params: JsonDict) -> bool:
        return True

    def _api_close(self, params: JsonDict) -> bool:
        return True

    def _api_setwebhook(self, params: JsonDict) -> bool:
        self._webhook_url = str(self._require(params, "url"))
        secret = params.get("secret_token")
        self._webhook_secret = str(secret) if secret else None
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self._webhook_url and self._webhook_thread is None:
            self._webhook_thread = threading.Thread(
                target=self._push_updates, name="bot-api-standin:webhook", daemon=True
            )
            self._webhook_thread.start()
        self._cond.notify_all()
        return True

    def _api_deletewebhook(self, params: JsonDict) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
            self._cond.notify_all()
        return True

    def _api_getwebhookinfo(self, params: JsonDict) -> JsonDict:
        info: JsonDict = {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _update_allowed(self, update: JsonDict) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates is None:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    def _api_getupdates(self, params: JsonDict) -> list[JsonDict]:
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):  # persists until changed, like Telegram
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
        if isinstance(offset, int) and not isinstance(offset, bool):
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._cond.notify_all()  # terminates an older long poll with 409
        deadline = time.monotonic() + timeout
        while True:
            if self._stopping:
                return []
            if generation != self._poll_generation:
                if self._poll_abandoned():
                    return []  # nobody is listening any more; not a conflict
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            # Telegram never stores updates of types the bot did not ask for.
            self._updates = [u for u in self._updates if self._update_allowed(u)]
            if self._redeliveries:
                again, self._redeliveries = self._redeliveries, []
                for update in again:
                    count = self._delivery_counts.get(update["update_id"], 0)
                    self._delivery_counts[update["update_id"]] = count + 1
                return again
            if self._updates:
                batch = copy.deepcopy(self._updates[:limit])
                for update in batch:
                    self._delivered[update["update_id"]] = update
                    count = self._delivery_counts.get(update["update_id"], 0)
                    self._delivery_counts[update["update_id"]] = count + 1
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._cond.wait(remaining)

    def _poll_abandoned(self) -> bool:
        """Whether the client of the current (superseded) long poll has disconnected.

        PTB closes a cancelled poll's connection just before its final ``getUpdates``; allow
        the FIN a moment to arrive before calling it a conflict. Lock is released meanwhile.
        """
        client_gone: Callable[[], bool] | None = getattr(self._request_context, "client_gone", None)
        if client_gone is None:
            return False
        deadline = time.monotonic() + 0.25
        while not client_gone():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._cond.wait(min(remaining, 0.02))
        return True

    def _api_sendmessage(self, params: JsonDict) -> JsonDict:
        text, entities = self._formatted(
            params, "text", "entities", MAX_TEXT_LENGTH, "message is too long"
        )
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        body: JsonDict = {"text": text}
        if entities:
            body["entities"] = entities
        return self._send("sendMessage", params, body, text, None)

    def _media_caption(self, params: JsonDict) -> tuple[JsonDict, str | None]:
        if params.get("caption") is None:
            return {}, None
        caption, entities = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION_LENGTH, "message caption is too long"
        )
        body: JsonDict = {"caption": caption}
        if entities:
            body["caption_entities"] = entities
        return body, caption

    def _api_senddocument(self, params: JsonDict) -> JsonDict:
        self._require_chat(params)
        body, caption = self._media_caption(params)
        stored = self._input_file(params, "document", "documents")
        body["document"] = self._document_json(stored)
        return self._send("sendDocument", params, body, caption, stored.as_upload())

    def _api_sendphoto(self, params: JsonDict) -> JsonDict:
        self._require_chat(params)
        body, caption = self._media_caption(params)
        stored = self._input_file(params, "photo", "photos")
        size = _image_size(stored.content)
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        width, height = size
        if (
            width
            and height
            and (width + height > 10000 or max(width, height) / min(width, height) > 20)
        ):
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        body["photo"] = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": width,
                "height": height,
                "file_size": len(stored.content),
            }
        ]
        return self._send("sendPhoto", params, body, caption, stored.as_upload())

    def _api_getfile(self, params: JsonDict) -> JsonDict:
        stored = self._files.get(str(self._require(params, "file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.as_file()

    def _api_sendchataction(self, params: JsonDict) -> bool:
        self._require_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _api_editmessagetext(self, params: JsonDict) -> JsonDict | bool:
        text, entities = self._formatted(
            params, "text", "entities", MAX_TEXT_LENGTH, "MESSAGE_TOO_LONG"
        )
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        markup = self._edit_markup(params)
        msg = self._edit_target(params)
        if msg is None:
            return True
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if (msg["text"], msg.get("entities", []), msg.get("reply_markup")) == (
            text,
            entities,
            markup,
        ):
            raise self._not_modified()
        msg["text"] = text
        self._set_or_drop(msg, "entities", entities)
        self._set_or_drop(msg, "reply_markup", markup)
        msg["edit_date"] = _now()
        self._record_sent("editMessageText", int(msg["chat"]["id"]), msg, params, text, None)
        return copy.deepcopy(msg)

    def _api_editmessagecaption(self, params: JsonDict) -> JsonDict | bool:
        body, caption = self._media_caption(params)
        markup = self._edit_markup(params)
        msg = self._edit_target(params)
        if msg is None:
            return True
        if not any(k in msg for k in ("document", "photo")):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        new_state = (body.get("caption"), body.get("caption_entities", []), markup)
        if (
            msg.get("caption"),
            msg.get("caption_entities", []),
            msg.get("reply_markup"),
        ) == new_state:
            raise self._not_modified()
        self._set_or_drop(msg, "caption", body.get("caption"))
        self._set_or_drop(msg, "caption_entities", body.get("caption_entities"))
        self._set_or_drop(msg, "reply_markup", markup)
        msg["edit_date"] = _now()
        self._record_sent("editMessageCaption", int(msg["chat"]["id"]), msg, params, caption, None)
        return copy.deepcopy(msg)

    def _api_editmessagereplymarkup(self, params: JsonDict) -> JsonDict | bool:
        markup = self._edit_markup(params)
        msg = self._edit_target(params)
        if msg is None:
            return True
        if msg.get("reply_markup") == markup:
            raise self._not_modified()
        self._set_or_drop(msg, "reply_markup", markup)
        msg["edit_date"] = _now()
        self._cond.notify_all()
        return copy.deepcopy(msg)

    def _api_deletemessage(self, params: JsonDict) -> bool:
        chat_id = self._require(params, "chat_id")
        message_id = self._require(params, "message_id")
        if self._messages.pop((chat_id, message_id), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        self._deleted.append((chat_id, message_id))
        self._cond.notify_all()
        return True

    def _api_deletemessages(self, params: JsonDict) -> bool:
        chat_id = self._require(params, "chat_id")
        for message_id in self._require(params, "message_ids"):
            if self._messages.pop((chat_id, message_id), None) is not None:
                self._deleted.append((chat_id, message_id))
        self._cond.notify_all()
        return True

    def _api_answercallbackquery(self, params: JsonDict) -> bool:
        query_id = str(self._require(params, "callback_query_id"))
        if query_id not in self._callback_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._callback_answers[query_id] = params
        self._cond.notify_all()
        return True

    def _api_answerinlinequery(self, params: JsonDict) -> bool:
        query_id = str(self._require(params, "inline_query_id"))
        if query_id not in self._inline_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        results = params.get("results")
        if not isinstance(results, list):
            raise ApiError(400, "Bad Request: can't parse inline query results JSON object")
        if len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        self._inline_answers[query_id] = params
        self._cond.notify_all()
        return True

    def _api_setmycommands(self, params: JsonDict) -> bool:
        commands = self._require(params, "commands") if "commands" in params else []
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command", ""))
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = (command_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands[key] = commands
        return True

    def _api_getmycommands(self, params: JsonDict) -> list[JsonDict]:
        key = (command_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return copy.deepcopy(self._commands.get(key, []))

    def _api_deletemycommands(self, params: JsonDict) -> bool:
        key = (command_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True

    def _set_localized(
        self, store: dict[str, str], params: JsonDict, field: str, limit: int
    ) -> bool:
        value = str(params.get(field) or "")
        if len(value) > limit:
            raise ApiError(400, f"Bad Request: {field} is too long")
        language = str(params.get("language_code") or "")
        if value:
            store[language] = value
        else:
            store.pop(language, None)
        return True

    def _get_localized(self, store: dict[str, str], params: JsonDict) -> str:
        language = str(params.get("language_code") or "")
        return store.get(language, store.get("", ""))

    def _api_setmydescription(self, params: JsonDict) -> bool:
        return self._set_localized(self._descriptions, params, "description", 512)

    def _api_getmydescription(self, params: JsonDict) -> JsonDict:
        return {"description": self._get_localized(self._descriptions, params)}

    def _api_setmyshortdescription(self, params: JsonDict) -> bool:
        return self._set_localized(self._short_descriptions, params, "short_description", 120)

    def _api_getmyshortdescription(self, params: JsonDict) -> JsonDict:
        return {"short_description": self._get_localized(self._short_descriptions, params)}

    def _api_setmyname(self, params: JsonDict) -> bool:
        return self._set_localized(self._names, params, "name", 64)

    def _api_getmyname(self, params: JsonDict) -> JsonDict:
        return {"name": self._get_localized(self._names, params) or self.bot_first_name}

    def _api_setchatmenubutton(self, params: JsonDict) -> bool:
        chat_id = params.get("chat_id")
        button = params.get("menu_button") or {"type": "default"}
        self._menu_buttons[chat_id if isinstance(chat_id, int) else None] = button
        return True

    def _api_getchatmenubutton(self, params: JsonDict) -> JsonDict:
        chat_id = params.get("chat_id")
        key = chat_id if isinstance(chat_id, int) else None
        button = self._menu_buttons.get(key) or self._menu_buttons.get(None)
        return copy.deepcopy(button) if button else {"type": "commands"}


_DIRECT: Final = build_opener(ProxyHandler({}))  # never through a proxy from the environment


def _post(url: str, data: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    try:
        request = Request(url, data=data, headers=headers, method="POST")
        with _DIRECT.open(request, timeout=10) as answer:
            return int(answer.status)
    except HTTPError as error:
        return int(error.code)
    except (URLError, OSError):
        return 0  # nobody listening: Telegram retries later


@contextlib.contextmanager
def running_standin(token: str, **kwargs: Any) -> Iterator[BotApiStandin]:
    """Context manager for tests/fixtures: a started stand-in that is always stopped.

    ``kwargs`` go to ``BotApiStandin`` (``bot_username``, ``strict_chats``, ...).
    """
    standin = BotApiStandin(token, **kwargs)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
