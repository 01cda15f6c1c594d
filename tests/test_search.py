"""The search engine on a small base: normalisation, typos, slang, English, abstention."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge.content import load_content
from bot.knowledge.search import THRESHOLD, Analyzer, SearchIndex, normalize

BASE = {
    "objections/price.md": """\
---
id: price-too-high
kind: objection
title: Дорого
aliases: [у вас дорого, слишком высокая цена, цена кусается]
tags: [цена]
---
Присоединитесь, уточните, с чем сравнивает клиент, и переведите разговор на стоимость владения.
""",
    "objections/budget.md": """\
---
id: no-budget
kind: objection
title: Нет бюджета
aliases: [денег нет, не заложили в бюджет на этот год]
tags: [деньги]
---
Узнайте, когда планируют бюджет, и предложите оплату частями.
""",
    "objections/not-interested.md": """\
---
id: not-interested
kind: objection
title: Не интересно
aliases: [нам это не нужно, ничего не надо]
tags: [отказ]
---
Не спорьте: задайте один вопрос о складе и предложите бесплатную инспекцию стеллажей.
""",
    "objections/send-offer.md": """\
---
id: send-offer
kind: objection
title: Пришлите предложение на почту
aliases: [скиньте коммерческое предложение на email]
tags: [почта]
---
Пришлём, но сначала уточним задачу, чтобы предложение было точным. Договоритесь о звонке.
""",
    "company/case.md": """\
---
id: case-samara
kind: company
title: Кейс распределительного центра в Самаре
aliases: [интересный кейс]
tags: [кейсы]
---
Интересно, как РЦ в Самаре сэкономил 12% площади, перестроив стеллажи за две недели.
""",
    "faq/lpr.md": """\
---
id: find-decision-maker
kind: faq
title: Как выйти на лицо, принимающее решение
aliases: [кто решает о закупке]
tags: [квалификация]
---
Спросите у контакта, кто утверждает бюджет и подписывает договор.
""",
    "products/pallet.md": """\
---
id: pallet-racks
kind: product
title: Паллетные стеллажи
aliases: [фронтальные стеллажи, pallet racks, pallet racking]
tags: [стеллажи]
---
Стеллажи для хранения грузов на паллетах: нагрузка до 4 тонн на ярус, гарантия 5 лет.
""",
    "company/warranty.md": """\
