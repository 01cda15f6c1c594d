"""A team's own funnel: chosen by its lead, used for its new deals, imports and figures."""

from typing import Any

import pytest
from sqlalchemy import update

from bot.common.clock import FrozenClock
from bot.common.errors import Forbidden, Invalid, InvalidFile
from bot.common.i18n import catalog
from bot.container import Core
from bot.db.models import Team
from bot.db.session import transaction
from bot.deals.cli import deal_transfer
from bot.deals.service import Via
from bot.people.service import Role
from bot.reports.metrics import parse_period
from bot.reports.telegram.digest import DigestRenderer
from bot.tg import callbacks as cb
from tests.conftest import Harness
from tests.test_deals_service import _team

ru, en = catalog("ru"), catalog("en")


async def test_new_deals_go_to_the_funnel_the_lead_chose_for_the_team(any_core: Core) -> None:
    _, lead, anna, boris = await _team(any_core)
    assert (await any_core.deals.create(anna, "Ромашка")).funnel == "b2b"
    assert lead.team_id is not None
    chosen = await any_core.team_funnels.choose(lead, lead.team_id, "repeat")
    assert (chosen.team, chosen.funnel.key, chosen.chosen) == ("Урал", "repeat", True)
    deal = await any_core.deals.create(anna, "Вектор")
    assert (deal.funnel, deal.stage, deal.probability) == ("repeat", "request", 30)
    assert (await any_core.deals.create(boris, "Глобус")).funnel == "b2b"  # another team
    moved = await any_core.deals.move(anna, deal.id, "approval", via=Via.TEXT)
    assert moved.needs_next_step and moved.deal.probability == 75


async def test_only_the_lead_of_the_team_or_an_admin_chooses(any_core: Core) -> None:
    admin, lead, anna, boris = await _team(any_core)
    assert boris.team_id is not None and anna.team_id is not None
    with pytest.raises(Forbidden):
        await any_core.team_funnels.choose(anna, anna.team_id, "repeat")
    with pytest.raises(Forbidden):
        await any_core.team_funnels.choose(lead, boris.team_id, "repeat")
    with pytest.raises(Invalid) as error:
        await any_core.team_funnels.choose(lead, anna.team_id, "retail")
    assert (error.value.key, error.value.params) == ("funnel.unknown", {"funnel": "retail"})
    assert (await any_core.team_funnels.choose(admin, boris.team_id, "repeat")).team == "Сибирь"
    teams = await any_core.team_funnels.teams(admin)
    assert [(team.team, team.funnel.key, team.chosen) for team in teams] == [
        ("Сибирь", "repeat", True), ("Урал", "b2b", False),
    ]  # fmt: skip
    assert [team.team for team in await any_core.team_funnels.teams(anna)] == ["Урал"]


async def test_a_funnel_gone_from_the_file_falls_back_to_the_default(any_core: Core) -> None:
    _, lead, anna, _ = await _team(any_core)
    async with transaction(any_core.db) as session:  # chosen before the file lost that funnel
        await session.execute(update(Team).where(Team.id == lead.team_id).values(funnel="gone"))
    funnels = any_core.funnels
    assert funnels.of_team("repeat").key == "repeat"
    assert funnels.of_team("gone").key == funnels.of_team(None).key == "b2b"
    (team,) = await any_core.team_funnels.teams(lead)
    assert (team.funnel.key, team.chosen) == ("b2b", False)
    assert (await any_core.deals.create(anna, "Ромашка")).funnel == "b2b"


async def test_an_imported_deal_without_a_funnel_takes_its_teams(any_core: Core) -> None:
    _, lead, _, _ = await _team(any_core)
    assert lead.team_id is not None
    await any_core.team_funnels.choose(lead, lead.team_id, "repeat")
    row: dict[str, Any] = {
        "external_id": "crm-1", "title": "Дозаказ стеллажей", "owner_telegram_id": 3,
        "team": "Урал", "stage": "invoice", "status": "open",
        "created_at": "2026-11-02T09:00:00+03:00",
        "history": [{"from": None, "to": "request", "at": "2026-11-02T06:00:00Z"},
                    {"from": "request", "to": "invoice", "at": "2026-11-03T06:00:00Z"}],
    }  # fmt: skip
    sibir = {**row, "external_id": "crm-2", "team": "Сибирь", "owner_telegram_id": 4}
    assert (await deal_transfer(any_core).import_deals([row])).created == 1
    with pytest.raises(InvalidFile) as error:
        await deal_transfer(any_core).import_deals([sibir])
    assert "no stage 'invoice' in funnel 'b2b' (stages: lead," in error.value.problems[0].why


