"""OffersService on SQLite and PostgreSQL, and `voronka offer render`."""

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.cli import main
from bot.common.clock import FrozenClock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.container import Core, build_core
from bot.deals.service import Via
from bot.offers.documents import OfferRenderError
from bot.offers.service import Draft, OfferSpec, VatMismatch
from bot.people.service import Person, Role
from tests.conftest import make_settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "offers"

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


async def test_offers_submitted_at_the_same_moment_take_the_next_numbers(any_core: Core) -> None:
    anna = await any_core.people.ensure_person(1, "Анна", Role.MANAGER, "Урал")
    deals = [await any_core.deals.create(anna, f"Сделка {i}") for i in range(3)]
    results = await asyncio.gather(
        *(any_core.offers.submit(anna, _spec(any_core, deal.id)) for deal in deals)
    )
    numbers = sorted(r.documents.number for r in results if r.documents)
    assert numbers == ["КП-2026-0001", "КП-2026-0002", "КП-2026-0003"]
    for deal, result in zip(deals, results, strict=True):
        assert result.documents is not None
        again = await any_core.offers.documents(anna, result.offer.id)
        assert again.number == result.documents.number and again.pdf == result.documents.pdf
        assert [o.number for o in await any_core.offers.for_deal(anna, deal.id)] == [again.number]


async def test_approval_is_recorded_once_and_never_by_the_author(any_core: Core) -> None:
    lead = await any_core.people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    other_lead = await any_core.people.ensure_person(3, "Чужой", Role.LEAD, "Сибирь")
    deal = await any_core.deals.create(anna, "Ромашка")
    result = await any_core.offers.submit(anna, _spec(any_core, deal.id, "11"))
    assert result.documents is None and [p.name for p in result.approvers] == ["Лида"]
    with pytest.raises(Forbidden):
        await any_core.offers.decide(anna, result.offer.id, approve=True)
    with pytest.raises(NotFound):  # another team's offer is as good as none
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


# --- the builder's rules ----------------------------------------------------------------


async def _draft(core: Core) -> tuple[Person, Draft]:
    anna = await core.people.ensure_person(1, "Анна", Role.MANAGER, "Урал")
    deal = await core.deals.create(anna, "Ромашка")
    return anna, await core.offers.open_draft(anna, deal.id)


async def test_an_item_with_another_vat_rate_is_refused(core: Core) -> None:
    anna, draft = await _draft(core)
    draft = core.offers.add_item(anna, draft, "VS-WMS-START", Decimal(1), Decimal(0))
    with pytest.raises(VatMismatch) as error:
        core.offers.add_item(anna, draft, "VS-PR-2700-3", Decimal(1), Decimal(0))
    assert error.value.key == "offer.vat_mismatch"
    assert len(draft.lines) == 1


async def test_a_discount_outside_0_to_100_is_refused_wherever_it_is_typed(core: Core) -> None:
    anna, draft = await _draft(core)
    for percent in (Decimal(101), Decimal(-1), Decimal("NaN")):
        with pytest.raises(Invalid) as error:
            core.offers.set_discount(anna, draft, percent)
        assert error.value.key == "offer.bad_discount"
        with pytest.raises(Invalid) as error:
            core.offers.add_item(anna, draft, "VS-PR-2700-3", Decimal(1), percent)
        assert error.value.key == "offer.bad_discount"
    assert core.offers.set_discount(anna, draft, Decimal(100)).discount == 100


async def test_validity_is_1_to_365_days(core: Core) -> None:
    anna, draft = await _draft(core)
    for days in (0, 366):
        with pytest.raises(Invalid) as error:
            core.offers.set_valid_days(anna, draft, days)
        assert error.value.key == "offer.bad_valid"
    assert core.offers.terms(core.offers.set_valid_days(anna, draft, 365)).valid_days == 365
    assert core.offers.terms(draft).valid_days == 14


async def test_a_discount_above_the_roles_limit_is_shown_and_needs_an_approval(
    core: Core,
) -> None:
    await core.people.ensure_person(2, "Лида", Role.LEAD, "Урал")
    anna, draft = await _draft(core)
    draft = core.offers.add_item(anna, draft, "VS-PR-2700-3", Decimal(2), Decimal(0))
    draft = core.offers.set_discount(anna, draft, Decimal(11))
    preview = await core.offers.preview(anna, draft)
    assert preview.limit == 10
    assert [v.effective_percent for v in preview.violations] == [Decimal(11)]
    assert [p.name for p in preview.approvers] == ["Лида"]
    result = await core.offers.submit(anna, draft)
    assert result.documents is None and result.offer.status == "pending"
    assert [p.name for p in result.approvers] == ["Лида"]
    within = await core.offers.submit(anna, core.offers.set_discount(anna, draft, Decimal(10)))
    assert within.documents is not None and within.offer.status == "issued"


