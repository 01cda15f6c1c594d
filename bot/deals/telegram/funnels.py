"""/funnel: the stages a team's deals go through, and the lead's choice of funnel."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.common.errors import NotFound
from bot.deals.funnel import Funnel
from bot.deals.team_funnels import TeamFunnel
from bot.tg import callbacks as cb
from bot.tg.context import Ctx
from bot.tg.paging import PAGE_SIZE, Rows, page_number, paged
from bot.tg.render import keyboard
from bot.tg.replies import show


def _text(context: Ctx, team: TeamFunnel) -> str:
    """The funnel as a manager needs it: the stages in order and the words that name them."""
    t, language = context.t, context.language
    lines = [t("funnel.header", team=team.team, funnel=team.funnel.name(language)), ""]
    for number, stage in enumerate(team.funnel.stages, start=1):
        names = {name.lower() for name in stage.names.values()}
        words = ", ".join(alias for alias in stage.aliases if alias.lower() not in names)
        lines.append(
            t("funnel.stage", number=number, name=stage.name(language), words=words,
              won=stage.won, lost=stage.lost)
        )  # fmt: skip
    lines += ["", t("funnel.how_to_move")]
    return "\n".join(lines)


def _may_choose(context: Ctx, team: TeamFunnel) -> bool:
    person = context.person
    return len(context.core.funnels.funnels) > 1 and (
        person.is_admin or (person.is_lead and person.team_id == team.team_id)
    )


def _choices(context: Ctx, team: TeamFunnel, number: int | None) -> Rows:
    """The funnels to choose from; first shown at the page of the team's current one."""
    funnels = context.core.funnels.funnels
    if number is None:
        current = next((i for i, f in enumerate(funnels) if f.key == team.funnel.key), 0)
        number = current // PAGE_SIZE

    def button(funnel: Funnel) -> tuple[str, str]:
        mark = "✓ " if funnel.key == team.funnel.key else ""
        return f"{mark}{funnel.name(context.language)}", cb.pack(
            cb.FUNNEL_SET, team.team_id, funnel.key
        )

    return paged(funnels, number, button, lambda n: cb.pack(cb.FUNNEL_TEAM, team.team_id, n))


async def _show_team(
    update: Update, context: Ctx, team: TeamFunnel, note: str = "", page: int | None = None
) -> None:
    text = _text(context, team)
    if _may_choose(context, team):
        text += "\n\n" + context.t("funnel.choose")
        markup = keyboard(_choices(context, team, page))
    else:
        markup = None
        if len(context.core.funnels.funnels) > 1:
            text += "\n\n" + context.t("funnel.lead_chooses")
    await show(update, f"{note}\n\n{text}" if note else text, markup)


async def funnel_command(update: Update, context: Ctx) -> None:
    """One team: its funnel. An admin with several teams picks the team first."""
    await _teams(update, context, 0)


async def funnel_teams(update: Update, context: Ctx) -> None:
    await _teams(update, context, page_number(cb.of(update), 0))


async def _teams(update: Update, context: Ctx, number: int) -> None:
    teams = await context.core.team_funnels.teams(context.person)
    if not teams:
        await show(update, context.t("funnel.no_teams"))
        return
    if len(teams) == 1:
        await _show_team(update, context, teams[0])
        return
    language = context.language
    rows = paged(
        teams,
        number,
        lambda team: (
            f"{team.team} · {team.funnel.name(language)}",
            cb.pack(cb.FUNNEL_TEAM, team.team_id),
        ),
        lambda n: cb.pack(cb.FUNNEL_TEAMS, n),
    )
    await show(update, context.t("funnel.choose_team"), keyboard(rows))


async def funnel_team(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    team_id, page = data.number(0), page_number(data, 1)
    teams = await context.core.team_funnels.teams(context.person)
    team = next((team for team in teams if team.team_id == team_id), None)
    if team is None:  # not one of this person's teams: as if there were no such team
        raise NotFound("team.not_found")
    await _show_team(update, context, team, page=page if data.get(1) else None)


async def funnel_set(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    team = await context.core.team_funnels.choose(context.person, data.number(0), data.get(1))
    name = team.funnel.name(context.language)
    await _show_team(update, context, team, context.t("funnel.chosen", team=team.team, funnel=name))


def funnel_handlers() -> list[CommandHandler[Ctx, None] | CallbackQueryHandler[Ctx, None]]:
    return [
        CommandHandler("funnel", funnel_command),
        CallbackQueryHandler(funnel_team, pattern=cb.pattern(cb.FUNNEL_TEAM)),
        CallbackQueryHandler(funnel_teams, pattern=cb.pattern(cb.FUNNEL_TEAMS)),
        CallbackQueryHandler(funnel_set, pattern=cb.pattern(cb.FUNNEL_SET)),
    ]
