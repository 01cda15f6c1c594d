"""Forged button data reveals nothing.

Found by pressing buttons with guessed ids: about twenty kinds of button answered
«Сделка «<title>» не ваша» for any deal id, and ids are sequential, so anyone could list
every team's deal titles; `pf:<person id>` named any person. Now, for every button the bot
registers, a press with another team's id gets exactly the answer a press with an id of
nothing gets, and neither names anything of the other team.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.common.i18n import catalog
from bot.tg.offline import ApiCall
from tests import telegram_rules
from tests.conftest import Harness
from tests.forgery import FOREIGN_WORDS, LAYOUTS, build_world, deal_versions, registered_prefixes

ru = catalog("ru")


def _seen(calls: list[ApiCall]) -> list[tuple[str, str]]:
    """What the presser was shown, without the ids Telegram gives each message."""
    shown = []
    for call in calls:
        params: dict[str, Any] = {
            key: value
            for key, value in call.params.items()
            if key not in ("chat_id", "message_id", "callback_query_id")
        }
        shown.append((call.method, json.dumps(params, ensure_ascii=False, sort_keys=True)))
    return shown


async def _press(harness: Harness, key: str, data: str, world: Any) -> list[ApiCall]:
    chat = world.chats[key]
    message = (await chat.send("/help"))[-1]
    before = len(harness.request.calls)
    await chat.press(message, data)
    return harness.request.calls[before:]


def test_every_registered_button_has_a_layout(harness: Harness) -> None:
    prefixes = registered_prefixes(harness)
    assert len(prefixes) >= 50
    assert sorted(set(prefixes) - set(LAYOUTS)) == []


@pytest.mark.parametrize("presser", ["anna", "north_lead"])
async def test_a_press_with_another_teams_id_looks_like_one_with_no_id(
    harness: Harness, presser: str
) -> None:
    """A manager (and a lead, who may see more) of «Север» presses «Юг»'s ids."""
    world = await build_world(harness)
    versions = await deal_versions(world)
    differing, leaking, invalid = [], [], []
    for prefix in registered_prefixes(harness):
        for layout in LAYOUTS[prefix]:
            foreign = world.data(prefix, layout, world.foreign)
            nowhere = world.data(prefix, layout, None)
            seen_foreign = await _press(harness, presser, foreign, world)
            seen_nowhere = await _press(harness, presser, nowhere, world)
            if _seen(seen_foreign) != _seen(seen_nowhere):
                differing.append((foreign, _seen(seen_foreign), _seen(seen_nowhere)))
            shown = json.dumps([call.params for call in seen_foreign], ensure_ascii=False)
            named = [word for word in FOREIGN_WORDS if word in shown]
            if named:
                leaking.append((foreign, named))
            if not seen_foreign:
                invalid.append((foreign, "no answer at all"))
            invalid += [(foreign, p) for c in seen_foreign for p in telegram_rules.problems(c)]
    assert differing == []
    assert leaking == []
    assert invalid == []
    assert await deal_versions(world) == versions  # and nothing changed


async def test_a_refused_press_says_the_button_is_no_longer_available(harness: Harness) -> None:
    world = await build_world(harness)
    anna, lead = world.chats["anna"], world.chats["north_lead"]
    deal, person = world.foreign["deal"], world.foreign["person"]
    for chat, data in (
        (anna, f"dv:{deal}"),
        (anna, f"dn:{deal}:{world.foreign['v']}"),
        (anna, f"du:{world.foreign['transition']}"),
        (lead, f"tp:{person}"),
        (lead, f"pf:{person}"),
        (lead, f"kq:{world.foreign['question']}"),
        (lead, f"oy:{world.foreign['offer']}"),
        (lead, f"dg:{world.own['deal']}:{person}"),  # give one's own deal to «Юг»'s manager
    ):
        message = (await chat.send("/help"))[-1]
        replies = await chat.press(message, data)
        assert [reply.text for reply in replies] == [ru("common.expired_button")], data


async def test_the_same_buttons_still_work_in_ones_own_team(harness: Harness) -> None:
    world = await build_world(harness)
    lead = world.chats["north_lead"]
    message = (await lead.send("/help"))[-1]
    card = await lead.press(message, f"dv:{world.own['deal']}")
    assert card[-1].text.startswith("<b>Ромашка</b>")
    plan = await lead.press(message, f"pf:{world.own['person']}")
    assert plan[-1].text == ru("plan.prompt", name="Вера Северная", month="2026-11")


async def test_a_refusal_about_ones_own_offer_is_still_said_as_such(harness: Harness) -> None:
    """Only what lies outside one's scope is told as a stale button: here the files of
    one's own offer are gone from the server, and that is what the person is told."""
    world = await build_world(harness)
    boris = world.chats["boris"]
    for path in (harness.core.settings.data_dir / "offers").glob("*.pdf"):
        path.unlink()
    message = (await boris.send("/help"))[-1]
    replies = await boris.press(message, f"ol:{world.foreign['issued']}")
    assert [reply.text for reply in replies] == [ru("offer.files_gone")]
