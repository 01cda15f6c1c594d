"""The gate at group -1: strangers and deactivated people get one polite refusal, nothing else."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.tg import conversation
from bot.tg.context import Ctx
from bot.tg.observe import mark


def _is_invite_start(update: Update) -> bool:
    message = update.message
    text = message.text if message else None
    return bool(text and text.startswith("/start ") and len(text.split()) == 2)


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
    person = await context.core.people.identify(user.id, user.full_name, context.language)
    if person is not None and person.active:
        context.person = person
        await conversation.resume(context)
        return
    if update.my_chat_member is not None:
        raise ApplicationHandlerStop  # a stranger added the bot somewhere: nothing to say
    if _is_invite_start(update):
        return  # the only way in: /start <invite token>
    await refuse(update, context)
    raise ApplicationHandlerStop


async def refuse(update: Update, context: Ctx) -> None:
    mark("refused", "gate")
    text = context.t("common.refusal", company=context.core.settings.company_name)
    if update.inline_query is not None:
        await update.inline_query.answer([], cache_time=0, is_personal=True)
    elif update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    elif update.effective_chat is not None and update.effective_message is not None:
        await update.effective_chat.send_message(text)
