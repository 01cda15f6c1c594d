"""The JobQueue's wiring: each feature schedules its own messages."""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import Application, JobQueue

from bot.container import Core
from bot.deals.telegram.nudges import schedule_nudges
from bot.reports.telegram.jobs import schedule_digests
from bot.tg.context import Ctx

log = logging.getLogger("voronka.jobs")
FORGET_HANDLED_EVERY = 6 * 3600  # seconds; records are kept two days


def schedule_jobs(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    """Deterministic job names, so a rebuilt application never runs a job twice."""
    queue = application.job_queue
    if queue is None:
        return
    for job in queue.jobs():
        job.schedule_removal()
    schedule_nudges(queue, core.settings)
    schedule_digests(queue, core.settings)
    _schedule_forgetting(queue)


def _schedule_forgetting(queue: JobQueue[Any]) -> None:
    queue.run_repeating(_forget_handled, FORGET_HANDLED_EVERY, first=60, name="forget_handled")


async def _forget_handled(context: Ctx) -> None:
    """Drop the records of updates too old to be delivered again."""
    gone = await context.bot_data.core.deliveries.forget_old()
    log.info("forgot %d handled updates", gone)
