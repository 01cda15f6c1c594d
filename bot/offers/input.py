"""Parse the JSON document behind a commercial offer into a typed, validated draft.

The document comes from the CLI, the bot or a person's hand; each error names the exact
field (``items[2].qty``) so whoever wrote the JSON can fix it without guessing. The
document is read through pydantic models (`OfferInput`), then its items are looked up in
the catalog; `InvalidFile` lists every problem of the document, or of its items.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
)

from bot.common.errors import FileProblem, InvalidFile
from bot.common.formats import problems_of, why
from bot.common.money import CURRENCY_CODE, to_decimal
from bot.offers.catalog import Catalog, CatalogItem
from bot.offers.pricing import DEFAULT_VAT_PERCENT, HUNDRED, OfferLine, normalize_vat_percent

__all__ = [
    "ClientInfo",
    "ManagerInfo",
    "OfferDraft",
    "OfferInput",
    "load_offer_json",
    "offer_number",
    "parse_offer_document",
]

MAX_VALID_DAYS = 365
MAX_ITEMS = 1000
"""More lines than any real offer has; keeps a pasted garbage file from hogging the renderer."""

_INN_RE = re.compile(r"\d{10}|\d{12}")
_KPP_RE = re.compile(r"\d{4}[0-9A-Z]{2}\d{3}")
_DOTTED_DATE_RE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")


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
    position: str | None = None


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
        raise _invalid("$", f"not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise _invalid("$", NOT_AN_OBJECT)
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
    try:
        offer = OfferInput.model_validate(data)
    except ValidationError as error:
        raise InvalidFile(problems_of(error, words=WORDS, root="$")) from None
    problems: list[FileProblem] = []
    pairs = [
        _line(item, f"items[{index}]", catalog, offer.currency, problems)
        for index, item in enumerate(offer.items)
    ]
    resolved = [pair for pair in pairs if pair is not None]
    vat_percent = _vat(offer, resolved, problems) if len(resolved) == len(pairs) else None
    if problems:
        raise InvalidFile(problems)
    return OfferDraft(
        client=offer.client.info(),
        lines=tuple(line for line, _ in resolved),
        manager=ManagerInfo(
            offer.manager.name, offer.manager.phone, offer.manager.email, offer.manager.position
        ),
        discount_percent=offer.discount_percent,
        vat_percent=vat_percent,
        vat_included=offer.vat_included,
        currency=offer.currency,
        valid_days=offer.valid_days,
        number=offer.number,
        date=offer.date,
        payment_terms=offer.payment_terms,
        delivery_terms=offer.delivery_terms,
    )


def _invalid(field: str, why: str) -> InvalidFile:
    return InvalidFile([FileProblem(why, field)])


# --- the document --------------------------------------------------------------------------

NOT_AN_OBJECT = "the offer must be a JSON object"


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise why(f"expected text, got {type(value).__name__}")
    text = " ".join(str(value).split())
    return text or None


def _required_text(value: object) -> str:
    text = _optional_text(value)
    if text is None:
        raise why("required")
    return text


def _number(value: object) -> Decimal:
    try:
        return to_decimal(value, "")
    except InvalidFile as error:
        raise why(error.problems[0].why) from None


def _percent(value: object) -> Decimal:
    if value is None:
        return Decimal(0)
    number = _number(value)
    if not 0 <= number <= HUNDRED:
        raise why(f"must be within 0–100, got {number}")
    return number


def _vat_percent(value: object) -> Decimal | None:
    """An explicit null or 0 means «Без НДС» (None)."""
    return None if value is None else normalize_vat_percent(_percent(value))


def _price(value: object) -> Decimal | None:
    if value is None:
        return None  # taken from the catalog, or missing
    price = _number(value)
    if price < 0:
        raise why(f"price must not be negative, got {price}")
    return price


def _qty(value: object) -> Decimal:
    qty = _number(value)
    if qty <= 0:
        raise why(f"quantity must be greater than 0, got {qty}")
    return qty


def _inn(value: object) -> str:
    inn = _required_text(value)
    if not _INN_RE.fullmatch(inn):
        raise why(f"ИНН must be 10 or 12 digits, got {inn!r}")
    return inn


def _kpp(value: object) -> str | None:
    kpp = _optional_text(value)
    if kpp is not None and not _KPP_RE.fullmatch(kpp):
        raise why(f"КПП must be 9 characters like 770101001, got {kpp!r}")
    return kpp


def _flag(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, bool):
        raise why(f"expected true or false, got {value!r}")
    return value


def _currency(value: object) -> str:
    if value is None:
        return "RUB"
    if not isinstance(value, str) or not CURRENCY_CODE.fullmatch(value.strip().upper()):
        raise why(f"expected a 3-letter code like RUB, got {value!r}")
    return value.strip().upper()


def _valid_days(value: object) -> int | None:
    if value is None:
        return None
    number = _number(value)
    if number != number.to_integral_value() or not 1 <= number <= MAX_VALID_DAYS:
        raise why(f"must be a whole number of days within 1–{MAX_VALID_DAYS}, got {value!r}")
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
    raise why(f"expected a date like 2026-11-29 or 29.11.2026, got {value!r}")


def _items(value: object) -> object:
    if value is None or (isinstance(value, list) and not value):
        raise why("the offer has no items")
    if not isinstance(value, list):
        raise why("expected a list of items")
    if len(value) > MAX_ITEMS:
        raise why(f"too many items: {len(value)} (at most {MAX_ITEMS})")
    return value


Text = Annotated[str | None, PlainValidator(_optional_text)]
Required = Annotated[str, PlainValidator(_required_text)]
Percent = Annotated[Decimal, PlainValidator(_percent)]


def _required_field() -> Any:
    return Field(None, validate_default=True)


# A misspelt key (``discount`` for ``discount_percent``) would silently change a price.
_Strict = ConfigDict(frozen=True, extra="forbid")


class ClientInput(BaseModel):
    model_config = _Strict

    name: Required = _required_field()
    inn: Annotated[str, PlainValidator(_inn)] = _required_field()
    contact: Required = _required_field()
    kpp: Annotated[str | None, PlainValidator(_kpp)] = None
    phone: Text = None
    email: Text = None
    address: Text = None

    def info(self) -> ClientInfo:
        return ClientInfo(
            self.name, self.inn, self.contact, self.kpp, self.phone, self.email, self.address
        )


class ManagerInput(BaseModel):
    model_config = _Strict

    name: Required = _required_field()
    phone: Text = None
    email: Text = None
    position: Text = None


class ItemInput(BaseModel):
    """A line as written; name, unit and price may come from the catalog by SKU."""

    model_config = _Strict

    sku: Text = None
    name: Text = None
    unit: Text = None
    qty: Annotated[Decimal, PlainValidator(_qty)] = Decimal(1)
    price: Annotated[Decimal | None, PlainValidator(_price)] = None
    discount_percent: Percent = Decimal(0)


class OfferInput(BaseModel):
    """The offer document as `voronka offer render` reads it (see docs for the format)."""

    model_config = _Strict

    client: ClientInput
    items: Annotated[list[ItemInput], BeforeValidator(_items)] = _required_field()
    discount_percent: Percent = Decimal(0)
    vat_percent: Annotated[Decimal | None, PlainValidator(_vat_percent)] = DEFAULT_VAT_PERCENT
    vat_included: Annotated[bool, PlainValidator(_flag)] = True
    currency: Annotated[str, PlainValidator(_currency)] = "RUB"
    valid_days: Annotated[int | None, PlainValidator(_valid_days)] = None
    manager: ManagerInput
    number: Text = None
    date: Annotated[dt.date | None, PlainValidator(_date)] = None
    payment_terms: Text = None
    delivery_terms: Text = None


def _unknown(model: type[BaseModel]) -> str:
    return f"unknown field; expected one of {', '.join(sorted(model.model_fields))}"


WORDS = {
    "": NOT_AN_OBJECT,
    "*": _unknown(OfferInput),
    "client": "expected an object",
    "client.*": _unknown(ClientInput),
    "manager": "expected an object",
    "manager.*": _unknown(ManagerInput),
    "items[]": "expected an object",
    "items[].*": _unknown(ItemInput),
}


# --- the items against the catalog ---------------------------------------------------------


def _line(
    item: ItemInput,
    where: str,
    catalog: Catalog | None,
    currency: str,
    problems: list[FileProblem],
) -> tuple[OfferLine, CatalogItem | None] | None:
    """The item as an offer line, its missing name, unit and price from the catalog."""
    sku, name, price = item.sku, item.name, item.price
    known = catalog.get(sku) if catalog is not None and sku is not None else None
    if (
        sku is not None
        and catalog is not None
        and known is None
        and (name is None or price is None)
    ):
        reason = f"unknown SKU {sku!r}: not in the catalog; give name and price"
        problems.append(FileProblem(reason, f"{where}.sku"))
        return None
    if known is not None and price is None and known.currency != currency:
        reason = (
            f"catalog price of {known.sku} is in {known.currency}, the offer is in {currency}; "
            "give the price explicitly"
        )
        problems.append(FileProblem(reason, f"{where}.sku"))
        return None
    before = len(problems)
    if name is None and known is None:
        problems.append(FileProblem("missing name", f"{where}.name"))
    if price is None and known is None:
        problems.append(FileProblem("missing price", f"{where}.price"))
    if len(problems) > before:
        return None
    line = OfferLine(
        sku=known.sku if known is not None else sku,
        name=name or (known.name if known else ""),
        unit=item.unit or (known.unit if known else "шт"),
        qty=item.qty,
        price=price if price is not None else known.price if known else Decimal(0),
        discount_percent=item.discount_percent,
        max_discount_percent=known.max_discount_percent if known is not None else None,
    )
    return line, known


def _vat(
    offer: OfferInput,
    pairs: list[tuple[OfferLine, CatalogItem | None]],
    problems: list[FileProblem],
) -> Decimal | None:
    """The offer's rate: its own, else the catalog items' common one; None is «Без НДС»."""
    catalog_rates = {
        index: normalize_vat_percent(item.vat_percent)
        for index, (_, item) in enumerate(pairs)
        if item is not None
    }
    if "vat_percent" in offer.model_fields_set:
        offer_rate = offer.vat_percent
    elif len(set(catalog_rates.values())) > 1:
        shown = ", ".join(sorted({_rate_text(rate) for rate in catalog_rates.values()}))
        reason = f"catalog items have different VAT rates ({shown}); split the offer"
        problems.append(FileProblem(reason, "vat_percent"))
        return None
    else:
        offer_rate = next(iter(catalog_rates.values()), DEFAULT_VAT_PERCENT)
    for index, item_rate in catalog_rates.items():
        if item_rate != offer_rate:
            reason = (
                f"{pairs[index][0].sku} has VAT {_rate_text(item_rate)} in the catalog, "
                f"the offer has {_rate_text(offer_rate)}; make a separate offer for it"
            )
            problems.append(FileProblem(reason, f"items[{index}].sku"))
    return offer_rate


def _rate_text(rate: Decimal | None) -> str:
    return "none" if rate is None else f"{rate.normalize():f}%"
