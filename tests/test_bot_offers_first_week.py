"""Issue 12's offer findings, as a new team's sessions: the deal's currency, /approvals,
discount caps told at entry, drafts that are never lost, and the catalog's buttons."""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from pypdf import PdfReader

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import build_core
from bot.people.service import Role
from bot.tg.offline import BotMessage, ChatClient
from tests.conftest import Harness, make_settings

ru, en = catalog("ru"), catalog("en")
NBSP = "\u00a0"
EIGHT_METRES = "Стеллаж паллетный фронтальный, основная секция 2700 мм, высота 8000 мм"


def _pdf_text(message: BotMessage) -> str:
    assert message.document is not None
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(message.document[1])).pages)


async def _offer_for(chat: ChatClient, deal: str = "/new Ромашка, 500 000") -> None:
    await chat.send(deal)
    await chat.click("📄")


# --- the deal's currency --------------------------------------------------------------------


async def test_a_dollar_deal_gets_a_dollar_offer_and_rubles_from_the_catalog_are_refused(
    harness: Harness,
) -> None:
    person, anna = await harness.person(name="Анна")
    await _offer_for(anna, "/new Acme Corp, $3,000")
    await anna.click("➕ Товар")
    refused = (await anna.send("VS-PR-2700-3"))[-1]
    assert refused.text.startswith("«Стеллаж паллетный фронтальный, основная секция")
    assert "стоит в RUB, а сделка — в USD" in refused.text
    assert "Своя строка" in refused.text
    prompt = (await anna.click("Своя строка"))[-1]
    assert prompt.text == ru("offer.free_prompt", currency="USD")
    builder = (await anna.send("Installation; service; 1; 2500"))[-1]
    assert f"1 service × $2{NBSP}500 = $2{NBSP}500" in builder.text
    assert f"<b>Всего: $2{NBSP}500</b>" in builder.text
    await anna.click("Предпросмотр")
    replies = await anna.click("Сформировать")
    assert replies[0].text.startswith(f"✅ <b>КП-2026-0001</b> готово: $2{NBSP}500.")
    pdf = _pdf_text(replies[1])
    assert "$" in pdf and "₽" not in pdf and "рубл" not in pdf
    (deal,) = await harness.core.deals.refs(person)
    (offer,) = await harness.core.offers.for_deal(person, deal.id)
    assert offer.currency == "USD"
    await anna.send("/deals")
    card = (await anna.click("Acme Corp"))[-1]
    assert f"📄 КП-2026-0001 · $2{NBSP}500 · выставлено" in card.text


async def test_an_english_user_is_told_the_same_about_currencies(harness: Harness) -> None:
    _, bob = await harness.person(name="Bob", language="en")
    await bob.send("/new Acme Corp, $3,000")
    await bob.click("📄 Offer")
    await bob.click("➕ Product")
    refused = (await bob.send("VS-PR-2700-3"))[-1]
    assert "is priced in RUB in the catalog, but the deal is in USD" in refused.text


