"""/invite: a lead invites a manager to their team; an admin picks role and team with buttons.

The buttons carry the role and team they stand for, so only naming a new team waits for
typed text: that is the `INVITE_TEAM` dialog, kept like every other pending question.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.common.errors import Invalid
from bot.people.service import MAX_TEAM_NAME, InviteInfo, Role
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.links import invite_link
from bot.tg.paging import page_number, paged
from bot.tg.render import column, keyboard
from bot.tg.replies import reply, show

NEW_TEAM = "new"


async def _send_link(update: Update, context: Ctx, invite: InviteInfo) -> None:
    expires = invite.expires_at.astimezone(context.core.settings.tz).strftime("%d.%m.%Y %H:%M")
    text = context.t(
        "invite.link",
        role=context.t(f"roles.{invite.role.value}"),
        team=invite.team_name,
        expires=expires,
        link=invite_link(context.bot.username, invite.token),
    )
    await show(update, text)


async def start_invite(update: Update, context: Ctx) -> None:
    """Leads get a manager invite for their team at once; admins choose."""
    invite = await context.core.people.quick_invite(context.person)
    if invite is not None:
        await _send_link(update, context, invite)
        return
    buttons = [
        (context.t(f"roles.{role.value}"), cb.pack(cb.INVITE_ROLE, role.value)) for role in Role
    ]
    await reply(update, context.t("invite.choose_role"), column(buttons))


def _role(value: str | None) -> Role:
    """The role a button stands for; a button of no known role is from another version."""
    try:
        return Role(value or "")
    except ValueError:
        raise Invalid("common.expired_button") from None


async def choose_role(update: Update, context: Ctx) -> None:
    """The role's teams, a page at a time (the page buttons name the role again)."""
    data = cb.of(update)
    role = _role(data.get(0))
    teams = await context.core.people.team_names(context.person)
    rows = paged(
        teams,
        page_number(data, 1),
        lambda team: (team[1], cb.pack(cb.INVITE_TEAM, role.value, team[0])),
        lambda page: cb.pack(cb.INVITE_ROLE, role.value, page),
    )
    rows.append([(context.t("invite.new_team"), cb.pack(cb.INVITE_TEAM, role.value, NEW_TEAM))])
    if role is Role.ADMIN:
        rows.append([(context.t("invite.no_team"), cb.pack(cb.INVITE_TEAM, role.value, 0))])
    text = context.t("invite.choose_team", role=context.t(f"roles.{role.value}"))
    await show(update, text, keyboard(rows))


async def choose_team(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    role = _role(data.get(0))
    if data.get(1) == NEW_TEAM:
        await context.core.people.team_names(context.person)  # refuses all but an admin
        dialogs.start(context.user_data, Dialog(dialogs.INVITE_TEAM, data={"role": role.value}))
        await show(update, context.t("invite.new_team_prompt", limit=MAX_TEAM_NAME))
        return
    team_id = data.number(1) or None
    invite = await context.core.people.create_invite(context.person, role, team_id=team_id)
    await _send_link(update, context, invite)


async def name_team(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """The new team's name, typed after «New team»."""
    role = Role(dialog.data["role"])
    invite = await context.core.people.create_invite(context.person, role, team_name=text)
    dialogs.finish(context.user_data)
    await _send_link(update, context, invite)


def invite_handlers() -> list[BaseHandler[Any, Ctx, Any]]:
    return [
        CommandHandler("invite", start_invite),
        CallbackQueryHandler(choose_role, pattern=cb.pattern(cb.INVITE_ROLE)),
        CallbackQueryHandler(choose_team, pattern=cb.pattern(cb.INVITE_TEAM)),
    ]
