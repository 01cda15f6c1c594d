"""Offer arithmetic: line sums, order discount, VAT and the discount policy.

Every rule rounds to kopecks half up at the same points an accountant would, so the
document, the bot message and a spreadsheet re-check all agree to the kopeck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

from bot.common.money import round_kopecks

__all__ = [
    "DEFAULT_VAT_PERCENT",
    "HUNDRED",
    "OfferLine",
    "OfferTotals",
    "Violation",
    "compute_totals",
    "discount_violations",
    "effective_discount_percent",
    "line_sum",
    "most_line_discount",
    "most_order_discount",
    "normalize_vat_percent",
]

DEFAULT_VAT_PERCENT = Decimal(22)
"""Russian standard VAT rate from 1 January 2026."""

HUNDRED = Decimal(100)
_ZERO = Decimal(0)
# Enough digits that qty × price × discount never loses anything before the final rounding.
_PRECISION = 60


@dataclass(frozen=True, slots=True)
class OfferLine:
    """One row of an offer; ``max_discount_percent`` is the catalog's cap for the item, if any."""

    sku: str | None
    name: str
    unit: str
    qty: Decimal
    price: Decimal
    discount_percent: Decimal = _ZERO
    max_discount_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OfferTotals:
    """Sums of an offer; ``line_sums[i]`` belongs to ``lines[i]`` of the input.

    ``vat_percent`` is ``None`` for an offer without VAT («Без НДС»), whatever the input
    said (0 and None mean the same).
    """

    line_sums: tuple[Decimal, ...]
    subtotal: Decimal
    discount_percent: Decimal
    discount: Decimal
    net: Decimal
    vat_percent: Decimal | None
    vat_included: bool
    vat: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class Violation:
    """A line whose combined discount exceeds what the seller's role or the item allows."""

    index: int
    sku: str | None
    name: str
    effective_percent: Decimal
    limit_percent: Decimal


def normalize_vat_percent(vat_percent: Decimal | None) -> Decimal | None:
    """0 and None both mean «Без НДС»; keep one spelling of it (None) downstream."""
    if vat_percent is None or vat_percent == 0:
        return None
    return vat_percent


def _check_percent(value: Decimal, what: str) -> None:
    if not _ZERO <= value <= HUNDRED:
        raise ValueError(f"{what} must be within 0–100, got {value}")


def line_sum(line: OfferLine) -> Decimal:
    """qty × price × (1 − line discount/100), rounded to kopecks half up."""
    _check_percent(line.discount_percent, "line discount")
    with localcontext() as context:
        context.prec = _PRECISION
        raw = line.qty * line.price * (HUNDRED - line.discount_percent) / HUNDRED
        return round_kopecks(raw)


def compute_totals(
    lines: Sequence[OfferLine],
    discount_percent: Decimal = _ZERO,
    vat_percent: Decimal | None = DEFAULT_VAT_PERCENT,
    vat_included: bool = True,
) -> OfferTotals:
    """Apply the offer rules in order: line sums, order discount, then VAT (included or on top).

    - ``subtotal = Σ line_sum``, ``discount = round(subtotal × d/100)``
    - ``net = subtotal − discount``
    - VAT included: ``vat = round(net × r/(100+r))``, ``total = net``
    - VAT on top: ``vat = round(net × r/100)``, ``total = net + vat``
    """
    _check_percent(discount_percent, "order discount")
    rate = normalize_vat_percent(vat_percent)
    if rate is not None:
        _check_percent(rate, "VAT rate")
    with localcontext() as context:
        context.prec = _PRECISION
        sums = tuple(line_sum(line) for line in lines)
        subtotal = sum(sums, _ZERO)
        discount = round_kopecks(subtotal * discount_percent / HUNDRED)
        net = subtotal - discount
        if rate is None:
            vat = _ZERO.quantize(Decimal("0.01"))
            total = net
        elif vat_included:
            vat = round_kopecks(net * rate / (HUNDRED + rate))
            total = net
        else:
            vat = round_kopecks(net * rate / HUNDRED)
            total = net + vat
    return OfferTotals(
        line_sums=sums,
        subtotal=subtotal,
        discount_percent=discount_percent,
        discount=discount,
        net=net,
        vat_percent=rate,
        vat_included=vat_included,
        vat=vat,
        total=total,
    )


def effective_discount_percent(line: OfferLine, order_discount: Decimal) -> Decimal:
    """Combined discount of a line in percent: 1 − (1 − d_line)(1 − d_order).

    10% on the line and 5% on the order is 14.5%, not 15%: the order discount applies to
    the already discounted sum. The result is exact (not rounded), so a policy check at
    the limit compares what the customer actually gets.
    """
    with localcontext() as context:
        context.prec = _PRECISION
        kept = (HUNDRED - line.discount_percent) * (HUNDRED - order_discount) / HUNDRED
        return _tidy(HUNDRED - kept)


def _tidy(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (10, not 1E+1)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1)) + 0  # "+ 0" turns -0 into 0
    return value.normalize()


def discount_violations(
    lines: Sequence[OfferLine], order_discount: Decimal, role_limit: Decimal
) -> list[Violation]:
    """Lines whose combined discount is above min(role limit, the item's own cap)."""
    violations = []
    for index, line in enumerate(lines):
        limit = role_limit
        if line.max_discount_percent is not None:
            limit = min(limit, line.max_discount_percent)
        effective = effective_discount_percent(line, order_discount)
        if effective > limit:
            violations.append(
                Violation(
                    index=index,
                    sku=line.sku,
                    name=line.name,
                    effective_percent=effective,
                    limit_percent=limit,
                )
            )
    return violations


def _floor_hundredths(value: Decimal) -> Decimal:
    """Down to 0.01: the largest percent one may type that stays within a limit."""
    return _tidy(max(value, _ZERO).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def most_line_discount(limit: Decimal, order_discount: Decimal) -> Decimal:
    """The largest line discount whose combination with `order_discount` stays within `limit`.

    From 1 − (1 − l)(1 − o) ≤ c: l ≤ 1 − (1 − c)/(1 − o); with the order discount at the
    limit or above it, nothing is left for the line.
    """
    if order_discount >= HUNDRED:
        return _ZERO
    with localcontext() as context:
        context.prec = _PRECISION
        return _floor_hundredths(HUNDRED - (HUNDRED - limit) * HUNDRED / (HUNDRED - order_discount))


def most_order_discount(lines: Sequence[OfferLine], role_limit: Decimal) -> Decimal:
    """The largest order discount that keeps every line within min(role limit, its cap)."""
    most = role_limit
    for line in lines:
        limit = role_limit
        if line.max_discount_percent is not None:
            limit = min(limit, line.max_discount_percent)
        most = min(most, most_line_discount(limit, line.discount_percent))
    return most
