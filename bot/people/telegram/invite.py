"""/invite: a lead invites a manager to their team; an admin picks role and team with buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.people.service import MAX_TEAM_NAME, InviteInfo, Role
from bot.tg import callbacks as cb
from bot.tg.context import Ctx
from bot.tg.handlers.basics import cancel
from bot.tg.links import invite_link
from bot.tg.render import column
from bot.tg.replies import reply, show

CHOOSING_ROLE, CHOOSING_TEAM, NAMING_TEAM = range(3)
NEW_TEAM = "new"


async def _send_link(update: Update, context: Ctx, invite: InviteInfo) -> int:
    expires = invite.expires_at.astimezone(context.core.settings.tz).strftime("%d.%m.%Y %H:%M")
    text = context.t(
        "invite.link",
        role=context.t(f"roles.{invite.role.value}"),
        team=invite.team_name,
        expires=expires,
        link=invite_link(context.bot.username, invite.token),
    )
    await show(update, text)
    return ConversationHandler.END


async def start_invite(update: Update, context: Ctx) -> int:
    """Leads get a manager invite for their team at once; admins choose."""
    invite = await context.core.people.quick_invite(context.person)
    if invite is not None:
        return await _send_link(update, context, invite)
    buttons = [
        (context.t(f"roles.{role.value}"), cb.pack(cb.INVITE_ROLE, role.value)) for role in Role
    ]
    await reply(update, context.t("invite.choose_role"), column(buttons))
    return CHOOSING_ROLE


async def choose_role(update: Update, context: Ctx) -> int:
    role = Role(cb.of(update).get(0))
    teams = await context.core.people.team_names(context.person)
    buttons = [(name, cb.pack(cb.INVITE_TEAM, role.value, team_id)) for team_id, name in teams]
    buttons.append((context.t("invite.new_team"), cb.pack(cb.INVITE_TEAM, role.value, NEW_TEAM)))
    if role is Role.ADMIN:
        buttons.append((context.t("invite.no_team"), cb.pack(cb.INVITE_TEAM, role.value, 0)))
    text = context.t("invite.choose_team", role=context.t(f"roles.{role.value}"))
    await show(update, text, column(buttons))
    return CHOOSING_TEAM


async def choose_team(update: Update, context: Ctx) -> int:
    data = cb.of(update)
    role = Role(data.get(0))
    if data.get(1) == NEW_TEAM:
        context.user_data["invite_role"] = role.value  # type: ignore[index]
        await show(update, context.t("invite.new_team_prompt", limit=MAX_TEAM_NAME))
        return NAMING_TEAM
    team_id = data.number(1) or None
    invite = await context.core.people.create_invite(context.person, role, team_id=team_id)
    return await _send_link(update, context, invite)


async def name_team(update: Update, context: Ctx) -> int:
    name = update.effective_message.text or ""  # type: ignore[union-attr]
    user_data = context.user_data
    assert user_data is not None
    role = Role(user_data.get("invite_role", Role.MANAGER.value))
    invite = await context.core.people.create_invite(context.person, role, team_name=name)
    user_data.pop("invite_role", None)
    return await _send_link(update, context, invite)


def invite_conversation() -> ConversationHandler[Ctx]:
    return ConversationHandler(
        entry_points=[CommandHandler("invite", start_invite)],
        states={
            CHOOSING_ROLE: [CallbackQueryHandler(choose_role, pattern=cb.pattern(cb.INVITE_ROLE))],
            CHOOSING_TEAM: [CallbackQueryHandler(choose_team, pattern=cb.pattern(cb.INVITE_TEAM))],
            NAMING_TEAM: [MessageHandler(filters.TEXT & ~filters.COMMAND, name_team)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="invite",
    )
