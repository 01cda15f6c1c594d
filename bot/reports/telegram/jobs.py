"""The head of sales' digests on the JobQueue: yesterday's (and on Mondays last week's)
to each lead and admin, with its chart, exactly once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import time, timedelta
from typing import Any

from telegram import InputFile
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, JobQueue

from bot.common.i18n import catalog
from bot.config import Settings
from bot.reports.chart import render_digest_chart
from bot.reports.digest import Digest
from bot.reports.telegram.digest import DigestRenderer
from bot.tg.context import BotData, Ctx
from bot.tg.render import CAPTION_LIMIT, fit, split_message
from bot.tg.replies import recipients

# The application carries the one core of the process (`application.bot_data.core`).
App = Application[Any, Any, Any, Any, BotData, Any]

log = logging.getLogger("voronka.jobs")

CATCH_UP_EVERY = timedelta(minutes=5)
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


async def send_digests(application: App) -> int:
    """Send every digest that is due and not yet claimed in the sent log.

    Runs every few minutes from start: anything claimed is skipped, so a restart or a second
    process never repeats it; a claim left by a process killed while sending runs out and is
    sent again. One digest that fails (Telegram, or a bug building a team's figures or
    chart) is given back for the next run and does not stop the others; only `Forbidden`
    (the person blocked the bot) is final.
    """
    core = application.bot_data.core
    sent = 0
    for run in await core.reports.digests_due():
        cache: dict[str, tuple[str, bytes, str]] = {}  # one text, chart, caption per language
        for person in run.recipients:
            if not await core.sent_log.claim(run.kind, person.telegram_id, run.key):
                continue
            try:
                if not await recipients(core, person.telegram_id, personal=True):
                    await core.sent_log.confirm(run.kind, person.telegram_id, run.key, sent=False)
                    continue  # deactivated since the run was planned: their digest is dropped
                if person.language not in cache:
                    digest = await core.reports.digest(person, run)
                    cache[person.language] = await _render_digest(
                        application, digest, person.language
                    )
                text, chart, caption = cache[person.language]
                await _send_digest(application, person.telegram_id, text, chart, caption)
                sent += 1
            except Forbidden:
                await core.people.mark_unreachable(person.telegram_id)
                await core.sent_log.confirm(run.kind, person.telegram_id, run.key, sent=False)
                continue
            except TelegramError:
                log.warning(
                    "digest to %s failed; it will be retried", person.telegram_id, exc_info=True
                )
                await core.sent_log.release(run.kind, person.telegram_id, run.key)
                continue
            except Exception:
                log.exception("digest %s of team %s could not be built", run.kind, run.team_id)
                await core.sent_log.release(run.kind, person.telegram_id, run.key)
                continue
            await core.sent_log.confirm(run.kind, person.telegram_id, run.key)
    return sent


async def _render_digest(application: App, digest: Digest, language: str) -> tuple[str, bytes, str]:
    """The text, the chart and its caption (the title, and what the chart leaves out), drawn
    after the digest's transaction, the chart in a thread."""
    core, t = application.bot_data.core, catalog(language)
    renderer = DigestRenderer(core.funnels, core.settings.tz)
    titles = core.knowledge.library.titles()
    text = renderer.text(digest, t, titles=titles)
    data = renderer.chart_data(digest, t)
    chart = await asyncio.to_thread(render_digest_chart, data)
    caption = "\n".join(line for line in (text.split("\n", 1)[0], data.note) if line)
    return text, chart, caption


async def _send_digest(
    application: App, chat_id: int, text: str, chart: bytes, caption: str
) -> None:
    bot = application.bot
    title = fit(caption, CAPTION_LIMIT)
    await _deliver(
        lambda: bot.send_photo(chat_id, InputFile(chart, filename="digest.png"), caption=title)
    )
    for part in split_message(text):
        await _deliver(lambda part=part: bot.send_message(chat_id, part))  # type: ignore[misc]


async def _digest_job(context: Ctx) -> None:
    await send_digests(context.application)


def schedule_digests(queue: JobQueue[Any], settings: Settings) -> None:
    """At the digest time every day, and every few minutes from start: after downtime, a
    failed send or a claim left by a killed process, what is due goes out."""
    digest_at = time(settings.digest_time.hour, settings.digest_time.minute, tzinfo=settings.tz)
    queue.run_daily(_digest_job, digest_at, name="digests")
    queue.run_repeating(_digest_job, CATCH_UP_EVERY, first=5, name="digests-catch-up")