async def test_a_vat_exempt_item_makes_an_offer_without_vat(core: Core) -> None:
    anna, draft = await _draft(core)
    draft = core.offers.add_item(anna, draft, "VS-WMS-START", Decimal(1), Decimal(0))
    assert (await core.offers.preview(anna, draft)).totals.vat_percent is None
    free = core.offers.add_free_line(anna, draft, "Монтаж", "услуга", Decimal(1), Decimal(10))
    assert (await core.offers.preview(anna, free)).totals.vat_percent is None


# --- a render failure -------------------------------------------------------------------


@pytest.fixture
async def broken_core(tmp_path: Path, database_url: str, clock: FrozenClock) -> AsyncIterator[Core]:
    """A core whose Typst template does not compile, on the same database as `any_core`."""
    templates = tmp_path / "broken-templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "offer.typ").write_text("#let x = (", encoding="utf-8")
    built = build_core(
        make_settings(tmp_path, database_url, offer_templates_dir=templates), clock=clock
    )
    yield built
    await built.close()


async def test_a_render_failure_records_nothing_and_spends_no_number(
    any_core: Core, broken_core: Core, tmp_path: Path
) -> None:
    anna = await any_core.people.ensure_person(1, "Анна", Role.MANAGER, "Урал")
    deal = await any_core.deals.create(anna, "Ромашка")
    with pytest.raises(OfferRenderError):
        await broken_core.offers.submit(anna, _spec(broken_core, deal.id))
    assert await any_core.offers.for_deal(anna, deal.id) == []
    assert (await any_core.deals.card(anna, deal.id)).stage == deal.stage
    assert list((tmp_path / "data" / "offers").glob("*")) == []
    result = await any_core.offers.submit(anna, _spec(any_core, deal.id))
    assert result.documents is not None and result.documents.number == "КП-2026-0001"


async def test_an_approval_that_fails_to_render_leaves_the_offer_waiting(
    any_core: Core, broken_core: Core
) -> None:
    lead = await any_core.people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    deal = await any_core.deals.create(anna, "Ромашка")
    submitted = await any_core.offers.submit(anna, _spec(any_core, deal.id, "11"))
    with pytest.raises(OfferRenderError):
        await broken_core.offers.decide(lead, submitted.offer.id, approve=True)
    assert (await any_core.offers.pending(lead, submitted.offer.id)).status == "pending"
    decision = await any_core.offers.decide(lead, submitted.offer.id, approve=True)
    assert decision.documents is not None and decision.documents.number == "КП-2026-0001"
    assert [o.status for o in await any_core.offers.for_deal(anna, deal.id)] == ["issued"]


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


async def test_an_offer_is_withdrawn_not_issued_when_its_deal_was_lost(any_core: Core) -> None:
    """Every way to approve goes through `decide`: a lost deal's offer is withdrawn there,
    once; it is not issued, takes no number, and its author may not submit it again."""
    lead = await any_core.people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    deal = await any_core.deals.create(anna, "Лям")
    spec = _spec(any_core, deal.id, discount="11")
    pending = await any_core.offers.submit(anna, spec)
    assert pending.documents is None
    await any_core.deals.move(anna, deal.id, "lost", via=Via.BUTTON, lost_reason="price")

    decision = await any_core.offers.decide(lead, pending.offer.id, approve=True)

    assert decision.withdrawn and decision.documents is None
    assert decision.offer.status == "withdrawn"
    (offer,) = await any_core.offers.for_deal(anna, deal.id)
    assert (offer.status, offer.number) == ("withdrawn", None)
    with pytest.raises(Invalid) as again:
        await any_core.offers.decide(lead, pending.offer.id, approve=True)
    assert again.value.key == "offer.withdrawn_already"
    with pytest.raises(Invalid) as resubmitted:
        await any_core.offers.submit(anna, spec)
    assert resubmitted.value.key == "offer.deal_lost"
    with pytest.raises(Invalid) as reopened:
        await any_core.offers.reopen(anna, pending.offer.id)
    assert reopened.value.key == "offer.deal_lost"
    with pytest.raises(NotFound):
        await any_core.offers.reopen(lead, pending.offer.id)  # not the lead's own offer
