"""Message catalogs in Russian and English, one YAML file per language.

Each message is a small Jinja2 template with autoescape on, so names and
client text are always shown literally in Telegram's HTML mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template

from bot.common import russian
from bot.common.money import CURRENCY_SYMBOLS

LOCALES = Path(__file__).resolve().parents[1] / "locales"
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"


def language_of(code: str | None) -> str:
    """Telegram's language_code to ours: ru* is Russian, anything else English, none Russian."""
    if not code:
        return DEFAULT_LANGUAGE
    return "ru" if code.lower().startswith("ru") else "en"


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def plural_en(n: int, one: str, many: str) -> str:
    return one if abs(int(n)) == 1 else many


def format_amount(value: Decimal | int | None, currency: str = "RUB", language: str = "ru") -> str:
    """150 000 ₽ for a Russian reader, 150,000 ₽ and $7,500.50 for an English one: grouped,
    kopecks only when there are any, in the reader's own number format."""
    if value is None:
        return "—"
    quantized = Decimal(value).quantize(Decimal("0.01"))
    group, point = ("\u00a0", ",") if language == "ru" else (",", ".")
    whole = f"{int(quantized):,}".replace(",", group)
    cents = abs(quantized) % 1
    text = whole if not cents else f"{whole}{point}{str(cents)[2:4]}"
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    return f"${text}" if symbol == "$" else f"{text}\u00a0{symbol}"


def _as_written(phrase: str, *_: object) -> str:
    return phrase


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


class Catalog:
    """All texts of one language, compiled once."""

    def __init__(self, language: str, messages: Mapping[str, str]) -> None:
        self.language = language
        self.keys = frozenset(messages)
        self.sources = dict(messages)
        env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True)
        env.filters["amount"] = self.amount
        env.globals["plural"] = plural_ru if language == "ru" else plural_en
        # A unit from the catalog takes the form its number or «за» asks for (ru only).
        env.filters["counted"] = russian.counted if language == "ru" else _as_written
        env.filters["accusative"] = russian.accusative if language == "ru" else _as_written
        env.globals["t"] = self  # a message may name another, e.g. t('roles.' ~ role)
        self._templates: dict[str, Template] = {
            key: env.from_string(text) for key, text in messages.items() if "{" in text
        }
        # Most texts (button labels above all) have nothing to fill in: no rendering for them.
        self._plain = {key: text.strip() for key, text in messages.items() if "{" not in text}

    def __call__(self, key: str, **params: Any) -> str:
        plain = self._plain.get(key)
        if plain is not None:
            return plain
        template = self._templates.get(key)
        if template is None:
            raise KeyError(f"no message {key!r} in {self.language}")
        return template.render(**params).strip()

    def amount(self, value: Decimal | int | None, currency: str = "RUB") -> str:
        """An amount in this language's number format (`format_amount`)."""
        return format_amount(value, currency, self.language)

    def has(self, key: str) -> bool:
        return key in self._templates or key in self._plain


@lru_cache(maxsize=len(LANGUAGES))
def catalog(language: str) -> Catalog:
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    with (LOCALES / f"{lang}.yaml").open(encoding="utf-8") as file:
        messages = _flatten(yaml.safe_load(file) or {})
    return Catalog(lang, messages)
