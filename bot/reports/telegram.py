"""/stats, /leaderboard, /plan and /export: the measures in the bot."""

from __future__ import annotations

import re
from decimal import Decimal
from html import escape
from typing import Any

from telegram import InputFile, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import CallbackQueryHandler, ChatMemberHandler, CommandHandler

from bot.common.errors import Forbidden, Invalid
from bot.common.i18n import format_amount
from bot.common.money import parse_amount
from bot.people.service import Role
from bot.reports.files import build_report, to_xlsx
from bot.reports.metrics import ManagerFigures, Period, TeamFigures, month_period, parse_period
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.handlers.common import reply, show
from bot.tg.render import keyboard

DEALS_WORDS = re.compile(r"(\d+)\s*(?:сдел\w*|deals?)", re.IGNORECASE)


def _period(context: Ctx, text: str) -> Period:
    core = context.core
    return parse_period(text, core.clock(), core.settings.tz)


def _figures_line(context: Ctx, f: ManagerFigures | TeamFigures) -> str:
    """A manager's or the whole team's moves in one line: both carry the same counts."""
    return context.t(
        "stats.line", new=f.new_deals, deals=f.deals_advanced, stages=f.stages_advanced,
        won=f.won_count, amount=format_amount(f.won_amount), lost=f.lost_count,
    )  # fmt: skip


def _plan_line(context: Ctx, m: ManagerFigures, period: Period) -> str:
    if m.plan_amount is None and m.plan_deals is None:
        return context.t("stats.no_plan")
    core = context.core
    month = month_period(int(period.month[:4]), int(period.month[5:]), core.settings.tz)
    now = min(max(core.clock(), month.start), month.end)
    elapsed = (now - month.start) / (month.end - month.start)
    forecast = m.fact_amount / Decimal(str(elapsed)) if elapsed > 0 else m.fact_amount
    percent = int(m.fact_amount * 100 / m.plan_amount) if m.plan_amount else 0
    return context.t(
        "stats.plan_line", plan=format_amount(m.plan_amount or 0), deals=m.plan_deals,
        fact=format_amount(m.fact_amount), percent=percent, forecast=format_amount(forecast),
    )  # fmt: skip


async def stats_command(update: Update, context: Ctx) -> None:
    """/stats [today|week|month|YYYY-MM]"""
    period = _period(context, " ".join(context.args or []) or "today")
    person, metrics = context.person, context.core.metrics
    if person.role is Role.ADMIN:
        teams = await metrics.teams()
        if not teams:
            await reply(update, context.t("stats.no_teams"))
            return
        if len(teams) > 1:
            rows = [
                [(name, cb.pack(cb.STATS_TEAM, team_id, period.label))] for team_id, name in teams
            ]
            await reply(update, context.t("stats.choose_team"), keyboard(rows))
            return
        await _team_stats(update, context, teams[0][0], period)
        return
    if person.team_id is None:
        raise Forbidden("team.forbidden")
    if person.role is Role.LEAD:
        await _team_stats(update, context, person.team_id, period)
        return
    figures = await metrics.team_figures(person.team_id, period, stalled_limit=0)
    mine = next(
        (m for m in figures.managers if m.user_id == person.id),
        ManagerFigures(person.id, person.telegram_id, person.name),
    )
    text = "\n".join(
        [
            context.t("stats.mine", period=period.label),
            _figures_line(context, mine),
            _plan_line(context, mine, period),
        ]
    )
    await reply(update, text)


