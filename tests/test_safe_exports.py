"""Exports are safe to open: hostile names and titles stay text in every XLSX and CSV file.

A manager named like a formula and deals titled like formulas go through the lead's /export,
`voronka report` (xlsx and csv) and `voronka deals export --format csv`; each file is opened
back (openpyxl, the csv module) and checked cell by cell. The JSON export stays lossless.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from bot.cli import main
from bot.common.i18n import catalog
from bot.common.sheets import FORMULA_START, CsvWriter, append_row, csv_field, xlsx_text
from bot.container import Core
from bot.people.service import Person, Role
from bot.reports.files import DEAL_COLUMNS, MANAGER_COLUMNS
from tests.conftest import Harness

NAME = '=HYPERLINK("http://x","Открыть")'
TITLES = ("=1+1", "+7 999", "-5", "@SUM(A1)", "\x07bell")
CLIENT = "=cmd|' /C calc'!A0"
PHONE = "+7 900 111-22-33"
PERIOD = "2026-11"  # the month of tests.conftest.START
DEAL_TEXT = {*TITLES, CLIENT, PHONE}  # what a deal row of the deals export holds
ALL_COLUMNS = (*MANAGER_COLUMNS, *DEAL_COLUMNS)


async def _hostile_team(core: Core) -> tuple[Person, Person]:
    """A team whose manager and deals are named to run as formulas; returns (lead, manager)."""
    people = core.people
    lead = await people.ensure_person(501, "Лида", Role.LEAD, "Урал")
    manager = await people.ensure_person(502, NAME, Role.MANAGER, "Урал")
    for number, title in enumerate(TITLES, 1):
        await core.deals.create(
            manager, title, amount=Decimal(1000 * number), client=CLIENT, phone=PHONE
        )
    return lead, manager


def _xlsx_cells(data: bytes) -> dict[str, list[list[tuple[object, str, bool]]]]:
    """Each sheet's rows as (value, data_type, quote prefix) per cell."""
    book = load_workbook(io.BytesIO(data))
    return {
        sheet.title: [[(c.value, c.data_type, c.quotePrefix) for c in row] for row in sheet]
        for sheet in book.worksheets
    }


def _assert_safe_xlsx(data: bytes, column: Callable[[str], str] = str) -> None:
    """`column` names a column as the file's reader sees it (the bot's /export: in Russian)."""
    sheets = _xlsx_cells(data)
    for rows in sheets.values():
        for row in rows:
            for value, data_type, quoted in row:
                assert data_type != "f", value
                if isinstance(value, str):
                    assert data_type == "s", value
                    assert "\x07" not in value
                    assert quoted == value.startswith(FORMULA_START), value
    managers, deals = sheets.values()
    header = [column(value) for value, _, _ in managers[0]]
    (manager,) = (row for row in managers[1:] if row[header.index("name")][0] == NAME)
    assert manager[header.index("telegram_id")][:2] == (502, "n")
    assert manager[header.index("new_deals")][:2] == (5, "n")
    header = [column(value) for value, _, _ in deals[0]]
    by_title = {row[header.index("title")][0]: row for row in deals[1:]}
    assert set(by_title) == {"=1+1", "+7 999", "-5", "@SUM(A1)", "\ufffdbell"}
    for row in by_title.values():
        assert row[header.index("owner")][:2] == (NAME, "s")
        amount, data_type, _ = row[header.index("amount")]
        assert data_type == "n" and isinstance(amount, int | float)
    assert by_title["-5"][header.index("amount")][0] == 3000


def _assert_safe_csv(text: str, hostile: set[str]) -> list[dict[str, str]]:
    """Every field that a spreadsheet would run is escaped; the hostile ones are all there."""
    rows = list(csv.reader(io.StringIO(text)))
    seen: set[str] = set()
    for row in rows:
        for field in row:
            assert not field.startswith(FORMULA_START), field
            if field.startswith("'") and field[1:] in hostile:
                seen.add(field[1:])
    assert seen == {value for value in hostile if value.startswith(FORMULA_START)}
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    """The CLI builds its own core from the environment: point it at the test database."""
    monkeypatch.setenv("VORONKA_DATABASE_URL", database_url)
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path / "cli-data"))


# --- the bot's /export ---------------------------------------------------------------------


async def test_the_leads_export_writes_hostile_names_and_titles_as_text(harness: Harness) -> None:
    await _hostile_team(harness.core)
    lead = harness.client(501, name="Лида")
    replies = await lead.send(f"/export {PERIOD}")
    document = replies[-1].document
    assert document is not None and document[0] == f"voronka-{PERIOD}.xlsx"
    t = catalog("ru")
    keys = {t(f"export.column.{key}", tz="Europe/Moscow"): key for key in ALL_COLUMNS}
    _assert_safe_xlsx(document[1], keys.__getitem__)


