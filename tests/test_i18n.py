import re

import pytest

from bot.common.i18n import catalog, format_amount, language_of, plural_ru


def test_both_languages_have_the_same_messages() -> None:
    assert catalog("ru").keys == catalog("en").keys


@pytest.mark.parametrize("key", sorted(catalog("ru").keys))
def test_a_message_uses_the_same_variables_in_both_languages(key: str) -> None:
    names = re.compile(r"{[{%]-?\s*(?:if |not )?([a-z_]+)")
    found = [set(names.findall(catalog(lang).sources[key])) for lang in ("ru", "en")]
    assert found[0] == found[1]


@pytest.mark.parametrize(
    ("code", "language"),
    [("ru", "ru"), ("ru-RU", "ru"), ("en", "en"), ("de", "en"), (None, "ru"), ("", "ru")],
)
def test_language_follows_telegram_with_russian_by_default(code: str | None, language: str) -> None:
    assert language_of(code) == language


@pytest.mark.parametrize(
    ("n", "word"),
    [(1, "сделка"), (2, "сделки"), (5, "сделок"), (11, "сделок"), (21, "сделка"), (104, "сделки")],
)
def test_russian_plurals(n: int, word: str) -> None:
    assert plural_ru(n, "сделка", "сделки", "сделок") == word


def test_amounts_are_grouped_with_non_breaking_spaces() -> None:
    assert format_amount(150000) == "150\u00a0000\u00a0₽"
    assert format_amount(1500.5, "USD") == "$1\u00a0500,50"  # type: ignore[arg-type]
