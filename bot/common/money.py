"""Money: the currencies, the largest amount, the one number parser, rounding, display, words.

Money is always ``Decimal``: binary floats cannot represent kopecks exactly, and a
commercial offer must add up to the kopeck on paper. Numbers from files (`to_decimal`),
amounts in files (`to_amount`) and amounts as people type them (`parse_amount`) all go
through the one parser here, and all stop at the one ceiling, `MAX_AMOUNT`.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from num2words import num2words

from bot.common.errors import FileProblem, Invalid, InvalidFile

__all__ = [
    "CURRENCIES",
    "CURRENCY_CODE",
    "CURRENCY_SYMBOLS",
    "CURRENCY_WORDS",
    "KOPECK",
    "MAX_AMOUNT",
    "NBSP",
    "amount_at_end",
    "amount_in_words",
    "format_decimal",
    "format_money",
    "parse_amount",
    "round_kopecks",
    "rubles_in_words",
    "to_amount",
    "to_decimal",
]

KOPECK = Decimal("0.01")
NBSP = "\u00a0"
"""Separates thousand groups and the currency sign, so «150 000,00 ₽» never breaks across lines.

U+00A0 rather than the typographically narrower U+202F: every font and Word version has it.
"""

CURRENCIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "RUB": ("₽", ("₽", "руб", "рублей", "рубля", "рубль", "р", "rub", "rur")),
    "USD": ("$", ("$", "usd", "долл", "долларов")),
    "EUR": ("€", ("€", "eur", "евро")),
}
"""The one currency table: code → (symbol, the words people type for it, lowercase).

Where the symbol goes is the reader's convention, not the currency's: documents print it
after the number («1 000,00 $», as Russian documents write it), the chat puts a dollar
before it ($1 000); see `format_money` and `bot.common.i18n.format_amount`.
"""
CURRENCY_SYMBOLS: dict[str, str] = {code: symbol for code, (symbol, _) in CURRENCIES.items()}
CURRENCY_WORDS: dict[str, str] = {
    word: code for code, (_, words) in CURRENCIES.items() for word in words
}

CURRENCY_CODE = re.compile(r"[A-Z]{3}")
"""An ISO 4217 code as files give it: RUB, USD, CNY."""

MAX_AMOUNT = Decimal("9999999999999999.99")
"""The largest amount there is: what the Numeric(18, 2) amount columns of the database hold.