async def stats_team_button(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    if not context.person.is_admin:
        raise Forbidden("team.forbidden")
    await _team_stats(update, context, data.number(0), _period(context, data.get(1)), edit=True)


async def _team_stats(
    update: Update, context: Ctx, team_id: int, period: Period, *, edit: bool = False
) -> None:
    metrics = context.core.metrics
    figures = await metrics.team_figures(team_id, period, stalled_limit=0)
    conversion = await metrics.conversion(team_id, period)
    t = context.t
    lines = [
        t("stats.header", team=figures.team, period=period.label),
        _figures_line(context, figures),
        "",
    ]
    for m in figures.managers:
        lines.append(f"<b>{escape(m.name)}</b>")
        lines.append(_figures_line(context, m))
        lines.append(_plan_line(context, m, period))
    funnel = context.core.funnels.of_team(conversion.funnel)
    steps = [
        f"{funnel.stage(key).name(t.language)} {round(rate * 100)}%"
        for key, rate in conversion.rates.items()
        if rate is not None
    ]
    if steps:
        lines += ["", t("stats.conversion", steps=" → ".join(steps))]
    if conversion.win_rate is not None:
        cycle = (
            round(conversion.avg_cycle_days, 1) if conversion.avg_cycle_days is not None else None
        )
        lines.append(t("stats.win_rate", rate=round(conversion.win_rate * 100), cycle=cycle))
    text = "\n".join(lines)
    await (show(update, text) if edit else reply(update, text))


# --- the leaderboard ----------------------------------------------------------------------


def leaderboard_text(context: Ctx, figures: TeamFigures, period: Period) -> str:
    t = context.t
    ranked = sorted(figures.managers, key=lambda m: (-m.deals_advanced, -m.won_amount, m.name))
    lines = [t("leaderboard.header", period=period.label)]
    ranked = [m for m in ranked if m.deals_advanced or m.won_count]
    if not ranked:
        lines.append(t("leaderboard.empty"))
    for place, m in enumerate(ranked, 1):
        medal = {1: "🥇", 2: "🥈", 3: "🥉"}.get(place, f"{place}.")
        lines.append(
            t("leaderboard.line", place=medal, name=m.name, deals=m.deals_advanced,
              amount=format_amount(m.won_amount))
        )  # fmt: skip
    return "\n".join(lines)


async def leaderboard_command(update: Update, context: Ctx) -> None:
    """/leaderboard [period]: managers ranked by deals advanced, won amount beside it."""
    period = _period(context, " ".join(context.args or []) or "week")
    person = context.person
    team_id = person.team_id
    if team_id is None:
        teams = await context.core.metrics.teams()
        if not teams:
            await reply(update, context.t("stats.no_teams"))
            return
        team_id = teams[0][0]
    figures = await context.core.metrics.team_figures(team_id, period, stalled_limit=0)
    markup = None
    if person.role is not Role.MANAGER:
        markup = keyboard(
            [[(context.t("leaderboard.post"), cb.pack(cb.LEADERBOARD_POST, team_id, period.label))]]
        )
    await reply(update, leaderboard_text(context, figures, period), markup)


async def leaderboard_post(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    person, metrics = context.person, context.core.metrics
    team_id = data.number(0)
    if person.role is Role.MANAGER or (person.is_lead and person.team_id != team_id):
        raise Forbidden("team.forbidden")
    chat_id = await metrics.group_chat(team_id)
    if chat_id is None:
        raise Invalid("leaderboard.no_group")
    period = _period(context, data.get(1))
    figures = await metrics.team_figures(team_id, period, stalled_limit=0)
    await context.bot.send_message(chat_id, leaderboard_text(context, figures, period))
    assert update.callback_query is not None
    await update.callback_query.answer(context.t("leaderboard.posted"))


async def bot_added_to_group(update: Update, context: Ctx) -> None:
    """The bot joins a group: when a lead added it, that is the team's chat."""
    change = update.my_chat_member
    if change is None or change.chat.type == ChatType.PRIVATE:
        return
    if change.new_chat_member.status not in (
        ChatMemberStatus.MEMBER,
        ChatMemberStatus.ADMINISTRATOR,
    ):
        return
    await context.core.metrics.set_group_chat(context.person, change.chat.id)


# --- plans --------------------------------------------------------------------------------


async def plan_command(update: Update, context: Ctx) -> None:
    """/plan: a lead chooses a manager, then types the month's amount and/or deals."""
    person = context.person
    if person.role is Role.MANAGER:
        raise Forbidden("plan.forbidden")
    people = await context.core.people.people_of(person.team_id if person.is_lead else None)
    managers = [p for p in people if p.role is Role.MANAGER]
    month = _period(context, "month").month
    if not managers:
        await reply(update, context.t("plan.nobody"))
        return
    rows = [[(p.name[:60], cb.pack(cb.PLAN_FOR, p.id))] for p in managers[:90]]
    await reply(update, context.t("plan.choose", month=month), keyboard(rows))


async def plan_for(update: Update, context: Ctx) -> None:
    person_id = cb.of(update).number(0)
    people = await context.core.people.people_of(None)
    target = next((p for p in people if p.id == person_id), None)
    if target is None:
        raise Invalid("person.not_found")
    month = _period(context, "month").month
    dialogs.start(
        context.user_data, Dialog(dialogs.PLAN, data={"person_id": target.id, "name": target.name})
    )
    await show(update, context.t("plan.prompt", name=target.name, month=month))


async def plan_text(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    amount: Decimal | None = None
    deals: int | None = None
    rest = text
    if match := DEALS_WORDS.search(text):
        deals = int(match.group(1))
        rest = text[: match.start()] + text[match.end() :]
    parts = [part.strip() for part in re.split(r",(?!\d)", rest) if part.strip()]
    for part in parts:
        if deals is None and part.isdigit() and int(part) < 1000:
            deals = int(part)
            continue
        try:
            amount, _ = parse_amount(part)
        except Invalid:
            raise Invalid("plan.bad") from None
    if amount is None and deals is None:
        raise Invalid("plan.bad")
    core = context.core
    month = _period(context, "month").month
    await core.metrics.set_plan(
        context.person, dialog.data["person_id"], month, amount, deals, core.clock()
    )
    dialogs.finish(context.user_data)
    await reply(
        update,
        context.t(
            "plan.saved",
            name=dialog.data["name"],
            month=month,
            amount=format_amount(amount or 0),
            deals=deals,
        ),
    )


# --- export -------------------------------------------------------------------------------


async def export_command(update: Update, context: Ctx) -> None:
    """/export [period]: the XLSX report, for a lead (their team) or an admin (all teams)."""
    person, core = context.person, context.core
    if person.role is Role.MANAGER:
        raise Forbidden("export.forbidden")
    period = _period(context, " ".join(context.args or []) or "month")
    message = await reply(update, context.t("export.progress", period=period.label))
    team_ids = None if person.is_admin else [person.team_id or 0]
    report = await build_report(core.db, core.metrics, period, team_ids=team_ids)
    data = to_xlsx(report)
    await message.edit_text(context.t("export.done", period=period.label))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(InputFile(data, filename=f"voronka-{period.label}.xlsx"))


def report_handlers() -> list[Any]:
    return [
        CommandHandler("stats", stats_command),
        CommandHandler("leaderboard", leaderboard_command),
        CommandHandler("plan", plan_command),
        CommandHandler("export", export_command),
        CallbackQueryHandler(stats_team_button, pattern=cb.pattern(cb.STATS_TEAM)),
        CallbackQueryHandler(leaderboard_post, pattern=cb.pattern(cb.LEADERBOARD_POST)),
        CallbackQueryHandler(plan_for, pattern=cb.pattern(cb.PLAN_FOR)),
        ChatMemberHandler(bot_added_to_group, ChatMemberHandler.MY_CHAT_MEMBER),
    ]
