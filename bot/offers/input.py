"""Parse the JSON document behind a commercial offer into a typed, validated draft.

The document comes from the CLI, the bot or a person's hand; each error names the exact
field (``items[2].qty``) so whoever wrote the JSON can fix it without guessing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.common.errors import InvalidFile
from bot.common.money import to_decimal
from bot.offers.catalog import Catalog, CatalogItem
from bot.offers.pricing import DEFAULT_VAT_PERCENT, HUNDRED, OfferLine, normalize_vat_percent

__all__ = [
    "ClientInfo",
    "ManagerInfo",
    "OfferDraft",
    "OfferInputError",
    "load_offer_json",
    "offer_number",
    "parse_offer_document",
]

MAX_VALID_DAYS = 365
MAX_ITEMS = 1000
"""More lines than any real offer has; keeps a pasted garbage file from hogging the renderer."""

_TOP_LEVEL_KEYS = frozenset(
    {
        "client",
        "items",
        "discount_percent",
        "vat_percent",
        "vat_included",
        "currency",
        "valid_days",
        "manager",
        "number",
        "date",
        "payment_terms",
        "delivery_terms",
    }
)
_CLIENT_KEYS = frozenset({"name", "inn", "kpp", "contact", "phone", "email", "address"})
_MANAGER_KEYS = frozenset({"name", "phone", "email"})
_ITEM_KEYS = frozenset({"sku", "name", "unit", "qty", "price", "discount_percent"})
_INN_RE = re.compile(r"\d{10}|\d{12}")
_KPP_RE = re.compile(r"\d{4}[0-9A-Z]{2}\d{3}")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_DOTTED_DATE_RE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")


class OfferInputError(ValueError):
    """Invalid offer input; ``field`` is a path into the document such as ``items[2].qty``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ClientInfo:
    name: str
    inn: str
    contact: str
    kpp: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class ManagerInfo:
    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class OfferDraft:
    """A validated offer before numbering and rendering.

    ``None`` in ``number``, ``date``, ``valid_days`` and the terms means «not decided by
    the author»: the document builder fills them from the seller's defaults and today.
    ``vat_percent`` is ``None`` for an offer without VAT.
    """

    client: ClientInfo
    lines: tuple[OfferLine, ...]
    manager: ManagerInfo
    discount_percent: Decimal = Decimal(0)
    vat_percent: Decimal | None = DEFAULT_VAT_PERCENT
    vat_included: bool = True
    currency: str = "RUB"
    valid_days: int | None = None
    number: str | None = None
    date: dt.date | None = None
    payment_terms: str | None = None
    delivery_terms: str | None = None


def offer_number(year: int, seq: int) -> str:
    """Offer number as printed and searched for: ``КП-2026-0042``."""
    if seq < 1:
        raise ValueError(f"offer sequence number must be positive, got {seq}")
    return f"КП-{year}-{seq:04d}"


