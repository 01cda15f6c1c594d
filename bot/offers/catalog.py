"""Product catalog: load from YAML or CSV, validate, look up by SKU and fuzzy search.

The file is read through pydantic models (`CatalogDefaults`, `CatalogRow`) into frozen
`CatalogItem`s; every problem names the item and field (`items[3].price`, with the
line of a CSV row) and what to write instead.

Sales people type «стелаж 2700» or «vs-pr-2700» in a chat; the search must forgive
typos, case and ё/е, while an exact SKU always wins.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from rapidfuzz import fuzz

from bot.common.errors import FileProblem, InvalidFile
from bot.common.formats import field_path, problems_of, why
from bot.common.money import CURRENCY_CODE, to_decimal
from bot.offers.pricing import DEFAULT_VAT_PERCENT, HUNDRED

__all__ = [
    "CSV_COLUMNS",
    "Catalog",
    "CatalogDefaults",
    "CatalogItem",
    "CatalogRow",
    "check_catalog",
    "load_catalog",
    "normalize_search_text",
]

CSV_COLUMNS = (
    "sku",
    "name",
    "unit",
    "price",
    "currency",
    "vat_percent",
    "max_discount_percent",
    "description",
)
DEFAULT_UNIT = "шт"
DEFAULT_CURRENCY = "RUB"
MIN_SEARCH_SCORE = 72.0
"""Below this score a match is noise («болт» would otherwise «find» a rack)."""

_NON_WORD_RE = re.compile(r"[^\w]+")


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """A sellable item; ``max_discount_percent`` of 100 means the item sets no cap of its own."""

    sku: str
    name: str
    unit: str
    price: Decimal
    currency: str
    vat_percent: Decimal
    max_discount_percent: Decimal
    description: str = ""


def normalize_search_text(text: str) -> str:
    """Case-fold, ё→е, punctuation to spaces: «Ёмкость, СТЕЛЛАЖ» equals «емкость стеллаж»."""
    folded = text.casefold().replace("ё", "е")
    return _NON_WORD_RE.sub(" ", folded).strip()


def _sku_key(sku: str) -> str:
    return sku.strip().casefold()


class Catalog:
    """Items by SKU (case-insensitive) with fuzzy search over names and SKUs."""

    def __init__(self, items: Iterable[CatalogItem]) -> None:
        self._items = tuple(items)
        self._by_sku = {_sku_key(item.sku): item for item in self._items}
        if len(self._by_sku) != len(self._items):
            raise ValueError("catalog SKUs must be unique")
        self._search_keys = tuple(
            (sku_text, name_text, frozenset(f"{sku_text} {name_text}".split()))
            for sku_text, name_text in (
                (normalize_search_text(item.sku), normalize_search_text(item.name))
                for item in self._items
            )
        )

    @property
    def items(self) -> tuple[CatalogItem, ...]:
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, sku: object) -> bool:
        return isinstance(sku, str) and _sku_key(sku) in self._by_sku

    def get(self, sku: str) -> CatalogItem | None:
        """The item with this SKU, ignoring case and surrounding spaces; None if absent."""
        return self._by_sku.get(_sku_key(sku))

    def search(self, query: str, limit: int = 5) -> list[CatalogItem]:
        """Best matches first; a query equal to a SKU (ignoring case) is always first.

        Each query word is matched against the item's words (name and SKU parts) with
        typo tolerance and as a word beginning, which covers Russian endings
        («паллетный» finds «паллетного»); the item's score is the mean over query words.
        Numbers must match exactly or as a beginning: 2700 is not 270.
        """
        needle = normalize_search_text(query)
        words = needle.split()
        if not words or limit <= 0:
            return []
        scored: list[tuple[float, float, int]] = []
        for position, (sku_text, name_text, item_words) in enumerate(self._search_keys):
            if needle == sku_text:
                score = 1000.0
            else:
                score = sum(_word_score(word, item_words) for word in words) / len(words)
                if needle in sku_text:
                    score += 5.0  # «pr 2700» prefers VS-PR-2700-3 over VS-PR-BEAM-2700
            if score >= MIN_SEARCH_SCORE:
                tie_break = fuzz.WRatio(needle, name_text)
                scored.append((score, tie_break, position))
        scored.sort(key=lambda entry: (-entry[0], -entry[1], entry[2]))
        return [self._items[position] for _, _, position in scored[:limit]]


def _word_score(word: str, item_words: frozenset[str]) -> float:
    """How well one query word matches the best of an item's words, 0–100."""
    best = 0.0
    for candidate in item_words:
        if word == candidate:
            return 100.0
        if word.isdigit() or candidate.isdigit():
            score = 90.0 if candidate.startswith(word) else 0.0
        else:
            score = max(
                fuzz.ratio(word, candidate),
                # compare with the word's beginning: Russian changes endings, not stems
                0.95 * fuzz.ratio(word, candidate[: len(word)]) if len(word) >= 4 else 0.0,
            )
        best = max(best, score)
    return best


