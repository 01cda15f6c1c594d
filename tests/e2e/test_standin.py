"""Tests of the Bot API stand-in against the real python-telegram-bot 22 client.

If PTB can drive the stand-in in-process (same HTTP client, same parsing), the e2e tests
that run ``voronka run`` against it exercise the wire format the production bot relies on.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import struct
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.e2e.bot_api_standin import BotApiStandin, format_text, running_standin

pytestmark = pytest.mark.e2e

TOKEN = "123456789:AAHstandin-test_token"
USER = 555_001

# urllib honours *_proxy env vars; the stand-in must be reached directly.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[BotApiStandin]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with running_standin(TOKEN) as server:
        yield server


@pytest.fixture
async def bot(standin: BotApiStandin) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN, base_url=standin.api_base_url, base_file_url=standin.file_base_url
    ) as client:
        yield client


def _raw_call(
    standin: BotApiStandin, method: str, payload: dict[str, Any], *, token: str = TOKEN
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{standin.url}/bot{token}/{method}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with _OPENER.open(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_get_me_returns_full_bot_user(bot: Bot, standin: BotApiStandin) -> None:
    me = await bot.get_me()
    assert me.is_bot is True
    assert me.username == "voronka_test_bot"
    assert me.id == 123456789
    assert me.can_join_groups is True
    assert me.supports_inline_queries is True
    assert standin.calls_to("getMe")


async def test_send_then_edit_returns_message_and_updates_keyboard(
    bot: Bot, standin: BotApiStandin
) -> None:
    standin.add_chat(USER)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Да", callback_data="yes")]])
    sent = await bot.send_message(
        USER, "<b>Сделка</b> «Ромашка»", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    assert sent.text == "Сделка «Ромашка»"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 6
    assert sent.reply_markup == keyboard
    assert sent.date.year >= 2025

    new_keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Нет", callback_data="no")]])
    edited = await bot.edit_message_text(
        "Сделка закрыта", chat_id=USER, message_id=sent.message_id, reply_markup=new_keyboard
    )
    assert isinstance(edited, Message)
    assert edited.text == "Сделка закрыта"
    assert edited.edit_date is not None
    assert standin.buttons(USER) == [["Нет"]]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Сделка закрыта", chat_id=USER, message_id=sent.message_id, reply_markup=new_keyboard
        )
    # Editing the text without reply_markup removes the inline keyboard, as in Telegram.
    await bot.edit_message_text("Готово", chat_id=USER, message_id=sent.message_id)
    assert "reply_markup" not in (standin.message(USER, sent.message_id) or {})

    records = standin.sent(USER)
    assert [r["method"] for r in records] == ["sendMessage", "editMessageText", "editMessageText"]
    assert records[0]["text"] == "Сделка «Ромашка»"
    assert records[0]["params"]["text"] == "<b>Сделка</b> «Ромашка»"


async def test_send_document_upload_and_download_roundtrip(
    bot: Bot, standin: BotApiStandin
) -> None:
    standin.add_chat(USER)
    content = b"%PDF-1.4 fake offer \x00\x01\xff"
    message = await bot.send_document(
        USER,
        document=content,
        filename="КП «Ромашка» 2026.pdf",
        caption="Ваше <i>КП</i>",
        parse_mode=ParseMode.HTML,
    )
    assert message.document is not None
    assert message.document.file_name == "КП «Ромашка» 2026.pdf"
    assert message.document.file_size == len(content)
    assert message.caption == "Ваше КП"

    record = standin.wait_for_reply(USER)
    assert record["method"] == "sendDocument"
    assert record["file"] is not None
    assert record["file"].filename == "КП «Ромашка» 2026.pdf"
    assert record["file"].content == content

    tg_file = await bot.get_file(message.document.file_id)
    assert bytes(await tg_file.download_as_bytearray()) == content


async def test_send_photo_reports_dimensions(bot: Bot, standin: BotApiStandin) -> None:
    standin.add_chat(USER)
    message = await bot.send_photo(USER, photo=_png(3, 2), filename="chart.png")
    assert (message.photo[-1].width, message.photo[-1].height) == (3, 2)
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, photo=b"not an image", filename="x.png")
    with pytest.raises(BadRequest, match=r"(?i)failed to get HTTP URL content"):
        await bot.send_photo(USER, photo="https://example.invalid/x.png")


async def test_set_my_commands_is_stored_per_scope_and_language(
    bot: Bot, standin: BotApiStandin
) -> None:
    commands = [BotCommand("start", "Начать"), BotCommand("deals", "Мои сделки")]
    assert await bot.set_my_commands(commands, language_code="ru") is True
    assert standin.commands[("default", "ru")] == [
        {"command": "start", "description": "Начать"},
        {"command": "deals", "description": "Мои сделки"},
    ]
    assert standin.commands_for("default", "ru") == standin.commands[("default", "ru")]
    assert await bot.get_my_commands(language_code="ru") == tuple(commands)
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "uppercase is invalid")])
    assert await bot.delete_my_commands(language_code="ru") is True
    assert standin.commands_for("default", "ru") is None
    assert await bot.set_my_description("Воронка продаж", language_code="ru") is True
    assert (await bot.get_my_description(language_code="ru")).description == "Воронка продаж"
    assert await bot.set_my_short_description("Воронка") is True
    assert standin.short_descriptions == {"": "Воронка"}


async def test_webhook_and_session_methods(bot: Bot, standin: BotApiStandin) -> None:
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0
    assert await bot.close() is True
    assert await bot.log_out() is True


async def test_chat_checks_like_telegram(bot: Bot, standin: BotApiStandin) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(USER + 1, "hello")
    standin.add_chat(USER)
    assert await bot.send_chat_action(USER, "typing") is True
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "a <br> b", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)reserved"):
        await bot.send_message(USER, "Итого: 5.00", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(USER, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            USER,
            "hi",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("x", callback_data="d" * 65)]]
            ),
        )
    message = await bot.send_message(USER, "to delete")
    assert await bot.delete_message(USER, message.message_id) is True
    assert standin.deleted == [(USER, message.message_id)]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, message.message_id)
    standin.block_bot(USER)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(USER, "are you there?")
    assert len(standin.errors) == 7
    assert standin.unknown_methods == []


async def test_unknown_method_and_wrong_token(bot: Bot, standin: BotApiStandin) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicateThings", api_kwargs={"x": 1})
    assert standin.unknown_methods == ["frobnicateThings"]
    status, payload = _raw_call(standin, "frobnicateThings", {})
    assert (status, payload["error_code"]) == (404, 404)
    assert payload["description"] == "Not Found: method not found"

    with pytest.raises(InvalidToken):
        async with Bot("123456789:wrong", base_url=standin.api_base_url) as wrong:
            await wrong.get_me()
    status, payload = _raw_call(standin, "getMe", {}, token="1:bad")
    assert status == 401 and payload == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized",
    }


def test_json_body_and_formatting_helpers(standin: BotApiStandin) -> None:
    standin.add_chat(USER)
    status, payload = _raw_call(
        standin,
        "sendMessage",
        {
            "chat_id": str(USER),
            "text": "42",
            "reply_markup": json.dumps(
                {"inline_keyboard": [[{"text": "Ок", "callback_data": "ok"}]]}
            ),
        },
    )
    assert status == 200, payload
    assert payload["result"]["text"] == "42"
    assert standin.buttons(USER) == [["Ок"]]
    text, entities = format_text("*жирный* и [ссылка](https://t.me/x)", "MarkdownV2")
    assert text == "жирный и ссылка"
    assert [e["type"] for e in entities] == ["bold", "text_link"]


def test_get_updates_long_poll_offsets_and_conflict(standin: BotApiStandin) -> None:
    status, payload = _raw_call(standin, "getUpdates", {"timeout": 0.3})
    assert status == 200 and payload["result"] == []

    # A long poll returns as soon as an update arrives, not when its (minute-long) timeout
    # expires: the poller is done long before that.
    polls_before = len(standin.calls_to("getUpdates"))
    answers: list[tuple[int, Any]] = []
    poller = threading.Thread(
        target=lambda: answers.append(_raw_call(standin, "getUpdates", {"timeout": 60}))
    )
    poller.start()
    standin.wait_until(
        lambda: True if len(standin.calls_to("getUpdates")) > polls_before else None, timeout=5
    )
    standin.send_message(USER, "привет")
    poller.join(timeout=20)
    assert not poller.is_alive(), "the long poll did not return when the update arrived"
    status, payload = answers[0]
    (update,) = payload["result"]
    assert update["message"]["text"] == "привет"
    assert isinstance(update["message"]["date"], int)

    # Unconfirmed updates are delivered again; an offset confirms them.
    assert _raw_call(standin, "getUpdates", {})[1]["result"] == [update]
    assert _raw_call(standin, "getUpdates", {"offset": update["update_id"] + 1})[1]["result"] == []
    assert standin.pending_update_count == 0

    # allowed_updates filters (and persists); limit caps the batch.
    standin.send_message(USER, "one")
    query_id = standin.inline_query(USER, "kp")
    standin.send_message(USER, "two")
    result = _raw_call(standin, "getUpdates", {"allowed_updates": ["inline_query"]})[1]["result"]
    assert [u["inline_query"]["id"] for u in result] == [query_id]
    assert standin.pending_update_count == 1  # the messages were dropped, not kept back
    _raw_call(standin, "getUpdates", {"offset": result[-1]["update_id"] + 1, "allowed_updates": []})
    standin.send_message(USER, "three")
    standin.send_message(USER, "four")
    result = _raw_call(standin, "getUpdates", {"limit": 1})[1]["result"]
    assert [u["message"]["text"] for u in result] == ["three"]

    # A second poller terminates the first one with 409, like two bot instances would.
    _raw_call(standin, "getUpdates", {"offset": result[-1]["update_id"] + 2})  # drain
    polls_before = len(standin.calls_to("getUpdates"))
    first: list[tuple[int, dict[str, Any]]] = []
    poller = threading.Thread(
        target=lambda: first.append(_raw_call(standin, "getUpdates", {"timeout": 5}))
    )
    poller.start()
    standin.wait_until(
        lambda: True if len(standin.calls_to("getUpdates")) > polls_before else None, timeout=5
    )
    assert _raw_call(standin, "getUpdates", {"timeout": 0})[0] == 200
    poller.join(timeout=5)
    ((status, payload),) = first
    assert status == 409
    assert "terminated by other getUpdates request" in payload["description"]


async def test_polling_application_roundtrip(standin: BotApiStandin) -> None:
    seen: list[Update] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Выберите этап",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Переговоры", callback_data="stage:talks")]]
            ),
        )

    async def on_click(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)
        query = update.callback_query
        assert query is not None
        await query.answer("Сохранено")
        await query.edit_message_text(f"Этап: {query.data}")

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(standin.api_base_url)
        .base_file_url(standin.file_base_url)
        .build()
    )
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CallbackQueryHandler(on_click))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        standin.send_message(USER, "/start", first_name="Анна", username="anna")
        reply = await standin.wait_for_reply_async(USER, timeout=5)
        assert reply["method"] == "sendMessage"
        assert reply["text"] == "Выберите этап"

        query_id = standin.click_button(USER, "Переговоры")
        edit = await standin.wait_for_reply_async(USER, after=1, timeout=5)
        assert edit["method"] == "editMessageText"
        assert edit["text"] == "Этап: stage:talks"
        assert edit["message_id"] == reply["message_id"]
        answer = await asyncio.to_thread(standin.wait_for_callback_answer, query_id, timeout=5)
        assert answer["text"] == "Сохранено"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    start_update, click_update = seen
    assert start_update.message is not None
    assert start_update.message.entities[0].type == "bot_command"
    now = dtm.datetime.now(dtm.UTC)
    assert abs((start_update.message.date - now).total_seconds()) < 60  # seconds, not ms
    assert start_update.message.from_user is not None
    assert start_update.message.from_user.language_code == "ru"
    query: CallbackQuery | None = click_update.callback_query
    assert query is not None and query.chat_instance
    assert query.message is not None and query.message.date.year >= 2025
    assert standin.unknown_methods == []
    assert standin.errors == []
    assert standin.pending_update_count == 0
