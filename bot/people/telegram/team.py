"""/team: a lead sees their team; an admin sees all and changes roles, teams and access."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.people.service import Person, Role, TeamInfo
from bot.tg import callbacks as cb
from bot.tg.context import Ctx
from bot.tg.paging import Rows, navigation, page_number, page_of, paged
from bot.tg.render import column, keyboard
from bot.tg.replies import reply, show


def _roster(
    context: Ctx, teams: list[TeamInfo], number: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the roster: its people under their teams' headers, and (for an admin) a
    button for each of them. A team without people takes a line of its own."""
    t = context.t
    places: list[tuple[TeamInfo, Person | None]] = [
        (team, member) for team in teams for member in (team.members or (None,))
    ]
    page = page_of(places, number)
    lines: list[str] = []
    rows: Rows = []
    shown: TeamInfo | None = None
    for team, member in page.items:
        if team is not shown:
            if shown is not None:
                lines.append("")
            header = (
                t("team.header", name=team.name, count=len(team.members))
                if team.name
                else t("team.no_team_header")
            )
            lines.append(header)
            shown = team
        if member is None:
            continue
        role = t(f"roles.{member.role.value}")
        lines.append(t("team.member", name=member.name, role=role, active=member.active))
        if context.person.is_admin and member.id != context.person.id:
            rows.append([(f"{member.name} · {role}", cb.pack(cb.TEAM_PERSON, member.id))])
    if not any(team.members for team in teams):
        lines += ["", t("team.empty")]
    turning = navigation(page.number, page.count, lambda n: cb.pack(cb.TEAM_LIST, n))
    if turning:
        rows.append(turning)
    return "\n".join(lines).strip(), keyboard(rows) if rows else None


async def team_command(update: Update, context: Ctx) -> None:
    """The roster: admins get a button per person to manage them."""
    teams = await context.core.people.teams(context.person)
    text, markup = _roster(context, teams, 0)
    await reply(update, text, markup)


async def team_list(update: Update, context: Ctx) -> None:
    number = page_number(cb.of(update), 0)
    teams = await context.core.people.teams(context.person)
    text, markup = _roster(context, teams, number)
    await show(update, text, markup)


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
        rows = paged(
            await people.team_names(context.person),
            page_number(data, 2),
            lambda team: (team[1], cb.pack(cb.TEAM_SET_TEAM, person.id, team[0])),
            lambda page: cb.pack(cb.TEAM_SET_TEAM, person.id, "", page),
        )
        rows.append([(context.t("common.back"), cb.pack(cb.TEAM_PERSON, person.id))])
        await show(update, context.t("team.choose_team", name=person.name), keyboard(rows))
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
