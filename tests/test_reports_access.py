"""Who may see which figures, now that the reports service checks it (bot, CLI and jobs alike).

An admin sees every team, a lead their own team, a manager their own figures; the dataset is
the one of `test_metrics.py` (Урал: Анна, Борис, lead Лида; Сибирь: Вера).
"""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.common.clock import FrozenClock
from bot.common.errors import DomainError, Forbidden, Invalid, NotFound
from bot.common.i18n import catalog
from bot.container import Core, build_core
from bot.deals.service import Via
from bot.people.service import Person, Role
from bot.reports.metrics import day_period
from bot.reports.service import MyStats, PlanInput, TeamChoice, TeamStats, parse_plan
from bot.tg import callbacks as cb
from tests.conftest import Harness, make_settings
from tests.test_metrics import DAY, MSK, _dataset, at

PERIOD = day_period(DAY, MSK)


async def _people(core: Core, clock: FrozenClock) -> dict[str, Person]:
    people = await _dataset(core, clock)
    people["sibir_lead"] = await core.people.ensure_person(5, "Семён", Role.LEAD, "Сибирь")
    people["admin"] = await core.people.ensure_person(6, "Ольга", Role.ADMIN, None)
    at(clock, "2026-11-30 18:00")
    return people


def _team(person: Person) -> int:
    assert person.team_id is not None
    return person.team_id


async def test_a_manager_is_refused_the_teams_figures_report_and_digest(
    any_core: Core, clock: FrozenClock
) -> None:
    people = await _people(any_core, clock)
    anna, reports = people["anna"], any_core.reports
    with pytest.raises(Forbidden) as refused:
        await reports.team_figures(anna, _team(anna), PERIOD)
    assert refused.value.key == "team.forbidden"
    with pytest.raises(Forbidden):
        await reports.team_stats(anna, _team(anna), PERIOD)
    with pytest.raises(Forbidden):
        await reports.daily_digest(anna, _team(anna), DAY)
    with pytest.raises(Forbidden) as refused:
        await reports.report(anna, PERIOD)
    assert refused.value.key == "export.forbidden"


async def test_a_lead_sees_their_own_team_only(any_core: Core, clock: FrozenClock) -> None:
    people = await _people(any_core, clock)
    lida, vera, reports = people["lida"], people["vera"], any_core.reports
    assert (await reports.team_figures(lida, _team(lida), PERIOD)).team == "Урал"
    with pytest.raises(Forbidden):
        await reports.team_figures(lida, _team(vera), PERIOD)
    with pytest.raises(Forbidden):
        await reports.conversion(lida, _team(vera), PERIOD)
    with pytest.raises(Forbidden):
        await reports.weekly_digest(lida, _team(vera), date(2026, 11, 23))
    with pytest.raises(Forbidden):
        await reports.post_leaderboard(lida, _team(vera), PERIOD)
    report = await reports.report(lida, PERIOD)
    assert {row[0] for row in report.managers} == {"Урал"}
    assert {row[2] for row in report.deals} == {"Урал"}


async def test_an_admin_sees_every_team_and_chooses_one(any_core: Core, clock: FrozenClock) -> None:
    people = await _people(any_core, clock)
    admin, reports = people["admin"], any_core.reports
    stats = await reports.stats(admin, PERIOD)
    assert isinstance(stats, TeamChoice)
    assert [name for _, name in stats.teams] == ["Сибирь", "Урал"]
    assert (await reports.team_figures(admin, _team(people["vera"]), PERIOD)).team == "Сибирь"
    report = await reports.report(admin, PERIOD)
    assert {row[0] for row in report.managers} == {"Урал", "Сибирь"}


