"""Small helpers every handler uses to answer."""

from __future__ import annotations

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.tg.render import split_message


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
    """Send a new message to the chat of this update (split past Telegram's limit)."""
    chat = update.effective_chat
    assert chat is not None
    parts = split_message(text)
    for part in parts[:-1]:
        await chat.send_message(part, parse_mode=ParseMode.HTML)
    return await chat.send_message(
        parts[-1], parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
    )


async def send_to(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message:
    """Send to someone else's chat (a lead, an asker, an approver): split past Telegram's
    limit like `reply`, the buttons on the last part. Texts that carry what people typed (a
    question and its answer, a comment) can be longer than one message."""
    parts = split_message(text)
    for part in parts[:-1]:
        await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML)
    return await bot.send_message(
        chat_id, parts[-1], parse_mode=ParseMode.HTML, reply_markup=markup,
        disable_web_page_preview=True,
    )  # fmt: skip


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Answer a button press by editing its message in place; otherwise send a message."""
    query = update.callback_query
    if query is None or query.message is None or len(text) > 4096:
        if query is not None:
            await query.answer()
        await reply(update, text, markup)
        return
    await query.answer()
    try:
        await query.edit_message_text(
            text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
        )
    except BadRequest as error:  # pressing the same button twice: "message is not modified"
        if "not modified" not in str(error).lower():
            raise
