"""A person's profile (/me): what their offers print about them, each field checked.

Phones are read with phonenumbers (Google's libphonenumber): «8 999 123-45-67» and
«+7 (999) 123 45 67» are the same number and print the same way; a number that cannot
exist is refused. E-mail addresses are checked for form with email-validator (no network
look-up: a bot on a closed network must still accept them) and kept as normalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.common.errors import Invalid

MAX_FULL_NAME = 200
MAX_POSITION = 100
DEFAULT_REGION = "RU"  # «8 999 …» and «999 …» without a country code are Russian numbers
CLEAR = frozenset({"-", "—", "–", "нет", "none", "clear", "удалить", "очистить"})


class Field(StrEnum):
    FULL_NAME = "name"
    POSITION = "position"
    PHONE = "phone"
    EMAIL = "email"


# What people type after /me for each field, in both languages.
FIELD_WORDS: dict[str, Field] = {
    "name": Field.FULL_NAME, "fullname": Field.FULL_NAME, "фио": Field.FULL_NAME,
    "имя": Field.FULL_NAME,
    "position": Field.POSITION, "title": Field.POSITION, "role": Field.POSITION,
    "должность": Field.POSITION,
    "phone": Field.PHONE, "tel": Field.PHONE, "телефон": Field.PHONE, "тел": Field.PHONE,
    "email": Field.EMAIL, "e-mail": Field.EMAIL, "mail": Field.EMAIL, "почта": Field.EMAIL,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Profile:
    """As stored; None where the person has not said. `name` is their name in the bot."""

    name: str
    full_name: str | None = None
    position: str | None = None
    phone: str | None = None
    email: str | None = None

    @property
    def printed_name(self) -> str:
        return self.full_name or self.name


def field_of(word: str) -> Field | None:
    return FIELD_WORDS.get(word.strip().lower().rstrip(":"))


def cleaned(field: Field, text: str) -> str | None:
    """The value to store, None to clear the field («-»); refusals say what to type."""
    value = " ".join(text.split())
    if value.lower() in CLEAR:
        return None
    if not value:
        raise Invalid(f"me.empty_{field.value}")
    if field is Field.PHONE:
        return _phone(value)
    if field is Field.EMAIL:
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            raise Invalid("me.bad_email", value=value[:100]) from None
    limit = MAX_FULL_NAME if field is Field.FULL_NAME else MAX_POSITION
    if len(value) > limit:
        raise Invalid("me.too_long", limit=limit)
    return value


def _phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise Invalid("me.bad_phone", value=value[:100]) from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid("me.bad_phone", value=value[:100])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
