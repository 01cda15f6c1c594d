"""OffersService on SQLite and PostgreSQL, and `voronka offer render`."""

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.cli import main
from bot.common.errors import Forbidden, Invalid
from bot.container import Core
from bot.offers.service import OfferSpec
from bot.people.service import Role

EXAMPLE = {
    "client": {"name": "ООО «Ромашка»", "inn": "7701234567", "contact": "Иван Петров"},
    "items": [
        {"sku": "A-1", "name": "Станок", "unit": "шт", "qty": 1, "price": "120000",
         "discount_percent": 0}
    ],
    "discount_percent": 0, "vat_percent": 22, "vat_included": True, "currency": "RUB",
    "valid_days": 14,
    "manager": {"name": "Анна Смирнова", "phone": "+7 999 000-00-00", "email": "anna@example.com"},
    "number": None, "date": None,
}  # fmt: skip


def _spec(core: Core, deal_id: int, discount: str = "0") -> OfferSpec:
    item = core.offers.catalog.get("VS-PR-2700-3")
    assert item is not None
    line = core.offers.catalog_line(item, Decimal(2), Decimal(0))
    return OfferSpec(deal_id, (line,), Decimal(discount))


async def test_numbers_are_unique_per_year_even_when_submitted_together(any_core: Core) -> None:
    anna = await any_core.people.ensure_person(1, "Анна", Role.MANAGER, "Урал")
    deals = [await any_core.deals.create(anna, f"Сделка {i}") for i in range(3)]
    results = []
    for deal in deals:  # one after another; a same-moment race gets offer.busy, never a duplicate
        results.append(await any_core.offers.submit(anna, _spec(any_core, deal.id)))
    numbers = [r.documents.number for r in results if r.documents]
    assert numbers == ["КП-2026-0001", "КП-2026-0002", "КП-2026-0003"]


async def test_approval_is_recorded_once_and_never_by_the_author(any_core: Core) -> None:
    lead = await any_core.people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    other_lead = await any_core.people.ensure_person(3, "Чужой", Role.LEAD, "Сибирь")
    deal = await any_core.deals.create(anna, "Ромашка")
    result = await any_core.offers.submit(anna, _spec(any_core, deal.id, "11"))
    assert result.documents is None and [p.name for p in result.approvers] == ["Лида"]
    with pytest.raises(Forbidden):
        await any_core.offers.decide(anna, result.offer.id, approve=True)
    with pytest.raises(Forbidden):
        await any_core.offers.decide(other_lead, result.offer.id, approve=True)
    decisions = await asyncio.gather(
        any_core.offers.decide(lead, result.offer.id, approve=True),
        any_core.offers.decide(lead, result.offer.id, approve=True),
        return_exceptions=True,
    )
    assert sum(not isinstance(d, BaseException) for d in decisions) == 1
    assert any(isinstance(d, Invalid) for d in decisions)


async def test_a_leads_own_offer_above_their_limit_goes_to_an_admin(any_core: Core) -> None:
    await any_core.people.ensure_person(1, "Ольга", Role.ADMIN, None)
    lead = await any_core.people.ensure_person(2, "Лида", Role.LEAD, "Урал")
    deal = await any_core.deals.create(lead, "Ромашка")
    line = any_core.offers.free_line("Монтаж", "услуга", Decimal(1), Decimal(100000))
    result = await any_core.offers.submit(lead, OfferSpec(deal.id, (line,), Decimal(25)))
    assert [p.name for p in result.approvers] == ["Ольга"]


async def test_an_offer_without_lines_is_refused(any_core: Core) -> None:
    anna = await any_core.people.ensure_person(1, "Анна", Role.MANAGER, "Урал")
    deal = await any_core.deals.create(anna, "Ромашка")
    with pytest.raises(Invalid) as error:
        await any_core.offers.submit(anna, OfferSpec(deal.id, ()))
    assert error.value.key == "offer.no_lines"


def test_offer_render_cli_prints_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VORONKA_DATABASE_URL", raising=False)
    source = tmp_path / "offer.json"
    source.write_text(json.dumps(EXAMPLE, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "offer.pdf"
    assert (
        main(["offer", "render", "--input", str(source), "--format", "pdf", "--out", str(out)]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "number": "КП-2026-0001", "subtotal": "120000.00", "discount": "0.00",
        "vat": "21639.34", "total": "120000.00",
        "total_in_words": "Сто двадцать тысяч рублей 00 копеек",
    }  # fmt: skip
    text = "".join(page.extract_text() for page in PdfReader(out).pages)
    assert "ООО «Ромашка»" in text and "Станок" in text
    docx = tmp_path / "offer.docx"
    assert (
        main(["offer", "render", "--input", str(source), "--format", "docx", "--out", str(docx)])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["number"] == "КП-2026-0002"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"name": "X", "unit": "шт", "qty": 0, "price": "1"}]}, "items[0].qty"),
        ({"items": [{"name": "X", "unit": "шт", "qty": 1, "price": "-1"}]}, "items[0].price"),
        ({"discount_percent": 101}, "discount_percent"),
        ({"items": [{"name": "X", "unit": "шт", "qty": "abc", "price": "1"}]}, "items[0].qty"),
        ({"items": [{"sku": "NOPE-1", "qty": 1}]}, "items[0].sku"),
    ],
)
def test_offer_render_cli_names_the_bad_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, object],
    field: str,
) -> None:
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VORONKA_DATABASE_URL", raising=False)
    source = tmp_path / "offer.json"
    source.write_text(json.dumps({**EXAMPLE, **change}, ensure_ascii=False), encoding="utf-8")
    code = main(
        [
            "offer",
            "render",
            "--input",
            str(source),
            "--format",
            "pdf",
            "--out",
            str(tmp_path / "x.pdf"),
        ]
    )
    error = capsys.readouterr().err
    assert code != 0 and f"invalid offer: {field}" in error and "Traceback" not in error
