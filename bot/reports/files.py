"""`voronka report` and `/export`: per-manager measures and the deals of a period, XLSX or CSV.

Names and titles come from people: every cell goes through `bot.common.sheets`, so text
stays text in whatever spreadsheet opens the file. `/export` is read by a person: given a
`Reader`, the headers and the stage, status and lost reason names are in their language and
the times in the team's time zone; `voronka report` keeps the column keys, keys and UTC.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.common.sheets import CsvWriter, append_row
from bot.deals.funnel import FunnelConfig
from bot.reports.metrics import ZERO, Period, Sums, TeamFigures

MANAGER_COLUMNS = (
    "team", "telegram_id", "name", "new_deals", "deals_advanced", "stages_advanced",
    "won_count", "won_amount", "lost_count", "plan_amount", "plan_deals", "fact_amount",
)  # fmt: skip
DEAL_COLUMNS = (
    "id", "title", "team", "owner", "stage", "status", "amount", "currency", "lost_reason",
    "created_at", "stage_changed_at", "funnel",
)  # fmt: skip
_BY_CURRENCY = ("won_amount", "fact_amount")
"""The managers sheet's sums: in the base currency (with what the set rates converted), and
a column per other currency that has no rate, so a dollar win is never a 0 in rubles."""
_STAGE, _STATUS, _REASON, _FUNNEL = (DEAL_COLUMNS.index(k) for k in (
    "stage", "status", "lost_reason", "funnel"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads the file: `t` their language's texts. Times are shown in `tz`, the team's
    zone (VORONKA_TIMEZONE, the one every team's days and digests are counted in)."""

    t: Callable[..., str]
    language: str
    tz: ZoneInfo
    funnels: FunnelConfig

    def header(self, columns: Sequence[str]) -> list[str]:
        return [self._column(key) for key in columns]

    def _column(self, key: str) -> str:
        measure, _, currency = key.rpartition("_")
        if measure in _BY_CURRENCY and currency.isupper():  # won_amount_USD
            return self.t(f"export.column.{measure}_in", currency=currency)
        return self.t(f"export.column.{key}", tz=self.tz.key)

    def deal(self, row: Sequence[object]) -> list[object]:
        """A deal's row with its stage, status, reason and funnel named for the reader."""
        named = list(row)
        funnel = next((f for f in self.funnels.funnels if f.key == row[_FUNNEL]), None)
        stage = row[_STAGE]
        if funnel is not None:
            named[_FUNNEL] = funnel.name(self.language)
            if isinstance(stage, str) and funnel.has_stage(stage):
                named[_STAGE] = funnel.stage(stage).name(self.language)
        named[_STATUS] = self.t(f"export.status.{row[_STATUS]}")
        reason = self.funnels.lost_reason(str(row[_REASON])) if row[_REASON] else None
        if reason is not None:
            named[_REASON] = reason.name(self.language)
        return named


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    managers: tuple[tuple[object, ...], ...]
    deals: tuple[tuple[object, ...], ...]


def manager_rows(figures: TeamFigures) -> list[tuple[object, ...]]:
    """A team's managers in the columns of the managers sheet; the sums as `Sums`, which
    `manager_table` spreads over a column per currency."""
    return [
        (figures.team, m.telegram_id, m.name, m.new_deals, m.deals_advanced, m.stages_advanced,
         m.won_count, m.won_amount, m.lost_count, m.plan_amount, m.plan_deals, m.fact_amount)
        for m in figures.managers
    ]  # fmt: skip


def _others(value: object) -> dict[str, Decimal]:
    return dict(value.others) if isinstance(value, Sums) else {}


def manager_table(report: Report) -> tuple[tuple[str, ...], list[list[object]]]:
    """The managers sheet: MANAGER_COLUMNS with the base currency's sums, then, for each
    currency without a rate that any row has, its won and fact columns (won_amount_USD)."""
    indexes = [MANAGER_COLUMNS.index(key) for key in _BY_CURRENCY]
    currencies = sorted(
        {code for row in report.managers for index in indexes for code in _others(row[index])}
    )
    extra = tuple(f"{key}_{code}" for code in currencies for key in _BY_CURRENCY)
    rows: list[list[object]] = []
    for row in report.managers:
        cells = [value.base if isinstance(value, Sums) else value for value in row]
        for code in currencies:
            for index in indexes:
                cells.append(_others(row[index]).get(code, ZERO))
        rows.append(cells)
    return MANAGER_COLUMNS + extra, rows


def _cell(value: object, tz: ZoneInfo | None = None) -> object:
    """A value a spreadsheet can hold: a number, or a time without a zone (in `tz`, or UTC)."""
    if isinstance(value, Decimal):
        return float(value)  # spreadsheets want numbers; the CSV keeps exact strings
    if isinstance(value, datetime) and value.tzinfo is not None:
        return (value.astimezone(tz) if tz is not None else value).replace(tzinfo=None)
    return value


def to_xlsx(report: Report, reader: Reader | None = None) -> bytes:
    """The report as a workbook: for `reader` when given, otherwise with keys and UTC."""
    # Imported here: openpyxl is a tenth of the bot's start-up imports, and few ask for files.
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    tz = reader.tz if reader else None
    sheet.title = reader.t("export.sheet.managers") if reader else "Managers"
    columns, managers = manager_table(report)
    append_row(sheet, reader.header(columns) if reader else columns)
    for manager in managers:
        append_row(sheet, [_cell(value, tz) for value in manager])
    deals = book.create_sheet(reader.t("export.sheet.deals") if reader else "Deals")
    append_row(deals, reader.header(DEAL_COLUMNS) if reader else DEAL_COLUMNS)
    for row in report.deals:
        named: Sequence[Any] = reader.deal(row) if reader else row
        append_row(deals, [_cell(value, tz) for value in named])
    for ws in (sheet, deals):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def to_csv(report: Report) -> tuple[str, str]:
    """Two tables: the managers, and the deals."""

    def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
        buffer = io.StringIO()
        writer = CsvWriter(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow([v.isoformat() if hasattr(v, "isoformat") else v for v in row])
        return buffer.getvalue()

    columns, managers = manager_table(report)
    return table(columns, managers), table(DEAL_COLUMNS, report.deals)
