"""The offer builder through the real Application: documents, the discount policy, approvals."""

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.common.i18n import catalog
from bot.db.models import OfferApproval, StageTransition
from bot.db.session import transaction
from bot.people.service import Role
from bot.tg.offline import BotMessage, ChatClient
from tests.conftest import Harness

ru = catalog("ru")


def _pdf_text(message: BotMessage) -> str:
    assert message.document is not None
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(message.document[1])).pages)


async def _build(chat: ChatClient, *, qty: str = "10", discount: str | None = None) -> None:
    await chat.send("/new Ромашка, 500 000")
    await chat.click("📄 КП")
    await chat.click("➕ Товар")
    await chat.send("VS-PR-2700-3")  # an exact SKU: no list to choose from
    await chat.send(qty)
    if discount is not None:
        await chat.click("% Скидка")
        await chat.send(discount)


async def test_an_offer_within_the_limit_is_sent_as_pdf_and_docx(harness: Harness) -> None:
    person, anna = await harness.person(name="Анна Смирнова")
    await _build(anna, qty="10 5%")
    await anna.click("Предпросмотр")
    replies = await anna.click("Сформировать")
    assert replies[0].text.startswith("✅ <b>КП-2026-0001</b> готово: 369\u00a0550\u00a0₽")
    pdf, docx = replies[1], replies[2]
    assert pdf.document and pdf.document[0] == "КП-2026-0001.pdf"
    assert docx.document and docx.document[0] == "КП-2026-0001.docx"
    text = _pdf_text(pdf)
    assert "Ромашка" in text and "Триста шестьдесят девять тысяч пятьсот пятьдесят рублей" in text
    assert replies[-1].text == ru("offer.moved", stage="КП отправлено")
    (deal,) = await harness.core.deals.refs(person)
    assert deal.stage == "offer"
    async with transaction(harness.core.db) as session:
        vias = list(await session.scalars(select(StageTransition.via).order_by(StageTransition.id)))
    assert vias == ["create", "offer"]


async def test_the_card_lists_the_offer_and_downloads_it_again(harness: Harness) -> None:
    _, anna = await harness.person()
    await _build(anna)
    await anna.click("Предпросмотр")
    await anna.click("Сформировать")
    await anna.send("/deals")
    card = (await anna.click("Ромашка"))[-1]
    assert "📄 КП-2026-0001 · 389\u00a0000\u00a0₽ · выставлено" in card.text
    again = await anna.click("⬇ КП-2026-0001", card)
    assert [m.document[0] for m in again if m.document] == ["КП-2026-0001.pdf", "КП-2026-0001.docx"]


async def test_above_the_limit_goes_to_the_lead_who_approves(harness: Harness) -> None:
    lead_person, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _build(anna, discount="11")  # above the manager's 10%, within the item's 12% cap
    preview = (await anna.click("Предпросмотр"))[-1]
    assert "⚠ Скидка выше вашего лимита (10%)" in preview.text
    replies = await anna.click("Сформировать")
    assert replies[-1].text == ru("offer.sent_for_approval", names="Лида")
    assert not any(m.document for m in replies)
    request = lead.last_reply()
    assert request.text.startswith("📄 <b>Анна</b> просит согласовать КП для «Ромашка»")
    assert "11%" in request.text
    approve_data = request.buttons[0][0][1]
    assert (await lead.click("Согласовать", request))[-1].text == ru(
        "offer.approved_lead", name="Анна"
    )
    received = [m for m in anna.messages() if m.document]
    assert [m.document[0] for m in received if m.document] == [
        "КП-2026-0001.pdf",
        "КП-2026-0001.docx",
    ]
    async with transaction(harness.core.db) as session:
        (approval,) = list(await session.scalars(select(OfferApproval)))
    assert approval.approved and approval.decided_by_id == lead_person.id
    assert "11%" in approval.what
    again = await lead.press(request, approve_data)
    assert again[-1].text == ru("offer.already_decided")