Every number read from a file or typed stops here; a larger one is a typo or garbage.
"""
AMOUNT_FORM = 'expected a non-negative amount with at most 2 decimals, e.g. "150000.00"'

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


def _invalid(field: str, why: str) -> InvalidFile:
    return InvalidFile([FileProblem(why, field)])


def to_decimal(value: object, field: str) -> Decimal:
    """Convert a JSON/YAML/CSV value to a finite Decimal or raise ``InvalidFile`` for ``field``.

    Accepts int, Decimal, float (read through its shortest repr, which is what the JSON
    text said) and strings like ``"120000"``, ``"1 200,50"``, ``"38900.00"``. Rejects
    bool (``True`` is an int in Python, never a price), NaN, infinities, numbers beyond
    ``MAX_AMOUNT`` and anything else.
    """
    if isinstance(value, bool):
        raise _invalid(field, f"expected a number, got {value!r}")
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        result = _parse_decimal_string(value, field)
    else:
        raise _invalid(field, f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise _invalid(field, f"expected a finite number, got {value!r}")
    if abs(result) > MAX_AMOUNT:
        raise _invalid(field, f"number is too large: {value!r}")
    return result


def to_amount(value: object, field: str) -> Decimal:
    """A money amount in a file: non-negative, whole kopecks at most; quantized to kopecks."""
    try:
        amount = to_decimal(value, field)
    except InvalidFile:
        raise _invalid(field, AMOUNT_FORM) from None
    if amount < 0 or amount != amount.quantize(KOPECK):
        raise _invalid(field, AMOUNT_FORM)
    return amount.quantize(KOPECK)


def _parse_decimal_string(text: str, field: str) -> Decimal:
    stripped = text.strip()
    if not _NUMBER_RE.fullmatch(stripped):
        raise _invalid(field, f"expected a number, got {text!r}")
    for separator in _GROUP_SEPARATORS:
        stripped = stripped.replace(separator, "")
    try:
        return Decimal(stripped.replace(",", "."))
    except InvalidOperation as error:  # pragma: no cover - the regex admits only valid text
        raise _invalid(field, f"expected a number, got {text!r}") from error


# --- amounts as people type them -------------------------------------------------------------


def _alternatives(words: list[str]) -> str:
    return "|".join(re.escape(word) + r"\.?" for word in sorted(words, key=len, reverse=True))


_AMOUNT = re.compile(
    r"""^\s*(?P<pre>["""
    + re.escape("".join(CURRENCY_SYMBOLS.values()))
    + r"""])?\s*
    (?P<num>\d[\d \u00a0\u202f']*(?:[.,]\d+)*)\s*
    (?P<mult>к|k|kk|тыс\.?|тысяч[аи]?|т\.?р\.?|млн\.?|миллион(?:а|ов)?|m|mln|mio|млрд\.?|bn)?\s*
    (?P<cur>"""
    + _alternatives(list(CURRENCY_WORDS))
    + r""")?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_MULTIPLIERS = {"к": 3, "k": 3, "тыс": 3, "тысяч": 3, "тысяча": 3, "тысячи": 3, "тр": 3,
                "kk": 6, "млн": 6, "миллион": 6, "миллиона": 6, "миллионов": 6, "m": 6, "mln": 6,
                "mio": 6, "млрд": 9, "bn": 9}  # fmt: skip


_MARKED_AT_END = re.compile(
    r"(?:^|\s)(?P<amount>(?P<pre>["
    ""
    + re.escape("".join(CURRENCY_SYMBOLS.values()))
    + r"""])?\s*\d[\d \u00a0\u202f']*(?:[.,]\d+)*\s*
    (?P<mult>к|k|kk|тыс\.?|тысяч[аи]?|т\.?р\.?|млн\.?|миллион(?:а|ов)?|m|mln|mio|млрд\.?|bn)?\s*
    (?P<cur>"""
    + _alternatives(list(CURRENCY_WORDS))
    + r""")?)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def amount_at_end(text: str) -> tuple[str, str] | None:
    """«Техносила 300к» → («Техносила», «300к»): an amount typed after a name without a comma.

    Only a number that says it is money — a multiplier (к, тыс, млн) or a currency
    (₽, $, руб) — counts, so «Склад 5» and «Офис 2024» stay names; the longest such tail
    is taken («Ромашка 1 500 000 ₽»). None when there is no such tail or nothing before it.
    """
    match = _MARKED_AT_END.search(text)
    if not match or not (match["pre"] or match["mult"] or match["cur"]):
        return None
    head = text[: match.start("amount")].strip(" ,;:-—")
    return (head, match["amount"].strip()) if head else None


def parse_amount(text: str) -> tuple[Decimal, str]:
    """150 000, 150к, 300 тыс, 1,5 млн, 2.5m, $7,500.50, 7 500,50 ₽, €1.250,00 → (amount, code).

    RUB unless a currency is named. Which separator is the decimal mark: `_normalise_separators`.

    Raises ``Invalid("amount.invalid")``, whose message shows the forms that work.
    """
    match = _AMOUNT.match(text.strip())
    if not match:
        raise Invalid("amount.invalid", value=text.strip()[:40])
    spaced = bool(re.search(r"\d[ \u00a0\u202f']+\d", match["num"]))
    number = re.sub(r"[ \u00a0\u202f']", "", match["num"])
    multiplier = (match["mult"] or "").lower().replace(".", "")
    currency_word = (match["pre"] or match["cur"] or "").lower().rstrip(".")
    number = _normalise_separators(number, has_multiplier=bool(multiplier), spaced=spaced)
    typed = text.strip()[:40]
    try:
        value = Decimal(number).scaleb(_MULTIPLIERS.get(multiplier, 0))
    except InvalidOperation:
        raise Invalid("amount.invalid", value=typed) from None
    if value <= 0:
        raise Invalid("amount.not_positive", value=typed)
    if value > MAX_AMOUNT:
        raise Invalid("amount.too_large", value=typed, limit=format_decimal(MAX_AMOUNT, 2))
    if value != value.quantize(KOPECK):  # «0,005»: less than a kopeck
        raise Invalid("amount.invalid", value=typed)
    return value.quantize(KOPECK), CURRENCY_WORDS.get(currency_word, "RUB")


def _normalise_separators(number: str, *, has_multiplier: bool, spaced: bool) -> str:
    """Which of «.» and «,» marks the fraction, as people write amounts in Russian and English.

    - Both present («$7,500.50», «€1.250,00»): the last one is the decimal mark, the other
      groups thousands (1 to 3 digits, then groups of exactly 3).
    - One of them, repeated («1,250,000», «1.250.000»): groups of thousands.
    - One of them, once — a lone separator: it groups thousands when exactly three digits
      follow, one to three digits other than «0» lead, and nothing else already groups or
      scales the number («1,250» and «$3,000» are 1 250 and 3 000); otherwise it is decimal
      («1,25», «1,5», «0,250», «7 500,50» with spaces grouping, «1,250 млн»). The English
      reading wins for «1,250» because nobody types a price to a tenth of a kopeck.
    Anything else («1.2.3», «1,25,000») is not a number.
    """
    marks = [char for char in number if char in ".,"]
    if not marks:
        return number
    decimal_mark = marks[-1]
    integer, fraction = number, ""
    if len(set(marks)) == 2:
        if marks.count(decimal_mark) > 1:
            return "x"
        integer, _, fraction = number.rpartition(decimal_mark)
    elif len(marks) == 1:
        head, _, tail = number.partition(decimal_mark)
        grouping = len(tail) == 3 and 1 <= len(head) <= 3 and head != "0"
        if has_multiplier or spaced or not grouping:
            return f"{head}.{tail}"
    groups = re.split(r"[.,]", integer)
    if not (1 <= len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:])):
        return "x"
    return "".join(groups) + (f".{fraction}" if fraction else "")


# --- rounding and display ----------------------------------------------------------------------


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
