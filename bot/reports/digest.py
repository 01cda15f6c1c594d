"""The head of sales' digest as data: a team's figures for a day (or week), and its JSON.

The text and the chart are drawn from this by the Telegram side
(`bot/reports/telegram/digest.py`), which the CLI preview uses too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.people.service import Person
from bot.reports.metrics import StageFigures, Sums, TeamFigures


@dataclass(frozen=True, slots=True)
class KnowledgeUsage:
    top_entries: tuple[tuple[str, int], ...]  # entry id, times answered
    unanswered: tuple[tuple[str, int], ...]  # question, times asked
    disliked: tuple[tuple[str, int], ...]  # entry id, 👎 count
    # «Нет подходящего ответа», latest first: script id, step id, what the client said, who
    script_gaps: tuple[tuple[str, str, str, str], ...] = ()
    script_gap_count: int = 0  # all of the period's, of which `script_gaps` are the latest


@dataclass(frozen=True, slots=True)
class Digest:
    figures: TeamFigures
    day: date
    usage: KnowledgeUsage
    pipeline: tuple[tuple[str, StageFigures], ...]  # the open stages, in the team's funnel order
    previous: TeamFigures | None = None  # the week before, for the weekly digest


@dataclass(frozen=True, slots=True)
class DigestRun:
    """One team's digest of one kind that is due: who gets it, and its sent-log key."""

    kind: str  # "digest" (a day) or "weekly"
    team_id: int
    day: date  # the day, or the Monday of the week
    key: str
    recipients: tuple[Person, ...]  # the team's lead(s) and every admin


def _money(sums: Sums) -> str:
    return str(sums.base)


def _other(sums: Sums) -> dict[str, str]:
    return {code: str(amount) for code, amount in sums.others}


def digest_json(digest: Digest) -> dict[str, Any]:
    """The fields of `voronka digest preview --format json`; amounts as decimal strings in the
    base currency (with what the set rates converted), and beside each, `…_other`, the
    amounts per currency without a rate (never counted as 0 nor added in)."""
    f = digest.figures
    return {
        "team": f.team,
        "date": digest.day.isoformat(),
        "new_deals": f.new_deals,
        "deals_advanced": f.deals_advanced,
        "stages_advanced": f.stages_advanced,
        "won_count": f.won_count,
        "won_amount": _money(f.won_amount),
        "won_amount_other": _other(f.won_amount),
        "lost_count": f.lost_count,
        "lost_reasons": f.lost_reasons,
        "pipeline_by_stage": {
            key: {"count": value.count, "amount": _money(value.amount)}
            | ({"amount_other": _other(value.amount)} if value.amount.others else {})
            for key, value in digest.pipeline
        },
        "weighted_forecast": _money(f.weighted_forecast),
        "weighted_forecast_other": _other(f.weighted_forecast),
        "stalled": [
            {
                "deal_id": s.deal_id,
                "title": s.title,
                "owner_telegram_id": s.owner_telegram_id,
                "stage": s.stage,
                "days": s.days,
            }
            for s in f.stalled
        ],
        "managers": [
            {
                "telegram_id": m.telegram_id,
                "name": m.name,
                "deals_advanced": m.deals_advanced,
                "stages_advanced": m.stages_advanced,
                "won_count": m.won_count,
                "won_amount": _money(m.won_amount),
                "won_amount_other": _other(m.won_amount),
                "lost_count": m.lost_count,
                "plan_amount": None if m.plan_amount is None else str(m.plan_amount),
                "fact_amount": _money(m.fact_amount),
                "fact_amount_other": _other(m.fact_amount),
            }
            for m in f.managers
        ],
    }
