"""A deactivated person receives nothing: what was meant for them goes to their lead (or an
admin), said so; their own nudges and follow-ups are dropped. Through the real Application."""

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.deals.telegram.nudges import send_followups, send_nudges
from bot.people.service import Role
from bot.tg.offline import ChatClient
from bot.tg.replies import recipients
from tests.conftest import Harness

ru = catalog("ru")
en = catalog("en")


async def _offer_for_approval(chat: ChatClient) -> None:
    await chat.send("/new Ромашка, 500 000")
    await chat.click("📄 КП")
    await chat.click("➕ Товар")
    await chat.send("VS-PR-2700-3")  # an exact SKU picks its item at once
    await chat.send("10")
    await chat.click("% Скидка")
    await chat.send("11")  # above the manager's 10%: the lead decides
    await chat.click("Предпросмотр")
    await chat.click("Сформировать")


async def _deactivate(admin: ChatClient, name: str) -> None:
    await admin.send("/team")
    await admin.click(name)
    await admin.click("Отключить")
    await admin.click("Да")


async def test_documents_approved_after_deactivation_go_to_the_lead(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _offer_for_approval(anna)
    request = lead.last_reply()
    await _deactivate(admin, "Анна")
    before = len(anna.messages())

    replies = await lead.click("Согласовать", request)

    assert len(anna.messages()) == before  # nothing at all for the deactivated manager
    header = ru("post.for_deactivated", name="Анна")
    (letter,) = [m for m in replies if m.text.startswith(header)]
    assert ru("offer.approved_manager", approver="Лида") in letter.text
    assert "КП-2026-0001" in letter.text
    assert [m.document[0] for m in replies if m.document] == [
        "КП-2026-0001.pdf",
        "КП-2026-0001.docx",
    ]
    assert ru("post.offer_approved_forwarded", name="Анна") in [m.text for m in lead.messages()]
    assert ru("offer.approved_lead", name="Анна") not in [m.text for m in lead.messages()]


async def test_a_rejection_reaches_an_english_lead_in_english(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    _, lead = await harness.person(Role.LEAD, name="Lisa", language="en")
    _, anna = await harness.person(name="Анна")
    await _offer_for_approval(anna)
    request = lead.last_reply()
    await _deactivate(admin, "Анна")
    before = len(anna.messages())

    await lead.click("Reject", request)
    comment = "Too deep a discount"
    replies = await lead.send(comment)

    assert len(anna.messages()) == before
    expected = (
        en("post.for_deactivated", name="Анна")
        + "\n\n"
        + en("offer.rejected_manager", approver="Lisa", title="Ромашка", comment=comment)
    )
    assert expected in [m.text for m in replies]


async def test_without_a_lead_an_admin_gets_what_was_meant(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN, name="Ольга")
    _, anna = await harness.person(name="Анна", team="Урал")  # a team with no lead
    await _offer_for_approval(anna)  # so the admin approves
    request = admin.last_reply()
    await _deactivate(admin, "Анна")
    before = len(anna.messages())

    replies = await admin.click("Согласовать", request)

    assert len(anna.messages()) == before
    assert any(m.text.startswith(ru("post.for_deactivated", name="Анна")) for m in replies)
    assert len([m for m in replies if m.document]) == 2


async def test_an_answer_to_a_deactivated_asker_stays_with_the_lead(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await anna.send("как оформить отпуск за свой счёт")
    await anna.click("Спросить руководителя")
    question = lead.last_reply()
    await _deactivate(admin, "Анна")
    before = len(anna.messages())

    await lead.click("Ответить", question)
    replies = await lead.send("Заявление в кадры через портал.")

    assert len(anna.messages()) == before
    assert replies[0].text.startswith(ru("post.for_deactivated", name="Анна"))
    assert replies[0].text.endswith("Заявление в кадры через портал.")
    assert replies[-1].text == ru("post.answer_forwarded", name="Анна")


async def test_own_nudges_and_followups_are_dropped_not_forwarded(
    harness: Harness, clock: FrozenClock
) -> None:
    _, admin = await harness.person(Role.ADMIN)
    lead_person, lead = await harness.person(Role.LEAD, name="Лида")
    anna_person, anna = await harness.person(name="Анна")
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    await anna.send("звонок через 2 часа")
    await _deactivate(admin, "Анна")
    before_anna, before_lead = len(anna.messages()), len(lead.messages())

    clock.advance(days=4)
    assert await send_nudges(harness.app) == 0
    assert await send_followups(harness.app) == 0

    assert (len(anna.messages()), len(lead.messages())) == (before_anna, before_lead)
    # The rule itself: personal messages for her reach nobody, others reach the lead.
    assert await recipients(harness.core, anna_person.telegram_id, personal=True) == []
    (forward,) = await recipients(harness.core, anna_person.telegram_id)
    assert (forward.telegram_id, forward.instead_of) == (lead_person.telegram_id, "Анна")


async def test_a_deactivated_person_is_refused_even_on_an_old_button(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN)
    _, anna = await harness.person(name="Анна", language="en")
    card = (await anna.send("/new Ромашка"))[-1]
    await _deactivate(admin, "Анна")
    refusal = en("common.refusal", company="Вектор Склад")

    assert [m.text for m in await anna.send("ромашка дальше")] == [refusal]
    await anna.press(card, card.buttons[0][0][1])
    (answer,) = harness.request.calls_of("answerCallbackQuery")[-1:]
    assert answer.params["text"] == refusal[:200]