def load_catalog(path: Path) -> Catalog:
    """Read a ``.yaml``/``.yml`` or ``.csv`` catalog; ``InvalidFile`` lists all problems."""
    items, problems = _read_catalog(path)
    if problems:
        raise InvalidFile(problems, path)
    return Catalog(items)


def check_catalog(path: Path) -> list[FileProblem]:
    """Every problem in the file, each naming the item index and field; empty when usable."""
    _, problems = _read_catalog(path)
    return problems


# --- the file ------------------------------------------------------------------------------

NO_ITEMS = "the catalog has no items"
WORDS = {
    "": "an item must be a mapping of fields",
    "sku": "missing SKU",
    "name": "missing name",
    "price": "missing price",
}


def _text(value: object) -> str:
    """YAML turns SKU 12345 into an int; a catalog field is text whatever YAML guessed."""
    if value is None or isinstance(value, bool):
        return ""
    return " ".join(str(value).split())


def _blank(value: object) -> bool:
    return value is None or value == ""


def _required_text(message: str) -> PlainValidator:
    def required(value: object) -> str:
        text = _text(value)
        if not text:
            raise why(message)
        return text

    return PlainValidator(required)


def _price(value: object) -> Decimal:
    if _blank(value):
        raise why("missing price")
    try:
        price = to_decimal(value, "price")
    except InvalidFile as error:
        raise why(f"price must be a non-negative number ({error.problems[0].why})") from None
    if price < 0:
        raise why(f"price must be a non-negative number, got {price}")
    return price


def _percent(value: object) -> Decimal | None:
    if _blank(value):
        return None
    try:
        number = to_decimal(value, "percent")
    except InvalidFile as error:
        raise why(f"must be a number within 0–100 ({error.problems[0].why})") from None
    if not 0 <= number <= HUNDRED:
        raise why(f"must be within 0–100, got {number}")
    return number


def _currency(value: object) -> str | None:
    if _blank(value):
        return None
    code = str(value).strip().upper()
    if not CURRENCY_CODE.fullmatch(code):
        raise why(f"expected a 3-letter currency code like RUB, got {value!r}")
    return code


Percent = Annotated[Decimal | None, PlainValidator(_percent)]
Currency = Annotated[str | None, PlainValidator(_currency)]
Text = Annotated[str, PlainValidator(_text)]
_Format = ConfigDict(frozen=True, extra="ignore")


class CatalogDefaults(BaseModel):
    """The top of a YAML catalog: what its items have unless they say otherwise."""

    model_config = _Format

    currency: Currency = None
    vat_percent: Percent = None


class CatalogRow(BaseModel):
    """One item as a YAML mapping or a CSV row gives it."""

    model_config = _Format

    sku: Annotated[str, _required_text("missing SKU")] = Field("", validate_default=True)
    name: Annotated[str, _required_text("missing name")] = Field("", validate_default=True)
    unit: Text = ""
    price: Annotated[Decimal, PlainValidator(_price)] = Field(None, validate_default=True)
    currency: Currency = None
    vat_percent: Percent = None
    max_discount_percent: Percent = None
    description: Text = ""

    def item(self, defaults: CatalogDefaults) -> CatalogItem:
        return CatalogItem(
            sku=self.sku,
            name=self.name,
            unit=self.unit or DEFAULT_UNIT,
            price=self.price,
            currency=self.currency or defaults.currency or DEFAULT_CURRENCY,
            vat_percent=_first(self.vat_percent, defaults.vat_percent, DEFAULT_VAT_PERCENT),
            max_discount_percent=_first(self.max_discount_percent, HUNDRED),
            description=self.description,
        )


