"""Keyboards built from the data stay within Telegram's limits: long lists page with ◀ n/m ▶.

Found with 110 teams: the admin's /invite team step, /stats, /funnel and «Сменить команду»
each sent a keyboard of more than 100 buttons, which Telegram refuses, so the screen never
opened. Here every such screen is opened with 150 teams and 150 people, paged to its last
item and back, and an item on page 2 is chosen; every keyboard the bot sent on the way is
checked against Telegram's limits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.common.clock import FrozenClock
from bot.common.errors import InvalidFile
from bot.common.i18n import catalog
from bot.container import build_core
from bot.deals.funnel import parse_funnels
from bot.people.service import Person, Role
from bot.tg.offline import BotMessage, ChatClient, OfflineRequest
from bot.tg.paging import NEXT, PAGE_SIZE, PREVIOUS
from tests.conftest import Harness, make_settings

ru = catalog("ru")

TEAMS = [f"Команда {number:03}" for number in range(1, 151)]
PEOPLE = [f"Менеджер {number:03}" for number in range(1, 151)]
MAX_BUTTONS = 100
MAX_DATA_BYTES = 64


def keyboards(request: OfflineRequest) -> Iterator[list[list[dict[str, Any]]]]:
    for call in request.calls:
        markup = call.params.get("reply_markup")
        if markup is None:
            continue
        rows = (json.loads(markup) if isinstance(markup, str) else markup).get("inline_keyboard")
        if rows:
            yield rows


def assert_within_telegram_limits(request: OfflineRequest) -> None:
    """Every keyboard sent so far: at most 100 buttons, callback data of at most 64 bytes."""
    sent = list(keyboards(request))
    assert sent, "no keyboard was sent at all"
    for rows in sent:
        buttons = [button for row in rows for button in row]
        assert len(buttons) <= MAX_BUTTONS
        for button in buttons:
            assert len(button["callback_data"].encode()) <= MAX_DATA_BYTES, button


def items_on(message: BotMessage, items: list[str]) -> list[str]:
    """The labels of `message` that are items of the list (a label may add « · more»)."""
    found = []
    for label in message.button_labels():
        found += [item for item in items if label == item or label.startswith(f"{item} · ")]
    return found


async def page_to_the_end_and_back(
    client: ChatClient, message: BotMessage, items: list[str]
) -> None:
    """▶ to the last page, every item once and in order, then ◀ back to the first page."""
    indicators = [label for label in message.button_labels() if label.startswith("1/")]
    assert len(indicators) == 1, f"no page indicator in {message.button_labels()}"
    pages = int(indicators[0].removeprefix("1/"))
    assert pages >= -(-len(items) // PAGE_SIZE)
    first_page = message.button_labels()
    seen = items_on(message, items)
    while NEXT in message.button_labels():
        message = (await client.click(NEXT, message))[-1]
        seen += items_on(message, items)
    assert seen == items  # the last item included
    assert f"{pages}/{pages}" in message.button_labels()
    for _ in range(pages - 1):
        message = (await client.click(PREVIOUS, message))[-1]
    assert message.button_labels() == first_page
    assert PREVIOUS not in first_page


async def page_two(client: ChatClient, message: BotMessage) -> BotMessage:
    return (await client.click(NEXT, message))[-1]


@pytest.fixture
async def crowd(harness: Harness) -> tuple[Person, ChatClient, list[Person]]:
    """An admin, 150 teams and 150 managers (all in the first team)."""
    for name in TEAMS:
        await harness.core.people.create_team(None, name)
    admin, chat = await harness.person(Role.ADMIN, name="Ольга")
    people = [(await harness.person(team=TEAMS[0], name=name))[0] for name in PEOPLE]
    return admin, chat, people


async def test_the_invite_team_step_pages(harness: Harness, crowd: Any) -> None:
    _, admin, _ = crowd
    await admin.send("/invite")
    step = (await admin.click("менеджер"))[-1]
    assert "➕ Новая команда" in step.button_labels()
    await page_to_the_end_and_back(admin, step, TEAMS)
    second = await page_two(admin, step)
    assert "➕ Новая команда" in second.button_labels()
    link = (await admin.click(TEAMS[PAGE_SIZE + 3], second))[-1]
    assert f"менеджер, команда «{TEAMS[PAGE_SIZE + 3]}»" in link.text
    assert_within_telegram_limits(harness.request)


async def test_stats_teams_page(harness: Harness, crowd: Any) -> None:
    _, admin, _ = crowd
    choice = (await admin.send("/stats week"))[-1]
    assert choice.text == ru("stats.choose_team")
    await page_to_the_end_and_back(admin, choice, TEAMS)
    second = await page_two(admin, choice)
    figures = (await admin.click(TEAMS[PAGE_SIZE], second))[-1]
    assert TEAMS[PAGE_SIZE] in figures.text
    assert_within_telegram_limits(harness.request)


async def test_funnel_teams_page(harness: Harness, crowd: Any) -> None:
    _, admin, _ = crowd
    choice = (await admin.send("/funnel"))[-1]
    assert choice.text == ru("funnel.choose_team")
    await page_to_the_end_and_back(admin, choice, TEAMS)
    second = await page_two(admin, choice)
    team = (await admin.click(TEAMS[PAGE_SIZE + 9], second))[-1]
    assert TEAMS[PAGE_SIZE + 9] in team.text and "Новый лид" in team.text
    assert_within_telegram_limits(harness.request)


async def test_change_team_pages(harness: Harness, crowd: Any) -> None:
    _, admin, _ = crowd
    await admin.send("/team")
    await admin.click(PEOPLE[0])
    choice = (await admin.click("Сменить команду"))[-1]
    await page_to_the_end_and_back(admin, choice, TEAMS)
    second = await page_two(admin, choice)
    assert "← Назад" in second.button_labels()
    moved = (await admin.click(TEAMS[PAGE_SIZE + 1], second))[-1]
    assert f"теперь в команде «{TEAMS[PAGE_SIZE + 1]}»" in moved.text
    assert_within_telegram_limits(harness.request)


async def test_the_roster_pages_with_its_people(harness: Harness, crowd: Any) -> None:
    _, admin, _ = crowd
    roster = (await admin.send("/team"))[-1]
    everyone = sorted(PEOPLE)  # the admin has no button of their own
    await page_to_the_end_and_back(admin, roster, everyone)
    second = await page_two(admin, roster)
    assert everyone[PAGE_SIZE] in second.text and everyone[0] not in second.text
    assert len(second.text) <= 4096
    card = (await admin.click(everyone[PAGE_SIZE + 2], second))[-1]
    assert card.text.startswith(f"<b>{everyone[PAGE_SIZE + 2]}</b>")
    assert_within_telegram_limits(harness.request)


async def test_the_plan_managers_page(harness: Harness, crowd: Any) -> None:
    _, admin, _ = crowd
    choice = (await admin.send("/plan"))[-1]
    await page_to_the_end_and_back(admin, choice, PEOPLE)
    second = await page_two(admin, choice)
    prompt = (await admin.click(PEOPLE[PAGE_SIZE + 4], second))[-1]
    assert PEOPLE[PAGE_SIZE + 4] in prompt.text
    assert_within_telegram_limits(harness.request)


async def test_the_deals_owner_filter_pages(harness: Harness, crowd: Any) -> None:
    _, admin, people = crowd
    owner = people[PAGE_SIZE + 2]
    await harness.client(owner.telegram_id, name=owner.name).send("/new Ромашка")
    await admin.send("/deals")
    choice = (await admin.click("По менеджеру"))[-1]
    owners = sorted([*PEOPLE, "Ольга"])
    await page_to_the_end_and_back(admin, choice, owners)
    second = await page_two(admin, choice)
    assert "Все" in second.button_labels()
    filtered = (await admin.click(owner.name, second))[-1]
    assert filtered.text.startswith(f"<b>Открытые сделки</b> (1) — {owner.name}")
    assert_within_telegram_limits(harness.request)


async def test_reassigning_a_deal_pages_the_people(harness: Harness, crowd: Any) -> None:
    _, admin, people = crowd
    owner = harness.client(people[0].telegram_id, name=people[0].name)
    await owner.send("/new Ромашка")
    await admin.send("/deals")
    await admin.click("Ромашка")
    choice = (await admin.click("Передать"))[-1]
    others = PEOPLE[1:]
    await page_to_the_end_and_back(admin, choice, others)
    second = await page_two(admin, choice)
    done = (await admin.click(others[PAGE_SIZE + 5], second))[-1]
    assert others[PAGE_SIZE + 5] in done.text
    assert_within_telegram_limits(harness.request)


def funnel_file(path: Path, stages: int, reasons: int, funnels: int = 0) -> Path:
    """A funnel of many stages and lost reasons, and `funnels` more short ones."""
    short = [
        {
            "key": f"short-{n:02}",
            "name": f"Воронка {n:02}",
            "stages": [
                {"key": "new", "name": "Новая"},
                {"key": "won", "name": "Выиграна", "won": True},
                {"key": "lost", "name": "Проиграна", "lost": True},
            ],
        }
        for n in range(funnels)
    ]
    spec = {
        "funnels": [
            {
                "key": "long",
                "name": "Длинная",
                "default": True,
                "stages": [
                    {"key": f"stage-{n:02}", "name": f"Этап {n:02}"} for n in range(1, stages)
                ]
                + [{"key": "won", "name": "Выиграна", "won": True}]
                + [{"key": "lost", "name": "Проиграна", "lost": True}],
            },
            *short,
        ],
        "lost_reasons": [
            {"key": f"reason-{n:02}", "name": f"Причина {n:02}"} for n in range(reasons)
        ],
    }
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


async def test_stages_and_lost_reasons_page(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    funnels = funnel_file(tmp_path / "funnel.yaml", stages=150, reasons=150)
    core = build_core(make_settings(tmp_path, sqlite_url, funnel_file=funnels), clock=clock)
    harness = Harness(core)
    await harness.app.initialize()
    try:
        _, anna = await harness.person()
        await anna.send("/new Ромашка")
        card = anna.last_reply()
        picker = (await anna.click("🔀 Этап", card))[-1]
        stages = [f"Этап {n:02}" for n in range(2, 150)] + ["Выиграна", "Проиграна"]
        await page_to_the_end_and_back(anna, picker, stages)
        second = await page_two(anna, picker)
        moved = (await anna.click(stages[PAGE_SIZE + 1], second))[-1]
        assert stages[PAGE_SIZE + 1] in moved.text
        await anna.send("/deals")
        await anna.click("Ромашка")
        reasons = (await anna.click("✖ Проиграна"))[-1]
        names = [f"Причина {n:02}" for n in range(150)]
        await page_to_the_end_and_back(anna, reasons, names)
        lost = (await anna.click(names[PAGE_SIZE], await page_two(anna, reasons)))[-1]
        assert f"закрыта как проигранная: {names[PAGE_SIZE]}" in lost.text
        assert_within_telegram_limits(harness.request)
    finally:
        await harness.app.shutdown()
        await core.close()


async def test_a_page_past_the_end_shows_the_last_page(harness: Harness, crowd: Any) -> None:
    _, admin, _ = crowd
    await admin.send("/invite")
    step = (await admin.click("менеджер"))[-1]
    last = (await admin.press(step, "ir:manager:999999"))[-1]
    assert "15/15" in last.button_labels() and TEAMS[-1] in last.button_labels()


@pytest.mark.parametrize("page", ["x", "-1", "1e3", "٣", "9" * 40])
async def test_a_malformed_page_is_an_expired_button(
    harness: Harness, crowd: Any, page: str
) -> None:
    _, admin, _ = crowd
    await admin.send("/invite")
    step = (await admin.click("менеджер"))[-1]
    replies = await admin.press(step, f"ir:manager:{page}")
    assert replies[-1].text == ru("common.expired_button")


async def test_the_knowledge_base_and_scripts_page(harness: Harness) -> None:
    person, anna = await harness.person()
    knowledge = harness.core.knowledge
    objections = [entry.title[:60] for entry in knowledge.entries(person, "objection")]
    scripts = [entry.title[:60] for entry in knowledge.entries(person, "script")]
    assert len(objections) > PAGE_SIZE and len(scripts) > PAGE_SIZE  # the shipped content
    await anna.send("/kb")
    await anna.click("Возражения")
    everything = (await anna.click("Все"))[-1]
    await page_to_the_end_and_back(anna, everything, objections)
    entry = (await anna.click(objections[PAGE_SIZE], await page_two(anna, everything)))[-1]
    assert entry.text.startswith(f"<b>{objections[PAGE_SIZE]}")
    listing = (await anna.send("/script"))[-1]
    await page_to_the_end_and_back(anna, listing, scripts)
    assert_within_telegram_limits(harness.request)


async def test_the_funnels_to_choose_from_page(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    funnels = funnel_file(tmp_path / "funnel.yaml", stages=3, reasons=2, funnels=30)
    core = build_core(make_settings(tmp_path, sqlite_url, funnel_file=funnels), clock=clock)
    harness = Harness(core)
    await harness.app.initialize()
    try:
        _, lead = await harness.person(Role.LEAD, team="Урал")
        screen = (await lead.send("/funnel"))[-1]
        names = ["✓ Длинная"] + [f"Воронка {n:02}" for n in range(30)]
        await page_to_the_end_and_back(lead, screen, names)
        chosen = (await lead.click(names[PAGE_SIZE + 2], await page_two(lead, screen)))[-1]
        assert chosen.text.startswith(ru("funnel.chosen", team="Урал", funnel=names[PAGE_SIZE + 2]))
        assert f"✓ {names[PAGE_SIZE + 2]}" in chosen.button_labels()  # its page, marked
        assert_within_telegram_limits(harness.request)
    finally:
        await harness.app.shutdown()
        await core.close()


async def test_a_page_of_stages_for_a_deal_that_moved_since_shows_it_now(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    funnels = funnel_file(tmp_path / "funnel.yaml", stages=40, reasons=2)
    core = build_core(make_settings(tmp_path, sqlite_url, funnel_file=funnels), clock=clock)
    harness = Harness(core)
    await harness.app.initialize()
    try:
        _, anna = await harness.person()
        await anna.send("/new Ромашка")
        picker = (await anna.click("🔀 Этап", anna.last_reply()))[-1]
        await anna.send("/deals")
        card = (await anna.click("Ромашка"))[-1]
        await anna.click("▶ Этап 02", card)
        replies = await anna.click(NEXT, picker)
        assert replies[0].text == ru("deal.changed", title="Ромашка")
        assert "Этап 02" in replies[-1].text
    finally:
        await harness.app.shutdown()
        await core.close()


@pytest.mark.parametrize(
    "sku",
    ["СТЕЛЛАЖ-ПАЛЛЕТНЫЙ-ФРОНТАЛЬНЫЙ-2700", "VS:PR:2700", "VS-PR-" + "9" * 60],
    ids=["cyrillic", "colons", "long"],
)
async def test_a_product_with_a_long_or_odd_sku_is_chosen_by_its_button(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock, sku: str
) -> None:
    catalog = tmp_path / "catalog.yaml"
    item = {"sku": sku, "name": "Стеллаж паллетный", "unit": "секция", "price": "38900.00"}
    catalog.write_text(yaml.safe_dump({"currency": "RUB", "items": [item]}, allow_unicode=True))
    core = build_core(make_settings(tmp_path, sqlite_url, catalog_file=catalog), clock=clock)
    harness = Harness(core)
    await harness.app.initialize()
    try:
        _, anna = await harness.person()
        await anna.send("/new Ромашка")
        await anna.send("/offer Ромашка")
        await anna.click("➕ Товар")
        found = (await anna.send("стеллаж паллетный"))[-1]
        prompt = (await anna.click("Стеллаж паллетный", found))[-1]
        assert prompt.text.startswith("Стеллаж паллетный — ")
        assert_within_telegram_limits(harness.request)
    finally:
        await harness.app.shutdown()
        await core.close()


def test_a_funnel_key_too_long_for_button_data_is_refused_naming_it() -> None:
    stages = [
        {"key": "k" * 31, "name": "A"},
        {"key": "won", "name": "W", "won": True},
        {"key": "lost", "name": "L", "lost": True},
    ]
    with pytest.raises(InvalidFile) as error:
        parse_funnels({"funnels": [{"key": "x", "name": "X", "stages": stages}]})
    assert [str(problem) for problem in error.value.problems] == [
        f"funnel 'x', stage '{'k' * 31}', field 'key': at most 30 characters"
    ]
