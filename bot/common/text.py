"""Russian and English word normalisation shared by the matchers: fold, split, stem."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

WORD = re.compile(r"[0-9a-zа-я]+")
CYRILLIC = re.compile(r"[а-я]")

_russian = Stemmer.Stemmer("russian")
_english = Stemmer.Stemmer("english")


def fold(text: str) -> str:
    """Lowercase and ё→е: how people type on a phone is not how names are spelled."""
    return text.lower().replace("ё", "е")


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    if CYRILLIC.search(word):
        return str(_russian.stemWord(word))
    return str(_english.stemWord(word))


def stems(text: str) -> list[str]:
    return [stem(word) for word in words(text)]