async def test_stats_give_a_manager_their_own_figures_and_a_lead_the_team(
    any_core: Core, clock: FrozenClock
) -> None:
    people = await _people(any_core, clock)
    mine = await any_core.reports.stats(people["anna"], PERIOD)
    assert isinstance(mine, MyStats)
    assert (mine.mine.figures.name, mine.mine.figures.stages_advanced) == ("Анна", 4)
    team = await any_core.reports.stats(people["lida"], PERIOD)
    assert isinstance(team, TeamStats)
    # Not admins, and not Лида: a lead without deals or a plan of her own is not a manager.
    assert [m.figures.name for m in team.managers] == ["Анна", "Борис"]


async def test_plans_are_set_by_a_lead_for_their_team_or_by_an_admin(
    any_core: Core, clock: FrozenClock
) -> None:
    people = await _people(any_core, clock)
    reports, anna, vera = any_core.reports, people["anna"], people["vera"]
    with pytest.raises(Forbidden) as refused:
        await reports.plan_choice(anna)
    assert refused.value.key == "plan.forbidden"
    with pytest.raises(Forbidden):
        await reports.set_plan(anna, anna.id, Decimal(1000), None)
    with pytest.raises(NotFound):  # another team's people are as good as none
        await reports.set_plan(people["lida"], vera.id, Decimal(1000), None)
    with pytest.raises(NotFound):
        await reports.plan_target(people["lida"], vera.id)
    choice = await reports.plan_choice(people["lida"])
    assert [p.name for p in choice.managers] == ["Анна", "Борис"]
    saved = await reports.set_plan(people["admin"], vera.id, None, 4)
    assert (saved.name, saved.month, saved.deals) == ("Вера", "2026-11", 4)


def test_plan_text_is_an_amount_and_or_deals() -> None:
    assert parse_plan("1,5 млн, 5 сделок") == PlanInput(Decimal("1500000"), 5)
    assert parse_plan("3") == PlanInput(None, 3)
    with pytest.raises(Invalid):
        parse_plan("много")


async def test_the_leaderboard_is_posted_by_a_lead_or_admin_only(
    any_core: Core, clock: FrozenClock
) -> None:
    people = await _people(any_core, clock)
    reports, anna = any_core.reports, people["anna"]
    board = await reports.leaderboard(anna, PERIOD)
    assert board is not None and not board.may_post
    assert [m.name for m in board.ranked] == ["Анна"]  # Борис neither advanced nor won
    with pytest.raises(Forbidden):
        await reports.post_leaderboard(anna, _team(anna), PERIOD)
    with pytest.raises(Invalid) as no_group:
        await reports.post_leaderboard(people["lida"], _team(anna), PERIOD)
    assert no_group.value.key == "leaderboard.no_group"
    assert await reports.set_group_chat(people["lida"], -100500)
    post = await reports.post_leaderboard(people["lida"], _team(anna), PERIOD)
    assert post.chat_id == -100500 and post.board.ranked == board.ranked


async def test_a_digest_preview_of_an_unknown_team_is_refused(
    any_core: Core, clock: FrozenClock
) -> None:
    people = await _people(any_core, clock)
    with pytest.raises(DomainError) as refused:
        await any_core.reports.digest_preview(people["admin"], "Нет такой", DAY)
    assert refused.value.key == "team.not_found"


async def test_the_sent_log_lets_one_claim_through_until_released(any_core: Core) -> None:
    log = any_core.sent_log
    assert await log.claim("digest", 42, "1:2026-11-30")
    assert not await log.claim("digest", 42, "1:2026-11-30")
    assert await log.claim("weekly", 42, "1:2026-11-30")  # another kind is another message
    await log.release("digest", 42, "1:2026-11-30")
    assert await log.claim("digest", 42, "1:2026-11-30")


# --- in the bot ---------------------------------------------------------------------------


