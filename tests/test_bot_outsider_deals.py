"""An outsider's first hour with deals (issue 12): amounts, dates, notes, closed deals, losses.

Each test is the session that went wrong, replayed through the real Application offline.
"""

from bot.common.i18n import catalog
from bot.people.service import Role
from tests.conftest import Harness

ru = catalog("ru")
en = catalog("en")


async def test_abbreviated_next_week_words_are_read_as_the_words_they_stand_for(
    harness: Harness,
) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    replies = await anna.send("в след. вторник демо")
    assert replies[-1].text == "📅 Ромашка: демо — вт 01.12 10:00"
    await anna.send("ромашка дальше")
    replies = await anna.send("на след. неделе презентация")
    assert replies[-1].text == "📅 Ромашка: презентация — пн 07.12 10:00"
    await anna.send("ромашка дальше")
    replies = await anna.send("в эту пятницу созвон")
    assert replies[-1].text == "📅 Ромашка: созвон — пт 04.12 10:00"


async def test_an_unreadable_abbreviation_is_still_asked_again(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    replies = await anna.send("след. демо")
    assert replies[-1].text == f"{ru('next_step.not_understood')}\n{ru('common.leave_hint')}"


async def test_an_amount_typed_after_the_title_without_a_comma_is_the_amount(
    harness: Harness,
) -> None:
    _, anna = await harness.person()
    replies = await anna.send("/new Техносила 300к")
    assert replies[0].text.startswith("✨ Сделка создана: <b>Техносила</b>, 300\u00a0000\u00a0₽")
    replies = await anna.send("/new Склад 5")  # a number that does not say it is money
    assert replies[0].text.startswith("✨ Сделка создана: <b>Склад 5</b>. ")
    replies = await anna.send("/new Фиалка 7 500,50 ₽")
    assert replies[0].text.startswith("✨ Сделка создана: <b>Фиалка</b>, 7\u00a0500,50\u00a0₽")


async def test_amounts_with_both_separators_read_in_english_and_in_russian(
    harness: Harness,
) -> None:
    _, bob = await harness.person(language="en")
    replies = await bob.send("/new Umbrella, $7,500.50")
    assert replies[0].text.startswith("✨ Deal created: <b>Umbrella</b>, $7\u00a0500,50.")
    replies = await bob.send("/new Initech, €1.250,00")
    assert "<b>Initech</b>, 1\u00a0250\u00a0€." in replies[0].text
    replies = await bob.send("/new Hooli, 1,250")  # a lone separator before three digits
    assert "<b>Hooli</b>, 1\u00a0250\u00a0₽." in replies[0].text


async def test_an_amount_that_is_no_number_is_refused_and_nothing_is_created(
    harness: Harness,
) -> None:
    bob_person, bob = await harness.person(language="en")
    replies = await bob.send("/new Umbrella, 1,25,000")
    assert [r.text for r in replies] == [en("amount.invalid", value="1,25,000")]
    replies = await bob.send("/new Umbrella 0k")
    assert [r.text for r in replies] == [en("amount.not_positive", value="0k")]
    assert await harness.core.deals.refs(bob_person) == []


async def test_a_plan_joined_by_and_is_understood(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    await harness.person(name="Маша")
    await lead.send("/plan")
    await lead.click("Маша")
    replies = await lead.send("2 млн и 5 сделок")
    assert replies[-1].text.startswith("✅ План на 2026-11 — Маша: 2\u00a0000\u00a0000\u00a0₽, 5")
    await lead.send("/plan")
    await lead.click("Маша")
    replies = await lead.send("и так сойдёт")
    assert replies[-1].text.startswith(ru("plan.bad"))


async def test_an_english_plan_joined_by_and_is_understood(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Lee", language="en")
    await harness.person(name="Mary", language="en")
    await lead.send("/plan")
    await lead.click("Mary")
    replies = await lead.send("7,500.50 and 3 deals")  # the plan's currency is the team's
    assert replies[-1].text.startswith("✅ Mary's plan for 2026-11: 7\u00a0500,50")
    assert replies[-1].text.endswith(", 3 deals.")
