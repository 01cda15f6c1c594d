"""Offer arithmetic: exact Decimal sums, half-up kopecks, VAT modes, the discount policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.offers.pricing import (
    DEFAULT_VAT_PERCENT,
    OfferLine,
    compute_totals,
    discount_violations,
    effective_discount_percent,
    line_sum,
)

D = Decimal


def line(
    price: str,
    qty: str = "1",
    discount: str = "0",
    *,
    name: str = "Стеллаж",
    cap: str | None = None,
) -> OfferLine:
    return OfferLine(
        sku=None,
        name=name,
        unit="шт",
        qty=D(qty),
        price=D(price),
        discount_percent=D(discount),
        max_discount_percent=D(cap) if cap is not None else None,
    )


def test_default_vat_rate_is_22_percent() -> None:
    assert D(22) == DEFAULT_VAT_PERCENT


def test_vat_included_is_extracted_from_the_total() -> None:
    totals = compute_totals([line("120000")], D(0), D(22), vat_included=True)
    assert totals.subtotal == D("120000.00")
    assert totals.net == D("120000.00")
    assert totals.vat == D("21639.34")  # 120000 × 22 / 122 = 21639.344…
    assert totals.total == D("120000.00")
    assert totals.vat_included is True


def test_vat_on_top_is_added_to_the_net() -> None:
    totals = compute_totals([line("120000")], D(0), D(22), vat_included=False)
    assert totals.vat == D("26400.00")
    assert totals.total == D("146400.00")


@pytest.mark.parametrize("rate", [None, D(0)])
@pytest.mark.parametrize("included", [True, False])
def test_no_vat_means_zero_vat_and_total_equal_to_net(rate: Decimal | None, included: bool) -> None:
    totals = compute_totals([line("999.99", "3")], D(0), rate, vat_included=included)
    assert totals.vat_percent is None
    assert totals.vat == D("0.00")
    assert totals.total == totals.net == D("2999.97")


def test_line_sum_is_qty_times_price_minus_line_discount() -> None:
    assert line_sum(line("999.99", "2", "15")) == D("1699.98")  # 1699.983


def test_line_sum_rounds_half_up_at_the_third_decimal() -> None:
    assert line_sum(line("0.125")) == D("0.13")
    assert line_sum(line("2.675")) == D("2.68")
    assert line_sum(line("33.335", "3")) == D("100.01")  # 100.005


def test_fractional_quantities_are_exact() -> None:
    assert line_sum(line("1250.40", "2.5")) == D("3126.00")
    assert line_sum(line("0.10", "3")) == D("0.30")  # 0.30000000000000004 with floats


def test_line_discount_of_100_percent_gives_zero_sum() -> None:
    totals = compute_totals([line("38900", "12", "100"), line("100")], D(0), D(22), True)
    assert totals.line_sums == (D("0.00"), D("100.00"))
    assert totals.subtotal == D("100.00")


def test_order_discount_is_taken_from_the_subtotal_and_rounded_half_up() -> None:
    totals = compute_totals([line("10.50")], D(5), None, True)
    assert totals.discount == D("0.53")  # 0.525: half up, not banker's 0.52
    assert totals.net == D("9.97")


def test_order_discount_applies_after_line_discounts() -> None:
    totals = compute_totals([line("1000", "1", "10"), line("200.10")], D("3.5"), None, True)
    assert totals.subtotal == D("1100.10")
    assert totals.discount == D("38.50")  # 38.5035
    assert totals.net == D("1061.60")


def test_vat_on_top_rounds_half_up() -> None:
    totals = compute_totals([line("0.75")], D(0), D(22), vat_included=False)
    assert totals.vat == D("0.17")  # 0.165
    assert totals.total == D("0.92")


def test_vat_is_computed_on_the_discounted_net() -> None:
    totals = compute_totals([line("1000")], D(10), D(22), vat_included=False)
    assert totals.net == D("900.00")
    assert totals.vat == D("198.00")
    assert totals.total == D("1098.00")


def test_line_sums_are_rounded_before_they_are_added() -> None:
    lines = [line("0.005") for _ in range(500)]
    totals = compute_totals(lines, D(0), None, True)
    assert len(totals.line_sums) == 500
    assert set(totals.line_sums) == {D("0.01")}
    assert totals.subtotal == D("5.00")  # not 2.50


def test_many_lines_add_up_to_the_kopeck() -> None:
    lines = [line(f"{index}.37", str(index % 7 + 1), str(index % 4)) for index in range(1, 301)]
    totals = compute_totals(lines, D("2.5"), D(22), vat_included=False)
    assert totals.subtotal == sum(totals.line_sums, D(0))
    assert totals.net == totals.subtotal - totals.discount
    assert totals.total == totals.net + totals.vat
    assert all(value == value.quantize(D("0.01")) for value in totals.line_sums)
    assert all(isinstance(value, Decimal) for value in (totals.vat, totals.total, totals.discount))


def test_an_offer_of_nothing_but_free_items_totals_zero() -> None:
    totals = compute_totals([line("0", "5")], D(0), D(22), True)
    assert totals.total == D("0.00")
    assert totals.vat == D("0.00")


@pytest.mark.parametrize("discount", [D("-1"), D("100.01")])
def test_compute_totals_rejects_an_order_discount_outside_0_to_100(discount: Decimal) -> None:
    with pytest.raises(ValueError, match="0–100"):
        compute_totals([line("100")], discount, D(22), True)


def test_compute_totals_rejects_a_line_discount_outside_0_to_100() -> None:
    with pytest.raises(ValueError, match="0–100"):
        compute_totals([line("100", "1", "120")], D(0), D(22), True)


@pytest.mark.parametrize(
    ("line_discount", "order_discount", "expected"),
    [
        ("0", "0", "0"),
        ("10", "5", "14.5"),
        ("0", "7", "7"),
        ("100", "30", "100"),
        ("12", "0", "12"),
    ],
)
def test_effective_discount_combines_line_and_order_discounts(
    line_discount: str, order_discount: str, expected: str
) -> None:
    result = effective_discount_percent(line("100", "1", line_discount), D(order_discount))
    assert result == D(expected)
    assert "E" not in str(result)


def test_discount_violation_names_line_effective_discount_and_limit() -> None:
    lines = [
        line("100", discount="8", name="Стеллаж", cap="12"),
        line("100", discount="5", name="Балка", cap="5"),
        line("100", discount="2", name="Монтаж"),
    ]
    violations = discount_violations(lines, D(5), role_limit=D(10))
    assert [(v.index, v.name) for v in violations] == [(0, "Стеллаж"), (1, "Балка")]
    first, second = violations
    assert first.effective_percent == D("12.6")
    assert first.limit_percent == D(10)  # the role's limit is lower than the item's cap
    assert second.effective_percent == D("9.75")
    assert second.limit_percent == D(5)  # the item's cap is lower than the role's


def test_discount_exactly_at_the_limit_is_allowed() -> None:
    assert discount_violations([line("100", discount="10", cap="10")], D(0), D(15)) == []
    assert discount_violations([line("100", discount="10")], D(0), D(10)) == []


def test_no_discount_never_violates() -> None:
    assert discount_violations([line("100", cap="0")], D(0), D(0)) == []
