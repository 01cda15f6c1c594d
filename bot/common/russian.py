"""Russian grammar for words that come from data, not from our own texts.

Our sentences are written so that a person's or a deal's name never needs a
case («Ответственный теперь: Маша», not «теперь у Маша»). A catalog unit is
different: «20 секция» and «за секция» read as broken Russian, so a unit is put
into the form its number or preposition asks for («20 секций», «за секцию»).
pymorphy3 knows the forms of Russian words; its dictionary loads on first use
(about 0.2 s), so a bot that never shows a unit never pays for it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

import pymorphy3

_CYRILLIC_WORD = re.compile(r"^[а-яё]+(?:-[а-яё]+)?$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _analyzer() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer(lang="ru")


def _nominative(word: str) -> pymorphy3.analyzer.Parse | None:
    """The dictionary reading of a unit word as written (nominative), if it is a known word.

    Abbreviations («шт», «кг», «м²») and words the dictionary does not know stay as
    written: a guessed inflection of an unknown word is worse than none.
    """
    if not _CYRILLIC_WORD.match(word) or not _analyzer().word_is_known(word.lower()):
        return None
    for parse in _analyzer().parse(word):
        tag = parse.tag
        if {"NOUN", "nomn"} in tag and "Abbr" not in tag and "Fixd" not in tag:
            return parse
        if {"ADJF", "nomn"} in tag or {"PRTF", "nomn"} in tag:
            return parse
    return None


def _keep_case(original: str, inflected: str) -> str:
    if original[:1].isupper():
        return inflected[:1].upper() + inflected[1:]
    return inflected


def _inflect_phrase(phrase: str, wanted: set[str] | None, number: int | None) -> str:
    """Put the head noun, and the adjectives before it, into the wanted form.

    Words after the head noun («час работы», «упаковка 10 шт») keep their form:
    they depend on the noun, not on the number.
    """
    words = phrase.split(" ")
    parses = [_nominative(word) for word in words]
    head = next((i for i, p in enumerate(parses) if p is not None and "NOUN" in p.tag), None)
    if head is None:
        return phrase  # no noun to agree with: leave the phrase alone
    noun = parses[head]
    assert noun is not None
    out = list(words)
    for i in range(head + 1):
        parse = parses[i]
        if parse is None:
            continue
        inflected = None
        if number is not None and "Pltm" in noun.tag and number % 10 != 1:
            inflected = parse.inflect({"plur", "gent"})  # 2 суток, 3 ножниц
        elif number is not None:
            # An adjective agrees with the number the way its noun does («2 погонных метра»).
            inflected = parse.make_agree_with_number(number)
        else:
            assert wanted is not None
            grammemes = set(wanted)
            if "Pltm" in noun.tag and "sing" in grammemes:
                grammemes = (grammemes - {"sing"}) | {"plur"}  # 2,5 суток
            if i != head and noun.tag.gender:
                grammemes.add(noun.tag.gender)
                if "accs" in wanted and noun.tag.gender == "masc" and noun.tag.animacy:
                    grammemes.add(noun.tag.animacy)
            inflected = parse.inflect(grammemes)
        if inflected is not None:
            out[i] = _keep_case(words[i], inflected.word)
    return " ".join(out)


@lru_cache(maxsize=4096)
def _counted(phrase: str, number: int | None) -> str:
    if number is None:  # 2,5 секции: a fraction takes the genitive singular
        return _inflect_phrase(phrase, {"sing", "gent"}, None)
    return _inflect_phrase(phrase, None, number)


def counted(phrase: str, quantity: Decimal | int | str) -> str:
    """The unit as it reads after its quantity: 1 секция, 2 секции, 5 секций, 2,5 секции.

    The quantity may come already formatted for the reader («2,5», «1 000»).
    """
    if isinstance(quantity, str):
        quantity = quantity.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(quantity)
    except ArithmeticError:
        return phrase
    whole = int(value) if value == value.to_integral_value() else None
    return _counted(phrase.strip(), whole)


@lru_cache(maxsize=4096)
def accusative(phrase: str) -> str:
    """The unit after «за»: за секцию, за погонный метр, за пользователя."""
    return _inflect_phrase(phrase.strip(), {"accs"}, None)