---
id: warranty
kind: company
title: Гарантия
aliases: [warranty period, гарантийный срок]
tags: [условия]
---
Гарантия на стеллажи 5 лет, на монтаж 2 года.
""",
}

SCRIPT = """\
---
id: closing
kind: script
title: Закрытие сделки
aliases: [как закрыть сделку]
tags: [сделка]
---
## Резюме {#start}
Подведите итог и предложите следующий шаг.
- [Согласен](#sign)

## Подписание {#sign}
Отправляем договор.
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    root = tmp_path_factory.mktemp("content")
    for name, text in {**BASE, "../scripts/closing.md": SCRIPT}.items():
        path = root / "kb" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    loaded = load_content([root / "kb", root / "scripts"])
    assert loaded.problems == ()
    return SearchIndex.build(loaded.entries)


def top(index: SearchIndex, query: str) -> str | None:
    hits = index.search(query)
    return hits[0].entry_id if hits else None


def test_normalisation_lowercases_strips_punctuation_and_filler() -> None:
    assert normalize("Клиент говорит, что ДОРОГО!!! Что ответить?") == ["дорог"]
    assert normalize("подскажите пожалуйста, что делать если говорят дорого") == ["дорог"]
    assert normalize("Ещё… ёлки") == ["елк"]
    assert normalize("что, как, если?") == []


def test_negation_is_glued_to_its_word() -> None:
    assert normalize("нет бюджета") == ["небюджет"]
    assert normalize("бюджета нет") == ["небюджет"]
    assert normalize("денег нет совсем") == normalize("нету денег") == ["неденег"]
    assert normalize("не интересно") == normalize("неинтересно") == ["неинтересн"]
    assert normalize("пока не нужно") == ["ненужн"]
    assert normalize("не сейчас") == ["несейчас"]


def test_greetings_word_forms_and_spellings_are_normalised() -> None:
    assert normalize("Добрый день! Клиент пишет: дорого") == ["дорог"]
    assert normalize("дорого") == normalize("дорогой") == ["дорог"]
    assert normalize("подешевле") == normalize("дешевле")
    assert normalize("интеграция с 1c") == normalize("интеграция с 1С")
    assert normalize("цeна") == normalize("цена")  # a Latin "e" inside a Russian word


def test_word_forms_and_filler_find_the_entry(index: SearchIndex) -> None:
    assert top(index, "дорого") == "price-too-high"
    assert top(index, "клиент говорит что дорого, что ответить?") == "price-too-high"
    assert top(index, "цены слишком высокие") == "price-too-high"
    assert top(index, "у них бюджета нет") == "no-budget"
    assert top(index, "денег нету") == "no-budget"


def test_negation_separates_not_interested_from_interesting(index: SearchIndex) -> None:
    assert top(index, "не интересно") == "not-interested"
    assert top(index, "клиенту неинтересно") == "not-interested"
    assert top(index, "интересный кейс") == "case-samara"


def test_typos_are_tolerated(index: SearchIndex) -> None:
    assert top(index, "дорага") == "price-too-high"
    assert top(index, "бюджэта нет") == "no-budget"
    assert top(index, "не интерсно") == "not-interested"
    assert top(index, "палетные стилажи") == "pallet-racks"


def test_mistyped_filler_words_are_still_filler(index: SearchIndex) -> None:
    assert top(index, "подскжите клиент гворит что дорого") == "price-too-high"


def test_wrong_keyboard_layout_is_understood(index: SearchIndex) -> None:
    assert top(index, "ljhjuj") == "price-too-high"


def test_sales_slang_is_expanded(index: SearchIndex) -> None:
    assert top(index, "скинуть кп на почту") == "send-offer"
    assert top(index, "как выйти на лпр") == "find-decision-maker"
    assert top(index, "как дожать клиента") == "closing"


def test_english_queries_match_english_aliases(index: SearchIndex) -> None:
    assert top(index, "pallet racks") == "pallet-racks"
    assert top(index, "What is the warranty period?") == "warranty"


@pytest.mark.parametrize(
    "query",
    ["как оформить отпуск", "какая погода в Казани", "рецепт борща", "посоветуй фильм на вечер"],
)
def test_unrelated_questions_find_nothing(index: SearchIndex, query: str) -> None:
    assert index.search(query) == []


@pytest.mark.parametrize("query", ["", "   ", "🔥🔥🔥", "?!...", "что делать?", "👍 ok?"])
def test_empty_emoji_and_punctuation_queries_find_nothing(index: SearchIndex, query: str) -> None:
    assert index.search(query) == []


def test_hits_are_sorted_limited_and_scored_in_unit_range(index: SearchIndex) -> None:
    hits = index.search("стеллажи гарантия", limit=2)
    assert 1 <= len(hits) <= 2
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert all(THRESHOLD <= hit.score <= 1.0 for hit in hits)
    assert index.search("стеллажи", limit=0) == []


def test_kinds_filter(index: SearchIndex) -> None:
    hits = index.search("стеллажи", kinds={"product"}, limit=5)
    assert [hit.entry_id for hit in hits] == ["pallet-racks"]
    assert hits[0].kind == "product"
    assert hits[0].title == "Паллетные стеллажи"
    assert index.search("дорого", kinds={"script"}) == []


def test_min_score_overrides_the_threshold(index: SearchIndex) -> None:
    everything = index.search("стеллажи", min_score=0.0, limit=10)
    assert len(everything) > len(index.search("стеллажи", limit=10))
    assert index.search("дорого", min_score=1.01) == []


def test_a_4096_character_message_is_still_answered(index: SearchIndex) -> None:
    """Its speed is measured by benchmarks/search.py, not here."""
    query = ("клиент говорит что у них нет бюджета " * 200)[:4096]
    assert index.search(query)[0].entry_id == "no-budget"


def test_empty_index_finds_nothing() -> None:
    assert SearchIndex.build([]).search("дорого") == []


def test_index_is_reusable_and_independent_of_source_files(tmp_path: Path) -> None:
    path = tmp_path / "kb" / "a.md"
    path.parent.mkdir()
    path.write_text("---\nid: a\nkind: faq\ntitle: Отпуск менеджера\n---\nТекст\n", "utf-8")
    built = SearchIndex.build(load_content([tmp_path / "kb"]).entries)
    path.unlink()
    assert [hit.entry_id for hit in built.search("отпуск")] == ["a"]
    assert len(built) == 1


def test_words_met_in_queries_do_not_join_the_vocabulary() -> None:
    """Typo corrections aim at the base's words only, however many odd queries come."""
    analyzer = Analyzer(limit=3)
    analyzer.terms("паллетные стеллажи")
    analyzer.seal()
    vocabulary = analyzer.words()
    for number in range(10):
        assert analyzer.terms(f"стелажи{number} ерунда") == [f"стелажи{number}", "ерунд"]
    assert analyzer.words() == vocabulary
