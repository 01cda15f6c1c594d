"""The head of sales' digest: a team's figures for a day (or week), as data and as text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.common.i18n import Catalog, format_amount
from bot.db.models import KnowledgeEvent, User
from bot.db.session import transaction
from bot.deals.funnel import FunnelConfig
from bot.knowledge.service import Event
from bot.reports.chart import ChartData, ChartStage
from bot.reports.metrics import MetricsService, Period, TeamFigures, day_period, week_period

TOP = 5


@dataclass(frozen=True, slots=True)
class KnowledgeUsage:
    top_entries: tuple[tuple[str, int], ...]  # entry id, times answered
    unanswered: tuple[tuple[str, int], ...]  # question, times asked
    disliked: tuple[tuple[str, int], ...]  # entry id, 👎 count


@dataclass(frozen=True, slots=True)
class Digest:
    figures: TeamFigures
    day: date
    usage: KnowledgeUsage
    previous: TeamFigures | None = None  # the week before, for the weekly digest


class DigestService:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], metrics: MetricsService, funnels: FunnelConfig
    ) -> None:
        self._db = db
        self.metrics = metrics
        self._funnels = funnels

    async def daily(self, team_id: int, day: date) -> Digest:
        period = day_period(day, self.metrics.tz)
        figures = await self.metrics.team_figures(team_id, period)
        return Digest(figures, day, await self.usage(team_id, period))

    async def weekly(self, team_id: int, monday: date) -> Digest:
        """The week starting `monday` against the week before."""
        period = week_period(monday, self.metrics.tz)
        figures = await self.metrics.team_figures(team_id, period)
        previous = await self.metrics.team_figures(
            team_id, week_period(monday - timedelta(days=7), self.metrics.tz)
        )
        return Digest(figures, monday, await self.usage(team_id, period), previous)

    async def usage(self, team_id: int, period: Period) -> KnowledgeUsage:
        e = KnowledgeEvent
        in_team = (
            select(User.id).where(User.team_id == team_id).scalar_subquery()
        )  # questions of the team's people
        base = (e.at >= period.start, e.at < period.end, e.user_id.in_(in_team))
        async with transaction(self._db) as session:
            top = await session.execute(
                select(e.entry_id, func.count())
                .where(*base, e.kind == Event.ANSWERED)
                .group_by(e.entry_id)
                .order_by(func.count().desc(), e.entry_id)
                .limit(TOP)
            )
            missed = await session.execute(
                select(e.query, func.count())
                .where(*base, e.kind == Event.NOT_FOUND)
                .group_by(e.query)
                .order_by(func.count().desc(), e.query)
                .limit(TOP)
            )
            disliked = await session.execute(
                select(e.entry_id, func.count())
                .where(*base, e.kind == Event.DOWN)
                .group_by(e.entry_id)
                .order_by(func.count().desc(), e.entry_id)
                .limit(TOP)
            )
            return KnowledgeUsage(
                tuple((str(a), int(b)) for a, b in top if a),
                tuple((str(a), int(b)) for a, b in missed if a),
                tuple((str(a), int(b)) for a, b in disliked if a),
            )

    # --- as data ------------------------------------------------------------------------

    def as_json(self, digest: Digest) -> dict[str, Any]:
        """The fields of `voronka digest preview --format json`; amounts as decimal strings."""
        f = digest.figures
        return {
            "team": f.team,
            "date": digest.day.isoformat(),
            "new_deals": f.new_deals,
            "deals_advanced": f.deals_advanced,
            "stages_advanced": f.stages_advanced,
            "won_count": f.won_count,
            "won_amount": str(f.won_amount),
            "lost_count": f.lost_count,
            "lost_reasons": f.lost_reasons,
            "pipeline_by_stage": {
                key: {"count": value.count, "amount": str(value.amount)}
                for key, value in self._ordered_pipeline(f)
            },
            "weighted_forecast": str(f.weighted_forecast),
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
                    "won_amount": str(m.won_amount),
                    "lost_count": m.lost_count,
                    "plan_amount": None if m.plan_amount is None else str(m.plan_amount),
                    "fact_amount": str(m.fact_amount),
                }
                for m in f.managers
            ],
        }

    def _ordered_pipeline(self, figures: TeamFigures) -> list[tuple[str, Any]]:
        funnel = self._funnels.of_team(figures.funnel)
        order = {stage.key: stage.order for stage in funnel.stages}
        return sorted(figures.pipeline_by_stage.items(), key=lambda kv: order.get(kv[0], 99))

    # --- as text ------------------------------------------------------------------------

    def text(self, digest: Digest, t: Catalog, *, titles: dict[str, str] | None = None) -> str:
        """The digest in the reader's language (Telegram HTML)."""
        f, titles = digest.figures, titles or {}
        funnel = self._funnels.of_team(f.funnel)

        def stage_name(key: str) -> str:
            """From the team's funnel; else from another (deals made before the team switched)."""
            found = funnel if funnel.has_stage(key) else None
            found = found or next((o for o in self._funnels.funnels if o.has_stage(key)), None)
            return found.stage(key).name(t.language) if found else key

        lines = [
            t(
                "digest.title_week" if digest.previous else "digest.title",
                team=f.team,
                day=digest.day.strftime("%d.%m.%Y"),
                week=f.period.label,
            ),
            "",
            t("digest.totals", new=f.new_deals, deals=f.deals_advanced, stages=f.stages_advanced),
            t("digest.won", count=f.won_count, amount=format_amount(f.won_amount)),
        ]
        if digest.previous is not None:
            p = digest.previous
            lines.append(
                t("digest.vs_previous", stages=p.stages_advanced, won=p.won_count,
                  amount=format_amount(p.won_amount), lost=p.lost_count)
            )  # fmt: skip
        reasons = ", ".join(
            f"{self._reason(key, t)} — {count}" for key, count in list(f.lost_reasons.items())[:3]
        )
        lines.append(t("digest.lost", count=f.lost_count, reasons=reasons))
        lines += ["", t("digest.pipeline")]
        for key, value in self._ordered_pipeline(f):
            lines.append(
                t("digest.pipeline_line", stage=stage_name(key), count=value.count,
                  amount=format_amount(value.amount))
            )  # fmt: skip
        if not f.pipeline_by_stage:
            lines.append(t("digest.nothing"))
        lines.append(t("digest.forecast", amount=format_amount(f.weighted_forecast)))
        if f.stalled:
            lines += ["", t("digest.stalled")]
            for s in f.stalled:
                lines.append(
                    t("digest.stalled_line", title=s.title, owner=s.owner_name,
                      stage=stage_name(s.stage), days=s.days)
                )  # fmt: skip
        if f.overdue:
            lines += ["", t("digest.overdue")]
            for o in f.overdue:
                due = o.due.astimezone(self.metrics.tz).strftime("%d.%m %H:%M")
                lines.append(
                    t("digest.overdue_line", title=o.title, owner=o.owner_name,
                      text=o.text or "", due=due)
                )  # fmt: skip
        if f.managers:
            lines += ["", t("digest.managers")]
            for m in f.managers:
                fact = format_amount(m.fact_amount)
                plan = (
                    t("digest.plan", fact=fact, plan=format_amount(m.plan_amount),
                      percent=int(m.fact_amount * 100 / m.plan_amount))
                    if m.plan_amount else t("digest.no_plan", fact=fact)
                )  # fmt: skip
                lines.append(
                    t("digest.manager_line", name=m.name, advanced=m.deals_advanced,
                      won=m.won_count, amount=format_amount(m.won_amount), lost=m.lost_count,
                      plan=plan)
                )  # fmt: skip
        usage = digest.usage
        if usage.top_entries or usage.unanswered or usage.disliked:
            lines += ["", t("digest.knowledge")]
            if usage.top_entries:
                top = ", ".join(f"{titles.get(e, e)} ({n})" for e, n in usage.top_entries)
                lines.append(t("digest.kb_top", entries=top))
            if usage.unanswered:
                missed = "; ".join(f"«{q[:60]}» ({n})" for q, n in usage.unanswered)
                lines.append(t("digest.kb_unanswered", questions=missed))
            if usage.disliked:
                bad = ", ".join(f"{titles.get(e, e)} ({n})" for e, n in usage.disliked)
                lines.append(t("digest.kb_disliked", entries=bad))
        return "\n".join(lines)

    def _reason(self, key: str, t: Catalog) -> str:
        reason = self._funnels.lost_reason(key)
        return reason.name(t.language) if reason else key

    def chart_data(self, digest: Digest, t: Catalog) -> ChartData:
        f = digest.figures
        funnel = self._funnels.of_team(f.funnel)
        stages = tuple(
            ChartStage(
                key=stage.key,
                name=stage.name(t.language),
                count=f.pipeline_by_stage[stage.key].count
                if stage.key in f.pipeline_by_stage
                else 0,
                amount=f.pipeline_by_stage[stage.key].amount
                if stage.key in f.pipeline_by_stage
                else Decimal(0),
                moves_in=f.moves_into.get(stage.key, 0),
            )
            for stage in funnel.open_stages
        )
        title = t("digest.chart_title", team=f.team, day=digest.day.strftime("%d.%m.%Y"))
        return ChartData(title, stages, f.won_count, f.lost_count, t.language)


__all__: Sequence[str] = ("Digest", "DigestService", "KnowledgeUsage")
