"""Scheduled messages of the deals: the morning nudge and "how did it go?" after a next step."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram.error import Forbidden
from telegram.ext import Application, JobQueue

from bot.common.i18n import catalog
from bot.config import Settings
from bot.deals.funnel import FunnelConfig
from bot.deals.service import DealView, Nudge
from bot.deals.telegram.cards import stage_name, when
from bot.tg import callbacks as cb
from bot.tg.context import BotData, Ctx
from bot.tg.render import keyboard
from bot.tg.replies import recipients

# The application carries the one core of the process (`application.bot_data.core`).
App = Application[Any, Any, Any, Any, BotData, Any]

log = logging.getLogger("voronka.jobs")

WORKDAYS = (1, 2, 3, 4, 5)  # PTB counts days from Sunday = 0
FOLLOWUP_EVERY = timedelta(minutes=1)
MAX_NUDGE_BUTTONS = 30


def nudge_text(
    nudge: Nudge, funnels: FunnelConfig, tz: ZoneInfo, now: datetime
) -> tuple[str, list[list[tuple[str, str]]]]:
    t = catalog(nudge.person.language)
    lines = [t("nudge.header")]
    shown: list[DealView] = []

    def section(title_key: str, deals: tuple[DealView, ...], stalled: bool = False) -> None:
        if not deals:
            return
        lines.extend(["", t(title_key)])
        for deal in deals:
            if stalled:
                name = stage_name(funnels, deal, t)
                days = deal.days_in_stage(now)
                lines.append(t("nudge.item_stalled", title=deal.title, stage=name, days=days))
            else:
                assert deal.next_step_due is not None
                text = deal.next_step_text or t("next_step.default_text")
                due = when(deal.next_step_due, tz, t.language, now)
                lines.append(t("nudge.item_due", title=deal.title, text=text, due=due))
            if deal not in shown:
                shown.append(deal)

    section("nudge.due_today", nudge.due_today)
    section("nudge.overdue", nudge.overdue)
    section("nudge.stalled", tuple(d for d in nudge.stalled if d not in nudge.overdue), True)
    rows = [[(d.title[:60], cb.pack(cb.DEAL_VIEW, d.id))] for d in shown[:MAX_NUDGE_BUTTONS]]
    return "\n".join(lines), rows


async def send_nudges(application: App) -> int:
    """One message per manager with something to say; never twice on the same local day.

    Each nudge is claimed, sent and confirmed on its own: one that fails (Telegram, or a bug
    building it) is given back for the next run and does not stop the others.
    """
    core = application.bot_data.core
    day = core.clock().astimezone(core.settings.tz).date().isoformat()
    sent = 0
    for nudge in await core.deals.nudges():
        recipient = nudge.person.telegram_id
        if not await core.sent_log.claim("nudge", recipient, day):
            continue
        delivered = False
        try:
            if await recipients(core, recipient, personal=True):  # nobody, once deactivated
                text, rows = nudge_text(nudge, core.funnels, core.settings.tz, core.clock())
                await application.bot.send_message(recipient, text, reply_markup=keyboard(rows))
                sent, delivered = sent + 1, True
        except Forbidden:
            await core.people.mark_unreachable(recipient)
        except Exception:
            log.warning("nudge to %s failed; will retry on the next run", recipient, exc_info=True)
            await core.sent_log.release("nudge", recipient, day)
            continue
        await core.sent_log.confirm("nudge", recipient, day, sent=delivered)
    return sent


async def send_followups(application: App) -> int:
    """Ask "how did it go?" once per next step, after its time plus the grace period.

    Claimed in the sent log per deal and step, so two processes never both ask; confirmed
    and marked asked only once Telegram took it, so a process dying meanwhile loses nothing
    (its claim's lease runs out and the next run asks).
    """
    core = application.bot_data.core
    grace = timedelta(minutes=core.settings.next_step_grace_minutes)
    sent = 0
    for deal in await core.deals.followups_due(grace):
        assert deal.next_step_due is not None
        recipient, key = deal.owner_telegram_id, f"{deal.id}:{deal.next_step_due.isoformat()}"
        if not await core.sent_log.claim("followup", recipient, key):
            continue
        delivered = False
        try:
            if await recipients(core, recipient, personal=True):  # nobody, once deactivated
                await _ask_followup(application, deal)
                sent, delivered = sent + 1, True
        except Forbidden:
            await core.people.mark_unreachable(recipient)
        except Exception:
            log.warning("follow-up for deal %s failed; will retry", deal.id, exc_info=True)
            await core.sent_log.release("followup", recipient, key)
            continue
        await core.sent_log.confirm("followup", recipient, key, sent=delivered)
        await core.deals.followup_asked(deal.id, deal.next_step_due)
    return sent


async def _ask_followup(application: App, deal: DealView) -> None:
    core = application.bot_data.core
    people = await core.people.people_of(deal.team_id)
    owner = next((p for p in people if p.id == deal.owner_id), None)
    t = catalog(owner.language if owner else "ru")
    text = t(
        "followup.ask", text=deal.next_step_text or t("next_step.default_text"), title=deal.title
    )
    rows = [
        [(t("followup.forward"), cb.pack(cb.DEAL_PICK, deal.id, deal.version))],
        [
            (t("followup.new_step"), cb.pack(cb.DEAL_STEP, deal.id)),
            (t("followup.lost"), cb.pack(cb.DEAL_LOSE, deal.id, deal.version)),
        ],
        [(t("followup.later"), cb.pack(cb.FOLLOWUP_LATER, deal.id))],
    ]
    await application.bot.send_message(deal.owner_telegram_id, text, reply_markup=keyboard(rows))


async def _nudge_job(context: Ctx) -> None:
    await send_nudges(context.application)


async def _followup_job(context: Ctx) -> None:
    await send_followups(context.application)


def schedule_nudges(queue: JobQueue[Any], settings: Settings) -> None:
    """The nudge on workday mornings; follow-ups checked every minute."""
    nudge_at = time(settings.nudge_time.hour, settings.nudge_time.minute, tzinfo=settings.tz)
    queue.run_daily(_nudge_job, nudge_at, days=WORKDAYS, name="nudges")
    queue.run_repeating(_followup_job, FOLLOWUP_EVERY, first=10, name="followups")
