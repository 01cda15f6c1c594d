"""Presses on buttons of a question or builder the person has since left change nothing.

Found by trying the bot with two windows of one person: a line typed after a press on an
older offer builder went into the other deal's offer, and an old «Пропустить» skipped a
later step of /new.
"""

from __future__ import annotations

from bot.common.i18n import catalog
from bot.people.service import Role
from tests.conftest import Harness

ru = catalog("ru")


async def test_a_press_on_another_deals_builder_works_on_that_deals_own_draft(
    harness: Harness,
) -> None:
    _, anna = await harness.person()
    await anna.send("/new Нарцисс")
    await anna.send("/new Тюльпан")
    first = (await anna.send("/offer Нарцисс"))[-1]
    await anna.send("/offer Тюльпан")
    await anna.click("Своя строка")
    await anna.send("Монтаж; шт; 1; 500")
    replies = await anna.click("Своя строка", first)  # the older builder: Нарцисс's draft
    assert replies[-1].text == ru("offer.free_prompt", currency="RUB")
    replies = await anna.send("Услуга X; шт; 2; 1000")
    assert "Нарцисс" in replies[-1].text and "Услуга X" in replies[-1].text
    assert "Монтаж" not in replies[-1].text
    tulip = (await anna.send("/offer Тюльпан"))[-1]  # and Тюльпан's draft is still there
    assert "Монтаж" in tulip.text and "Услуга X" not in tulip.text


async def test_offer_on_the_same_deal_goes_on_with_its_draft(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("/offer Ромашка")
    await anna.click("Своя строка")
    await anna.send("Монтаж; усл.; 1; 5000")
    replies = await anna.send("/offer Ромашка")
    assert "Монтаж" in replies[-1].text


async def test_an_old_skip_does_not_skip_a_later_step(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new")
    asked_client = (await anna.send("Ромашка"))[-1]
    await anna.send("ООО Ромашка, Иван")  # now the amount is asked
    replies = await anna.click("Пропустить", asked_client)
    assert replies[-1].text == ru("common.expired_button")
    replies = await anna.send("150 000")
    assert replies[-1].text == ru("deal.new_next_step")


async def test_skipping_the_lost_comment_says_the_deal_is_lost(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("Ромашка → проиграна")
    await anna.click("Выбрали конкурента")
    replies = await anna.click("Пропустить")
    assert replies[-1].text == ru("deal.lost_no_comment", title="Ромашка")


async def test_an_old_next_stage_button_on_a_closed_deal_shows_the_deal_now(
    harness: Harness,
) -> None:
    _, anna = await harness.person(team="Урал")
    _, lead = await harness.person(Role.LEAD, team="Урал")
    await anna.send("/new Василёк")
    card = (await anna.send("/deals"))[-1]
    card = (await anna.click("Василёк", card))[-1]
    await lead.send("Василёк → проиграна")
    await lead.click("Цена")
    replies = await anna.click("▶", card)
    assert replies[0].text.startswith("Сделка «Василёк» уже изменилась")