def load_offer_json(text: str | bytes) -> dict[str, Any]:
    """Decode JSON keeping numbers exact: fractions become Decimal, never float.

    NaN and Infinity, which Python's json accepts, become Decimal NaN/Infinity so that
    ``parse_offer_document`` rejects them with the field's path.
    """
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise OfferInputError("$", f"not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise OfferInputError("$", "the offer must be a JSON object")
    return data


def parse_offer_document(data: Mapping[str, Any], catalog: Catalog | None) -> OfferDraft:
    """Validate the document and fill catalog data for items given by SKU only.

    An item with a SKU takes its missing name, unit and price from the catalog, and
    always takes the item's discount cap. A SKU the catalog does not know is fine when
    the item carries its own name and price (a one-off position), and an error otherwise.

    One offer has one VAT rate. Without ``vat_percent`` the rate is the catalog items'
    common rate (22% when no item comes from the catalog); a catalog item whose rate
    differs from the offer's is an error, since its VAT would be printed wrong.
    """
    if not isinstance(data, Mapping):
        raise OfferInputError("$", "the offer must be a JSON object")
    _reject_unknown_keys(data, _TOP_LEVEL_KEYS, "")
    currency = _currency(data.get("currency"))
    pairs = _lines(data.get("items"), catalog, currency)
    return OfferDraft(
        client=_client(data.get("client")),
        lines=tuple(line for line, _ in pairs),
        manager=_manager(data.get("manager")),
        discount_percent=_percent(data.get("discount_percent"), "discount_percent"),
        vat_percent=_vat(data, pairs),
        vat_included=_bool(data.get("vat_included"), "vat_included", default=True),
        currency=currency,
        valid_days=_valid_days(data.get("valid_days")),
        number=_optional_text(data.get("number"), "number"),
        date=_date(data.get("date")),
        payment_terms=_optional_text(data.get("payment_terms"), "payment_terms"),
        delivery_terms=_optional_text(data.get("delivery_terms"), "delivery_terms"),
    )


def _reject_unknown_keys(data: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> None:
    """A misspelt key (``discount`` for ``discount_percent``) would silently change a price."""
    for key in data:
        if key not in allowed:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise OfferInputError(
                where, f"unknown field; expected one of {', '.join(sorted(allowed))}"
            )


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise OfferInputError(field, "expected an object")
    return value


def _client(value: object) -> ClientInfo:
    data = _mapping(value, "client")
    _reject_unknown_keys(data, _CLIENT_KEYS, "client")
    inn = _required_text(data.get("inn"), "client.inn")
    if not _INN_RE.fullmatch(inn):
        raise OfferInputError("client.inn", f"ИНН must be 10 or 12 digits, got {inn!r}")
    kpp = _optional_text(data.get("kpp"), "client.kpp")
    if kpp is not None and not _KPP_RE.fullmatch(kpp):
        raise OfferInputError("client.kpp", f"КПП must be 9 characters like 770101001, got {kpp!r}")
    return ClientInfo(
        name=_required_text(data.get("name"), "client.name"),
        inn=inn,
        contact=_required_text(data.get("contact"), "client.contact"),
        kpp=kpp,
        phone=_optional_text(data.get("phone"), "client.phone"),
        email=_optional_text(data.get("email"), "client.email"),
        address=_optional_text(data.get("address"), "client.address"),
    )


def _manager(value: object) -> ManagerInfo:
    data = _mapping(value, "manager")
    _reject_unknown_keys(data, _MANAGER_KEYS, "manager")
    return ManagerInfo(
        name=_required_text(data.get("name"), "manager.name"),
        phone=_optional_text(data.get("phone"), "manager.phone"),
        email=_optional_text(data.get("email"), "manager.email"),
    )


def _lines(
    value: object, catalog: Catalog | None, currency: str
) -> list[tuple[OfferLine, CatalogItem | None]]:
    if value is None or (isinstance(value, list) and not value):
        raise OfferInputError("items", "the offer has no items")
    if not isinstance(value, list):
        raise OfferInputError("items", "expected a list of items")
    if len(value) > MAX_ITEMS:
        raise OfferInputError("items", f"too many items: {len(value)} (at most {MAX_ITEMS})")
    return [_line(raw, f"items[{index}]", catalog, currency) for index, raw in enumerate(value)]


def _line(
    value: object, where: str, catalog: Catalog | None, currency: str
) -> tuple[OfferLine, CatalogItem | None]:
    data = _mapping(value, where)
    _reject_unknown_keys(data, _ITEM_KEYS, where)
    sku = _optional_text(data.get("sku"), f"{where}.sku")
    item = catalog.get(sku) if catalog is not None and sku is not None else None
    name = _optional_text(data.get("name"), f"{where}.name")
    price_value = data.get("price")
    if (
        sku is not None
        and catalog is not None
        and item is None
        and (name is None or price_value is None)
    ):
        raise OfferInputError(
            f"{where}.sku", f"unknown SKU {sku!r}: not in the catalog; give name and price"
        )
    if item is not None and price_value is None and item.currency != currency:
        raise OfferInputError(
            f"{where}.sku",
            f"catalog price of {item.sku} is in {item.currency}, the offer is in {currency}; "
            "give the price explicitly",
        )
    if name is None:
        if item is None:
            raise OfferInputError(f"{where}.name", "missing name")
        name = item.name
    if price_value is None:
        if item is None:
            raise OfferInputError(f"{where}.price", "missing price")
        price = item.price
    else:
        price = _number(price_value, f"{where}.price")
        if price < 0:
            raise OfferInputError(f"{where}.price", f"price must not be negative, got {price}")
    qty = _number(data.get("qty", 1), f"{where}.qty")
    if qty <= 0:
        raise OfferInputError(f"{where}.qty", f"quantity must be greater than 0, got {qty}")
    unit = _optional_text(data.get("unit"), f"{where}.unit") or (item.unit if item else "шт")
    line = OfferLine(
        sku=item.sku if item is not None else sku,
        name=name,
        unit=unit,
        qty=qty,
        price=price,
        discount_percent=_percent(data.get("discount_percent"), f"{where}.discount_percent"),
        max_discount_percent=item.max_discount_percent if item is not None else None,
    )
    return line, item


def _number(value: object, field: str) -> Decimal:
    try:
        return to_decimal(value, field)
    except InvalidFile as error:
        raise OfferInputError(field, error.problems[0].why) from error


def _percent(value: object, field: str) -> Decimal:
    if value is None:
        return Decimal(0)
    number = _number(value, field)
    if not 0 <= number <= HUNDRED:
        raise OfferInputError(field, f"must be within 0–100, got {number}")
    return number


def _vat(
    data: Mapping[str, Any], pairs: list[tuple[OfferLine, CatalogItem | None]]
) -> Decimal | None:
    """The offer's rate; an explicit null or 0 means «Без НДС» (returned as None)."""
    catalog_rates = {
        index: normalize_vat_percent(item.vat_percent)
        for index, (_, item) in enumerate(pairs)
        if item is not None
    }
    if "vat_percent" in data:
        rate = data["vat_percent"]
        offer_rate = None if rate is None else normalize_vat_percent(_percent(rate, "vat_percent"))
    elif len(set(catalog_rates.values())) > 1:
        shown = ", ".join(sorted({_rate_text(rate) for rate in catalog_rates.values()}))
        raise OfferInputError(
            "vat_percent", f"catalog items have different VAT rates ({shown}); split the offer"
        )
    else:
        offer_rate = next(iter(catalog_rates.values()), DEFAULT_VAT_PERCENT)
    for index, item_rate in catalog_rates.items():
        if item_rate != offer_rate:
            sku = pairs[index][0].sku
            raise OfferInputError(
                f"items[{index}].sku",
                f"{sku} has VAT {_rate_text(item_rate)} in the catalog, the offer has "
                f"{_rate_text(offer_rate)}; make a separate offer for it",
            )
    return offer_rate


def _rate_text(rate: Decimal | None) -> str:
    return "none" if rate is None else f"{rate.normalize():f}%"


def _bool(value: object, field: str, *, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise OfferInputError(field, f"expected true or false, got {value!r}")
    return value


def _currency(value: object) -> str:
    if value is None:
        return "RUB"
    if not isinstance(value, str) or not _CURRENCY_RE.fullmatch(value.strip().upper()):
        raise OfferInputError("currency", f"expected a 3-letter code like RUB, got {value!r}")
    return value.strip().upper()


def _valid_days(value: object) -> int | None:
    if value is None:
        return None
    number = _number(value, "valid_days")
    if number != number.to_integral_value() or not 1 <= number <= MAX_VALID_DAYS:
        raise OfferInputError(
            "valid_days", f"must be a whole number of days within 1–{MAX_VALID_DAYS}, got {value!r}"
        )
    return int(number)


def _date(value: object) -> dt.date | None:
    """ISO ``2026-11-29`` or Russian ``29.11.2026``."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        dotted = _DOTTED_DATE_RE.fullmatch(text)
        if dotted:
            text = f"{dotted[3]}-{dotted[2]}-{dotted[1]}"
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise OfferInputError("date", f"expected a date like 2026-11-29 or 29.11.2026, got {value!r}")


def _optional_text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise OfferInputError(field, f"expected text, got {type(value).__name__}")
    text = " ".join(str(value).split())
    return text or None


def _required_text(value: object, field: str) -> str:
    text = _optional_text(value, field)
    if text is None:
        raise OfferInputError(field, "required")
    return text
