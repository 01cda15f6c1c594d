"""Offer input: the CLI's JSON becomes a typed draft, and every bad value names its field."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from bot.common.errors import FileProblem, InvalidFile
from bot.offers.catalog import Catalog, CatalogItem
from bot.offers.input import (
    load_offer_json,
    offer_number,
    parse_offer_document,
)

EXAMPLE: dict[str, Any] = {
    "client": {"name": "ООО «Ромашка»", "inn": "7701234567", "contact": "Иван Петров"},
    "items": [
        {
            "sku": "A-1",
            "name": "Станок",
            "unit": "шт",
            "qty": 1,
            "price": "120000",
            "discount_percent": 0,
        }
    ],
    "discount_percent": 0,
    "vat_percent": 22,
    "vat_included": True,
    "currency": "RUB",
    "valid_days": 14,
    "manager": {"name": "Анна Смирнова", "phone": "+7 999 000-00-00", "email": "anna@example.com"},
    "number": None,
    "date": None,
}

CATALOG = Catalog(
    [
        CatalogItem(
            sku="VS-PR-2700",
            name="Стеллаж паллетный, секция 2700 мм",
            unit="секция",
            price=Decimal("38900.00"),
            currency="RUB",
            vat_percent=Decimal(22),
            max_discount_percent=Decimal(12),
        ),
        CatalogItem(
            sku="VS-WMS",
            name="Вектор WMS, подписка",
            unit="мес.",
            price=Decimal("9900"),
            currency="RUB",
            vat_percent=Decimal(0),
            max_discount_percent=Decimal(10),
        ),
        CatalogItem(
            sku="VS-USD",
            name="Импортный сканер",
            unit="шт",
            price=Decimal("300"),
            currency="USD",
            vat_percent=Decimal(22),
            max_discount_percent=Decimal(100),
        ),
    ]
)


def document(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return data


def with_item(**changes: Any) -> dict[str, Any]:
    data = document()
    data["items"][0].update(changes)
    return data


def error_of(data: Any, catalog: Catalog | None = None) -> FileProblem:
    """The first problem of the document (each test's document has one)."""
    with pytest.raises(InvalidFile) as caught:
        parse_offer_document(data, catalog)
    return caught.value.problems[0]


def test_example_document_parses_into_a_typed_draft() -> None:
    draft = parse_offer_document(EXAMPLE, None)
    assert draft.client.name == "ООО «Ромашка»"
    assert draft.client.kpp is None
    assert draft.manager.email == "anna@example.com"
    (line,) = draft.lines
    assert (line.sku, line.name, line.unit) == ("A-1", "Станок", "шт")
    assert line.qty == Decimal(1)
    assert line.price == Decimal(120000)
    assert draft.vat_percent == Decimal(22)
    assert draft.vat_included is True
    assert draft.valid_days == 14
    assert draft.number is None
    assert draft.date is None


def test_json_text_is_read_with_exact_decimals() -> None:
    text = json.dumps(EXAMPLE, ensure_ascii=False).replace('"120000"', "120000.10")
    data = load_offer_json(text)
    assert data["items"][0]["price"] == Decimal("120000.10")
    assert parse_offer_document(data, None).lines[0].price == Decimal("120000.10")


def test_load_offer_json_rejects_broken_json_and_non_objects() -> None:
    with pytest.raises(InvalidFile) as caught:
        load_offer_json("{")
    assert caught.value.problems[0].field == "$"
    with pytest.raises(InvalidFile):
        load_offer_json("[1, 2]")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_json_are_rejected_with_the_field(constant: str) -> None:
    text = json.dumps(EXAMPLE).replace('"120000"', constant)
    error = error_of(load_offer_json(text))
    assert error.field == "items[0].price"


def test_numbers_may_be_json_numbers_or_decimal_strings() -> None:
    draft = parse_offer_document(with_item(qty="2,5", price=1200.5, discount_percent="7.5"), None)
    line = draft.lines[0]
    assert (line.qty, line.price, line.discount_percent) == (
        Decimal("2.5"),
        Decimal("1200.5"),
        Decimal("7.5"),
    )


def test_defaults_when_optional_fields_are_absent() -> None:
    data = document()
    for key in ("discount_percent", "vat_percent", "vat_included", "currency", "valid_days"):
        del data[key]
    del data["items"][0]["unit"]
    del data["items"][0]["discount_percent"]
    draft = parse_offer_document(data, None)
    assert draft.vat_percent == Decimal(22)
    assert draft.vat_included is True
    assert draft.currency == "RUB"
    assert draft.valid_days is None
    assert draft.discount_percent == Decimal(0)
    assert draft.lines[0].unit == "шт"


@pytest.mark.parametrize("vat", [None, 0, "0"])
def test_vat_null_or_zero_means_without_vat(vat: object) -> None:
    assert parse_offer_document(document(vat_percent=vat), None).vat_percent is None


def test_dates_in_iso_and_russian_format() -> None:
    assert parse_offer_document(document(date="2026-11-29"), None).date == dt.date(2026, 11, 29)
    assert parse_offer_document(document(date="29.11.2026"), None).date == dt.date(2026, 11, 29)


def test_all_client_and_manager_fields_are_kept() -> None:
    data = document(
        client={
            "name": "ИП Иванов",
            "inn": "770123456789",
            "kpp": "770101001",
            "contact": "Иванов И. И.",
            "phone": "+7 900 000-00-00",
            "email": "ivanov@example.com",
            "address": "Москва",
        },
        payment_terms="100% предоплата",
        delivery_terms="Самовывоз",
        number="КП-2026-0001",
    )
    draft = parse_offer_document(data, None)
    assert draft.client.inn == "770123456789"
    assert draft.client.address == "Москва"
    assert draft.payment_terms == "100% предоплата"
    assert draft.number == "КП-2026-0001"


# --- every invalid input names its field -------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (document(items=[]), "items"),
        ({key: value for key, value in EXAMPLE.items() if key != "items"}, "items"),
        (document(items={"sku": "A-1"}), "items"),
        (document(items=["Станок"]), "items[0]"),
        (with_item(qty=0), "items[0].qty"),
        (with_item(qty=-1), "items[0].qty"),
        (with_item(qty="abc"), "items[0].qty"),
        (with_item(qty=True), "items[0].qty"),
        (with_item(qty=float("nan")), "items[0].qty"),
        (with_item(qty=float("inf")), "items[0].qty"),
        (with_item(price="-1"), "items[0].price"),
        (with_item(price="abc"), "items[0].price"),
        (with_item(price=False), "items[0].price"),
        (with_item(price="Infinity"), "items[0].price"),
        (with_item(price=None), "items[0].price"),
        (with_item(name=None), "items[0].name"),
        (with_item(discount_percent=101), "items[0].discount_percent"),
        (with_item(discount_percent=-1), "items[0].discount_percent"),
        (with_item(discount_percent="много"), "items[0].discount_percent"),
        (with_item(discont=5), "items[0].discont"),
        (document(discount_percent=150), "discount_percent"),
        (document(discount_percent="-0.5"), "discount_percent"),
        (document(discount_percent=True), "discount_percent"),
        (document(vat_percent=120), "vat_percent"),
        (document(vat_percent="двадцать"), "vat_percent"),
        (document(vat_included="yes"), "vat_included"),
        (document(currency="рубли"), "currency"),
        (document(valid_days=0), "valid_days"),
        (document(valid_days=2.5), "valid_days"),
        (document(valid_days="NaN"), "valid_days"),
        (document(date="30.02.2026"), "date"),
        (document(date="завтра"), "date"),
        (document(discount=5), "discount"),
        (document(client=None), "client"),
        (document(client={"inn": "7701234567", "contact": "Иван"}), "client.name"),
        (document(client={"name": " ", "inn": "7701234567", "contact": "И"}), "client.name"),
        (document(client={"name": "ООО", "inn": "123", "contact": "Иван"}), "client.inn"),
        (document(client={"name": "ООО", "contact": "Иван"}), "client.inn"),
        (document(client={"name": "ООО", "inn": "7701234567"}), "client.contact"),
        (
            document(client={"name": "ООО", "inn": "7701234567", "contact": "И", "kpp": "1"}),
            "client.kpp",
        ),
        (document(client={**EXAMPLE["client"], "name": 5.5}), "client.name"),
        (document(manager={"phone": "+7"}), "manager.name"),
        (document(manager="Анна"), "manager"),
    ],
)
def test_invalid_input_names_the_field(data: Any, field: str) -> None:
    assert error_of(data).field == field


