"""Amounts and next-step dates: the forms people type, and clear refusals."""

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.common.errors import Invalid
from bot.common.money import parse_amount
from bot.deals.dates import in_days, parse_next_step
from bot.deals.new_deal import NewDeal, from_answers, parse_new_line

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("150000", "150000", "RUB"),
        ("150 000", "150000", "RUB"),
        ("150 000 ₽", "150000", "RUB"),
        ("150к", "150000", "RUB"),
        ("150 тыс", "150000", "RUB"),
        ("1,5 млн", "1500000", "RUB"),
        ("2.5m", "2500000", "RUB"),
        ("$3,000", "3000", "USD"),
        ("12 500,50 руб.", "12500.50", "RUB"),
        ("€200", "200", "EUR"),
    ],
)
def test_amounts_as_typed(text: str, amount: str, currency: str) -> None:
    assert parse_amount(text) == (Decimal(amount).quantize(Decimal("0.01")), currency)


@pytest.mark.parametrize("text", ["сто тысяч", "-5", "1.2.3", "", "много", "0,005"])
def test_bad_amounts_are_refused(text: str) -> None:
    with pytest.raises(Invalid) as error:
        parse_amount(text)
    assert error.value.key == "amount.invalid"


@pytest.mark.parametrize(
    ("text", "key"),
    [("0", "amount.not_positive"), ("0 ₽", "amount.not_positive"),
     ("999999999999999999999", "amount.too_large"), ("99 999 999 млрд", "amount.too_large")],
)  # fmt: skip
def test_a_zero_or_an_amount_beyond_the_ceiling_is_told_as_such(text: str, key: str) -> None:
    with pytest.raises(Invalid) as error:
        parse_amount(text)
    assert error.value.key == key


@pytest.mark.parametrize(
    ("line", "amount", "contact"),
    [
        ("A2, 1 000 000 000", "1000000000", None),
        ("A2, 1 000 000 000, Иван +7 999 123-45-67", "1000000000", "Иван +7 999 123-45-67"),
        ("A2, +7 999 123-45-67", None, "+7 999 123-45-67"),
        ("A2, 89991234567", None, "89991234567"),
        ("A2, 8 (999) 123-45-67", None, "8 (999) 123-45-67"),
    ],
)
def test_a_number_of_any_size_after_the_title_is_the_amount_a_phone_is_a_contact(
    line: str, amount: str | None, contact: str | None
) -> None:
    deal = parse_new_line(line)
    expected = Decimal(amount).quantize(Decimal("0.01")) if amount else None
    assert (deal.amount, deal.contact) == (expected, contact)


def test_an_amount_beyond_the_ceiling_in_a_new_line_is_refused_not_taken_for_a_contact() -> None:
    with pytest.raises(Invalid) as error:
        parse_new_line("Огромная, 999999999999999999999")
    assert error.value.key == "amount.too_large"


@pytest.mark.parametrize(
    ("text", "action", "due"),
    [
        ("позвонить завтра в 11", "позвонить", "2026-12-01 11:00"),
        ("встреча пт 15:00", "встреча", "2026-12-04 15:00"),
        ("через 3 дня отправить договор", "отправить договор", "2026-12-03 10:00"),
        ("2026-12-03 10:00 звонок", "звонок", "2026-12-03 10:00"),
        ("05.12 в 14 демо", "демо", "2026-12-05 14:00"),
        ("3 декабря презентация", "презентация", "2026-12-03 10:00"),
        ("через 2 часа перезвонить", "перезвонить", "2026-11-30 12:00"),
        ("call tomorrow at 9:30", "call", "2026-12-01 09:30"),
        ("в 3 созвон", "созвон", "2026-11-30 15:00"),
        ("завтра", "Шаг", "2026-12-01 10:00"),
    ],
)
def test_next_steps_as_typed(text: str, action: str, due: str) -> None:
    step = parse_next_step(text, NOW, MOSCOW, "Шаг")
    assert step.text == action
    assert step.due.astimezone(MOSCOW).strftime("%Y-%m-%d %H:%M") == due


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("купить слона", "next_step.not_understood"),
        ("", "next_step.not_understood"),
        ("сегодня в 9", "next_step.in_past"),
        ("2025-01-01 звонок", "next_step.in_past"),
        ("31.02 звонок", "next_step.not_understood"),
        ("в 25:00", "next_step.not_understood"),
    ],
)
def test_bad_next_steps_are_refused(text: str, key: str) -> None:
    with pytest.raises(Invalid) as error:
        parse_next_step(text, NOW, MOSCOW, "Шаг")
    assert error.value.key == key


def test_a_quick_next_step_is_that_local_day_at_ten() -> None:
    late_evening = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)  # already Tuesday in Moscow
    assert in_days(1, NOW, MOSCOW).strftime("%Y-%m-%d %H:%M") == "2026-12-01 10:00"
    assert in_days(3, late_evening, MOSCOW).strftime("%Y-%m-%d %H:%M") == "2026-12-04 10:00"
    assert in_days(1, NOW, MOSCOW).utcoffset() == MOSCOW.utcoffset(NOW)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Ромашка", NewDeal("Ромашка")),
        (
            "Ромашка ООО, 150 000, Иван Петров +7 999 123-45-67",
            NewDeal("Ромашка ООО", Decimal("150000.00"), contact="Иван Петров +7 999 123-45-67"),
        ),
        ("Вектор, 1,5 млн", NewDeal("Вектор", Decimal("1500000.00"))),
        ("Acme, $3,000, John", NewDeal("Acme", Decimal("3000.00"), "USD", contact="John")),
        ("Глобус, +7 999 123-45-67", NewDeal("Глобус", contact="+7 999 123-45-67")),
        ("Лютик, Анна, 200к", NewDeal("Лютик", Decimal("200000.00"), contact="Анна")),
    ],
)
def test_the_new_one_liner_splits_title_amount_and_contact(line: str, expected: NewDeal) -> None:
    assert parse_new_line(line) == expected


def test_a_wrong_amount_in_the_one_liner_is_refused_not_taken_for_a_contact() -> None:
    with pytest.raises(Invalid) as error:
        parse_new_line("Ромашка, 150 попугаев")
    assert error.value.key == "amount.invalid"


def test_the_dialogs_client_answer_is_the_client_then_the_contact() -> None:
    assert from_answers("Ромашка", "ООО Ромашка, Иван +7 999") == NewDeal(
        "Ромашка", client="ООО Ромашка", contact="Иван +7 999"
    )
    assert from_answers("Ромашка", "Иван") == NewDeal("Ромашка", client="Иван")
    assert from_answers("Ромашка", None, Decimal(5), "EUR") == NewDeal("Ромашка", Decimal(5), "EUR")
