"""Small helpers every handler uses to answer, and the post: the one way to write to
someone other than the sender of the update."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import Bot, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.common.i18n import DEFAULT_LANGUAGE, Catalog, catalog
from bot.tg.render import split_message

if TYPE_CHECKING:
    from bot.container import Core

log = logging.getLogger("voronka.post")

# A message to someone else: written in their language when it is a function of the catalog.
Text = str | Callable[[Catalog], str]


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


@dataclass(frozen=True, slots=True)
class Recipient:
    """One chat a message goes to: its language, and whom it was meant for instead when the
    addressee is deactivated (their name, said at the top of the message)."""

    telegram_id: int
    language: str
    instead_of: str | None = None

    def words(self, text: Text) -> str:
        """The text in this recipient's language, introduced when it was meant for another."""
        t = catalog(self.language)
        body = text(t) if callable(text) else text
        if self.instead_of is None:
            return body
        return f"{t('post.for_deactivated', name=self.instead_of)}\n\n{body}"


async def recipients(core: Core, telegram_id: int, *, personal: bool = False) -> list[Recipient]:
    """The rule every message to a person passes: a deactivated person receives nothing.

    What was meant for them goes to their lead (or an admin, `PeopleService.addressees`),
    introduced as meant for them, unless it is `personal`: their own digest, morning nudge
    or follow-up is about their own day and is dropped, since their lead hears of their deals
    in the lead's own digest. A chat that is no person of ours (a group) is written to as is.
    """
    found = await core.people.addressees(telegram_id)
    if found is None:
        return [Recipient(telegram_id, DEFAULT_LANGUAGE)]
    if found.instead_of is None:
        person = found.people[0]
        return [Recipient(person.telegram_id, person.language)]
    if personal:
        log.info("a personal message for deactivated %s dropped", found.instead_of.id)
        return []
    name = found.instead_of.name
    return [Recipient(p.telegram_id, p.language, name) for p in found.people]


async def send_to(
    core: Core,
    bot: Bot,
    telegram_id: int,
    text: Text,
    markup: InlineKeyboardMarkup | None = None,
    *,
    files: Sequence[tuple[str, bytes]] = (),
) -> list[Recipient]:
    """Send to someone else's chat (a lead, an asker, an approver) through the post's rule
    (`recipients`): split past Telegram's limit like `reply`, the buttons on the last part,
    then the files as documents. Texts that carry what people typed (a question and its
    answer, a comment) can be longer than one message.

    A message forwarded for a deactivated person loses its buttons: they were for that
    person's own next step, and pressed by someone else they would act in the wrong name.
    Returns the chats written to (none, when the message was dropped).
    """
    reached = await recipients(core, telegram_id)
    for recipient in reached:
        parts = split_message(recipient.words(text))
        buttons = markup if recipient.instead_of is None else None
        chat = recipient.telegram_id
        for part in parts[:-1]:
            await bot.send_message(chat, part, parse_mode=ParseMode.HTML)
        await bot.send_message(
            chat, parts[-1], parse_mode=ParseMode.HTML, reply_markup=buttons,
            disable_web_page_preview=True,
        )  # fmt: skip
        for filename, data in files:
            await bot.send_document(chat, InputFile(data, filename=filename))
    return reached


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