def test_error_message_carries_the_field_path() -> None:
    error = error_of(with_item(qty=0))
    assert str(error).startswith("items[0].qty: ")
    assert "greater than 0" in error.why


def test_error_in_a_later_item_names_its_index() -> None:
    data = document()
    data["items"] = [dict(EXAMPLE["items"][0]) for _ in range(3)]
    data["items"][2]["qty"] = "-3"
    assert error_of(data).field == "items[2].qty"


def test_a_document_that_is_not_an_object_is_rejected() -> None:
    assert error_of(["not", "an", "object"]).field == "$"


# --- catalog ----------------------------------------------------------------------------


def test_item_given_by_sku_takes_name_unit_price_and_cap_from_the_catalog() -> None:
    data = document(items=[{"sku": "vs-pr-2700", "qty": 3}])
    line = parse_offer_document(data, CATALOG).lines[0]
    assert line.sku == "VS-PR-2700"
    assert line.name == "Стеллаж паллетный, секция 2700 мм"
    assert line.unit == "секция"
    assert line.price == Decimal("38900.00")
    assert line.max_discount_percent == Decimal(12)


def test_explicit_price_and_name_override_the_catalog_but_keep_its_cap() -> None:
    data = document(items=[{"sku": "VS-PR-2700", "name": "Секция", "qty": 1, "price": "35000"}])
    line = parse_offer_document(data, CATALOG).lines[0]
    assert (line.name, line.price) == ("Секция", Decimal(35000))
    assert line.max_discount_percent == Decimal(12)


