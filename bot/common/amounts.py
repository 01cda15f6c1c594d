"""Amounts the way people type them: 150 000, 150к, 1,5 млн, 2.5m, $3,000."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from bot.common.errors import Invalid

MAX_AMOUNT = Decimal("1e15")

_AMOUNT = re.compile(
    r"""^\s*(?P<pre>[$€₽])?\s*
    (?P<num>\d[\d \u00a0\u202f']*(?:[.,]\d+)*)\s*
    (?P<mult>к|k|kk|тыс\.?|тысяч[аи]?|т\.?р\.?|млн\.?|миллион(?:а|ов)?|m|mln|mio|млрд\.?|bn)?\s*
    (?P<cur>₽|руб\.?|рублей|рубля|рубль|р\.?|rub|rur|\$|usd|долл\.?|долларов|€|eur|евро)?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_MULTIPLIERS = {"к": 3, "k": 3, "тыс": 3, "тысяч": 3, "тысяча": 3, "тысячи": 3, "тр": 3,
                "kk": 6, "млн": 6, "миллион": 6, "миллиона": 6, "миллионов": 6, "m": 6, "mln": 6,
                "mio": 6, "млрд": 9, "bn": 9}  # fmt: skip
_CURRENCIES = {"$": "USD", "usd": "USD", "долл": "USD", "долларов": "USD", "€": "EUR",
               "eur": "EUR", "евро": "EUR"}  # fmt: skip


def parse_amount(text: str) -> tuple[Decimal, str]:
    """(amount, currency code). Raises Invalid with an example of the right form."""
    match = _AMOUNT.match(text.strip())
    if not match:
        raise Invalid("amount.invalid", value=text.strip()[:40])
    number = re.sub(r"[ \u00a0\u202f']", "", match["num"])
    multiplier = (match["mult"] or "").lower().replace(".", "")
    currency_word = (match["pre"] or match["cur"] or "").lower().rstrip(".")
    number = _normalise_separators(number, has_multiplier=bool(multiplier))
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise Invalid("amount.invalid", value=text.strip()[:40]) from None
    value = value.scaleb(_MULTIPLIERS.get(multiplier, 0))
    if value <= 0 or value >= MAX_AMOUNT:
        raise Invalid("amount.invalid", value=text.strip()[:40])
    return value.quantize(Decimal("0.01")), _CURRENCIES.get(currency_word, "RUB")


def _normalise_separators(number: str, *, has_multiplier: bool) -> str:
    """A comma or dot before exactly three digits groups thousands (3,000); else it is decimal."""
    groups = re.split(r"[.,]", number)
    if len(groups) == 1:
        return number
    if not has_multiplier and all(len(group) == 3 for group in groups[1:]):
        return "".join(groups)
    if len(groups) == 2:
        return f"{groups[0]}.{groups[1]}"
    return "x"  # 1.2.3: not a number
