"""Figures of a team that sells in rubles and dollars, as the lead and the manager read them.

The outsider's session (issue 12): John won Acme Corp for $12 500 and /stats said «won: 1 for
0 ₽», the leaderboard «выиграно 0 ₽», the digest «Переговоры — 1 · 0 ₽» for a $3 000 deal, the
export 0; a «$50,000» plan was saved as 50 000 ₽; a plan showed no deals fact; a week read
«2026-W49» and one closed deal «последние 1».
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import build_core
from bot.deals.service import Via
from bot.people.service import Role
from bot.reports.telegram import jobs
from bot.reports.telegram.jobs import send_digests
from tests.conftest import Harness, make_settings
from tests.test_metrics import at

NB = "\u00a0"
ZERO_RUBLES = re.compile(r"(?<![\d\u00a0])0\u00a0₽")  # «0 ₽», not «500 ₽»
LEAD, JOHN = 701, 702


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "RETRY_DELAYS", (0.0, 0.0, 0.0))


@pytest.fixture
async def rated(tmp_path: Path, sqlite_url: str, clock: FrozenClock) -> AsyncIterator[Harness]:
    """The bot with VORONKA_EXCHANGE_RATES=USD=90."""
    settings = make_settings(tmp_path, sqlite_url, exchange_rates={"USD": Decimal(90)})
    core = build_core(settings, clock=clock)
    built = Harness(core)
    await core.load_content()
    await built.app.initialize()
    yield built
    await built.app.shutdown()
    await core.close()


async def _team(harness: Harness, clock: FrozenClock, language: str = "ru") -> None:
    """Tuesday 1 Dec 2026: John wins Ромашка (175 500 ₽) and Acme Corp ($12 500); Globex
    ($3 000) stays open in the first stage."""
    core = harness.core
    at(clock, "2026-12-01 12:00")
    await core.people.ensure_person(LEAD, "Лида", Role.LEAD, "Урал", language)
    john = await core.people.ensure_person(JOHN, "John Smith", Role.MANAGER, "Урал", language)
    for title, amount, currency in (("Ромашка", 175500, "RUB"), ("Acme Corp", 12500, "USD")):
        deal = await core.deals.create(john, title, amount=Decimal(amount), currency=currency)
        await core.deals.win(john, deal.id, via=Via.BUTTON, expected_version=deal.version)
    await core.deals.create(john, "Globex", amount=Decimal(3000), currency="USD")


def _managers_sheet(data: bytes) -> list[dict[object, object]]:
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = [[cell.value for cell in row] for row in sheet]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_dollars_without_a_rate_are_shown_beside_rubles_never_as_zero(
    harness: Harness, clock: FrozenClock
) -> None:
    await _team(harness, clock)
    lead, john = harness.client(LEAD, name="Лида"), harness.client(JOHN, name="John Smith")
    both = f"175{NB}500{NB}₽ + $12{NB}500"

    mine = (await john.send("/stats today"))[-1].text
    assert f"выиграно: 2 на {both}" in mine and not ZERO_RUBLES.search(mine)
    team = (await lead.send("/stats today"))[-1].text
    assert team.count(f"выиграно: 2 на {both}") == 2  # the team's line and John's
    board = (await lead.send("/leaderboard today"))[-1].text
    assert f"John Smith — 2 сделки, выиграно {both}" in board

    at(clock, "2026-12-02 09:05")  # the next morning: Tuesday's digest
    assert await send_digests(harness.app) == 1
    inbox = lead.messages()
    (photo,) = [m for m in inbox if m.photo]
    digest = "\n".join(m.text for m in inbox[inbox.index(photo) + 1 :])
    assert f"🏆 Выиграно: 2 на {both}" in digest
    assert f"— 1 · $3{NB}000" in digest  # Globex in the pipeline, not «1 · 0 ₽»
    assert f"John Smith: 2 · 2 на {both}" in digest
    assert not ZERO_RUBLES.search(digest)
    assert photo.photo and f"$3{NB}000 без курса" in photo.text  # the chart says what it leaves out

    replies = await lead.send("/export 2026-12")
    document = replies[-1].document
    assert document is not None
    (row,) = _managers_sheet(document[1])
    assert row["Выиграно на сумму"] == 175500
    assert row["Выиграно на сумму, USD (курса нет)"] == 12500


async def test_an_english_manager_reads_both_currencies_too(
    harness: Harness, clock: FrozenClock
) -> None:
    await _team(harness, clock, "en")
    john = harness.client(JOHN, language="en", name="John Smith")
    mine = (await john.send("/stats today"))[-1].text
    assert f"won: 2 for 175,500{NB}₽ + $12,500" in mine
    board = (await john.send("/leaderboard today"))[-1].text
    assert f"John Smith — 2 deals, won 175,500{NB}₽ + $12,500" in board


async def test_with_a_rate_dollars_are_converted_and_the_figure_says_so(
    rated: Harness, clock: FrozenClock
) -> None:
    await _team(rated, clock)
    lead = rated.client(LEAD, name="Лида")
    team = (await lead.send("/stats today"))[-1].text
    # 175 500 + 12 500 × 90
    assert f"выиграно: 2 на 1{NB}300{NB}500{NB}₽ (вкл. $12{NB}500 по курсу)" in team
    english = rated.client(JOHN, language="en", name="John Smith")
    await rated.core.people.ensure_person(JOHN, "John Smith", Role.MANAGER, "Урал", "en")
    mine = (await english.send("/stats today"))[-1].text
    assert f"1,300,500{NB}₽ (incl. $12,500 at the set rate)" in mine


async def test_a_dollar_plan_is_converted_at_the_rate_or_refused_without_one(
    harness: Harness, rated: Harness, clock: FrozenClock
) -> None:
    for bot in (harness, rated):
        await _team(bot, clock)
        at(clock, "2026-12-10 12:00")
    lead = harness.client(LEAD, name="Лида")
    await lead.send("/plan")
    await lead.click("John Smith")
    refused = (await lead.send("$50,000"))[-1].text
    assert refused.startswith(catalog("ru")("plan.no_rate", currency="USD"))
    assert "План на месяц не задан" in (await lead.send("/stats month"))[-1].text  # not saved
    await lead.send("/plan")
    await lead.click("John Smith")
    saved = (await lead.send("2 млн, 5 сделок"))[-1].text
    assert saved.startswith(f"✅ План на 2026-12 — John Smith: 2{NB}000{NB}000{NB}₽, 5 сделок")

    rated_lead = rated.client(LEAD, name="Лида")
    await rated_lead.send("/plan")
    await rated_lead.click("John Smith")
    converted = (await rated_lead.send("$50,000"))[-1].text
    assert converted.startswith(
        f"✅ План на 2026-12 — John Smith: 4{NB}500{NB}000{NB}₽ (пересчитал $50{NB}000 по курсу"
    )


async def test_plan_against_fact_shows_the_deals_fact_and_what_has_no_rate(
    harness: Harness, clock: FrozenClock
) -> None:
    at(clock, "2026-12-01 10:00")
    core = harness.core
    await core.people.ensure_person(LEAD, "Лида", Role.LEAD, "Урал")
    john = await core.people.ensure_person(JOHN, "John Smith", Role.MANAGER, "Урал")
    lead, me = harness.client(LEAD, name="Лида"), harness.client(JOHN, name="John Smith")
    await lead.send("/plan")
    await lead.click("John Smith")
    await lead.send("2 млн, 5 сделок")
    for title, amount, currency in (("Ромашка", 175500, "RUB"), ("Acme Corp", 12500, "USD")):
        deal = await core.deals.create(john, title, amount=Decimal(amount), currency=currency)
        await core.deals.win(john, deal.id, via=Via.BUTTON, expected_version=deal.version)
    text = (await me.send("/stats month"))[-1].text
    assert (
        f"План на месяц: 2{NB}000{NB}000{NB}₽ и 5 сделок; факт: 175{NB}500{NB}₽ + $12{NB}500"
        f" (8% — без $12{NB}500: курса нет) и 2 сделки" in text
    )
    await core.people.ensure_person(JOHN, "John Smith", Role.MANAGER, "Урал", "en")
    english = harness.client(JOHN, language="en", name="John Smith")
    text = (await english.send("/stats month"))[-1].text
    assert "(8%, not counting $12,500: no rate) and 2 deals" in text


async def test_a_week_reads_as_dates_and_one_closed_deal_agrees(
    harness: Harness, clock: FrozenClock
) -> None:
    await _team(harness, clock)
    at(clock, "2026-12-02 12:00")
    lead = harness.client(LEAD, name="Лида")
    assert "30 нояб – 6 дек" in (await lead.send("/stats week"))[-1].text
    assert "30 нояб – 6 дек" in (await lead.send("/leaderboard"))[-1].text
    await harness.core.people.ensure_person(LEAD, "Лида", Role.LEAD, "Урал", "en")
    english = harness.client(LEAD, language="en", name="Лида")
    assert "Nov 30 – Dec 6" in (await english.send("/stats week"))[-1].text
    at(clock, "2026-12-31 12:00")  # a week across two years says both
    assert "Dec 28 2026 – Jan 3 2027" in (await english.send("/stats week"))[-1].text

    john = harness.client(JOHN, name="John Smith")
    lost = await harness.core.deals.create(
        await harness.core.people.ensure_person(JOHN, "John Smith", Role.MANAGER, "Урал"),
        "Орион",
    )
    await harness.core.deals.move(
        await harness.core.people.ensure_person(JOHN, "John Smith", Role.MANAGER, "Урал"),
        lost.id, "lost", via=Via.BUTTON, lost_reason="price",
    )  # fmt: skip
    assert "— 1 последняя, свежие сверху" in (await john.send("/deals lost"))[-1].text
    assert "— 2 последние, свежие сверху" in (await john.send("/deals won"))[-1].text
