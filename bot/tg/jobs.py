"""Scheduled messages: the morning nudge and "how did it go?" after a next step."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import time, timedelta
from typing import Any

from telegram import InputFile
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot.common.i18n import catalog
from bot.container import Core
from bot.deals.service import DealView, Nudge
from bot.deals.telegram.cards import stage_name, when
from bot.people.service import Person, Role
from bot.reports.chart import render_digest_chart
from bot.reports.digest import Digest
from bot.tg import callbacks as cb
from bot.tg.context import Ctx
from bot.tg.render import CAPTION_LIMIT, keyboard, split_message

log = logging.getLogger("voronka.jobs")

WORKDAYS = (1, 2, 3, 4, 5)  # PTB counts days from Sunday = 0
FOLLOWUP_EVERY = timedelta(minutes=1)
MAX_NUDGE_BUTTONS = 30


def nudge_text(nudge: Nudge, core: Core) -> tuple[str, list[list[tuple[str, str]]]]:
    t = catalog(nudge.person.language)
    tz, now = core.settings.tz, core.clock()
    lines = [t("nudge.header")]
    shown: list[DealView] = []

    def section(title_key: str, deals: tuple[DealView, ...], stalled: bool = False) -> None:
        if not deals:
            return
        lines.extend(["", t(title_key)])
        for deal in deals:
            if stalled:
                name = stage_name(core.funnels, deal, t)
                days = deal.days_in_stage(now)
                lines.append(t("nudge.item_stalled", title=deal.title, stage=name, days=days))
            else:
                assert deal.next_step_due is not None
                text = deal.next_step_text or t("next_step.default_text")
                due = when(deal.next_step_due, tz)
                lines.append(t("nudge.item_due", title=deal.title, text=text, due=due))
            if deal not in shown:
                shown.append(deal)

    section("nudge.due_today", nudge.due_today)
    section("nudge.overdue", nudge.overdue)
    section("nudge.stalled", tuple(d for d in nudge.stalled if d not in nudge.overdue), True)
    rows = [[(d.title[:60], cb.pack(cb.DEAL_VIEW, d.id))] for d in shown[:MAX_NUDGE_BUTTONS]]
    return "\n".join(lines), rows


async def send_nudges(core: Core, application: Application[Any, Any, Any, Any, Any, Any]) -> int:
    """One message per manager with something to say; never twice on the same local day."""
    day = core.clock().astimezone(core.settings.tz).date().isoformat()
    sent = 0
    for nudge in await core.deals.nudges():
        recipient = nudge.person.telegram_id
        if not await core.sent_log.claim("nudge", recipient, day):
            continue
        text, rows = nudge_text(nudge, core)
        try:
            await application.bot.send_message(recipient, text, reply_markup=keyboard(rows))
            sent += 1
        except Forbidden:
            await core.people.mark_unreachable(recipient)
        except TelegramError:
            log.warning("nudge to %s failed; will retry on the next run", recipient, exc_info=True)
            await core.sent_log.release("nudge", recipient, day)
    return sent


async def send_followups(core: Core, application: Application[Any, Any, Any, Any, Any, Any]) -> int:
    """Ask "how did it go?" once per next step, after its time plus the grace period."""
    grace = timedelta(minutes=core.settings.next_step_grace_minutes)
    sent = 0
    for deal in await core.deals.followups_due(grace):
        people = await core.people.people_of(deal.team_id)
        owner = next((p for p in people if p.id == deal.owner_id), None)
        t = catalog(owner.language if owner else "ru")
        text = t(
            "followup.ask",
            text=deal.next_step_text or t("next_step.default_text"),
            title=deal.title,
        )
        rows = [
            [(t("followup.forward"), cb.pack(cb.DEAL_PICK, deal.id, deal.version))],
            [
                (t("followup.new_step"), cb.pack(cb.DEAL_STEP, deal.id)),
                (t("followup.lost"), cb.pack(cb.DEAL_LOSE, deal.id, deal.version)),
            ],
            [(t("followup.later"), cb.pack(cb.FOLLOWUP_LATER, deal.id))],
        ]
        try:
            await application.bot.send_message(
                deal.owner_telegram_id, text, reply_markup=keyboard(rows)
            )
            sent += 1
        except Forbidden:
            await core.people.mark_unreachable(deal.owner_telegram_id)
        except TelegramError:
            log.warning("follow-up for deal %s failed", deal.id, exc_info=True)
    return sent


# --- the head of sales' digest -------------------------------------------------------------

RETRY_DELAYS = (1.0, 3.0, 9.0)  # network errors; RetryAfter waits what Telegram says


async def _deliver(send: Callable[[], Awaitable[Any]]) -> None:
    """Send with retries on network trouble; Forbidden and bad requests are not retried."""
    for attempt, delay in enumerate((*RETRY_DELAYS, None)):
        try:
            await send()
            return
        except RetryAfter as error:
            wait = error.retry_after
            await asyncio.sleep(
                wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            )
        except (NetworkError, TimedOut):
            if delay is None:
                raise
            log.info("send failed (attempt %d), retrying in %.0f s", attempt + 1, delay)
            await asyncio.sleep(delay)
    raise NetworkError("gave up after retries")


async def _digest_recipients(core: Core, team_id: int) -> list[Person]:
    people = await core.people.people_of(None)
    return [
        p for p in people
        if p.role is Role.ADMIN or (p.role is Role.LEAD and p.team_id == team_id)
    ]  # fmt: skip


async def send_digests(core: Core, application: Application[Any, Any, Any, Any, Any, Any]) -> int:
    """Yesterday's digest (and on Mondays last week's) to each lead and admin, exactly once.

    Runs at the configured time and once at start; anything already claimed in the sent
    log is skipped, so a restart, a crash after sending or a second process never repeats it.
    """
    tz = core.settings.tz
    local_now = core.clock().astimezone(tz)
    if local_now.time() < core.settings.digest_time:
        return 0
    yesterday = local_now.date() - timedelta(days=1)
    jobs: list[tuple[str, str, Callable[[int], Awaitable[Digest]]]] = [
        ("digest", yesterday.isoformat(), lambda team: core.digests.daily(team, yesterday))
    ]
    if local_now.weekday() == 0:
        monday = local_now.date() - timedelta(days=7)
        jobs.append(("weekly", monday.isoformat(), lambda team: core.digests.weekly(team, monday)))
    sent = 0
    for team_id, _ in await core.metrics.teams():
        recipients = await _digest_recipients(core, team_id)
        for kind, label, build in jobs:
            cache: dict[str, tuple[str, bytes]] = {}
            for person in recipients:
                key = f"{team_id}:{label}"
                if not await core.sent_log.claim(kind, person.telegram_id, key):
                    continue
                try:
                    if person.language not in cache:
                        cache[person.language] = await _render_digest(
                            core, await build(team_id), person.language
                        )
                    text, chart = cache[person.language]
                    await _send_digest(application, person.telegram_id, text, chart)
                    sent += 1
                except Forbidden:
                    await core.people.mark_unreachable(person.telegram_id)
                except TelegramError:
                    log.warning(
                        "digest to %s failed; it will be retried", person.telegram_id, exc_info=True
                    )
                    await core.sent_log.release(kind, person.telegram_id, key)
    return sent


async def _render_digest(core: Core, digest: Digest, language: str) -> tuple[str, bytes]:
    t = catalog(language)
    titles = {key: entry.title for key, entry in core.knowledge.library.items()}
    text = core.digests.text(digest, t, titles=titles)
    chart = await asyncio.to_thread(render_digest_chart, core.digests.chart_data(digest, t))
    return text, chart


async def _send_digest(
    application: Application[Any, Any, Any, Any, Any, Any], chat_id: int, text: str, chart: bytes
) -> None:
    bot = application.bot
    title = text.split("\n", 1)[0][:CAPTION_LIMIT]
    await _deliver(
        lambda: bot.send_photo(chat_id, InputFile(chart, filename="digest.png"), caption=title)
    )
    for part in split_message(text):
        await _deliver(lambda part=part: bot.send_message(chat_id, part))  # type: ignore[misc]


async def _digest_job(context: Ctx) -> None:
    await send_digests(context.core, context.application)


async def _nudge_job(context: Ctx) -> None:
    await send_nudges(context.core, context.application)


async def _followup_job(context: Ctx) -> None:
    await send_followups(context.core, context.application)


def schedule_jobs(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    """Deterministic job names, so a rebuilt application never runs a job twice."""
    queue = application.job_queue
    if queue is None:
        return
    for job in queue.jobs():
        job.schedule_removal()
    nudge_at = time(
        core.settings.nudge_time.hour, core.settings.nudge_time.minute, tzinfo=core.settings.tz
    )
    queue.run_daily(_nudge_job, nudge_at, days=WORKDAYS, name="nudges")
    queue.run_repeating(_followup_job, FOLLOWUP_EVERY, first=10, name="followups")
    digest_at = time(
        core.settings.digest_time.hour, core.settings.digest_time.minute, tzinfo=core.settings.tz
    )
    queue.run_daily(_digest_job, digest_at, name="digests")
    queue.run_once(_digest_job, 5, name="digests-catch-up")  # after downtime: send what's due
