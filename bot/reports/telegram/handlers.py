"""/stats, /leaderboard, /plan and /export: the measures in the bot."""

from __future__ import annotations

from html import escape
from typing import Any

from telegram import InputFile, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import CallbackQueryHandler, ChatMemberHandler, CommandHandler

from bot.reports.files import Reader, to_xlsx
from bot.reports.metrics import PACE_DAYS, ManagerFigures, TeamFigures
from bot.reports.service import (
    Leaderboard,
    ManagerStats,
    MyStats,
    TeamChoice,
    TeamStats,
    parse_plan,
)
from bot.reports.telegram.figures import others_text, period_text, sums_text
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.paging import page_number, paged
from bot.tg.render import keyboard
from bot.tg.replies import reply, show


def _args(context: Ctx, default: str) -> str:
    return " ".join(context.args or []) or default


def _figures_line(context: Ctx, f: ManagerFigures | TeamFigures) -> str:
    """A manager's or the whole team's moves in one line: both carry the same counts."""
    return context.t(
        "stats.line", new=f.new_deals, deals=f.deals_advanced, stages=f.stages_advanced,
        won=f.won_count, amount=sums_text(f.won_amount, context.t), lost=f.lost_count,
    )  # fmt: skip


def _plan_line(context: Ctx, m: ManagerStats) -> str:
    plan = m.plan
    if plan is None:
        return context.t("stats.no_plan")
    return context.t(
        "stats.plan_line", plan=context.t.amount(plan.amount or 0), deals=plan.deals,
        fact=sums_text(plan.fact, context.t), percent=plan.percent,
        others=others_text(plan.fact, context.t),
        fact_deals=m.figures.fact_deals,
        forecast=context.t.amount(plan.forecast) if plan.forecast is not None else None,
        pace_days=PACE_DAYS,
    )  # fmt: skip


async def stats_command(update: Update, context: Ctx) -> None:
    """/stats [today|week|month|YYYY-MM]"""
    reports = context.core.reports
    stats = await reports.stats(context.person, reports.period(_args(context, "today")))
    await _stats(update, context, stats, 0)


async def stats_teams_page(update: Update, context: Ctx) -> None:
    """Another page of the admin's teams, for the period the list was made for."""
    data = cb.of(update)
    reports = context.core.reports
    stats = await reports.stats(context.person, reports.period(data.get(0)))
    await _stats(update, context, stats, page_number(data, 1))


async def _stats(
    update: Update, context: Ctx, stats: TeamChoice | MyStats | TeamStats, page: int
) -> None:
    if isinstance(stats, TeamChoice):
        if not stats.teams:
            await show(update, context.t("stats.no_teams"))
            return
        label = stats.period.label
        rows = paged(
            stats.teams,
            page,
            lambda team: (team[1], cb.pack(cb.STATS_TEAM, team[0], label)),
            lambda n: cb.pack(cb.STATS_TEAMS, label, n),
        )
        await show(update, context.t("stats.choose_team"), keyboard(rows))
    elif isinstance(stats, MyStats):
        text = "\n".join(
            [
                context.t("stats.mine", period=period_text(stats.period, context.t)),
                _figures_line(context, stats.mine.figures),
                _plan_line(context, stats.mine),
            ]
        )
        await show(update, text)
    else:
        await show(update, _team_stats_text(context, stats))


