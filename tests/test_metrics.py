"""The measures on a dataset with hand-computed figures, on SQLite and PostgreSQL.

Team «Урал» (Анна, Борис) and «Сибирь» (Вера); the reported day is Monday 2026-11-30 in
Moscow. Every expected number below is worked out by hand in the comments.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.common.clock import FrozenClock
from bot.container import Core
from bot.deals.service import Via
from bot.people.service import Person, Role
from bot.reports.metrics import StageFigures, Sums, day_period, parse_period
from bot.reports.service import ReportsService

MSK = ZoneInfo("Europe/Moscow")
DAY = date(2026, 11, 30)


def at(clock: FrozenClock, text: str) -> None:
    """Set the clock to a Moscow time like '2026-11-30 00:30'."""
    clock.now = datetime.fromisoformat(text).replace(tzinfo=MSK).astimezone(UTC)


async def _dataset(core: Core, clock: FrozenClock) -> dict[str, Person]:
    people = core.people
    anna = await people.ensure_person(1, "Анна", Role.MANAGER, "Урал")
    boris = await people.ensure_person(2, "Борис", Role.MANAGER, "Урал")
    vera = await people.ensure_person(3, "Вера", Role.MANAGER, "Сибирь")
    lida = await people.ensure_person(4, "Лида", Role.LEAD, "Урал")
    deals = core.deals
    # F: Анна, 30 000, created 20.11 and never moved: stalled («Новый лид» rots after 2 days).
    at(clock, "2026-11-20 10:00")
    f = await deals.create(anna, "F", amount=Decimal(30000))
    # C: Борис, 50 000, created 25.11.
    at(clock, "2026-11-25 10:00")
    c = await deals.create(boris, "C", amount=Decimal(50000))
    # A: Анна, 100 000, created 29.11; a move at 23:30 on the 29th belongs to the 29th.
    at(clock, "2026-11-29 10:00")
    a = await deals.create(anna, "A", amount=Decimal(100000))
    at(clock, "2026-11-29 23:30")
    await deals.move(anna, a.id, "qualification", via=Via.TEXT)
    at(clock, "2026-11-30 00:30")  # the 30th: forward
    await deals.move(anna, a.id, "needs", via=Via.TEXT)
    at(clock, "2026-11-30 12:00")  # forward
    await deals.move(anna, a.id, "offer", via=Via.TEXT)
    # B: Анна, 200 000, created on the day; forward, backward (not advanced), then won.
    at(clock, "2026-11-30 09:00")
    b = await deals.create(anna, "B", amount=Decimal(200000))
    at(clock, "2026-11-30 10:00")
    await deals.move(anna, b.id, "presentation", via=Via.TEXT)
    at(clock, "2026-11-30 11:00")
    await deals.move(anna, b.id, "needs", via=Via.TEXT)
    at(clock, "2026-11-30 15:00")
    await deals.move(anna, b.id, "paid", via=Via.TEXT)
    # C is lost at 13:00 (price) and reopened at 14:00: the reopening is not a forward move.
    at(clock, "2026-11-30 13:00")
    await deals.move(boris, c.id, "lost", via=Via.BUTTON, lost_reason="price")
    at(clock, "2026-11-30 14:00")
    await deals.move(boris, c.id, "needs", via=Via.BUTTON)
    # E: another team's forward move on the same day: not Урал's.
    e = await deals.create(vera, "E", amount=Decimal(999))
    await deals.move(vera, e.id, "offer", via=Via.TEXT)
    # D: Борис, created after the day: in neither the day's figures nor its pipeline.
    at(clock, "2026-12-01 09:00")
    d = await deals.create(boris, "D", amount=Decimal(70000))
    await deals.move(boris, d.id, "needs", via=Via.TEXT)
    del f
    return {"anna": anna, "boris": boris, "vera": vera, "lida": lida}


@pytest.fixture
def reports(any_core: Core) -> ReportsService:
    assert any_core.settings.tz == MSK
    return any_core.reports


async def test_the_days_figures_match_the_hand_computed_ones(
    any_core: Core, clock: FrozenClock, reports: ReportsService
) -> None:
    lida = (await _dataset(any_core, clock))["lida"]
    assert lida.team_id is not None
    figures = await reports.team_figures(lida, lida.team_id, day_period(DAY, MSK))
    assert figures.new_deals == 1  # B
    assert figures.stages_advanced == 4  # A: qual→needs, needs→offer; B: lead→pres, needs→paid
    assert figures.deals_advanced == 2  # A and B
    assert (figures.won_count, figures.won_amount.base) == (1, Decimal("200000.00"))  # B
    assert (figures.lost_count, figures.lost_reasons) == (1, {"price": 1})  # C
    assert figures.pipeline_by_stage == {  # at 24:00: A in offer, C reopened into needs, F in lead
        "offer": StageFigures(1, Sums(Decimal("100000.00"))),
        "needs": StageFigures(1, Sums(Decimal("50000.00"))),
        "lead": StageFigures(1, Sums(Decimal("30000.00"))),
    }
    assert figures.weighted_forecast == Sums(Decimal("56500.00"))  # 45% + 20% + 5%
    assert [(s.title, s.days) for s in figures.stalled] == [("F", 10)]
    by_name = {m.name: m for m in figures.managers}
    assert (by_name["Анна"].deals_advanced, by_name["Анна"].stages_advanced) == (2, 4)
    assert (by_name["Анна"].won_count, by_name["Анна"].won_amount.base) == (1, Decimal("200000.00"))
    assert (by_name["Борис"].lost_count, by_name["Борис"].new_deals) == (0 + 1, 0)
    assert figures.moves_into == {"needs": 1, "offer": 1, "presentation": 1, "paid": 1}


async def test_a_move_at_23_30_belongs_to_its_own_day(
    any_core: Core, clock: FrozenClock, reports: ReportsService
) -> None:
    lida = (await _dataset(any_core, clock))["lida"]
    assert lida.team_id is not None
    figures = await reports.team_figures(lida, lida.team_id, day_period(date(2026, 11, 29), MSK))
    assert (figures.stages_advanced, figures.new_deals) == (1, 1)  # A's 23:30 move; A created
    assert figures.pipeline_by_stage["qualification"] == StageFigures(1, Sums(Decimal("100000.00")))
    assert "paid" not in figures.pipeline_by_stage and "lost" not in figures.pipeline_by_stage


async def test_a_past_day_is_reconstructed_even_after_deals_moved_since(
    any_core: Core, clock: FrozenClock, reports: ReportsService
) -> None:
    people = await _dataset(any_core, clock)
    lida = people["lida"]
    assert lida.team_id is not None
    before = await reports.team_figures(lida, lida.team_id, day_period(DAY, MSK))
    at(clock, "2026-12-02 10:00")
    (a,) = [r for r in await any_core.deals.refs(people["anna"]) if r.title == "A"]
    await any_core.deals.move(people["anna"], a.id, "contract", via=Via.TEXT)
    after = await reports.team_figures(lida, lida.team_id, day_period(DAY, MSK))
    assert after.pipeline_by_stage == before.pipeline_by_stage


async def test_plan_and_fact_month_to_date(
    any_core: Core, clock: FrozenClock, reports: ReportsService
) -> None:
    people = await _dataset(any_core, clock)
    lead = people["lida"]
    assert lead.team_id is not None
    await reports.set_plan(lead, people["anna"].id, Decimal(500000), 3, month="2026-11")
    figures = await reports.team_figures(lead, lead.team_id, day_period(DAY, MSK))
    anna = next(m for m in figures.managers if m.name == "Анна")
    assert (anna.plan_amount, anna.plan_deals) == (Decimal("500000.00"), 3)
    assert (anna.fact_amount.base, anna.fact_deals) == (Decimal("200000.00"), 1)


async def test_conversion_time_in_stage_and_win_rate(
    any_core: Core, clock: FrozenClock, reports: ReportsService
) -> None:
    lida = (await _dataset(any_core, clock))["lida"]
    assert lida.team_id is not None
    conversion = await reports.conversion(lida, lida.team_id, parse_period("2026-11", clock(), MSK))
    # Created in November: F (lead), C (reopened into needs; lost does not count), A (offer),
    # B (paid). Reached: lead 4, qualification 3, needs 3, presentation 2, offer 2, ... paid 1.
    assert conversion.reached["lead"] == 4 and conversion.reached["needs"] == 3
    assert conversion.reached["offer"] == 2 and conversion.reached["paid"] == 1
    assert conversion.rates["qualification"] == pytest.approx(0.75)
    assert conversion.win_rate == pytest.approx(0.5)  # B won, C lost
    assert conversion.avg_cycle_days == pytest.approx(0.25)  # B: 09:00 → 15:00
    assert conversion.avg_days_in_stage["presentation"] == pytest.approx(1 / 24)  # B: 10→11


def test_periods_are_local_days_weeks_and_months() -> None:
    now = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # already Dec 1 in Moscow
    assert parse_period("today", now, MSK).label == "2026-12-01"
    assert parse_period("week", now, MSK).label == "2026-W49"
    assert parse_period("2026-11", now, MSK).start == datetime(2026, 10, 31, 21, 0, tzinfo=UTC)
    with pytest.raises(Exception):  # noqa: B017 - Invalid, shown to people
        parse_period("позавчера", now, MSK)


def _imported(external_id: str, stage: str, status: str, history: list[dict[str, object]]) -> dict:
    return {
        "external_id": external_id, "title": external_id, "client": None, "team": "Урал",
        "owner_telegram_id": 1, "funnel": "b2b", "stage": stage, "status": status,
        "amount": "70000.00", "currency": "RUB", "lost_reason": None, "next_step": None,
        "created_at": "2026-11-20T10:00:00+03:00", "history": history,
    }  # fmt: skip


async def test_a_past_days_pipeline_puts_deals_first_moved_later_where_they_stood(
    any_core: Core, clock: FrozenClock, reports: ReportsService
) -> None:
    """Imported deals whose history starts after the reported day: one moved to «КП» and
    one won since. On the day they stood where their first move later started from."""
    from bot.deals.cli import deal_transfer

    lida = (await _dataset(any_core, clock))["lida"]
    assert lida.team_id is not None
    before = await reports.team_figures(lida, lida.team_id, day_period(DAY, MSK))
    at(clock, "2026-12-02 10:00")
    later = "2026-12-01T10:00:00+03:00"
    rows = [
        _imported("late-offer", "offer", "open",
                  [{"from": "needs", "to": "offer", "at": later, "by_telegram_id": 1}]),
        _imported("late-win", "paid", "won",
                  [{"from": "negotiation", "to": "paid", "at": later, "by_telegram_id": 1}]),
    ]  # fmt: skip
    await deal_transfer(any_core).import_deals(rows)
    after = await reports.team_figures(lida, lida.team_id, day_period(DAY, MSK))
    seventy = Sums(Decimal("70000.00"))
    for stage in ("needs", "negotiation"):
        was = before.pipeline_by_stage.get(stage, StageFigures(0, Sums(Decimal("0.00"))))
        assert after.pipeline_by_stage[stage] == StageFigures(was.count + 1, was.amount + seventy)
    assert after.pipeline_by_stage.get("offer") == before.pipeline_by_stage.get("offer")