async def test_the_teams_figures_follow_its_funnel(any_core: Core, clock: FrozenClock) -> None:
    _, lead, anna, _ = await _team(any_core)
    assert lead.team_id is not None
    await any_core.deals.create(anna, "Старая сделка")  # made in b2b before the switch
    await any_core.team_funnels.choose(lead, lead.team_id, "repeat")
    deal = await any_core.deals.create(anna, "Дозаказ")
    clock.advance(hours=2)
    await any_core.deals.move(anna, deal.id, "invoice", via=Via.TEXT)
    period = parse_period("2026-11", clock(), any_core.settings.tz)
    conversion = await any_core.reports.conversion(lead, lead.team_id, period)
    assert conversion.funnel == "repeat"
    assert list(conversion.reached) == ["request", "offer", "approval", "invoice", "paid",
                                        "shipped"]  # fmt: skip
    assert conversion.reached["invoice"] == 1 and conversion.reached["paid"] == 0
    figures = await any_core.reports.team_figures(lead, lead.team_id, period)
    assert figures.funnel == "repeat"
    digest = await any_core.reports.daily_digest(lead, lead.team_id, clock().date())
    text = DigestRenderer(any_core.funnels, any_core.settings.tz).text(digest, ru)
    assert "Счёт выставлен" in text and "Новый лид" in text  # the old deal keeps its stage name


# --- in the bot --------------------------------------------------------------------------


async def test_a_manager_sees_the_stages_and_who_chooses(harness: Harness) -> None:
    _, anna = await harness.person(Role.MANAGER, team="Урал")
    reply = (await anna.send("/funnel"))[0]
    assert reply.text.startswith("🧭 <b>Продажи B2B</b> — воронка команды «Урал»")
    assert "5. КП отправлено <i>(кп, коммерческое, предложение, оффер, offer, proposal, quote)" in (
        reply.text
    )
    assert "8. Оплата получена ✅" in reply.text and "10. Проиграна ✖" in reply.text
    assert reply.text.endswith(ru("funnel.lead_chooses")) and reply.buttons == []
    replies = await anna.press(reply, cb.pack(cb.FUNNEL_SET, 1, "repeat"))
    assert replies[-1].text == ru("funnel.lead_only")


async def test_a_lead_switches_the_team_and_new_deals_follow(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, team="Урал")
    _, anna = await harness.person(Role.MANAGER, team="Урал")
    shown = (await lead.send("/funnel"))[0]
    assert shown.button_labels() == ["✓ Продажи B2B", "Повторные продажи"]
    chosen = (await lead.click("Повторные продажи"))[-1]
    assert chosen.text.startswith(ru("funnel.chosen", team="Урал", funnel="Повторные продажи"))
    assert "1. Запрос клиента" in chosen.text
    assert chosen.button_labels() == ["Продажи B2B", "✓ Повторные продажи"]
    await anna.send("/new Вектор")
    moved = await anna.send("вектор в счёт")
    assert moved[0].text.split("\n\n")[0] == "<b>Вектор</b>: Запрос клиента → Счёт выставлен"


async def test_an_admin_picks_the_team_first(harness: Harness) -> None:
    await harness.person(Role.LEAD, team="Урал")
    await harness.person(Role.LEAD, team="Сибирь")
    _, admin = await harness.person(Role.ADMIN, language="en")
    asked = (await admin.send("/funnel"))[0]
    assert asked.text == en("funnel.choose_team")
    assert asked.button_labels() == ["Сибирь · B2B sales", "Урал · B2B sales"]
    shown = (await admin.click("Сибирь"))[-1]
    assert shown.text.startswith("🧭 <b>B2B sales</b> — the funnel of team «Сибирь»")
    done = (await admin.click("Repeat sales"))[-1]
    assert done.text.startswith(en("funnel.chosen", team="Сибирь", funnel="Repeat sales"))


async def test_bad_funnel_buttons_get_a_polite_answer(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, team="Урал")
    _, admin = await harness.person(Role.ADMIN)
    shown = (await lead.send("/funnel"))[0]
    team_id = int(shown.buttons[0][0][1].split(":")[1])
    assert (await lead.press(shown, cb.pack(cb.FUNNEL_SET, team_id, "retail")))[-1].text == ru(
        "funnel.unknown", funnel="retail"
    )
    await admin.send("/help")
    pressed = await admin.press(admin.last_reply(), cb.pack(cb.FUNNEL_TEAM, 999))
    assert pressed[-1].text == ru("common.expired_button")
    _, loner = await harness.person(Role.MANAGER, team=None)
    assert (await loner.send("/funnel"))[0].text == ru("funnel.no_team")
