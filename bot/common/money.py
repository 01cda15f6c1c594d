"""Money values for commercial offers: parsing, kopeck rounding, display and amounts in words.

Money is always ``Decimal``: binary floats cannot represent kopecks exactly, and a
commercial offer must add up to the kopeck on paper.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from num2words import num2words

__all__ = [
    "CURRENCY_SYMBOLS",
    "KOPECK",
    "MAX_ABS_VALUE",
    "NBSP",
    "InvalidNumberError",
    "amount_in_words",
    "format_decimal",
    "format_money",
    "round_kopecks",
    "rubles_in_words",
    "to_decimal",
]

KOPECK = Decimal("0.01")
NBSP = "\u00a0"
"""Separates thousand groups and the currency sign, so «150 000,00 ₽» never breaks across lines.

U+00A0 rather than the typographically narrower U+202F: every font and Word version has it.
"""

CURRENCY_SYMBOLS: dict[str, str] = {"RUB": "₽", "USD": "$", "EUR": "€"}

MAX_ABS_VALUE = Decimal("1e12")
"""Inputs above a trillion are typos; the bound also keeps qty × price inside Decimal precision."""

# Spaces people and spreadsheets put between digit groups: space, NBSP, thin and narrow NBSP.
_GROUP_SEPARATORS = " \u00a0\u2009\u202f"
_NUMBER_RE = re.compile(
    r"""
    [+-]?
    (?: \d{1,3} (?: [ \u00a0\u2009\u202f] \d{3} )+   # grouped: 1 200 000
      | \d+ )                                         # plain: 1200000
    (?: [.,] \d+ )?                                   # fraction with a dot or a comma
    """,
    re.VERBOSE,
)


class InvalidNumberError(ValueError):
    """A value meant as a number is not one; ``field`` says where it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def to_decimal(value: object, field: str) -> Decimal:
    """Convert a JSON/YAML/CSV value to a finite Decimal or raise ``InvalidNumberError``.

    Accepts int, Decimal, float (read through its shortest repr, which is what the JSON
    text said) and strings like ``"120000"``, ``"1 200,50"``, ``"38900.00"``. Rejects
    bool (``True`` is an int in Python, never a price), NaN, infinities and anything else.
    """
    if isinstance(value, bool):
        raise InvalidNumberError(field, f"expected a number, got {value!r}")
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        result = _parse_decimal_string(value, field)
    else:
        raise InvalidNumberError(field, f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise InvalidNumberError(field, f"expected a finite number, got {value!r}")
    if abs(result) >= MAX_ABS_VALUE:
        raise InvalidNumberError(field, f"number is too large: {value!r}")
    return result


def _parse_decimal_string(text: str, field: str) -> Decimal:
    stripped = text.strip()
    if not _NUMBER_RE.fullmatch(stripped):
        raise InvalidNumberError(field, f"expected a number, got {text!r}")
    for separator in _GROUP_SEPARATORS:
        stripped = stripped.replace(separator, "")
    try:
        return Decimal(stripped.replace(",", "."))
    except InvalidOperation as error:  # pragma: no cover - the regex admits only valid text
        raise InvalidNumberError(field, f"expected a number, got {text!r}") from error


def round_kopecks(amount: Decimal) -> Decimal:
    """Round to 0.01 half up, the way accountants round (banker's rounding would surprise them)."""
    return amount.quantize(KOPECK, rounding=ROUND_HALF_UP)


def format_decimal(value: Decimal, places: int | None = None) -> str:
    """Russian-style number: NBSP between thousand groups, a decimal comma.

    ``places=None`` prints as many fraction digits as the value needs (quantities:
    ``2,5``, ``10``); ``places=2`` pads kopecks (``1 200,50``).
    """
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    elif value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    else:
        value = value.normalize()
    sign = "-" if value < 0 else ""
    text = f"{abs(value):f}"
    integer, _, fraction = text.partition(".")
    groups = []
    while len(integer) > 3:
        groups.append(integer[-3:])
        integer = integer[:-3]
    groups.append(integer)
    grouped = NBSP.join(reversed(groups))
    return f"{sign}{grouped},{fraction}" if fraction else f"{sign}{grouped}"


def format_money(amount: Decimal, currency: str = "RUB") -> str:
    """``150 000,00 ₽``: kopecks always shown, NBSP (U+00A0) in groups and before the sign.

    USD and EUR get ``$`` and ``€`` (after the number, as Russian documents write it);
    any other currency prints its code: ``1 000,00 CNY``.
    """
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    return f"{format_decimal(round_kopecks(amount), 2)}{NBSP}{symbol}"


# Forms for 1, 2–4 and 5+ units; Russian chooses among them by the last two digits.
_UNIT_FORMS: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    "RUB": (("рубль", "рубля", "рублей"), ("копейка", "копейки", "копеек")),
    "USD": (("доллар США", "доллара США", "долларов США"), ("цент", "цента", "центов")),
    "EUR": (("евро", "евро", "евро"), ("евроцент", "евроцента", "евроцентов")),
}


def _plural(number: int, forms: tuple[str, str, str]) -> str:
    """Pick the form agreeing with ``number``: 1 рубль, 2 рубля, 5/11/12 рублей, 21 рубль."""
    last_two = number % 100
    last = number % 10
    if 11 <= last_two <= 14:
        return forms[2]
    if last == 1:
        return forms[0]
    if 2 <= last <= 4:
        return forms[1]
    return forms[2]


def amount_in_words(amount: Decimal, currency: str = "RUB") -> str:
    """«Сто пятьдесят тысяч рублей 00 копеек»: whole units in words, the fraction in digits.

    num2words gives the cardinal in masculine gender with feminine thousands («одна
    тысяча», «две тысячи»), which is right for рубль, доллар and евро. Its own
    ``to_currency`` is not used: it reads an int as kopecks (101 → «один рубль, одна
    копейка») and spells kopecks out, while Russian documents keep them in digits. So
    the unit agreement is done here by ``_plural``. Currencies without forms keep their
    code: «Сто CNY 00/100».
    """
    rounded = round_kopecks(amount)
    if rounded < 0:
        raise ValueError(f"amount in words needs a non-negative amount, got {amount}")
    whole = int(rounded)
    cents = int((rounded - whole) * 100)
    words = num2words(whole, lang="ru")
    forms = _UNIT_FORMS.get(currency)
    if forms is None:
        text = f"{words} {currency} {cents:02d}/100"
    else:
        unit_forms, cent_forms = forms
        text = f"{words} {_plural(whole, unit_forms)} {cents:02d} {_plural(cents, cent_forms)}"
    return text[:1].upper() + text[1:]


def rubles_in_words(amount: Decimal) -> str:
    """Total in words for a ruble offer, e.g. «Двадцать один рубль 50 копеек»."""
    return amount_in_words(amount, "RUB")