async def stats_team_button(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    reports = context.core.reports
    stats = await reports.team_stats(context.person, data.number(0), reports.period(data.get(1)))
    await show(update, _team_stats_text(context, stats))


def _team_stats_text(context: Ctx, stats: TeamStats) -> str:
    t, figures, conversion = context.t, stats.figures, stats.conversion
    lines = [
        t("stats.header", team=figures.team, period=period_text(stats.period, t)),
        _figures_line(context, figures),
        "",
    ]
    for m in stats.managers:
        lines.append(f"<b>{escape(m.figures.name)}</b>")
        lines.append(_figures_line(context, m.figures))
        lines.append(_plan_line(context, m))
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
    return "\n".join(lines)


# --- the leaderboard ----------------------------------------------------------------------


def leaderboard_text(context: Ctx, board: Leaderboard) -> str:
    t = context.t
    lines = [t("leaderboard.header", period=period_text(board.period, t))]
    if not board.ranked:
        lines.append(t("leaderboard.empty"))
    for place, m in enumerate(board.ranked, 1):
        medal = {1: "🥇", 2: "🥈", 3: "🥉"}.get(place, f"{place}.")
        lines.append(
            t("leaderboard.line", place=medal, name=m.name, deals=m.deals_advanced,
              amount=sums_text(m.won_amount, t))
        )  # fmt: skip
    return "\n".join(lines)


async def leaderboard_command(update: Update, context: Ctx) -> None:
    """/leaderboard [period]: managers ranked by deals advanced, won amount beside it."""
    reports = context.core.reports
    board = await reports.leaderboard(context.person, reports.period(_args(context, "week")))
    if board is None:
        await reply(update, context.t("stats.no_teams"))
        return
    markup = None
    if board.may_post:
        post = cb.pack(cb.LEADERBOARD_POST, board.team_id, board.period.label)
        markup = keyboard([[(context.t("leaderboard.post"), post)]])
    await reply(update, leaderboard_text(context, board), markup)


async def leaderboard_post(update: Update, context: Ctx) -> None:
    data = cb.of(update)
    reports = context.core.reports
    post = await reports.post_leaderboard(
        context.person, data.number(0), reports.period(data.get(1))
    )
    await context.bot.send_message(post.chat_id, leaderboard_text(context, post.board))
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
    await context.core.reports.set_group_chat(context.person, change.chat.id)


# --- plans --------------------------------------------------------------------------------


async def plan_command(update: Update, context: Ctx) -> None:
    """/plan: a lead chooses a manager, then types the month's amount and/or deals."""
    await _plan_choice(update, context, 0)


async def plan_people(update: Update, context: Ctx) -> None:
    await _plan_choice(update, context, page_number(cb.of(update), 0))


async def _plan_choice(update: Update, context: Ctx, page: int) -> None:
    choice = await context.core.reports.plan_choice(context.person)
    if not choice.managers:
        await show(update, context.t("plan.nobody"))
        return
    rows = paged(
        choice.managers,
        page,
        lambda p: (p.name[:60], cb.pack(cb.PLAN_FOR, p.id)),
        lambda n: cb.pack(cb.PLAN_PEOPLE, n),
    )
    await show(update, context.t("plan.choose", month=choice.month), keyboard(rows))


async def plan_for(update: Update, context: Ctx) -> None:
    target = await context.core.reports.plan_target(context.person, cb.of(update).number(0))
    dialogs.start(
        context.user_data,
        Dialog(dialogs.PLAN, data={"person_id": target.person_id, "name": target.name}),
    )
    await show(update, context.t("plan.prompt", name=target.name, month=target.month))


async def plan_text(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    typed = parse_plan(text)
    saved = await context.core.reports.set_plan(
        context.person, dialog.data["person_id"], typed.amount, typed.deals,
        currency=typed.currency,
    )  # fmt: skip
    dialogs.finish(context.user_data)
    await reply(
        update,
        context.t(
            "plan.saved",
            name=saved.name,
            month=saved.month,
            amount=context.t.amount(saved.amount or 0),
            deals=saved.deals,
            typed=context.t.amount(*saved.typed) if saved.typed else None,
        ),
    )


# --- export -------------------------------------------------------------------------------


async def export_command(update: Update, context: Ctx) -> None:
    """/export [period]: the XLSX report, for a lead (their team) or an admin (all teams)."""
    reports = context.core.reports
    reports.check_export(context.person)
    period = reports.period(_args(context, "month"))
    shown = period_text(period, context.t)
    message = await reply(update, context.t("export.progress", period=shown))
    report = await reports.report(context.person, period)
    core = context.core
    reader = Reader(context.t, context.person.language, core.settings.tz, core.funnels)
    data = to_xlsx(report, reader)
    await message.edit_text(context.t("export.done", period=shown))
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
        CallbackQueryHandler(stats_teams_page, pattern=cb.pattern(cb.STATS_TEAMS)),
        CallbackQueryHandler(leaderboard_post, pattern=cb.pattern(cb.LEADERBOARD_POST)),
        CallbackQueryHandler(plan_for, pattern=cb.pattern(cb.PLAN_FOR)),
        CallbackQueryHandler(plan_people, pattern=cb.pattern(cb.PLAN_PEOPLE)),
        ChatMemberHandler(bot_added_to_group, ChatMemberHandler.MY_CHAT_MEMBER),
    ]
