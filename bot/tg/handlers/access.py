"""The gate at group -1: who is writing is established here, or nothing else runs.

Strangers and deactivated people get one polite refusal. A redelivered update is dropped
silently. An edit of a sent message is never applied (it would repeat the action). And when
who is writing cannot be established (the database is down, say), the gate fails closed:
one "temporarily unavailable" answer that names nothing, and no handler runs.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.common.errors import Unavailable
from bot.tg import conversation, dialogs
from bot.tg.context import Ctx
from bot.tg.observe import mark

log = logging.getLogger("voronka.gate")


def _is_invite_start(update: Update) -> bool:
    message = update.message
    text = message.text if message else None
    return bool(text and text.startswith("/start ") and len(text.split()) == 2)


def _is_edit(update: Update) -> bool:
    return update.edited_message is not None or update.edited_business_message is not None


async def gate(update: Update, context: Ctx) -> None:
    """Identify the person; stop the update here unless they may use the bot."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or user.is_bot:
        raise ApplicationHandlerStop
    in_group = chat is not None and chat.type != ChatType.PRIVATE
    if in_group and update.callback_query is None and update.my_chat_member is None:
        mark("ignored", "gate")  # the bot only talks in private chats and inline mode
        raise ApplicationHandlerStop
    try:
        if await context.core.deliveries.handled(update.update_id):
            mark("duplicate", "gate")  # Telegram delivered it again: it was handled
            raise ApplicationHandlerStop
        person = await context.core.people.identify(user.id, user.full_name, context.language)
        if person is not None and person.active:
            context.person = person
            await conversation.resume(context)
    except ApplicationHandlerStop:
        raise
    except Unavailable as error:  # an outage is expected now and then: one line, no traceback
        log.warning(
            "update %s not handled, the database is unavailable: %s", update.update_id, error
        )
        await unavailable(update, context)
        raise ApplicationHandlerStop from None
    except Exception:
        log.warning("could not tell who wrote update %s", update.update_id, exc_info=True)
        await unavailable(update, context)
        raise ApplicationHandlerStop from None
    if person is not None and person.active:
        if _is_edit(update):
            mark("edit_ignored", "gate")
            await _answer(update, context.t("common.edit_ignored"))
            raise ApplicationHandlerStop
        await _leave_question_for_command(update, context)
        return
    if update.my_chat_member is not None:
        raise ApplicationHandlerStop  # a stranger added the bot somewhere: nothing to say
    if _is_invite_start(update):
        return  # the only way in: /start <invite token>
    await refuse(update, context)
    raise ApplicationHandlerStop


async def _leave_question_for_command(update: Update, context: Ctx) -> None:
    """A /command while the bot waits for an answer is that command: the question is left,
    in one line. (/cancel says so itself; /start with an invite is not a command here.)"""
    message = update.message
    text = message.text if message and message.text else ""
    if not text.startswith("/") or dialogs.current(context.user_data) is None:
        return
    if text.split(maxsplit=1)[0].split("@")[0].lower() in ("/cancel", "/start"):
        return
    dialog = dialogs.current(context.user_data)
    dialogs.finish(context.user_data)
    line = left_question_line(context, dialog)
    if line is not None:
        await _answer(update, line)


def left_question_line(context: Ctx, dialog: dialogs.Dialog | None) -> str | None:
    """What to say of a question left for something else: nothing for an optional one,
    the draft to start again from for a half-made deal, else that it was left."""
    if dialog is None or dialog.kind in dialogs.OPTIONAL:
        return None
    title = dialog.data.get("title") if dialog.kind == dialogs.NEW_DEAL else None
    if title:
        return context.t("deal.new_dropped", title=title)
    return context.t("common.question_dropped")


async def refuse(update: Update, context: Ctx) -> None:
    mark("refused", "gate")
    await _answer(update, context.t("common.refusal", company=context.core.settings.company_name))


async def unavailable(update: Update, context: Ctx) -> None:
    """Whoever it is, nothing but that the bot cannot answer now. Never raises."""
    mark("unavailable", "gate")
    try:
        await _answer(update, context.t("common.unavailable"))
    except Exception:
        log.warning("could not say so either", exc_info=True)


async def _answer(update: Update, text: str) -> None:
    """The one answer the gate gives: to a button, an inline query or a message."""
    if update.inline_query is not None:
        await update.inline_query.answer([], cache_time=0, is_personal=True)
    elif update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    elif update.effective_chat is not None and update.effective_message is not None:
        await update.effective_chat.send_message(text)
