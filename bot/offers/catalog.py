"""Product catalog: load from YAML or CSV, validate, look up by SKU and fuzzy search.

Sales people type «стелаж 2700» or «vs-pr-2700» in a chat; the search must forgive
typos, case and ё/е, while an exact SKU always wins.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz

from bot.common.errors import InvalidFile
from bot.common.money import to_decimal
from bot.offers.pricing import DEFAULT_VAT_PERCENT, HUNDRED

__all__ = [
    "CSV_COLUMNS",
    "Catalog",
    "CatalogError",
    "CatalogItem",
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

_CURRENCY_RE = re.compile(r"[A-Z]{3}")
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


class CatalogError(ValueError):
    """The catalog file cannot be used; ``problems`` lists every issue found, not just the first."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = tuple(problems)


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
    """Read a ``.yaml``/``.yml`` or ``.csv`` catalog; ``CatalogError`` lists all problems."""
    items, problems = _read_catalog(path)
    if problems:
        raise CatalogError(path, problems)
    return Catalog(items)


def check_catalog(path: Path) -> list[str]:
    """Every problem in the file, each naming the item index and field; empty when usable."""
    _, problems = _read_catalog(path)
    return problems


def _read_catalog(path: Path) -> tuple[list[CatalogItem], list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        return [], [f"cannot read {path}: {error.strerror or error}"]
    except UnicodeDecodeError:
        return [], [f"{path} is not UTF-8 text"]
    if path.suffix.lower() == ".csv":
        return _parse_csv(text)
    if path.suffix.lower() in {".yaml", ".yml"}:
        return _parse_yaml(text)
    return [], [f"{path.name}: unsupported catalog format (use .yaml, .yml or .csv)"]


def _parse_yaml(text: str) -> tuple[list[CatalogItem], list[str]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return [], [f"invalid YAML: {error}"]
    if not isinstance(data, Mapping):
        return [], ["the catalog must be a mapping with an `items` list"]
    problems: list[str] = []
    default_currency = _currency(data.get("currency"), "currency", DEFAULT_CURRENCY, problems)
    default_vat = _percent(data.get("vat_percent"), "vat_percent", DEFAULT_VAT_PERCENT, problems)
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        problems.append("items: the catalog has no items")
        return [], problems
    rows = [(index, None, raw) for index, raw in enumerate(raw_items)]
    items = _parse_rows(rows, default_currency, default_vat, problems)
    return items, problems


def _parse_csv(text: str) -> tuple[list[CatalogItem], list[str]]:
    first_line = text.partition("\n")[0]
    # Excel in a Russian locale saves CSV with semicolons.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in ("sku", "name", "price") if column not in header]
    if missing:
        return [], [
            f"header: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
        ]
    unknown = [column for column in header if column not in CSV_COLUMNS]
    problems = [f"header: unknown column(s) {', '.join(unknown)}"] if unknown else []
    rows: list[tuple[int, int | None, Mapping[str, Any]]] = []
    for index, row in enumerate(reader):
        cleaned = {
            (key or "").strip(): value.strip()
            for key, value in row.items()
            if isinstance(value, str) and value.strip()
        }
        rows.append((index, reader.line_num, cleaned))
    if not rows:
        problems.append("items: the catalog has no items")
        return [], problems
    items = _parse_rows(rows, DEFAULT_CURRENCY, DEFAULT_VAT_PERCENT, problems)
    return items, problems


def _parse_rows(
    rows: Sequence[tuple[int, int | None, object]],
    default_currency: str,
    default_vat: Decimal,
    problems: list[str],
) -> list[CatalogItem]:
    items: list[CatalogItem] = []
    first_index: dict[str, int] = {}
    for index, line, raw in rows:
        where = f"items[{index}]" + (f" (line {line})" if line is not None else "")
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: an item must be a mapping of fields")
            continue
        before = len(problems)
        sku = _text(raw.get("sku"))
        if not sku:
            problems.append(f"{where}.sku: missing SKU")
        elif _sku_key(sku) in first_index:
            problems.append(
                f"{where}.sku: duplicate SKU {sku!r} (first at items[{first_index[_sku_key(sku)]}])"
            )
        else:
            first_index[_sku_key(sku)] = index
        name = _text(raw.get("name"))
        if not name:
            problems.append(f"{where}.name: missing name")
        price = _number(raw.get("price"), f"{where}.price", problems, "price")
        if price is not None and price < 0:
            problems.append(f"{where}.price: price must be a non-negative number, got {price}")
        currency = _currency(raw.get("currency"), f"{where}.currency", default_currency, problems)
        vat = _percent(raw.get("vat_percent"), f"{where}.vat_percent", default_vat, problems)
        max_discount = _percent(
            raw.get("max_discount_percent"), f"{where}.max_discount_percent", HUNDRED, problems
        )
        if len(problems) == before and price is not None:
            items.append(
                CatalogItem(
                    sku=sku,
                    name=name,
                    unit=_text(raw.get("unit")) or DEFAULT_UNIT,
                    price=price,
                    currency=currency,
                    vat_percent=vat,
                    max_discount_percent=max_discount,
                    description=_text(raw.get("description")),
                )
            )
    return items


def _text(value: object) -> str:
    """YAML turns SKU 12345 into an int; a catalog field is text whatever YAML guessed."""
    if value is None or isinstance(value, bool):
        return ""
    return " ".join(str(value).split())


def _number(value: object, where: str, problems: list[str], what: str) -> Decimal | None:
    if value is None or value == "":
        problems.append(f"{where}: missing {what}")
        return None
    try:
        return to_decimal(value, where)
    except InvalidFile as error:
        problems.append(f"{where}: {what} must be a non-negative number ({error.problems[0].why})")
        return None


def _percent(value: object, where: str, default: Decimal, problems: list[str]) -> Decimal:
    if value is None or value == "":
        return default
    try:
        number = to_decimal(value, where)
    except InvalidFile as error:
        problems.append(f"{where}: must be a number within 0–100 ({error.problems[0].why})")
        return default
    if not 0 <= number <= HUNDRED:
        problems.append(f"{where}: must be within 0–100, got {number}")
        return default
    return number


def _currency(value: object, where: str, default: str, problems: list[str]) -> str:
    if value is None or value == "":
        return default
    code = str(value).strip().upper()
    if not _CURRENCY_RE.fullmatch(code):
        problems.append(f"{where}: expected a 3-letter currency code like RUB, got {value!r}")
        return default
    return code
