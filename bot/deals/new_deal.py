"""What a new deal is made of, as people type it: the `/new` one-liner and the dialog's answers.

Pure functions, so the rules can be read and tested without Telegram.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.common.money import amount_at_end, parse_amount

AMOUNT_WORDS = re.compile(r"(тыс|млн|миллион|руб|₽|\$|€|usd|eur)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NewDeal:
    title: str
    amount: Decimal | None = None
    currency: str = "RUB"
    client: str | None = None
    contact: str | None = None


def parse_new_line(text: str) -> NewDeal:
    """«Ромашка ООО, 150 000, Иван Петров +7 999 123-45-67»: title, then amount and contact.

    The first part that looks like an amount is the amount (a wrong one is refused, not
    taken for a contact); every other part is the contact. Without such a part, an amount
    written after the title with no comma («Техносила 300к», «Acme $7,500.50») is the amount
    when it says it is money (see `amount_at_end`).
    """
    parts = [part.strip() for part in _split_commas(text)]
    title, rest = parts[0], parts[1:]
    amount: Decimal | None = None
    currency, contact_parts = "RUB", []
    for part in rest:
        if amount is None and _looks_like_amount(part):
            amount, currency = parse_amount(part)
        elif part:
            contact_parts.append(part)
    if amount is None and (tail := amount_at_end(title)):
        title = tail[0]
        amount, currency = parse_amount(tail[1])
    return NewDeal(title, amount, currency, contact=", ".join(contact_parts) or None)


def from_answers(
    title: str, who: str | None, amount: Decimal | None = None, currency: str = "RUB"
) -> NewDeal:
    """The dialog's answers; «Ромашка, Иван +7 999…» to "who is the client" is client, contact."""
    client = contact = None
    if who:
        client, _, rest = who.partition(",")
        contact = ", ".join(part for part in rest.split(",")).strip() or None
    return NewDeal(title, amount, currency, client=client, contact=contact)


def _looks_like_amount(part: str) -> bool:
    """An attempt at an amount (maybe a wrong one), as opposed to a contact or a phone.

    A phone is 10 to 15 digits written with a + or dashes, brackets, or in one run
    («89991234567»); a number grouped by thousands («1 000 000 000») or longer than any
    phone is an amount, however large (one above the ceiling is refused, not made a contact).
    """
    if not part:
        return False
    digits = sum(char.isdigit() for char in part)
    if 10 <= digits <= 15 and (_PHONE_MARKS.search(part) or part.isdigit()):
        return False
    return part[0] in "0123456789$€₽-+" or bool(AMOUNT_WORDS.search(part))


_PHONE_MARKS = re.compile(r"^\s*\+|\d-\d|[()]")


def _split_commas(text: str) -> list[str]:
    """Commas split fields, except inside numbers like «1,5 млн» or «$3,000»."""
    parts: list[str] = []
    current = ""
    for index, char in enumerate(text):
        between_digits = (
            char == ","
            and index > 0
            and text[index - 1].isdigit()
            and index + 1 < len(text)
            and text[index + 1].isdigit()
        )
        if char == "," and not between_digits:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts
