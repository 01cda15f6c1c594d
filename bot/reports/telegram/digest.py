"""The digest as the bot shows it: Telegram HTML in the reader's language, and its chart.

`voronka digest preview` prints the same text, so this module imports no `telegram`.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.common.i18n import Catalog
from bot.deals.funnel import FunnelConfig
from bot.reports.chart import ChartData, ChartStage
from bot.reports.digest import Digest
from bot.reports.metrics import NO_MONEY
from bot.reports.telegram.figures import others_text, period_text, sums_text


class DigestRenderer:
    def __init__(self, funnels: FunnelConfig, tz: ZoneInfo) -> None:
        self._funnels = funnels
        self._tz = tz

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
                week=period_text(f.period, t),
            ),
            "",
            t("digest.totals", new=f.new_deals, deals=f.deals_advanced, stages=f.stages_advanced),
            t("digest.won", count=f.won_count, amount=sums_text(f.won_amount, t)),
        ]
        if digest.previous is not None:
            p = digest.previous
            lines.append(
                t("digest.vs_previous", stages=p.stages_advanced, won=p.won_count,
                  amount=sums_text(p.won_amount, t), lost=p.lost_count)
            )  # fmt: skip
        reasons = ", ".join(
            f"{self._reason(key, t)} — {count}" for key, count in list(f.lost_reasons.items())[:3]
        )
        lines.append(t("digest.lost", count=f.lost_count, reasons=reasons))
        lines += ["", t("digest.pipeline")]
        for key, value in digest.pipeline:
            lines.append(
                t("digest.pipeline_line", stage=stage_name(key), count=value.count,
                  amount=sums_text(value.amount, t))
            )  # fmt: skip
        if not digest.pipeline:
            lines.append(t("digest.nothing"))
        lines.append(t("digest.forecast", amount=sums_text(f.weighted_forecast, t)))
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
                due = o.due.astimezone(self._tz).strftime("%d.%m %H:%M")
                lines.append(
                    t("digest.overdue_line", title=o.title, owner=o.owner_name,
                      text=o.text or "", due=due)
                )  # fmt: skip
        if f.managers:
            lines += ["", t("digest.managers")]
            for m in f.managers:
                fact = sums_text(m.fact_amount, t)
                plan = (
                    t("digest.plan", fact=fact, plan=t.amount(m.plan_amount),
                      percent=int(m.fact_amount.base * 100 / m.plan_amount),
                      others=others_text(m.fact_amount, t), deals=m.plan_deals,
                      fact_deals=m.fact_deals)
                    if m.plan_amount else t("digest.no_plan", fact=fact)
                )  # fmt: skip
                lines.append(
                    t("digest.manager_line", name=m.name, advanced=m.deals_advanced,
                      won=m.won_count, amount=sums_text(m.won_amount, t), lost=m.lost_count,
                      plan=plan)
                )  # fmt: skip
        usage = digest.usage
        if usage.top_entries or usage.unanswered or usage.disliked or usage.script_gaps:
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
            if usage.script_gaps:
                gaps = "; ".join(
                    f"{titles.get(e, e)} → «{titles.get(f'{e}#{s}', s)}»: «{said[:80]}» ({who})"
                    for e, s, said, who in usage.script_gaps
                )
                lines.append(t("digest.kb_script_gaps", count=usage.script_gap_count, gaps=gaps))
        return "\n".join(lines)

    def _reason(self, key: str, t: Catalog) -> str:
        reason = self._funnels.lost_reason(key)
        return reason.name(t.language) if reason else key

    def chart_data(self, digest: Digest, t: Catalog) -> ChartData:
        """What the chart draws: the open stages of the team's funnel, named for the reader."""
        f = digest.figures
        funnel = self._funnels.of_team(f.funnel)
        stages = tuple(
            ChartStage(
                key=stage.key,
                name=stage.name(t.language),
                count=f.pipeline_by_stage[stage.key].count
                if stage.key in f.pipeline_by_stage
                else 0,
                amount=f.pipeline_by_stage[stage.key].amount.base
                if stage.key in f.pipeline_by_stage
                else Decimal(0),
                moves_in=f.moves_into.get(stage.key, 0),
            )
            for stage in funnel.open_stages
        )
        title = t("digest.chart_title", team=f.team, day=digest.day.strftime("%d.%m.%Y"))
        return ChartData(
            title, stages, f.won_count, f.lost_count, t.language, self.chart_note(digest, t)
        )

    def chart_note(self, digest: Digest, t: Catalog) -> str | None:
        """The chart draws the base currency only: what it leaves out, said under its title
        and in the photo's caption; None when nothing is left out."""
        pipeline = sum((value.amount for _, value in digest.pipeline), NO_MONEY)
        left_out = others_text(pipeline, t)
        return t("figures.chart_note", others=left_out) if left_out else None
