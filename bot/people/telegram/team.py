"""/team: a lead sees their team; an admin sees all and changes roles, teams and access."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.people.service import Person, Role, TeamInfo
from bot.tg import callbacks as cb
from bot.tg.context import Ctx
from bot.tg.render import column, keyboard
from bot.tg.replies import reply, show

MAX_PERSON_BUTTONS = 90  # Telegram allows 100 buttons in a keyboard; keep room for navigation


def _roster(context: Ctx, teams: list[TeamInfo]) -> tuple[str, list[tuple[str, str]]]:
    t = context.t
    lines: list[str] = []
    buttons: list[tuple[str, str]] = []
    for team in teams:
        header = (
            t("team.header", name=team.name, count=len(team.members))
            if team.name
            else t("team.no_team_header")
        )
        lines.append(header)
        for member in team.members:
            role = t(f"roles.{member.role.value}")
            lines.append(t("team.member", name=member.name, role=role, active=member.active))
            if member.id != context.person.id and len(buttons) < MAX_PERSON_BUTTONS:
                buttons.append((f"{member.name} · {role}", cb.pack(cb.TEAM_PERSON, member.id)))
        lines.append("")
    if not any(team.members for team in teams):
        lines.append(t("team.empty"))
    return "\n".join(lines).strip(), buttons


async def team_command(update: Update, context: Ctx) -> None:
    """The roster: admins get a button per person to manage them."""
    teams = await context.core.people.teams(context.person)
    text, buttons = _roster(context, teams)
    await reply(update, text, column(buttons) if context.person.is_admin and buttons else None)


async def team_list(update: Update, context: Ctx) -> None:
    teams = await context.core.people.teams(context.person)
    text, buttons = _roster(context, teams)
    await show(update, text, column(buttons) if context.person.is_admin and buttons else None)


def _card(context: Ctx, person: Person) -> tuple[str, list[list[tuple[str, str]]]]:
    t = context.t
    text = t(
        "team.card",
        name=person.name,
        role=t(f"roles.{person.role.value}"),
        team=person.team_name,
        active=person.active,
    )
    rows: list[list[tuple[str, str]]] = []
    if context.person.is_admin:
        rows.append(
            [
                (t("team.change_role"), cb.pack(cb.TEAM_SET_ROLE, person.id)),
                (t("team.change_team"), cb.pack(cb.TEAM_SET_TEAM, person.id)),
            ]
        )
        if person.active:
            rows.append([(t("team.deactivate"), cb.pack(cb.TEAM_DEACTIVATE, person.id))])
        else:
            rows.append([(t("team.reactivate"), cb.pack(cb.TEAM_REACTIVATE, person.id))])
    rows.append([(t("common.back"), cb.pack(cb.TEAM_LIST))])
    return text, rows


async def person_card(update: Update, context: Ctx) -> None:
    person_id = cb.of(update).number(0)
    person = await context.core.people.person(context.person, person_id)
    text, rows = _card(context, person)
    await show(update, text, keyboard(rows))


async def set_role(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    people = context.core.people
    if not data.get(1):
        person = await people.person(context.person, data.number(0))
        buttons = [
            (context.t(f"roles.{role.value}"), cb.pack(cb.TEAM_SET_ROLE, person.id, role.value))
            for role in Role
        ]
        buttons.append((context.t("common.back"), cb.pack(cb.TEAM_PERSON, person.id)))
        await show(update, context.t("team.choose_role", name=person.name), column(buttons))
        return
    chosen = Role(data.word(1, [role.value for role in Role]))
    person = await people.set_role(context.person, data.number(0), chosen)
    role = context.t(f"roles.{person.role.value}")
    await _after_change(
        update, context, person, context.t("team.role_changed", name=person.name, role=role)
    )


async def set_team(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    people = context.core.people
    if not data.get(1):
        person = await people.person(context.person, data.number(0))
        buttons = [
            (name, cb.pack(cb.TEAM_SET_TEAM, person.id, team_id))
            for team_id, name in await people.team_names(context.person)
        ]
        buttons.append((context.t("common.back"), cb.pack(cb.TEAM_PERSON, person.id)))
        await show(update, context.t("team.choose_team", name=person.name), column(buttons))
        return
    person = await people.set_team(context.person, data.number(0), data.number(1))
    text = context.t("team.team_changed", name=person.name, team=person.team_name)
    await _after_change(update, context, person, text)


async def deactivate(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    people = context.core.people
    if data.get(1) != "yes":
        person = await people.person(context.person, data.number(0))
        buttons = [
            (context.t("common.confirm"), cb.pack(cb.TEAM_DEACTIVATE, person.id, "yes")),
            (context.t("common.decline"), cb.pack(cb.TEAM_PERSON, person.id)),
        ]
        await show(
            update, context.t("team.confirm_deactivate", name=person.name), keyboard([buttons])
        )
        return
    person = await people.set_active(context.person, data.number(0), False)
    await _after_change(update, context, person, context.t("team.deactivated", name=person.name))


async def reactivate(update: Update, context: Ctx) -> None:
    person_id = cb.of(update).number(0)
    person = await context.core.people.set_active(context.person, person_id, True)
    await _after_change(update, context, person, context.t("team.reactivated", name=person.name))


async def _after_change(update: Update, context: Ctx, person: Person, note: str) -> None:
    text, rows = _card(context, person)
    await show(update, f"{note}\n\n{text}", keyboard(rows))


def team_handlers() -> list[CommandHandler[Ctx, None] | CallbackQueryHandler[Ctx, None]]:
    return [
        CommandHandler("team", team_command),
        CallbackQueryHandler(team_list, pattern=cb.pattern(cb.TEAM_LIST)),
        CallbackQueryHandler(person_card, pattern=cb.pattern(cb.TEAM_PERSON)),
        CallbackQueryHandler(set_role, pattern=cb.pattern(cb.TEAM_SET_ROLE)),
        CallbackQueryHandler(set_team, pattern=cb.pattern(cb.TEAM_SET_TEAM)),
        CallbackQueryHandler(deactivate, pattern=cb.pattern(cb.TEAM_DEACTIVATE)),
        CallbackQueryHandler(reactivate, pattern=cb.pattern(cb.TEAM_REACTIVATE)),
    ]
