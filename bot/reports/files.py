"""`voronka report` and `/export`: per-manager measures and the deals of a period, XLSX or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Deal, Team, User
from bot.db.session import transaction
from bot.reports.metrics import MetricsService, Period

MANAGER_COLUMNS = (
    "team", "telegram_id", "name", "new_deals", "deals_advanced", "stages_advanced",
    "won_count", "won_amount", "lost_count", "plan_amount", "plan_deals", "fact_amount",
)  # fmt: skip
DEAL_COLUMNS = (
    "id", "title", "team", "owner", "stage", "status", "amount", "currency", "lost_reason",
    "created_at", "stage_changed_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    managers: list[tuple[object, ...]]
    deals: list[tuple[object, ...]]


async def build_report(
    db: async_sessionmaker[AsyncSession],
    metrics: MetricsService,
    period: Period,
    *,
    team_ids: list[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Every team's managers (SQL aggregates per team) and the deals active in the period."""
    teams = [t for t in await metrics.teams() if team_ids is None or t[0] in team_ids]
    managers: list[tuple[object, ...]] = []
    for done, (team_id, _name) in enumerate(teams, 1):
        figures = await metrics.team_figures(team_id, period, stalled_limit=0)
        for m in figures.managers:
            managers.append(
                (figures.team, m.telegram_id, m.name, m.new_deals, m.deals_advanced,
                 m.stages_advanced, m.won_count, m.won_amount, m.lost_count, m.plan_amount,
                 m.plan_deals, m.fact_amount)
            )  # fmt: skip
        if progress:
            progress(done, len(teams))
    async with transaction(db) as session:
        query = (
            select(
                Deal.id,
                Deal.title,
                Team.name,
                User.name,
                Deal.stage,
                Deal.status,
                Deal.amount,
                Deal.currency,
                Deal.lost_reason,
                Deal.created_at,
                Deal.stage_changed_at,
            )
            .join(User, User.id == Deal.owner_id)
            .outerjoin(Team, Team.id == Deal.team_id)
            .where(Deal.created_at < period.end, Deal.updated_at >= period.start)
            .order_by(Deal.id)
        )
        if team_ids is not None:
            query = query.where(Deal.team_id.in_(team_ids))
        deals = [tuple(row) for row in await session.execute(query)]
    return Report(period, managers, deals)


def _cell(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # spreadsheets want numbers; the CSV keeps exact strings
    if hasattr(value, "isoformat") and getattr(value, "tzinfo", None) is not None:
        return value.replace(tzinfo=None)  # type: ignore[attr-defined]
    return value


def to_xlsx(report: Report) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Managers"
    sheet.append(MANAGER_COLUMNS)
    for row in report.managers:
        sheet.append([_cell(value) for value in row])
    deals = book.create_sheet("Deals")
    deals.append(DEAL_COLUMNS)
    for row in report.deals:
        deals.append([_cell(value) for value in row])
    for ws in (sheet, deals):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def to_csv(report: Report) -> tuple[str, str]:
    """Two tables: the managers, and the deals."""

    def table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow(
                ["" if v is None else v.isoformat() if hasattr(v, "isoformat") else v for v in row]
            )
        return buffer.getvalue()

    return table(MANAGER_COLUMNS, report.managers), table(DEAL_COLUMNS, report.deals)
