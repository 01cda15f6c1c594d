"""`voronka report` and `/export`: per-manager measures and the deals of a period, XLSX or CSV.

Names and titles come from people: every cell goes through `bot.common.sheets`, so text
stays text in whatever spreadsheet opens the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font

from bot.common.sheets import CsvWriter, append_row
from bot.reports.metrics import Period, TeamFigures

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
    managers: tuple[tuple[object, ...], ...]
    deals: tuple[tuple[object, ...], ...]


def manager_rows(figures: TeamFigures) -> list[tuple[object, ...]]:
    """A team's managers in the columns of the managers sheet."""
    return [
        (figures.team, m.telegram_id, m.name, m.new_deals, m.deals_advanced, m.stages_advanced,
         m.won_count, m.won_amount, m.lost_count, m.plan_amount, m.plan_deals, m.fact_amount)
        for m in figures.managers
    ]  # fmt: skip


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
    append_row(sheet, MANAGER_COLUMNS)
    for row in report.managers:
        append_row(sheet, [_cell(value) for value in row])
    deals = book.create_sheet("Deals")
    append_row(deals, DEAL_COLUMNS)
    for row in report.deals:
        append_row(deals, [_cell(value) for value in row])
    for ws in (sheet, deals):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def to_csv(report: Report) -> tuple[str, str]:
    """Two tables: the managers, and the deals."""

    def table(header: tuple[str, ...], rows: tuple[tuple[object, ...], ...]) -> str:
        buffer = io.StringIO()
        writer = CsvWriter(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow([v.isoformat() if hasattr(v, "isoformat") else v for v in row])
        return buffer.getvalue()

    return table(MANAGER_COLUMNS, report.managers), table(DEAL_COLUMNS, report.deals)