def _first(*numbers: Decimal | None) -> Decimal:
    return next(number for number in numbers if number is not None)


Row = tuple[int, int | None, object]  # index, CSV line, the raw item


def _read_catalog(path: Path) -> tuple[list[CatalogItem], list[FileProblem]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        return [], [FileProblem(f"cannot read: {error.strerror or error}")]
    except UnicodeDecodeError:
        return [], [FileProblem("not UTF-8 text")]
    if path.suffix.lower() == ".csv":
        return _parse_csv(text)
    if path.suffix.lower() in {".yaml", ".yml"}:
        return _parse_yaml(text)
    return [], [FileProblem("unsupported catalog format (use .yaml, .yml or .csv)")]


def _parse_yaml(text: str) -> tuple[list[CatalogItem], list[FileProblem]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return [], [FileProblem(f"invalid YAML: {error}")]
    if not isinstance(data, Mapping):
        return [], [FileProblem("the catalog must be a mapping with an `items` list")]
    problems: list[FileProblem] = []
    try:
        defaults = CatalogDefaults.model_validate(data)
    except ValidationError as error:
        problems += problems_of(error)
        defaults = CatalogDefaults()
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        problems.append(FileProblem(NO_ITEMS, "items"))
        return [], problems
    rows = [(index, None, raw) for index, raw in enumerate(raw_items)]
    return _parse_rows(rows, defaults, problems), problems


def _parse_csv(text: str) -> tuple[list[CatalogItem], list[FileProblem]]:
    first_line = text.partition("\n")[0]
    # Excel in a Russian locale saves CSV with semicolons.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in ("sku", "name", "price") if column not in header]
    if missing:
        why = f"missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
        return [], [FileProblem(why, "header")]
    unknown = [column for column in header if column not in CSV_COLUMNS]
    problems = [FileProblem(f"unknown column(s) {', '.join(unknown)}", "header")] if unknown else []
    rows: list[Row] = []
    for index, row in enumerate(reader):
        cleaned = {
            (key or "").strip(): value.strip()
            for key, value in row.items()
            if isinstance(value, str) and value.strip()
        }
        rows.append((index, reader.line_num, cleaned))
    if not rows:
        problems.append(FileProblem(NO_ITEMS, "items"))
        return [], problems
    return _parse_rows(rows, CatalogDefaults(), problems), problems


def _parse_rows(
    rows: Sequence[Row], defaults: CatalogDefaults, problems: list[FileProblem]
) -> list[CatalogItem]:
    """Every row checked on its own, so that a duplicate SKU is found beside other problems."""
    items: list[CatalogItem] = []
    first_index: dict[str, int] = {}
    for index, line, raw in rows:
        where = f"items[{index}]" + (f" (line {line})" if line is not None else "")
        row_problems: list[FileProblem] = []
        sku = _text(raw.get("sku")) if isinstance(raw, Mapping) else ""
        if sku and _sku_key(sku) in first_index:
            first = first_index[_sku_key(sku)]
            duplicate = f"duplicate SKU {sku!r} (first at items[{first}])"
            row_problems.append(FileProblem(duplicate, f"{where}.sku"))
        elif sku:
            first_index[_sku_key(sku)] = index
        try:
            row = CatalogRow.model_validate(raw)
        except ValidationError as error:
            row_problems += problems_of(error, words=WORDS, where=_in_row(where))
        else:
            if not row_problems:
                items.append(row.item(defaults))
        problems += row_problems
    return items


def _in_row(where: str) -> Callable[[tuple[int | str, ...]], str]:
    return lambda loc: f"{where}.{field_path(loc)}" if loc else where
