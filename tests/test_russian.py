"""Russian that reads like Russian: units agree with numbers and «за»; names need no case."""

from decimal import Decimal

import pytest

from bot.common.russian import accusative, counted
from tests.conftest import Harness


@pytest.mark.parametrize(
    ("unit", "quantity", "expected"),
    [
        ("секция", 1, "секция"),
        ("секция", 3, "секции"),
        ("секция", 20, "секций"),
        ("секция", 21, "секция"),
        ("секция", 12, "секций"),
        ("пара", 40, "пар"),
        ("пара", "2,5", "пары"),
        ("погонный метр", 2, "погонных метра"),
        ("погонный метр", Decimal("2.5"), "погонного метра"),
        ("час работы", 5, "часов работы"),  # the complement keeps its form
        ("упаковка 10 шт", 5, "упаковок 10 шт"),
        ("сутки", 3, "суток"),
        ("Лицензия", 5, "Лицензий"),  # the writer's capital letter stays
        ("шт", 20, "шт"),  # abbreviations and symbols stay as written
        ("м²", 20, "м²"),
        ("pcs", 20, "pcs"),
        ("секция", "not a number", "секция"),
    ],
)
def test_a_unit_agrees_with_its_quantity(unit: str, quantity: object, expected: str) -> None:
    assert counted(unit, quantity) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("секция", "секцию"),
        ("пара", "пару"),
        ("новая лицензия", "новую лицензию"),
        ("пользователь", "пользователя"),
        ("погонный метр", "погонный метр"),
        ("комплект", "комплект"),
        ("шт", "шт"),
    ],
)
def test_a_unit_after_za_is_in_the_accusative(unit: str, expected: str) -> None:
    assert accusative(unit) == expected


async def test_an_offer_line_says_20_sections_at_a_price_per_section(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    await anna.send("/new Ромашка, 500 000")
    await anna.click("📄 КП")
    await anna.click("➕ Товар")
    prompt = (await anna.send("VS-PR-2700-3"))[-1]  # an exact SKU picks its item at once
    assert "38\u00a0900\u00a0₽ за секцию. Сколько?" in prompt.text
    builder = (await anna.send("20"))[-1]
    assert "— 20 секций × 38\u00a0900\u00a0₽" in builder.text
    await anna.click("➕ Товар")
    prompt = (await anna.send("VS-PR-BEAM-2700"))[-1]
    assert "за пару. Сколько?" in prompt.text
    builder = (await anna.send("40"))[-1]
    assert "— 40 пар × 5\u00a0900\u00a0₽" in builder.text


async def test_an_english_reader_sees_the_unit_as_the_catalog_writes_it(harness: Harness) -> None:
    _, john = await harness.person(name="John", language="en")
    await john.send("/new Acme, 500 000")
    await john.click("📄 Offer")
    await john.click("➕ Product")
    prompt = (await john.send("VS-PR-2700-3"))[-1]
    assert "per секция. How many?" in prompt.text
    builder = (await john.send("20"))[-1]
    assert "— 20 секция × " in builder.text
