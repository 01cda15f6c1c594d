"""What an outsider's hour with offers found (issue 12): offers for lost deals, a «$» in a
custom line, a pending offer that /offer did not mention, a rejection that lost the lines,
names cut mid-phrase, a deactivated approver still named. Each as the team's session."""

from __future__ import annotations

from bot.common.i18n import catalog
from bot.people.service import Role
from bot.tg.offline import BotMessage, ChatClient
from tests.conftest import Harness

ru, en = catalog("ru"), catalog("en")
NBSP = "\u00a0"
HINT = ru("common.leave_hint")


async def _submit_above_limit(chat: ChatClient, title: str, button: str = "📄 КП") -> None:
    """An offer at 11% on a line (the manager may give 10%, the item allows 12%), with its
    own payment terms, sent for approval."""
    await chat.send(f"/new {title}, 500 000")
    await chat.click(button)
    await chat.click("➕")
    await chat.send("VS-PR-2700-3")
    await chat.send("10 11%")
    await chat.click("💳")
    await chat.send("50% предоплата, остальное по факту")
    await chat.click("👁")
    await chat.click("✅")


async def _lose(chat: ChatClient, title: str) -> None:
    await chat.send(f"{title} → проиграна")
    await chat.click("Цена")


async def _deactivate(admin: ChatClient, name: str) -> None:
    await admin.send("/team")
    await admin.click(name)
    await admin.click("Отключить")
    await admin.click("Да")


def _texts(messages: list[BotMessage]) -> list[str]:
    return [message.text for message in messages]


# --- (4) no offer for a lost deal -------------------------------------------------------------


async def test_approving_an_offer_whose_deal_was_lost_meanwhile_withdraws_it(
    harness: Harness,
) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    person, anna = await harness.person(name="Анна")
    await _submit_above_limit(anna, "Лям")
    request = lead.last_reply()
    approve = request.buttons[0][0][1]
    await _lose(anna, "Лям")
    before = len(anna.messages())

    answer = await lead.click("Согласовать", request)

    assert _texts(answer) == [ru("offer.withdrawn_lost_lead", title="Лям", name="Анна")]
    told = anna.messages()[before:]
    assert _texts(told) == [ru("offer.withdrawn_lost_manager", title="Лям", approver="Лида")]
    assert told[0].button_labels() == ["✏️ Изменить"]
    assert not any(message.document for message in anna.messages())  # no PDF, no DOCX
    (deal,) = await harness.core.deals.refs(person)
    (offer,) = await harness.core.offers.for_deal(person, deal.id)
    assert (offer.status, offer.number) == ("withdrawn", None)
    assert (await lead.send("/approvals"))[-1].text == ru("offer.approvals_none")
    again = await lead.press(request, approve)  # the old ✅ once more
    assert _texts(again) == [ru("offer.withdrawn_already", name="Анна")]
    # «✏️ Изменить» on a lost deal: refused with the way back
    assert _texts(await anna.click("✏️ Изменить", told[0])) == [ru("offer.deal_lost", title="Лям")]


