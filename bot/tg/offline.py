"""The bot without Telegram: a request object that answers Bot API calls locally.

`voronka chat` and the tests drive the real Application through `process_update`
with this request, so nothing touches the network and every outgoing call is recorded.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from telegram import Update
from telegram.error import TimedOut
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Voronka",
    "username": "voronka_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}

SENDING_METHODS = {"sendMessage", "sendDocument", "sendPhoto"}
EDITING_METHODS = {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


@dataclass
class BotMessage:
    """A message the bot sent, as a person would see it (kept current through edits)."""

    chat_id: int
    message_id: int
    text: str
    buttons: list[list[tuple[str, str]]]
    document: tuple[str, bytes] | None = None
    photo: bytes | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def button_labels(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]

    def __str__(self) -> str:
        return self.text


def _buttons(markup: Any) -> list[list[tuple[str, str]]]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or []
    return [
        [(b["text"], b.get("callback_data") or b.get("url") or "") for b in row] for row in rows
    ]


def _error_answer(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"ok": False, "error_code": status, "description": "Internal Error"}
    if status == 429:
        answer.update(description="Too Many Requests: retry after 0", parameters={"retry_after": 0})
    return answer


class OfflineRequest(BaseRequest):
    """Answers the Bot API like Telegram would, and remembers what the bot sent."""

    def __init__(self, bot_user: dict[str, Any] | None = None) -> None:
        self.bot_user = bot_user or BOT_USER
        self.calls: list[ApiCall] = []
        self.messages: dict[tuple[int, int], BotMessage] = {}
        self.outbox: list[BotMessage] = []  # sends and edits, in order
        self.blocked_chats: set[int] = set()
        self.failures: list[tuple[str, int]] = []  # (method, status) answered next, in order
        self.timeouts: list[tuple[str, bool]] = []  # (method, reached Telegram) timed out next
        self._ids = itertools.count(1)

    def fail(self, method: str, status: int, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `status` (429 asks to wait 0 s),
        as Telegram does when it is overloaded or the network between fails."""
        self.failures.extend([(method, status)] * times)

    def time_out(self, method: str, *, reached: bool) -> None:
        """Let the next call of `method` time out as PTB's client reports it: after the
        request reached Telegram, which carried it out (`reached`, a read timeout), or
        before it could connect (nothing was done)."""
        self.timeouts.append((method, reached))

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def calls_of(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files: dict[str, tuple[str, bytes]] = {}
        if request_data and request_data.contains_files:
            for part, value in request_data.multipart_data.items():
                filename, content = value[0], value[1]
                data = content if isinstance(content, bytes) else content.read()
                files[part] = (filename or part, data)
        timeout = next((t for t in self.timeouts if t[0] == name), None)
        if timeout is not None:
            self.timeouts.remove(timeout)
            if not timeout[1]:
                raise TimedOut("Timed out") from httpx.ConnectTimeout("connect timed out")
            self.calls.append(ApiCall(name, params, files))
            self._answer(name, params, files)  # Telegram did it; the answer never came
            raise TimedOut("Timed out") from httpx.ReadTimeout("read timed out")
        self.calls.append(ApiCall(name, params, files))
        failure = next((f for f in self.failures if f[0] == name), None)
        if failure is not None:
            self.failures.remove(failure)
            return failure[1], json.dumps(_error_answer(failure[1])).encode()
        chat_id = params.get("chat_id")
        if chat_id is not None and int(str(chat_id)) in self.blocked_chats:
            return 403, json.dumps(
                {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was blocked by the user",
                }
            ).encode()
        result = self._answer(name, params, files)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _answer(
        self, name: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        if name == "getMe":
            return self.bot_user
        if name == "getUpdates":
            return []
        if name in SENDING_METHODS:
            return self._send(name, params, files)
        if name in EDITING_METHODS:
            return self._edit(name, params)
        return True

    def _send(self, name: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        chat_id = int(params["chat_id"])
        message_id = next(self._ids)
        raw: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self.bot_user,
        }
        text = str(params.get("text") or params.get("caption") or "")
        message = BotMessage(chat_id, message_id, text, _buttons(params.get("reply_markup")))
        if name == "sendMessage":
            raw["text"] = text
        else:
            raw["caption"] = text
            upload = next(iter(files.values()), None)
            if name == "sendDocument":
                filename = upload[0] if upload else "file"
                message.document = (filename, upload[1] if upload else b"")
                raw["document"] = {
                    "file_id": f"doc{message_id}",
                    "file_unique_id": f"d{message_id}",
                    "file_name": filename,
                }
            else:
                message.photo = upload[1] if upload else b""
                raw["photo"] = [
                    {
                        "file_id": f"ph{message_id}",
                        "file_unique_id": f"p{message_id}",
                        "width": 800,
                        "height": 600,
                    }
                ]
        if "reply_markup" in params:
            markup = params["reply_markup"]
            raw["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
        message.raw = raw
        self.messages[(chat_id, message_id)] = message
        self.outbox.append(message)
        return raw

    def _edit(self, name: str, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages[key]
        if name == "editMessageText":
            message.text = str(params["text"])
            message.raw["text"] = message.text
        elif name == "editMessageCaption":
            message.text = str(params.get("caption") or "")
            message.raw["caption"] = message.text
        message.buttons = _buttons(params.get("reply_markup"))
        if "reply_markup" in params:
            markup = params["reply_markup"]
            message.raw["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
        else:
            message.raw.pop("reply_markup", None)
        self.outbox.append(message)
        return message.raw


class ChatClient:
    """One person talking to the bot: `send("text")`, `click("button")`, `last_reply()`."""

    # Update ids only grow, also across runs of `voronka chat` on one database: the bot
    # drops an update whose id it has handled before, as Telegram's redeliveries.
    _update_ids = itertools.count(time.time_ns() // 1000)
    _message_ids = itertools.count(10_000_000)

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        request: OfflineRequest,
        user_id: int,
        *,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
    ) -> None:
        self.application = application
        self.request = request
        self.user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            self.user["last_name"] = last_name
        if username:
            self.user["username"] = username
        if language_code:
            self.user["language_code"] = language_code
        self.last_sent: dict[str, Any] | None = None
        self.last_update: dict[str, Any] | None = None

    @property
    def user_id(self) -> int:
        return int(self.user["id"])

    async def send(self, text: str) -> list[BotMessage]:
        """Type a message; returns what the bot sent or edited in answer."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private", "first_name": self.user["first_name"]},
            "from": self.user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self.last_sent = message
        return await self.feed({"message": message})

    async def edit(self, text: str) -> list[BotMessage]:
        """Edit the last message this person typed, as Telegram's "Edit" does."""
        if self.last_sent is None:
            raise LookupError("nothing was typed to edit")
        message = {**self.last_sent, "text": text, "edit_date": int(time.time())}
        return await self.feed({"edited_message": message})

    async def redeliver(self) -> list[BotMessage]:
        """Deliver the last update again with its id, as Telegram does when its confirmation
        was lost."""
        if self.last_update is None:
            raise LookupError("nothing was delivered yet")
        return await self.feed(dict(self.last_update))

    async def send_sticker(self) -> list[BotMessage]:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": self.user_id, "type": "private"},
            "from": self.user,
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "s1",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
        }
        return await self.feed({"message": message})

    async def click(self, label: str, message: BotMessage | None = None) -> list[BotMessage]:
        """Press the button whose text contains `label` on the newest message that has it."""
        target, data = self._find_button(label, message)
        return await self.press(target, data)

    async def press(self, message: BotMessage, data: str) -> list[BotMessage]:
        """Press a button by its callback data (also for buttons that are no longer shown)."""
        query = {
            "id": str(next(self._update_ids)),
            "from": self.user,
            "chat_instance": f"ci{self.user_id}",
            "message": message.raw,
            "data": data,
        }
        return await self.feed({"callback_query": query})

    async def inline(self, query: str) -> list[ApiCall]:
        before = len(self.request.calls)
        inline = {
            "id": str(next(self._update_ids)),
            "from": self.user,
            "query": query,
            "offset": "",
        }
        await self.feed({"inline_query": inline})
        return [c for c in self.request.calls[before:] if c.method == "answerInlineQuery"]

    def _find_button(self, label: str, message: BotMessage | None) -> tuple[BotMessage, str]:
        candidates = [message] if message else reversed(self.messages())
        for candidate in candidates:
            for row in candidate.buttons:
                for text, data in row:
                    if text == label:
                        return candidate, data
            for row in candidate.buttons:
                for text, data in row:
                    if label in text:
                        return candidate, data
        raise LookupError(
            f"no button {label!r} in {[m.button_labels() for m in self.messages()[-3:]]}"
        )

    def messages(self) -> list[BotMessage]:
        """Messages in this chat, oldest first, in their current (edited) state."""
        chat = self.user_id
        return [
            m
            for (c, _), m in sorted(self.request.messages.items(), key=lambda kv: kv[0][1])
            if c == chat
        ]

    def last_reply(self) -> BotMessage:
        mine = [m for m in self.request.outbox if m.chat_id == self.user_id]
        if not mine:
            raise LookupError("the bot has not written to this chat")
        return mine[-1]

    async def feed(self, payload: dict[str, Any]) -> list[BotMessage]:
        """Deliver one update; a payload without `update_id` gets the next one."""
        before = len(self.request.outbox)
        payload.setdefault("update_id", next(self._update_ids))
        self.last_update = payload
        update = Update.de_json(payload, self.application.bot)
        await self.application.process_update(update)
        return [m for m in self.request.outbox[before:] if m.chat_id == self.user_id]
