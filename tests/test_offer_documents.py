"""Offer documents: what the templates get, and what a reader finds in the PDF and DOCX."""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import docx
import pytest
from pypdf import PdfReader

from bot.common.money import format_money
from bot.offers.documents import (
    OfferDocument,
    OfferRenderer,
    OfferRenderError,
    build_offer_document,
    check_templates,
    sample_offer_document,
)
from bot.offers.input import parse_offer_document
from bot.offers.pricing import compute_totals
from bot.offers.requisites import Requisites, load_requisites

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "offers"
TODAY = dt.date(2026, 11, 29)
TRICKY_CLIENT = "#set text(fill: red) *жирный* $x$ <b>& «Ромашка» №1"
TRICKY_LINES = ["Стеллаж «Титан» № 5 — 2700 мм", "*жирный* _курсив_ `код`", "<b>Балка</b> & болты"]

OFFER: dict[str, Any] = {
    "client": {"name": TRICKY_CLIENT, "inn": "7701234567", "contact": "Иван Петров"},
    "items": [
        {"name": TRICKY_LINES[0], "unit": "секция", "qty": 12, "price": "38900.00"},
        {
            "name": TRICKY_LINES[1],
            "unit": "шт",
            "qty": "2,5",
            "price": "1200.50",
            "discount_percent": 10,
        },
        {"name": TRICKY_LINES[2], "unit": "пара", "qty": 36, "price": 2450},
    ],
    "discount_percent": 3,
    "vat_percent": 22,
    "vat_included": True,
    "manager": {"name": "Анна Смирнова", "phone": "+7 999 000-00-00", "email": "anna@example.com"},
    "number": "КП-2026-0042",
    "date": None,
}


def make_document(requisites: Requisites, **changes: Any) -> OfferDocument:
    data = copy.deepcopy(OFFER)
    data.update(changes)
    draft = parse_offer_document(data, None)
    totals = compute_totals(
        draft.lines, draft.discount_percent, draft.vat_percent, draft.vat_included
    )
    return build_offer_document(draft, totals, requisites, TODAY)