async def test_offer_on_a_lost_deal_is_refused_with_how_to_reopen_it(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    await anna.send("/new Лям, 500 000")
    card = anna.last_reply()  # the card as it was while the deal was open
    await _lose(anna, "Лям")
    refusal = ru("offer.deal_lost", title="Лям")
    assert _texts(await anna.send("/offer лям")) == [refusal]
    assert _texts(await anna.click("📄 КП", card)) == [refusal]  # the old card's button
    assert "↺ Вернуть в работу" in refusal and "/deals lost" in refusal
    await anna.send("Лям")  # a closed deal's exact name opens its card
    await anna.click("Вернуть в работу")
    await anna.click("Переговоры")  # back in work: the builder opens again
    assert (await anna.send("/offer лям"))[-1].text.startswith("📄 <b>КП для «Лям»</b>")


async def test_an_english_manager_is_refused_in_english(harness: Harness) -> None:
    _, mary = await harness.person(name="Mary", language="en")
    await mary.send("/new Initech, 10 000")
    await mary.send("Initech → lost")
    await mary.click("Price")
    refusal = (await mary.send("/offer initech"))[-1]
    assert refusal.text == en("offer.deal_lost", title="Initech")
    assert refusal.text.startswith('"Initech" is lost, so I don\'t make offers for it.')


async def test_a_won_deal_still_gets_its_documents_and_keeps_its_stage(harness: Harness) -> None:
    person, anna = await harness.person(name="Анна")
    await anna.send("/new Ромашка, 50 000")
    await anna.send("ромашка выиграна")
    await anna.click("Да, выиграна")
    builder = (await anna.send("/offer ромашка"))[-1]
    assert builder.text.startswith(ru("offer.deal_won", title="Ромашка") + "\n📄 <b>КП для")
    await anna.click("Своя строка")
    await anna.send("Монтаж; услуга; 1; 50000")
    await anna.click("Предпросмотр")
    issued = await anna.click("Сформировать")
    assert issued[0].text.startswith("✅ <b>КП-2026-0001</b> готово")
    (deal,) = await harness.core.deals.refs(person)
    card = await harness.core.deals.card(person, deal.id)
    assert card.status == "won"


# --- (11) a pending offer is told; a rejected one comes back with its lines ---------------------


async def test_offer_on_a_deal_with_a_pending_offer_says_who_decides_and_withdraws_to_edit(
    harness: Harness,
) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _submit_above_limit(anna, "Фиалка")
    request = lead.last_reply()

    notice = (await anna.send("/offer фиалка"))[-1]

    assert notice.text.startswith("КП для «Фиалка» на ")
    assert "уже ждёт согласования — решает Лида. Можно подождать" in notice.text
    assert notice.button_labels() == ["✏️ Отозвать и изменить"]
    assert (await anna.click("📄 КП", await _card(anna, "Фиалка")))[-1].text == notice.text
    builder = (await anna.click("Отозвать и изменить", notice))[-1]
    assert builder.text.startswith(ru("offer.withdrawn"))
    assert "1. Стеллаж паллетный фронтальный" in builder.text and "−11%" in builder.text
    await anna.click("👁")
    preview = anna.last_reply()
    assert "Оплата: 50% предоплата, остальное по факту" in preview.text
    assert _texts(await lead.click("Согласовать", request)) == [
        ru("offer.withdrawn_already", name="Анна")
    ]
    assert (await lead.send("/approvals"))[-1].text == ru("offer.approvals_none")


async def _card(chat: ChatClient, title: str) -> BotMessage:
    await chat.send("/deals")
    return (await chat.click(title))[-1]


async def test_a_rejection_has_edit_which_brings_back_the_lines_discount_and_terms(
    harness: Harness,
) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _submit_above_limit(anna, "Фиалка")
    await lead.click("Отклонить", lead.last_reply())
    await lead.send("Измените скидку и сформируйте заново")
    rejection = anna.last_reply()
    assert rejection.text.startswith("✖ Лида отклонил(а) КП для «Фиалка»")
    assert rejection.button_labels() == ["✏️ Изменить"]

    builder = (await anna.click("✏️ Изменить", rejection))[-1]

    assert builder.text.startswith(ru("offer.reopened") + "\n📄 <b>КП для «Фиалка»</b>")
    assert "−11%" in builder.text
    await anna.click("🗑")
    await anna.click("1. Стеллаж")
    await anna.click("➕")
    await anna.send("VS-PR-2700-3")
    await anna.send("10 10%")  # within the manager's own limit now
    await anna.click("👁")
    assert "50% предоплата" in anna.last_reply().text
    issued = await anna.click("✅ Сформировать")
    assert issued[0].text.startswith("✅ <b>КП-2026-0001</b> готово")
    # the same button again: the rejected offer's lines come back once more, nothing issued twice
    again = (await anna.click("✏️ Изменить", rejection))[-1]
    assert "−11%" in again.text


async def test_rejection_and_pending_in_english(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Lida", language="en")
    _, bob = await harness.person(name="Bob", language="en")
    await bob.send("/new Acme, 500 000")
    await bob.click("📄 Offer")
    await bob.click("➕")
    await bob.send("VS-PR-2700-3")
    await bob.send("10 11%")
    await bob.click("👁")
    await bob.click("✅")
    notice = (await bob.send("/offer acme"))[-1]
    assert "is already waiting for approval by Lida. You can wait" in notice.text
    assert notice.button_labels() == ["✏️ Withdraw and edit"]
    await lead.click("Reject", lead.last_reply())
    await lead.click("Skip")
    rejection = bob.last_reply()
    assert rejection.button_labels() == ["✏️ Edit"]
    builder = (await bob.click("Edit", rejection))[-1]
    assert builder.text.startswith(en("offer.reopened")) and "−11%" in builder.text


async def test_only_the_author_may_withdraw_or_edit(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    _, vera = await harness.person(name="Вера")
    await _submit_above_limit(anna, "Фиалка")
    notice = (await anna.send("/offer фиалка"))[-1]
    withdraw = notice.buttons[0][0][1]
    for other in (vera, lead):  # another manager of the team, the lead: not theirs to take back
        own = (await other.send("/help"))[-1]
        assert _texts(await other.press(own, withdraw)) == [ru("common.expired_button")]
    assert _texts(await anna.press(notice, withdraw.replace("oq", "oe"))) == [
        ru("offer.not_rejected")
    ]
    await anna.press(notice, withdraw)
    assert _texts(await anna.press(notice, withdraw)) == [ru("offer.already_decided")]


# --- (16h) the approvers named are the active ones ----------------------------------------------


async def test_after_the_lead_is_deactivated_the_pending_notice_names_who_decides_now(
    harness: Harness,
) -> None:
    _, olga = await harness.person(Role.ADMIN, name="Ольга")
    await harness.person(Role.LEAD, name="Лида Смирнова")
    _, anna = await harness.person(name="Анна")
    await _submit_above_limit(anna, "Фиалка")
    assert "на согласование: Лида Смирнова." in anna.last_reply().text
    await _deactivate(olga, "Лида Смирнова")

    notice = (await anna.send("/offer фиалка"))[-1]

    assert "решает Ольга." in notice.text and "Лида" not in notice.text
    await _submit_above_limit(anna, "Кедр")  # a new one asks only the active approver
    assert anna.last_reply().text == ru("offer.sent_for_approval", names="Ольга")
    assert "Кедр" in (await olga.send("/approvals"))[-1].text


# --- (16b) names cut at a word, lines told apart -----------------------------------------------


async def test_an_approval_request_cuts_names_at_a_word_and_tells_lines_apart(
    harness: Harness,
) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await anna.send("/new Фиалка, 500 000")
    await anna.click("📄 КП")
    for sku in ("VS-PR-2700-3", "VS-PR-2700-4"):  # 6 m and 8 m: the same first 50 letters
        await anna.click("➕")
        await anna.send(sku)
        await anna.send("10 11%")
    await anna.click("👁")
    await anna.click("✅")
    request = lead.last_reply().text
    what = request.split("Скидка выше лимита: ", 1)[1]
    first, second = what.split("%; ")
    assert first != second
    assert "6000 мм" in first and "8000 мм" in second
    assert " : " not in request and "основная :" not in request
    assert first.endswith("… 6000 мм, 3 уровня: 11% &gt; 10")
    assert second.endswith("8000 мм, 4 уровня: 11% &gt; 10%")


# --- (5) a custom line with a currency sign -----------------------------------------------------


async def _free_line_prompt(chat: ChatClient, deal: str, button: str = "📄 КП") -> None:
    await chat.send(deal)
    await chat.click(button)
    await chat.click("✏️")


async def test_a_custom_line_takes_the_offers_currency_sign_and_names_the_wrong_field(
    harness: Harness,
) -> None:
    _, anna = await harness.person(name="Анна")
    await _free_line_prompt(anna, "/new Globex, $3,000")

    def error(key: str, **params: str) -> list[str]:
        return [f"{ru(key, **params)}\n{HINT}"]

    example = "$1250.50"
    wrong_currency = await anna.send("Rack; шт; 2; 1 250,50 руб")
    assert _texts(wrong_currency) == error(
        "offer.line_price_currency", value="1 250,50 руб", currency="RUB", deal_currency="USD"
    )
    long_line = "Pallet rack with beams and decking; шт; ten; $1250"
    assert _texts(await anna.send(long_line)) == error("offer.bad_line_qty", value="ten")
    assert _texts(await anna.send("Rack; шт; 2; about a thousand")) == error(
        "offer.bad_line_price", value="about a thousand", currency="USD", example=example
    )
    assert _texts(await anna.send("; шт; 2; $1250")) == error("offer.bad_line_name", limit="300")
    assert _texts(await anna.send("Rack; 2; шт; $1250")) == error(
        "offer.bad_line_unit", value="2", limit="20"
    )
    assert _texts(await anna.send("Rack; шт; 2")) == error("offer.bad_line_parts", count="3")
    assert _texts(await anna.send("Rack; шт; 0; $1250")) == error("offer.bad_line_qty", value="0")
    builder = (await anna.send("Rack; шт; 2; $1250"))[-1]  # still the same question
    assert f"1. Rack — 2 шт × $1{NBSP}250 = $2{NBSP}500" in builder.text
    await anna.click("✏️ Своя строка")
    builder = (await anna.send("Beam; шт; 4; 99.50 USD"))[-1]
    assert "2. Beam — 4 шт × $99,50 = $398" in builder.text
    said = " ".join(_texts(anna.messages()))
    assert "Прежний вопрос оставил без ответа" not in said  # never left for the knowledge base
    assert "в базе знаний нет хорошего ответа" not in said


async def test_a_ruble_custom_line_with_rubles_written_out(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    await _free_line_prompt(anna, "/new Ромашка")
    builder = (await anna.send("Монтаж стеллажей на складе клиента; услуга; 1; 15 000 руб"))[-1]
    assert f"Монтаж стеллажей на складе клиента — 1 услуга × 15{NBSP}000{NBSP}₽" in builder.text
    await anna.click("✏️ Своя строка")
    refused = (await anna.send("Доставка; рейс; 1; $200"))[-1]
    assert refused.text.startswith("Цена «$200» — в USD, а КП — в RUB")


async def test_custom_line_errors_in_english(harness: Harness) -> None:
    _, bob = await harness.person(name="Bob", language="en")
    await _free_line_prompt(bob, "/new Globex, $3,000", "📄 Offer")
    refused = (await bob.send("Pallet rack; pcs; 10; 1 250,50 руб"))[-1]
    assert refused.text.startswith('The price "1 250,50 руб" is in RUB, but the offer is in USD')
    refused = (await bob.send("Pallet rack; pcs; lots; $1250"))[-1]
    assert refused.text.startswith('"lots" is not a quantity: the third part of the line')
    builder = (await bob.send("Pallet rack; pcs; 10; $1250.50"))[-1]
    assert "1. Pallet rack — 10 pcs × $1,250.50" in builder.text  # the English number format
