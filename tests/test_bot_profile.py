"""/me and what the offer prints of the manager and the buyer, through the real Application;
emoji in an offer's PDF drawn or dropped, never a box."""

import dataclasses
import io
from pathlib import Path

import emoji
from pypdf import PdfReader

from bot.common.i18n import catalog
from bot.offers.documents import OfferRenderer, printable, sample_offer_document
from bot.offers.input import ClientInfo
from bot.offers.requisites import REQUISITES_FILE, load_requisites
from bot.tg.offline import BotMessage, ChatClient
from tests.conftest import Harness

ru = catalog("ru")
en = catalog("en")
TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "offers"


def _pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def _offer_pdf(chat: ChatClient) -> str:
    await chat.send("/new Ромашка, 500 000")
    await chat.click("📄 КП")
    await chat.click("➕ Товар")
    await chat.send("VS-PR-2700-3")  # an exact SKU picks its item at once
    await chat.send("10")
    await chat.click("Предпросмотр")
    replies = await chat.click("Сформировать")
    pdf: BotMessage = next(m for m in replies if m.document and m.document[0].endswith(".pdf"))
    assert pdf.document is not None
    return _pdf_text(pdf.document[1])


async def test_the_offer_prints_the_profile_set_with_me(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    shown = (await anna.send("/me"))[-1].text
    assert shown.startswith("<b>Ваш профиль в КП</b>\nФИО: Анна\nДолжность: —")
    await anna.send("/me фио Анна Сергеевна Смирнова")
    await anna.send("/me должность Менеджер по продажам")
    saved = (await anna.send("/me телефон 8 (999) 123-45-67"))[-1].text
    assert saved.startswith(ru("me.saved"))
    assert "Телефон: +7 999 123-45-67" in saved  # read and written one way
    await anna.send("/me почта Anna@Example.com")

    text = await _offer_pdf(anna)

    for printed in ("Анна Сергеевна Смирнова", "Менеджер по продажам", "+7 999 123-45-67"):
        assert printed in text
    assert "Anna@example.com" in text
    # The deal has no ИНН and no contact: no empty «ИНН» or «Контакт:» line for the buyer.
    assert [line for line in text.splitlines() if line.startswith("ИНН")] == [
        "ИНН / КПП 6671234567 / 667101001"  # the seller's
    ]
    assert "Контакт:" not in text


async def test_bad_phone_and_email_are_refused_in_english(harness: Harness) -> None:
    _, bob = await harness.person(name="Bob", language="en")
    assert (await bob.send("/me phone 12"))[-1].text == en("me.bad_phone", value="12")
    assert (await bob.send("/me email bob@"))[-1].text == en("me.bad_email", value="bob@")
    assert (await bob.send("/me shoe 42"))[-1].text == en("me.unknown_field", word="shoe")
    assert (await bob.send("/me phone"))[-1].text == en("me.empty_phone")
    card = (await bob.send("/me"))[-1].text
    assert "Phone: —" in card and "E-mail: —" in card  # nothing bad was kept
    await bob.send("/me phone +1 415 555 2671")
    cleared = (await bob.send("/me phone -"))[-1].text
    assert "Phone: —" in cleared


async def test_a_buyer_without_requisites_gets_no_empty_lines() -> None:
    renderer = OfferRenderer(TEMPLATES)
    document = sample_offer_document(load_requisites(TEMPLATES / REQUISITES_FILE))
    bare = dataclasses.replace(document, client=ClientInfo(name="ИП Иванов", inn="", contact=""))
    text = _pdf_text(renderer.render_pdf(bare))
    assert "ИП Иванов" in text
    assert not any(line.strip() in ("ИНН", "КПП", "Контакт:") for line in text.splitlines())
    assert [line for line in text.splitlines() if line.startswith("ИНН")] == [
        "ИНН / КПП 6671234567 / 667101001"
    ]


async def test_emoji_in_a_line_is_drawn_or_dropped_never_a_box() -> None:
    renderer = OfferRenderer(TEMPLATES)
    document = sample_offer_document(load_requisites(TEMPLATES / REQUISITES_FILE))
    line = dataclasses.replace(document.lines[0].line, name="Стеллаж 🔥 ✅ 👍🏽 ★ ✔ ❤️ 1️⃣ 🇷🇺 хит")
    lines = (dataclasses.replace(document.lines[0], line=line), *document.lines[1:])
    with_emoji = dataclasses.replace(document, lines=lines)

    data = printable(with_emoji.template_data())
    assert data["lines"][0]["name"] == "Стеллаж ★ ✔ ❤ 1 хит"
    assert "Стеллаж ★ ✔ ❤ 1 хит" in _pdf_text(renderer.render_pdf(with_emoji))


async def test_every_emoji_kept_for_the_pdf_has_a_glyph() -> None:
    """The kept set is measured, not guessed: what Typst cannot draw is missing from the
    PDF's text, so each kept emoji must come back out of it."""
    renderer = OfferRenderer(TEMPLATES)
    document = sample_offer_document(load_requisites(TEMPLATES / REQUISITES_FILE))
    singles = sorted({e for e in emoji.EMOJI_DATA if len(e) == 1})
    kept = [c for c in singles if printable(c) == c]
    assert 100 < len(kept) < len(singles)
    line = dataclasses.replace(document.lines[0].line, name=" ".join(f"[{c}]" for c in kept))
    lines = (dataclasses.replace(document.lines[0], line=line),)
    text = _pdf_text(renderer.render_pdf(dataclasses.replace(document, lines=lines)))
    assert [c for c in kept if f"[{c}]" not in text] == []
