"""The JobQueue's wiring: each feature schedules its own messages."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from bot.container import Core
from bot.deals.telegram.nudges import schedule_nudges
from bot.reports.telegram.jobs import schedule_digests


def schedule_jobs(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    """Deterministic job names, so a rebuilt application never runs a job twice."""
    queue = application.job_queue
    if queue is None:
        return
    for job in queue.jobs():
        job.schedule_removal()
    schedule_nudges(queue, core.settings)
    schedule_digests(queue, core.settings)