async def test_forged_buttons_are_refused_in_the_bot(harness: Harness, clock: FrozenClock) -> None:
    people = await _people(harness.core, clock)
    ru = catalog("ru")
    anna = harness.client(1, name="Анна")
    reply = (await anna.send("/stats"))[-1]
    team = _team(people["anna"])
    stats = await anna.press(reply, cb.pack(cb.STATS_TEAM, team, "2026-11-30"))
    assert stats[-1].text == ru("team.forbidden")
    post = await anna.press(reply, cb.pack(cb.LEADERBOARD_POST, team, "2026-11-30"))
    assert post[-1].text == ru("team.forbidden")
    assert (await anna.send("/plan"))[-1].text == ru("plan.forbidden")
    plan = await anna.press(reply, cb.pack(cb.PLAN_FOR, people["boris"].id))
    assert plan[-1].text == ru("plan.forbidden")
    lida = harness.client(4, name="Лида")
    board = (await lida.send("/leaderboard"))[-1]
    other = await lida.press(board, cb.pack(cb.STATS_TEAM, _team(people["vera"]), "2026-11-30"))
    assert other[-1].text == ru("team.forbidden")


async def test_moves_count_for_whose_deal_it_was_and_reassigning_rewrites_nothing(
    any_core: Core, clock: FrozenClock
) -> None:
    people = await _people(any_core, clock)
    anna, boris, lida = people["anna"], people["boris"], people["lida"]

    async def figures() -> dict[str, tuple[int, int]]:
        team = await any_core.reports.stats(lida, PERIOD)
        assert isinstance(team, TeamStats)
        return {m.figures.name: (m.figures.new_deals, m.figures.stages_advanced)
                for m in team.managers}  # fmt: skip

    before = await figures()
    deal = await any_core.deals.create(anna, "Переданная")
    await any_core.deals.move(anna, deal.id, "qualification", via=Via.TEXT)
    await any_core.deals.reassign(lida, deal.id, boris.id)
    await any_core.deals.move(lida, deal.id, "needs", via=Via.TEXT)  # the lead moves it once
    after = await figures()
    assert after["Анна"] == (before["Анна"][0] + 1, before["Анна"][1] + 1)  # still hers
    # The lead's move of Boris's deal is Boris's: it was his deal when it moved.
    assert after["Борис"] == (before["Борис"][0], before["Борис"][1] + 1)
    assert "Лида" not in after  # pressing a button on someone's deal credits her nothing


@pytest.mark.parametrize(("rates", "won"), [({}, "145000.00"), ({"USD": Decimal(90)}, "415000.00")])
async def test_dollars_are_never_added_to_rubles(
    tmp_path: Path, database_url: str, clock: FrozenClock, rates: dict[str, Decimal], won: str
) -> None:
    """A $3,000 win and a 145 000 ₽ win: the rubles alone, or the dollars at the set rate."""
    core = build_core(make_settings(tmp_path, database_url, exchange_rates=rates), clock=clock)
    try:
        anna = await core.people.ensure_person(1, "Анна", Role.MANAGER, "Урал")
        lida = await core.people.ensure_person(4, "Лида", Role.LEAD, "Урал")
        for title, amount, currency in (("Acme", 3000, "USD"), ("Ромашка", 145000, "RUB")):
            deal = await core.deals.create(anna, title, amount=Decimal(amount), currency=currency)
            await core.deals.win(anna, deal.id, via=Via.BUTTON, expected_version=deal.version)
        team = await core.reports.stats(lida, day_period(clock().date(), MSK))
        assert isinstance(team, TeamStats)
        (figures,) = [m.figures for m in team.managers if m.figures.name == "Анна"]
        assert (figures.won_count, figures.won_amount.base) == (2, Decimal(won))
    finally:
        await core.close()


def test_exchange_rates_are_read_from_one_setting() -> None:
    from bot.config import load_settings

    settings = load_settings(exchange_rates="usd=92.5; EUR=101.2")
    assert settings.exchange_rates == {"USD": Decimal("92.5"), "EUR": Decimal("101.2")}
    with pytest.raises(Exception, match="CODE=rate"):
        load_settings(exchange_rates="USD=-1")