async def test_the_lead_rejects_with_a_comment_and_nothing_is_produced(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _build(anna, discount="11")
    await anna.click("Предпросмотр")
    await anna.click("Сформировать")
    await lead.click("Отклонить", lead.last_reply())
    assert (await lead.send("Максимум 10%, клиент новый"))[-1].text == ru("offer.rejected_lead")
    assert anna.last_reply().text == ru(
        "offer.rejected_manager",
        approver="Лида",
        title="Ромашка",
        comment="Максимум 10%, клиент новый",
    )
    assert not any(m.document for m in anna.messages())


async def test_a_manager_can_never_approve_their_own_offer(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _build(anna, discount="11")
    await anna.click("Предпросмотр")
    await anna.click("Сформировать")
    approve_data = lead.last_reply().buttons[0][0][1]
    own = (await anna.send("/help"))[-1]
    assert (await anna.press(own, approve_data))[-1].text == ru("offer.cannot_approve")
    assert not any(m.document for m in anna.messages())


async def test_a_discount_above_the_leads_limit_goes_to_an_admin(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, admin = await harness.person(Role.ADMIN, name="Ольга")
    _, anna = await harness.person(name="Анна")
    await anna.send("/new Ромашка")
    await anna.click("📄 КП")
    await anna.click("Своя строка")
    await anna.send("Монтаж; услуга; 1; 100000")  # a free line has no item cap
    await anna.click("% Скидка")
    await anna.send("25")  # above the lead's 20%, within the admin's 30%
    await anna.click("Предпросмотр")
    replies = await anna.click("Сформировать")
    assert replies[-1].text == ru("offer.sent_for_approval", names="Ольга")
    assert lead.request.outbox and all(m.chat_id != lead.user_id for m in lead.request.outbox)
    assert admin.last_reply().text.startswith("📄 <b>Анна</b> просит согласовать")


async def test_a_discount_above_an_items_cap_is_refused_when_typed(harness: Harness) -> None:
    await harness.person(Role.LEAD, name="Лида")
    await harness.person(Role.ADMIN, name="Ольга")
    _, anna = await harness.person(name="Анна")
    await _build(anna)
    await anna.click("% Скидка")
    refused = (await anna.send("15"))[-1]  # the item caps at 12%: nobody could approve it
    assert refused.text.startswith(
        "Общая скидка 15% — слишком много для «Стеллаж паллетный фронтальный, основная секция"
    )
    assert "предел по этому товару — 12%. Общая скидка сейчас — не больше 12%." in refused.text
    assert (await anna.send("12"))[-1].text.startswith("📄 <b>КП для «Ромашка»</b>")


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("много", "offer.bad_qty"),
        ("0", "offer.bad_qty"),
        ("-3", "offer.bad_qty"),
        ("5 150%", "offer.bad_discount"),
    ],
)
async def test_bad_quantities_are_explained_and_asked_again(
    harness: Harness, answer: str, key: str
) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.click("📄 КП")
    await anna.click("➕ Товар")
    await anna.send("VS-PR-2700-3")  # an exact SKU: no list to choose from
    assert (await anna.send(answer))[-1].text == f"{ru(key)}\n{ru('common.leave_hint')}"
    assert (await anna.send("2"))[-1].text.startswith("📄 <b>КП для «Ромашка»</b>\n1. ")


async def test_a_free_line_and_a_bad_one(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.click("📄 КП")
    await anna.click("Своя строка")
    bad_line = f"{ru('offer.bad_line')}\n{ru('common.leave_hint')}"
    assert (await anna.send("Доставка 15000"))[-1].text == bad_line
    reply = (await anna.send("Доставка; рейс; 1; 15000"))[-1]
    assert "Доставка — 1 рейс × 15\u00a0000\u00a0₽" in reply.text


async def test_markup_in_client_names_is_printed_literally(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new #set text(fill: red) *жирный*")
    await anna.click("📄 КП")
    await anna.click("➕ Товар")
    await anna.send("VS-PR-2700-3")  # an exact SKU: no list to choose from
    await anna.send("1")
    await anna.click("Предпросмотр")
    replies = await anna.click("Сформировать")
    text = _pdf_text(replies[1])
    assert "#set text(fill: red) *жирный*" in text


async def test_offer_command_finds_the_deal(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    assert (await anna.send("/offer ромашку"))[-1].text.startswith("📄 <b>КП для «Ромашка»</b>")
    assert (await anna.send("/offer Лютик"))[-1].text == ru("deal.no_match", name="Лютик")
    assert (await anna.send("/offer"))[-1].text == ru("offer.usage")


async def test_numbers_are_unique_and_increase(harness: Harness) -> None:
    _, anna = await harness.person()
    numbers = []
    for _ in range(2):
        await _build(anna)
        await anna.click("Предпросмотр")
        numbers.append((await anna.click("Сформировать"))[0].text.split("</b>")[0][-12:])
    assert numbers == ["КП-2026-0001", "КП-2026-0002"]


async def test_a_rejection_comment_over_the_limit_is_refused_before_anything_is_decided(
    harness: Harness,
) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    await _build(anna, discount="11")
    await anna.click("Предпросмотр")
    await anna.click("Сформировать")
    await lead.click("Отклонить", lead.last_reply())
    long_comment = "скидка велика " * 300
    text = long_comment.strip()
    replies = await lead.send(long_comment)
    too_long = ru("common.too_long", length=len(text), limit=1000)
    assert [r.text for r in replies] == [f"{too_long}\n{ru('common.leave_hint')}"]
    assert (await lead.send("Максимум 10%"))[-1].text == ru("offer.rejected_lead")
    assert "Максимум 10%" in anna.last_reply().text


async def test_an_approval_request_is_in_the_approvers_number_format(harness: Harness) -> None:
    """The second check saw «…of $10 629,25» at an English lead: the author's format."""
    _, jane = await harness.person(Role.LEAD, name="Jane", language="en")
    _, anna = await harness.person(name="Анна")
    await _build(anna, discount="11")
    await anna.click("Предпросмотр")
    await anna.click("Сформировать")
    request = jane.last_reply()
    assert request.text.startswith("📄 <b>Анна</b>")
    assert re.search(r" of \d{3},\d{3}(\.\d\d)?\u00a0₽", request.text), request.text
