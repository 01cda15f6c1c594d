"""Money: exact parsing, accountants' rounding, Russian formatting and amounts in words."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.common.errors import InvalidFile
from bot.common.money import (
    MAX_AMOUNT,
    NBSP,
    amount_in_words,
    format_decimal,
    format_money,
    round_kopecks,
    rubles_in_words,
    to_decimal,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (120000, Decimal("120000")),
        (Decimal("38900.00"), Decimal("38900.00")),
        ("120000", Decimal("120000")),
        ("38900.00", Decimal("38900.00")),
        ("1 200,50", Decimal("1200.50")),
        (f"1{NBSP}200{NBSP}000", Decimal("1200000")),
        ("1\u202f200,5", Decimal("1200.5")),
        ("  -3,25 ", Decimal("-3.25")),
        (0.1, Decimal("0.1")),
        (2.675, Decimal("2.675")),
    ],
)
def test_to_decimal_accepts_numbers_and_decimal_strings(value: object, expected: Decimal) -> None:
    result = to_decimal(value, "price")
    assert result == expected
    assert str(result) == str(expected)


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        None,
        "abc",
        "",
        "1,200.50",
        "12 0000",
        "1e3",
        "NaN",
        "Infinity",
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        Decimal("-Infinity"),
        [1],
        {"value": 1},
    ],
)
def test_to_decimal_rejects_non_numbers_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidFile) as caught:
        to_decimal(value, "items[2].qty")
    assert caught.value.problems[0].field == "items[2].qty"
    assert str(caught.value).startswith("items[2].qty: ")


def test_to_decimal_rejects_numbers_beyond_what_the_database_holds() -> None:
    assert to_decimal("9999999999999999.99", "price") == MAX_AMOUNT
    with pytest.raises(InvalidFile, match="too large"):
        to_decimal("10000000000000000", "price")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.125", "0.13"),
        ("2.675", "2.68"),
        ("2.665", "2.67"),
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("-0.125", "-0.13"),
        ("10", "10.00"),
    ],
)
def test_round_kopecks_rounds_half_up_at_the_third_decimal(amount: str, expected: str) -> None:
    assert str(round_kopecks(Decimal(amount))) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("150000", "RUB", "150 000,00 ₽"),
        ("1234567.891", "RUB", "1 234 567,89 ₽"),
        ("0", "RUB", "0,00 ₽"),
        ("999.995", "RUB", "1 000,00 ₽"),
        ("1200.5", "USD", "1 200,50 $"),
        ("1200.5", "EUR", "1 200,50 €"),
        ("1000", "CNY", "1 000,00 CNY"),
        ("-1500", "RUB", "-1 500,00 ₽"),
    ],
)
def test_format_money_uses_nbsp_groups_and_a_decimal_comma(
    amount: str, currency: str, expected: str
) -> None:
    assert format_money(Decimal(amount), currency) == expected.replace(" ", NBSP)


def test_format_money_defaults_to_rubles() -> None:
    assert format_money(Decimal("5")) == f"5,00{NBSP}₽"


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [("2.50", None, "2,5"), ("10.000", None, "10"), ("1E+3", None, "1 000"), ("12.5", 2, "12,50")],
)
def test_format_decimal_prints_quantities_without_needless_zeros(
    value: str, places: int | None, expected: str
) -> None:
    assert format_decimal(Decimal(value), places) == expected.replace(" ", NBSP)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("150000", "Сто пятьдесят тысяч рублей 00 копеек"),
        ("21.50", "Двадцать один рубль 50 копеек"),
        ("2", "Два рубля 00 копеек"),
        ("5", "Пять рублей 00 копеек"),
        ("11", "Одиннадцать рублей 00 копеек"),
        ("12", "Двенадцать рублей 00 копеек"),
        ("14", "Четырнадцать рублей 00 копеек"),
        ("101", "Сто один рубль 00 копеек"),
        ("111", "Сто одиннадцать рублей 00 копеек"),
        ("1000001", "Один миллион один рубль 00 копеек"),
        ("0", "Ноль рублей 00 копеек"),
        ("1000", "Одна тысяча рублей 00 копеек"),
        ("2000", "Две тысячи рублей 00 копеек"),
        ("21000", "Двадцать одна тысяча рублей 00 копеек"),
        ("5000", "Пять тысяч рублей 00 копеек"),
        ("2000000", "Два миллиона рублей 00 копеек"),
        ("122001.02", "Сто двадцать две тысячи один рубль 02 копейки"),
    ],
)
def test_rubles_in_words_agrees_rubles_and_thousands(amount: str, expected: str) -> None:
    assert rubles_in_words(Decimal(amount)) == expected


@pytest.mark.parametrize(
    ("kopecks", "expected_tail"),
    [
        ("0.01", "01 копейка"),
        ("0.02", "02 копейки"),
        ("0.04", "04 копейки"),
        ("0.05", "05 копеек"),
        ("0.11", "11 копеек"),
        ("0.14", "14 копеек"),
        ("0.21", "21 копейка"),
        ("0.22", "22 копейки"),
        ("0.50", "50 копеек"),
    ],
)
def test_rubles_in_words_agrees_kopecks_in_digits(kopecks: str, expected_tail: str) -> None:
    assert rubles_in_words(Decimal(kopecks)) == f"Ноль рублей {expected_tail}"


def test_rubles_in_words_rounds_to_kopecks_first() -> None:
    assert rubles_in_words(Decimal("1.005")) == "Один рубль 01 копейка"


def test_rubles_in_words_rejects_negative_amounts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        rubles_in_words(Decimal("-1"))


def test_amount_in_words_speaks_dollars_euros_and_unknown_codes() -> None:
    assert amount_in_words(Decimal("21.01"), "USD") == "Двадцать один доллар США 01 цент"
    assert amount_in_words(Decimal("3"), "EUR") == "Три евро 00 евроцентов"
    assert amount_in_words(Decimal("100"), "CNY") == "Сто CNY 00/100"