async def test_a_catalog_priced_in_dollars_serves_a_dollar_deal(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    file = tmp_path / "catalog.yaml"
    items = [{"sku": "RACK-1", "name": "Rack", "unit": "pc", "price": "120.50", "currency": "USD"}]
    file.write_text(yaml.safe_dump({"currency": "RUB", "items": items}))
    core = build_core(make_settings(tmp_path, sqlite_url, catalog_file=file), clock=clock)
    harness = Harness(core)
    await harness.app.initialize()
    try:
        _, anna = await harness.person()
        await _offer_for(anna, "/new Acme, $1000")
        await anna.click("➕ Товар")
        assert (await anna.send("rack-1"))[-1].text.startswith("Rack — $120,50 за pc.")
        builder = (await anna.send("2"))[-1]
        assert "<b>Всего: $241</b>" in builder.text
        await _offer_for(anna, "/new Ромашка")  # a ruble deal: the dollar item is refused
        await anna.click("➕ Товар")
        assert "стоит в USD, а сделка — в RUB" in (await anna.send("RACK-1"))[-1].text
    finally:
        await harness.app.shutdown()
        await core.close()


# --- approvals are a place ------------------------------------------------------------------


async def _submit_above_limit(anna: ChatClient, title: str = "Ромашка") -> None:
    await _offer_for(anna, f"/new {title}, 500 000")
    await anna.click("➕ Товар")
    await anna.send("VS-PR-2700-3")
    await anna.send("10 11%")  # above the manager's 10%, within the item's 12%
    await anna.click("Предпросмотр")
    await anna.click("Сформировать")


async def test_a_lead_approves_from_approvals(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    assert (await lead.send("/approvals"))[-1].text == ru("offer.approvals_none")
    await _submit_above_limit(anna)
    await _submit_above_limit(anna, "Лютик")
    replies = await lead.send("/approvals")
    assert replies[0].text == "Ждут вашего решения: 2 КП."
    first = replies[1]
    assert first.text.startswith("📄 <b>Анна</b>: КП для «Ромашка» на ")
    assert "11% &gt; 10%" in first.text  # «10%», never «1E+1%»
    assert first.button_labels() == ["✅ Согласовать", "✖ Отклонить"]
    assert (await lead.click("Согласовать", first))[-1].text == ru(
        "offer.approved_lead", name="Анна"
    )
    assert [m.document[0] for m in anna.messages() if m.document] == [
        "КП-2026-0001.pdf",
        "КП-2026-0001.docx",
    ]
    left = await lead.send("/approvals")
    assert left[0].text == "Ждут вашего решения: 1 КП." and "«Лютик»" in left[1].text


async def test_the_card_carries_the_decision_and_says_rejected(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _submit_above_limit(anna)
    await anna.send("/deals")
    own_card = (await anna.click("Ромашка"))[-1]
    assert "ждёт согласования" in own_card.text
    assert "Согласовать" not in own_card.button_labels()  # not the author's to decide
    await lead.send("/deals")
    card = (await lead.click("Ромашка"))[-1]
    assert "📄 КП · " in card.text and "ждёт согласования" in card.text
    await lead.click("Отклонить", card)
    await lead.send("Много, максимум 10%")
    await lead.send("/deals")
    card = (await lead.click("Ромашка"))[-1]
    assert "📄 КП · " in card.text and "· отклонено" in card.text
    assert "согласовани" not in card.text
    assert "Согласовать" not in card.button_labels()
    assert (await lead.send("/approvals"))[-1].text == ru("offer.approvals_none")


async def test_approvals_in_english_and_refused_to_a_manager(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Lida", language="en")
    _, anna = await harness.person(name="Анна")
    assert (await anna.send("/approvals"))[-1].text == ru("offer.approvals_forbidden")
    await _submit_above_limit(anna)
    replies = await lead.send("/approvals")
    assert replies[0].text == "Waiting for your decision: 1 offer."
    assert replies[1].text.startswith('📄 <b>Анна</b>: an offer for "Ромашка" of ')
    assert replies[1].button_labels() == ["✅ Approve", "✖ Reject"]


# --- discount caps are told at entry --------------------------------------------------------


async def test_a_discount_that_would_break_an_items_cap_is_refused_as_it_is_typed(
    harness: Harness,
) -> None:
    await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _offer_for(anna)
    await anna.click("➕ Товар")
    await anna.send("VS-PR-2700-3")
    builder = (await anna.send("10 12%"))[-1]  # at the item's 12% cap, above the manager's 10%
    assert "КП уйдёт на согласование: Лида." in builder.text
    await anna.click("% Скидка")
    refused = (await anna.send("5"))[-1]
    assert "выходит 16,4%, а предел по этому товару — 12%" in refused.text
    assert "Общая скидка сейчас — не больше 0%." in refused.text
    assert refused.text.endswith(ru("common.leave_hint"))
    await anna.click("➕ Товар")
    await anna.send("VS-PR-GUARD")  # capped at 15%
    refused = (await anna.send("10 25%"))[-1]
    assert refused.text.startswith(
        "Скидка на «Отбойник стойки паллетного стеллажа, высота 400 мм» — не больше 15% "
        "(предел по этому товару). Например: «10 15%»."
    )
    assert "Отбойник" in (await anna.send("10 15%"))[-1].text


async def test_the_preview_never_promises_an_approval_nobody_can_give(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")  # no lead in the team, no admin
    await _offer_for(anna)
    await anna.click("➕ Товар")
    await anna.send("VS-PR-2700-3")
    await anna.send("10 11%")
    preview = (await anna.click("Предпросмотр"))[-1]
    assert "уйдёт на согласование" not in preview.text
    assert "Согласовать её сейчас некому — уменьшите скидку до 10%." in preview.text


async def test_caps_in_english(harness: Harness) -> None:
    _, bob = await harness.person(name="Bob", language="en")
    await bob.send("/new Acme")
    await bob.click("📄 Offer")
    await bob.click("➕ Product")
    await bob.send("VS-PR-GUARD")
    refused = (await bob.send("10 25%"))[-1]
    assert 'is at most 15% (this product\'s cap). E.g.: "10 15%".' in refused.text


# --- a draft is never lost ------------------------------------------------------------------


async def _one_line(anna: ChatClient) -> None:
    await _offer_for(anna)
    await anna.click("Своя строка")
    await anna.send("Монтаж; услуга; 1; 50000")


async def test_offer_and_the_cards_button_resume_the_draft_with_a_way_to_start_anew(
    harness: Harness,
) -> None:
    _, anna = await harness.person()
    await _one_line(anna)
    resumed = (await anna.send("/offer Ромашка"))[-1]
    assert resumed.text.startswith("Продолжаем черновик (1 строка).")
    assert "Монтаж" in resumed.text
    await anna.send("/deals")
    await anna.click("Ромашка")
    from_card = (await anna.click("📄 КП"))[-1]
    assert "Монтаж" in from_card.text and "🆕 Начать заново" in from_card.button_labels()
    fresh = (await anna.click("Начать заново", from_card))[-1]
    assert "Монтаж" not in fresh.text and ru("offer.no_lines_yet") in fresh.text


async def test_a_draft_survives_a_restart(
    harness: Harness, tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    person, anna = await harness.person()
    await _one_line(anna)
    await harness.app.shutdown()
    restarted = build_core(make_settings(tmp_path, sqlite_url), clock=clock)
    again = Harness(restarted)
    await again.app.initialize()
    try:
        chat = again.client(person.telegram_id, name=person.name)
        resumed = (await chat.send("/offer Ромашка"))[-1]
        assert resumed.text.startswith("Продолжаем черновик (1 строка).")
        assert "Монтаж — 1 услуга × 50\u00a0000\u00a0₽" in resumed.text
    finally:
        await again.app.shutdown()
        await restarted.close()
        await harness.app.initialize()  # the fixture shuts it down again


async def test_english_resume(harness: Harness) -> None:
    _, bob = await harness.person(name="Bob", language="en")
    await bob.send("/new Acme")
    await bob.send("/offer Acme")
    await bob.click("Custom line")
    await bob.send("Setup; service; 1; 100")
    resumed = (await bob.send("/offer Acme"))[-1]
    assert resumed.text.startswith("Going on with your draft (1 line).")
    assert "🆕 Start anew" in resumed.button_labels()


# --- the catalog's buttons and the quantity -------------------------------------------------


async def test_catalog_buttons_tell_similar_items_apart(harness: Harness) -> None:
    _, anna = await harness.person()
    await _offer_for(anna)
    await anna.click("➕ Товар")
    found = (await anna.send("стеллаж паллетный фронтальный"))[-1]
    labels = [label.rsplit(" · ", 1)[0] for label in found.button_labels()]
    assert len(set(labels)) == len(labels)
    assert any("8000 мм, 4 уровня" in label for label in labels)
    assert any("6000 мм, 3 уровня" in label for label in labels)
    assert all(len(label) <= 52 for label in labels)
    assert "(VS-PR-2700-4)" in found.text  # the full names, with their SKUs, in the message
    prompt = (await anna.click("8000 мм, 4 уровня", found))[-1]
    assert prompt.text.startswith(EIGHT_METRES)


async def test_an_exact_sku_is_picked_at_once(harness: Harness) -> None:
    _, anna = await harness.person()
    await _offer_for(anna)
    await anna.click("➕ Товар")
    prompt = (await anna.send("vs-pr-2700-4"))[-1]
    assert prompt.text.startswith(EIGHT_METRES)
    assert "Сколько?" in prompt.text and not prompt.buttons


async def test_quantities_get_the_message_about_what_is_wrong(harness: Harness) -> None:
    _, anna = await harness.person()
    await _offer_for(anna)
    await anna.click("➕ Товар")
    await anna.send("VS-PR-2700-3")
    hint = ru("common.leave_hint")
    huge = (await anna.send("999999999999"))[-1]
    most = f"1{NBSP}000{NBSP}000"
    assert huge.text == f"{ru('offer.qty_too_large', most=most)}\n{hint}"
    two = (await anna.send("10 5"))[-1]
    assert two.text.startswith("«10 5» — два числа, а количество — одно.")
    assert "допишите знак процента: «10 5%»" in two.text
    assert "−5%" in (await anna.send("10 5%"))[-1].text


async def test_quantities_in_english(harness: Harness) -> None:
    _, bob = await harness.person(name="Bob", language="en")
    await bob.send("/new Acme")
    await bob.click("📄 Offer")
    await bob.click("➕ Product")
    await bob.send("VS-PR-2700-3")
    assert (await bob.send("10 5"))[-1].text.startswith('"10 5" is two numbers')
    assert (await bob.send("999999999999"))[-1].text.startswith("That quantity is too large")


async def test_remove_line_asks_which_and_an_old_list_removes_nothing(harness: Harness) -> None:
    _, anna = await harness.person()
    await _one_line(anna)
    await anna.click("Своя строка")
    await anna.send("Доставка; рейс; 1; 15000")
    which = (await anna.click("Убрать строку"))[-1]
    assert which.text == ru("offer.remove_which")
    assert which.button_labels()[:2] == [
        f"1. Монтаж · 50{NBSP}000{NBSP}₽",
        f"2. Доставка · 15{NBSP}000{NBSP}₽",
    ]
    second = which.buttons[1][0][1]  # kept: the list is edited into the builder
    builder = (await anna.click("1. Монтаж", which))[-1]
    assert "Монтаж" not in builder.text and "1. Доставка" in builder.text
    again = await anna.press(builder, second)  # the old list's «2.»: there is no line 2 now
    assert again[-1].text == ru("offer.lines_changed")
    assert "1. Доставка" in (await anna.send("/offer Ромашка"))[-1].text