def test_unknown_sku_without_name_and_price_is_an_error_naming_the_sku() -> None:
    data = document(items=[{"sku": "A-1", "qty": 1}, {"sku": "NOPE", "qty": 1, "name": "Что-то"}])
    data["items"][0].update(name="Станок", price="1")
    error = error_of(data, CATALOG)
    assert error.field == "items[1].sku"
    assert "NOPE" in error.why


def test_unknown_sku_with_name_and_price_is_a_one_off_position() -> None:
    line = parse_offer_document(EXAMPLE, CATALOG).lines[0]
    assert line.sku == "A-1"
    assert line.max_discount_percent is None


def test_without_a_catalog_an_item_needs_name_and_price() -> None:
    assert error_of(document(items=[{"sku": "VS-PR-2700", "qty": 1}])).field == "items[0].name"


def test_catalog_price_in_another_currency_is_not_silently_used() -> None:
    error = error_of(document(items=[{"sku": "VS-USD", "qty": 1}]), CATALOG)
    assert error.field == "items[0].sku"
    assert "USD" in error.why


def test_offer_number_is_padded_to_four_digits() -> None:
    assert offer_number(2026, 42) == "КП-2026-0042"
    assert offer_number(2027, 12345) == "КП-2027-12345"
    with pytest.raises(ValueError):
        offer_number(2026, 0)


def test_without_vat_percent_the_offer_takes_the_catalog_items_rate() -> None:
    data = document(items=[{"sku": "VS-WMS", "qty": 12}])
    del data["vat_percent"]
    assert parse_offer_document(data, CATALOG).vat_percent is None
    data["items"] = [{"sku": "VS-PR-2700", "qty": 1}]
    assert parse_offer_document(data, CATALOG).vat_percent == Decimal(22)


def test_catalog_item_with_another_vat_rate_than_the_offer_is_an_error() -> None:
    data = document(items=[{"sku": "VS-PR-2700", "qty": 1}, {"sku": "VS-WMS", "qty": 12}])
    error = error_of(data, CATALOG)
    assert error.field == "items[1].sku"
    assert "VS-WMS" in error.why
    assert "separate offer" in error.why


def test_catalog_items_with_different_vat_rates_need_an_explicit_choice() -> None:
    data = document(items=[{"sku": "VS-PR-2700", "qty": 1}, {"sku": "VS-WMS", "qty": 12}])
    del data["vat_percent"]
    assert error_of(data, CATALOG).field == "vat_percent"


def test_one_off_items_follow_the_offers_vat_rate() -> None:
    assert parse_offer_document(document(vat_percent=None), CATALOG).vat_percent is None


def test_every_problem_of_the_document_is_named_at_once() -> None:
    data = document(
        client={"name": "ООО", "inn": "123"},
        items=[{"name": "Станок", "price": "1", "qty": 0}, {"sku": "A-2", "discont": 5}],
        currency="рубли",
    )
    problems = [str(problem) for problem in parse_problems(data)]
    assert problems == [
        "client.inn: ИНН must be 10 or 12 digits, got '123'",
        "client.contact: required",
        "items[0].qty: quantity must be greater than 0, got 0",
        "items[1].discont: unknown field; "
        "expected one of discount_percent, name, price, qty, sku, unit",
        "currency: expected a 3-letter code like RUB, got 'рубли'",
    ]


def test_every_item_the_catalog_cannot_complete_is_named() -> None:
    data = document(items=[{"sku": "NOPE", "qty": 1}, {"qty": 2}, {"sku": "VS-USD"}])
    assert [str(problem) for problem in parse_problems(data, CATALOG)] == [
        "items[0].sku: unknown SKU 'NOPE': not in the catalog; give name and price",
        "items[1].name: missing name",
        "items[1].price: missing price",
        "items[2].sku: catalog price of VS-USD is in USD, the offer is in RUB; "
        "give the price explicitly",
    ]


def parse_problems(data: Any, catalog: Catalog | None = None) -> tuple[FileProblem, ...]:
    with pytest.raises(InvalidFile) as caught:
        parse_offer_document(data, catalog)
    return caught.value.problems
