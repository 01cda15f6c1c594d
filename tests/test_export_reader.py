"""/export is read by a person: their language for the headers, stages, statuses and lost
reasons, the team's time zone for the times. `voronka report` keeps keys and UTC for machines."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook

from bot.common.clock import FrozenClock
from bot.container import build_core
from bot.deals.service import Via
from bot.people.service import Role
from tests.conftest import Harness, make_settings

PERIOD = "2026-11"


def _sheets(data: bytes) -> dict[str, list[dict[object, object]]]:
    """Each sheet's rows as {header: value}."""
    book = load_workbook(io.BytesIO(data))
    sheets: dict[str, list[dict[object, object]]] = {}
    for sheet in book.worksheets:
        rows = [[cell.value for cell in row] for row in sheet]
        sheets[sheet.title] = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    return sheets


async def _team(harness: Harness, clock: FrozenClock, language: str) -> Harness:
    core = harness.core
    lead = await core.people.ensure_person(501, "Лида", Role.LEAD, "Урал", language)
    anna = await core.people.ensure_person(502, "Анна", Role.MANAGER, "Урал")
    won = await core.deals.create(anna, "Ромашка", amount=Decimal("145000"))
    lost = await core.deals.create(anna, "Орион", amount=Decimal("3000"), currency="USD")
    clock.advance(hours=2)
    await core.deals.move(anna, won.id, "qualification", via=Via.BUTTON)
    await core.deals.move(lead, lost.id, "lost", via=Via.BUTTON, lost_reason="price")
    return harness


async def _export(harness: Harness, language: str) -> dict[str, list[dict[object, object]]]:
    lead = harness.client(501, language=language, name="Лида")
    replies = await lead.send(f"/export {PERIOD}")
    document = replies[-1].document
    assert document is not None and document[0] == f"voronka-{PERIOD}.xlsx"
    return _sheets(document[1])


async def test_a_russian_lead_reads_russian_names_and_moscow_times(
    harness: Harness, clock: FrozenClock
) -> None:
    await _team(harness, clock, "ru")
    sheets = await _export(harness, "ru")
    assert list(sheets) == ["Менеджеры", "Сделки"]
    (anna,) = (row for row in sheets["Менеджеры"] if row["Имя"] == "Анна")
    assert anna["Команда"] == "Урал" and anna["Новых сделок"] == 2
    deals = {row["Сделка"]: row for row in sheets["Сделки"]}
    assert deals["Ромашка"]["Этап"] == "Квалификация"
    assert deals["Ромашка"]["Статус"] == "в работе"
    assert deals["Ромашка"]["Воронка"] == harness.core.funnels.default.name("ru")
    assert deals["Орион"]["Статус"] == "проиграна"
    assert deals["Орион"]["Причина проигрыша"] == "Цена"
    assert deals["Орион"]["Валюта"] == "USD"
    # 07:00 UTC is 10:00 in Moscow, the team's zone; the header says which zone.
    assert deals["Ромашка"]["Создана (Europe/Moscow)"] == datetime(2026, 11, 30, 10, 0)
    assert deals["Ромашка"]["Этап сменился (Europe/Moscow)"] == datetime(2026, 11, 30, 12, 0)


async def test_an_english_lead_reads_english_names(harness: Harness, clock: FrozenClock) -> None:
    await _team(harness, clock, "en")
    sheets = await _export(harness, "en")
    assert list(sheets) == ["Managers", "Deals"]
    deals = {row["Deal"]: row for row in sheets["Deals"]}
    assert (deals["Ромашка"]["Stage"], deals["Ромашка"]["Status"]) == ("Qualification", "open")
    assert (deals["Орион"]["Stage"], deals["Орион"]["Status"]) == ("Lost", "lost")
    assert deals["Орион"]["Lost reason"] == "Price"
    assert deals["Орион"]["Created (Europe/Moscow)"] == datetime(2026, 11, 30, 10, 0)


async def test_times_follow_the_zone_the_team_works_in(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    zone = "Asia/Yekaterinburg"  # UTC+5
    core = build_core(make_settings(tmp_path, sqlite_url, timezone=zone), clock=clock)
    harness = Harness(core)
    await core.load_content()
    await harness.app.initialize()
    try:
        await _team(harness, clock, "ru")
        sheets = await _export(harness, "ru")
    finally:
        await harness.app.shutdown()
        await core.close()
    deals = {row["Сделка"]: row for row in sheets["Сделки"]}
    assert deals["Ромашка"][f"Создана ({zone})"] == datetime(2026, 11, 30, 12, 0)


async def test_a_manager_gets_no_file_in_either_language(
    harness: Harness, clock: FrozenClock
) -> None:
    await _team(harness, clock, "ru")
    for language, text in [
        ("ru", "Выгрузку делают руководитель команды и администратор."),
        ("en", "Team leads and admins export reports."),
    ]:
        anna = harness.client(502, language=language, name="Анна")
        await harness.core.people.ensure_person(502, "Анна", Role.MANAGER, "Урал", language)
        replies = await anna.send("/export")
        assert replies[-1].document is None
        assert replies[-1].text == text