def flat(text: str) -> str:
    """One space for any run of whitespace (NBSP included) so wrapped text still matches."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def pdf_pages(pdf: bytes) -> list[str]:
    return [flat(page.extract_text() or "") for page in PdfReader(io.BytesIO(pdf)).pages]


def docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    parts += [paragraph.text for paragraph in document.sections[0].footer.paragraphs]
    return flat("\n".join(parts))


@pytest.fixture(scope="module")
def requisites() -> Requisites:
    return load_requisites(TEMPLATES / "requisites.yaml")


@pytest.fixture(scope="module")
def renderer() -> OfferRenderer:
    return OfferRenderer(TEMPLATES)


@pytest.fixture(scope="module")
def offer(requisites: Requisites) -> OfferDocument:
    return make_document(requisites)


@pytest.fixture(scope="module")
def pdf_text(renderer: OfferRenderer, offer: OfferDocument) -> str:
    return " ".join(pdf_pages(renderer.render_pdf(offer)))


@pytest.fixture(scope="module")
def word_text(renderer: OfferRenderer, offer: OfferDocument) -> str:
    return docx_text(renderer.render_docx(offer))


# --- the document model -----------------------------------------------------------------


def test_document_fills_date_validity_and_terms_from_the_seller(offer: OfferDocument) -> None:
    assert offer.date == TODAY
    assert offer.valid_until == dt.date(2026, 12, 13)  # 14 days from requisites.yaml
    assert offer.payment_terms == "50% предоплата, 50% перед отгрузкой"
    assert offer.delivery_terms.startswith("Доставка по Екатеринбургу бесплатно")


def test_document_keeps_the_drafts_own_date_validity_and_terms(requisites: Requisites) -> None:
    doc = make_document(requisites, date="2026-12-01", valid_days=30, payment_terms="100%")
    assert doc.valid_until == dt.date(2026, 12, 31)
    assert doc.payment_terms == "100%"


def test_document_needs_an_offer_number(requisites: Requisites) -> None:
    with pytest.raises(ValueError, match="offer_number"):
        make_document(requisites, number=None)


def test_document_total_in_words_matches_the_total(offer: OfferDocument) -> None:
    # 466 800 + 2 701,13 (2,5 × 1 200,50 − 10%: 2 701,125) + 88 200 = 557 701,13; −3% = 16 731,03
    assert offer.totals.total == Decimal("540970.10")
    assert offer.total_in_words == "Пятьсот сорок тысяч девятьсот семьдесят рублей 10 копеек"


@pytest.mark.parametrize(
    ("vat", "included", "label", "order"),
    [
        (22, True, "в т.ч. НДС 22%", ["Итого", "Скидка 3%", "Всего к оплате", "в т.ч. НДС 22%"]),
        (22, False, "НДС 22%", ["Итого", "Скидка 3%", "НДС 22%", "Всего к оплате"]),
        (None, True, "Без НДС", ["Итого", "Скидка 3%", "Без НДС", "Всего к оплате"]),
    ],
)
def test_vat_label_and_total_rows_follow_the_vat_mode(
    requisites: Requisites, vat: int | None, included: bool, label: str, order: list[str]
) -> None:
    doc = make_document(requisites, vat_percent=vat, vat_included=included)
    assert doc.vat_label == label
    assert [row["label"] for row in doc.template_data()["total_rows"]] == order


def test_discount_row_is_left_out_without_a_discount(requisites: Requisites) -> None:
    data = make_document(requisites, discount_percent=0).template_data()
    assert [row["label"] for row in data["total_rows"]][:2] == ["Итого", "Всего к оплате"]


def test_template_data_is_formatted_text(offer: OfferDocument) -> None:
    data = offer.template_data()
    assert data["date"] == "29.11.2026"
    assert data["lines"][1]["qty"] == "2,5"
    assert data["lines"][1]["discount"] == "10%"
    assert data["lines"][0]["discount"] == "—"
    assert data["lines"][0]["amount"] == "466\u00a0800,00"
    assert data["totals"]["total"] == format_money(Decimal("540970.10"))
    assert data["seller"]["director_short"] == "Соколов А. В."
    assert data["client"]["kpp"] == ""


# --- PDF ---------------------------------------------------------------------------------


def test_pdf_contains_client_lines_total_and_total_in_words(
    pdf_text: str, offer: OfferDocument
) -> None:
    assert "Коммерческое предложение" in pdf_text
    assert "КП-2026-0042 от 29.11.2026" in pdf_text
    assert flat(TRICKY_CLIENT) in pdf_text
    for name in TRICKY_LINES:
        assert flat(name) in pdf_text
    assert "540 970,10 ₽" in pdf_text
    assert offer.total_in_words in pdf_text
    assert "Всего к оплате" in pdf_text
    assert "в т.ч. НДС 22%" in pdf_text
    assert "Предложение действительно до 13.12.2026" in pdf_text


def test_pdf_prints_markup_characters_literally(pdf_text: str) -> None:
    assert "#set text(fill: red)" in pdf_text
    assert "*жирный*" in pdf_text
    assert "$x$" in pdf_text
    assert "<b>&" in pdf_text
    assert "`код`" in pdf_text


def test_pdf_keeps_cyrillic_quotes_numero_and_ruble_sign(pdf_text: str) -> None:
    for fragment in ("«Ромашка»", "№1", "₽", "ООО «Вектор Склад»", "Стеллаж «Титан» № 5"):
        assert fragment in pdf_text


def test_pdf_shows_seller_requisites(pdf_text: str) -> None:
    for fragment in ("6671234567", "667101001", "40702810900000012345", "046577999"):
        assert fragment in pdf_text


def test_long_offer_continues_on_more_pages_with_the_table_header(
    renderer: OfferRenderer, requisites: Requisites
) -> None:
    items = [
        {"name": f"Позиция номер {index}", "qty": 1, "price": "100"} for index in range(1, 301)
    ]
    pages = pdf_pages(renderer.render_pdf(make_document(requisites, items=items)))
    assert len(pages) > 1
    assert "Наименование" in pages[1]
    assert "Кол-во" in pages[1]
    assert "Позиция номер 300" in " ".join(pages[-2:])
    assert "Всего к оплате" in " ".join(pages[-2:])


def test_pdf_without_vat_says_so(renderer: OfferRenderer, requisites: Requisites) -> None:
    text = " ".join(pdf_pages(renderer.render_pdf(make_document(requisites, vat_percent=0))))
    assert "Без НДС" in text
    assert "без НДС" in text


# --- DOCX --------------------------------------------------------------------------------


def test_docx_contains_client_lines_total_and_total_in_words(
    word_text: str, offer: OfferDocument
) -> None:
    assert "КП-2026-0042 от 29.11.2026" in word_text
    assert flat(TRICKY_CLIENT) in word_text
    for name in TRICKY_LINES:
        assert flat(name) in word_text
    assert "540 970,10 ₽" in word_text
    assert offer.total_in_words in word_text
    assert "в т.ч. НДС 22%" in word_text


def test_docx_escapes_xml_characters_and_keeps_typography(word_text: str) -> None:
    for fragment in ("<b>&", "<b>Балка</b> & болты", "«Ромашка»", "№1", "₽", "*жирный*"):
        assert fragment in word_text


def test_docx_repeats_the_lines_header_row_across_pages(
    renderer: OfferRenderer, requisites: Requisites
) -> None:
    items = [{"name": f"Позиция {index}", "qty": 1, "price": "100"} for index in range(1, 301)]
    data = renderer.render_docx(make_document(requisites, items=items))
    document = docx.Document(io.BytesIO(data))
    table = next(t for t in document.tables if t.rows[0].cells[0].text == "№")
    assert len(table.rows) == 301
    assert table.rows[300].cells[1].text.startswith("Позиция 300")
    # python-docx has no public property for "repeat as header row": read the saved XML.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        body = ElementTree.fromstring(archive.read("word/document.xml"))
    lines = next(t for t in body.iter(f"{W}tbl") if _cell_texts(t.find(f"{W}tr"))[:1] == ["№"])
    header, first = lines.findall(f"{W}tr")[:2]
    assert header.find(f"{W}trPr/{W}tblHeader") is not None
    assert first.find(f"{W}trPr/{W}tblHeader") is None


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _cell_texts(row: ElementTree.Element | None) -> list[str]:
    if row is None:
        return []
    return ["".join(t.text or "" for t in cell.iter(f"{W}t")) for cell in row.findall(f"{W}tc")]


# --- template checks ---------------------------------------------------------------------


def test_shipped_templates_pass_the_check() -> None:
    assert check_templates(TEMPLATES) == []


@pytest.fixture
def templates_copy(tmp_path: Path) -> Path:
    target = tmp_path / "offers"
    shutil.copytree(TEMPLATES, target)
    return target


def test_check_reports_a_broken_typst_template(templates_copy: Path) -> None:
    path = templates_copy / "offer.typ"
    path.write_text(path.read_text(encoding="utf-8") + "\n#data.no_such_field\n", encoding="utf-8")
    problems = check_templates(templates_copy)
    assert len(problems) == 1
    assert problems[0].startswith("offer.typ:")
    assert "no_such_field" in problems[0]


def test_check_reports_a_broken_docx_template(templates_copy: Path) -> None:
    document = docx.Document(str(templates_copy / "offer.docx"))
    document.add_paragraph("{{ clinet.name }}")
    document.save(str(templates_copy / "offer.docx"))
    problems = check_templates(templates_copy)
    assert len(problems) == 1
    assert problems[0].startswith("offer.docx:")
    assert "clinet" in problems[0]


def test_check_reports_missing_files_and_bad_requisites(templates_copy: Path) -> None:
    (templates_copy / "offer.docx").unlink()
    (templates_copy / "requisites.yaml").write_text("company:\n  name: ООО\n", encoding="utf-8")
    problems = check_templates(templates_copy)
    assert "offer.docx: not found" in problems[0]
    assert any(p == "requisites.yaml: company.inn: required" for p in problems)
    assert any(p == "requisites.yaml: bank: required section is missing" for p in problems)


def test_check_reports_a_missing_folder(tmp_path: Path) -> None:
    assert "not found" in check_templates(tmp_path / "nowhere")[0]


def test_render_error_names_the_template(templates_copy: Path, offer: OfferDocument) -> None:
    (templates_copy / "offer.typ").write_text("#let x = (", encoding="utf-8")
    with pytest.raises(OfferRenderError) as caught:
        OfferRenderer(templates_copy).render_pdf(offer)
    assert caught.value.template == "offer.typ"


def test_changed_templates_are_used_once_the_renderer_forgets(
    templates_copy: Path, offer: OfferDocument
) -> None:
    renderer = OfferRenderer(templates_copy)
    assert "Новая строка шаблона" not in docx_text(renderer.render_docx(offer))
    document = docx.Document(str(templates_copy / "offer.docx"))
    document.add_paragraph("Новая строка шаблона {{ number }}")
    document.save(str(templates_copy / "offer.docx"))
    assert "Новая строка шаблона" not in docx_text(renderer.render_docx(offer))
    renderer.forget()
    assert "Новая строка шаблона КП-2026-0042" in docx_text(renderer.render_docx(offer))


def test_sample_document_repeats_lines_for_long_previews(requisites: Requisites) -> None:
    assert len(sample_offer_document(requisites).lines) == 3
    assert len(sample_offer_document(requisites, 200).lines) == 200