# --- voronka report ------------------------------------------------------------------------


@pytest.mark.usefixtures("cli_env")
async def test_the_xlsx_report_writes_hostile_names_and_titles_as_text(
    any_core: Core, tmp_path: Path
) -> None:
    await _hostile_team(any_core)
    out = tmp_path / "report.xlsx"
    assert await _cli("report", "--period", PERIOD, "--format", "xlsx", "--out", str(out)) == 0
    _assert_safe_xlsx(out.read_bytes())


@pytest.mark.usefixtures("cli_env")
async def test_the_csv_report_escapes_hostile_names_and_titles(
    any_core: Core, tmp_path: Path
) -> None:
    await _hostile_team(any_core)
    out = tmp_path / "report.csv"
    assert await _cli("report", "--period", PERIOD, "--format", "csv", "--out", str(out)) == 0
    managers = _assert_safe_csv(out.read_text(encoding="utf-8"), {NAME})
    (manager,) = (row for row in managers if row["telegram_id"] == "502")
    assert manager["name"] == "'" + NAME and manager["new_deals"] == "5"
    deals_text = (tmp_path / "report-deals.csv").read_text(encoding="utf-8")
    deals = _assert_safe_csv(deals_text, {NAME, *TITLES})
    assert {row["title"] for row in deals} == {
        "'=1+1", "'+7 999", "'-5", "'@SUM(A1)", "\x07bell"
    }  # fmt: skip
    assert {row["amount"] for row in deals} == {f"{1000 * n}.00" for n in range(1, 6)}


# --- voronka deals export ------------------------------------------------------------------


@pytest.mark.usefixtures("cli_env")
async def test_the_csv_deals_export_escapes_text_and_the_json_keeps_it(
    any_core: Core, tmp_path: Path
) -> None:
    await _hostile_team(any_core)
    table = tmp_path / "deals.csv"
    assert await _cli("deals", "export", "--format", "csv", "--out", str(table)) == 0
    rows = _assert_safe_csv(table.read_text(encoding="utf-8"), DEAL_TEXT)
    assert [row["title"] for row in rows] == ["'=1+1", "'+7 999", "'-5", "'@SUM(A1)", "\x07bell"]
    assert {(row["client_name"], row["client_phone"]) for row in rows} == {
        ("'" + CLIENT, "'" + PHONE)
    }
    assert [row["amount"] for row in rows] == [f"{1000 * n}.00" for n in range(1, 6)]
    out = tmp_path / "deals.json"
    assert await _cli("deals", "export", "--format", "json", "--out", str(out)) == 0
    deals = json.loads(out.read_text(encoding="utf-8"))["deals"]
    assert [deal["title"] for deal in deals] == list(TITLES)  # lossless: the import reads it
    assert {deal["client"]["name"] for deal in deals} == {CLIENT}


# --- the shared cells ----------------------------------------------------------------------


def test_only_text_is_escaped_and_numbers_stay_numbers() -> None:
    assert [csv_field(v) for v in ("=1", "+1", "-1", "@a", "\ta", "\ra", "a=1", "", "'=")] == [
        "'=1", "'+1", "'-1", "'@a", "'\ta", "'\ra", "a=1", "", "'="
    ]  # fmt: skip
    assert [csv_field(v) for v in (-5, Decimal("-5.00"), -1.5, None)] == [
        -5, Decimal("-5.00"), -1.5, None
    ]  # fmt: skip
    buffer = io.StringIO()
    CsvWriter(buffer).writerow(["-5", -5, Decimal("-5.00"), None, "x;=1+1"])
    assert buffer.getvalue() == '"\'-5",-5,-5.00,"","x;=1+1"\r\n'  # text quoted: ; cannot split
    book = Workbook()
    sheet = book.active
    append_row(sheet, ["-5", -5, Decimal("-5.5"), -5.5, None, "#N/A", "=A1"])
    output = io.BytesIO()
    book.save(output)
    (row,) = _xlsx_cells(output.getvalue()).values()
    assert row[0] == [
        ("-5", "s", True), (-5, "n", False), (-5.5, "n", False), (-5.5, "n", False),
        (None, "n", False), ("#N/A", "s", False), ("=A1", "s", True),
    ]  # fmt: skip


def test_characters_xml_cannot_carry_are_replaced_in_xlsx_text() -> None:
    assert xlsx_text("\x00a\x07b\x0bc\x1f\ufffe\ud800") == "\ufffda\ufffdb\ufffdc\ufffd\ufffd\ufffd"
    assert xlsx_text("tab\tnew\nline\rok «ё» 🙂") == "tab\tnew\nline\rok «ё» 🙂"
    assert len(xlsx_text("x" * 40_000)) == 32_767
