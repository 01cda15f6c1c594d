"""An outsider's first hour with deals (issue 12): amounts, dates, notes, closed deals, losses.

Each test is the session that went wrong, replayed through the real Application offline.
"""

import csv
import io
from decimal import Decimal

from bot.common.i18n import catalog
from bot.deals.cli import deal_transfer
from bot.deals.service import Via
from bot.people.service import Person, Role
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
    assert replies[0].text.startswith("✨ Deal created: <b>Umbrella</b>, $7,500.50.")
    replies = await bob.send("/new Initech, €1.250,00")
    assert "<b>Initech</b>, 1,250\u00a0€." in replies[0].text
    replies = await bob.send("/new Hooli, 1,250")  # a lone separator before three digits
    assert "<b>Hooli</b>, 1,250\u00a0₽." in replies[0].text


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
    assert replies[-1].text.startswith("✅ Mary's plan for 2026-11: 7,500.50\u00a0₽")
    assert replies[-1].text.endswith(", 3 deals.")


async def _won(harness: Harness, person: Person, title: str) -> None:
    deal = await harness.core.deals.create(person, title, amount=Decimal(175500))
    await harness.core.deals.win(person, deal.id, via=Via.BUTTON, expected_version=deal.version)


async def _stages(harness: Harness, person: Person) -> dict[str, tuple[str, str]]:
    refs = await harness.core.deals.refs(person)
    return {ref.title: (ref.stage, ref.status) for ref in refs}


async def test_next_picks_among_open_deals_never_a_won_one(harness: Harness) -> None:
    person, anna = await harness.person()
    await _won(harness, person, "Ромашка ООО")
    await anna.send("/new Ромашка Плюс")
    await anna.send("/new Ромашка Центр")
    before = await _stages(harness, person)
    replies = await anna.send("ромашку дальше")
    assert replies[-1].text == ru("deal.choose_deal")
    assert sorted(replies[-1].button_labels()) == ["Ромашка Плюс", "Ромашка Центр"]
    assert await _stages(harness, person) == before


async def test_a_command_naming_a_closed_deal_says_it_is_closed_and_moves_nothing(
    harness: Harness,
) -> None:
    person, anna = await harness.person()
    await _won(harness, person, "Ромашка ООО")
    await anna.send("/new Ромашка Плюс")
    before = await _stages(harness, person)
    replies = await anna.send("Ромашка ООО дальше")
    assert replies[0].text == ru("deal.closed_command", title="Ромашка ООО", won=True)
    assert "↺ Вернуть в работу" in replies[1].button_labels()  # the card, with the way back
    replies = await anna.send("Ромашка ООО: клиент хочет ещё")
    assert replies[0].text == ru("deal.closed_command", title="Ромашка ООО", won=True)
    assert await _stages(harness, person) == before
    card = (await anna.send("ромашка ооо"))[-1]  # the name alone opens its card, as before
    assert "Ромашка ООО" in card.text and "↺ Вернуть в работу" in card.button_labels()


async def test_a_command_on_a_lost_deal_says_so_in_english(harness: Harness) -> None:
    person, bob = await harness.person(language="en")
    await bob.send("/new Acme")
    await bob.send("acme -> lost")
    await bob.click("Price")
    await bob.click("Skip")
    replies = await bob.send("acme next")
    assert replies[0].text == en("deal.closed_command", title="Acme", won=False)
    assert (await _stages(harness, person))["Acme"][1] == "lost"


async def test_a_formula_with_a_link_is_no_note_on_a_deal(harness: Harness) -> None:
    person, anna = await harness.person()
    await harness.core.deals.create(person, '=HYPERLINK("http://evil","click")')
    replies = await anna.send('=HYPERLINK("http://x","y")')
    assert not replies[-1].text.startswith("📝")
    (ref,) = await harness.core.deals.refs(person)
    assert (await harness.core.deals.card(person, ref.id)).notes == ()


async def test_deal_colon_note_still_works_with_a_link_and_a_time_in_it(harness: Harness) -> None:
    person, bob = await harness.person(language="en")
    await bob.send("/new Acme")
    replies = await bob.send("acme: call at 15:00, see http://acme.example/brief")
    assert replies[-1].text == en("deal.note_saved", title="Acme")
    (ref,) = await harness.core.deals.refs(person)
    notes = (await harness.core.deals.card(person, ref.id)).notes
    assert [note.text for note in notes] == ["call at 15:00, see http://acme.example/brief"]


async def test_a_note_on_a_deal_named_exactly_is_not_taken_for_what_the_client_said(
    harness: Harness,
) -> None:
    person, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("/script холодный звонок")
    step = (await anna.click("Нам ничего не нужно"))[-1]
    await anna.click("Нет подходящего ответа", step)
    replies = await anna.send("рома: сказали, что всё есть")  # no deal named exactly: an answer
    assert replies[-1].text.startswith(ru("kb.gap_saved"))
    await anna.click("Нет подходящего ответа", step)
    replies = await anna.send("ромашка: клиент просит скидку")
    assert replies[-1].text == ru("deal.note_saved", title="Ромашка")
    (ref,) = await harness.core.deals.refs(person)
    card = await harness.core.deals.card(person, ref.id)
    assert [note.text for note in card.notes] == ["клиент просит скидку"]


async def test_the_comment_after_a_loss_is_the_losses_comment(harness: Harness) -> None:
    _person, anna = await harness.person()
    await anna.send("/new Техносила")
    await anna.send("Техносила → проиграна")
    await anna.click("Цена")
    replies = await anna.send("ушли к конкурентам, у них дешевле")
    assert replies[-1].text == ru("deal.lost_comment_saved")
    card = (await anna.send("техносила"))[-1].text
    assert "💬 ушли к конкурентам, у них дешевле" in card and "Последние заметки" not in card
    out = io.StringIO()
    await deal_transfer(harness.core).write_csv(out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["lost_comment"] == "ушли к конкурентам, у них дешевле"
    (deal,) = [deal async for deal in deal_transfer(harness.core).export_deals()]
    assert deal["history"][-1]["comment"] == "ушли к конкурентам, у них дешевле"


async def test_a_comment_for_a_deal_no_longer_lost_is_kept_as_a_note(harness: Harness) -> None:
    """The loss was undone (or reopened by someone) before the comment came: nothing is lost."""
    person, _bob = await harness.person(language="en")
    deal = await harness.core.deals.create(person, "Acme")
    assert await harness.core.deals.comment_loss(person, deal.id, "they went quiet") is None
    card = await harness.core.deals.card(person, deal.id)
    assert [note.text for note in card.notes] == ["they went quiet"] and card.lost_comment is None


async def test_changing_one_part_of_a_plan_keeps_the_other(harness: Harness) -> None:
    """The second check saw «$50,000» typed for a plan of 1,5 млн and 5 deals drop the deals."""
    _, lead = await harness.person(Role.LEAD, name="Лида")
    await harness.person(name="Маша")
    for typed in ("1,5 млн, 5 сделок", "2 млн"):
        await lead.send("/plan")
        await lead.click("Маша")
        replies = await lead.send(typed)
    assert replies[-1].text == "✅ План на 2026-11 — Маша: 2\u00a0000\u00a0000\u00a0₽, 5 сделок."
    await lead.send("/plan")
    await lead.click("Маша")
    replies = await lead.send("7 сделок")
    assert replies[-1].text == "✅ План на 2026-11 — Маша: 2\u00a0000\u00a0000\u00a0₽, 7 сделок."
