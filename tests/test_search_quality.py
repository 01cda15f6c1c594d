"""Search quality: labelled queries as managers type them, on two bases.

Every file here is TUNING data (the hybrid's weights and its confidence model were fitted
on them), so these floors guard against regressions, not claims about unseen questions:
each is the measured figure less a small margin. The shipped base has its labelled set
and its hard set (hard, English, near misses); a second base in another domain
(tests/data/tuning_domain: a cloud EDO service) keeps the fit from serving one base only.
Run with `-s` to see the numbers and misses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.knowledge.content import load_content
from bot.knowledge.search import SearchIndex
from bot.knowledge.semantic import Semantic

ROOT = Path(__file__).resolve().parents[1]
QUERIES = Path(__file__).with_name("data") / "search_queries.yaml"
HARD = Path(__file__).with_name("data") / "search_queries_hard.yaml"
DOMAIN = Path(__file__).with_name("data") / "tuning_domain"
NONE = "none"


@dataclass(frozen=True, slots=True)
class Labelled:
    query: str
    expected: str


@dataclass(frozen=True, slots=True)
class Quality:
    top1: float
    top3: float
    abstained: float
    misses: tuple[str, ...]


def labelled(path: Path = QUERIES, tier: str | None = None) -> list[Labelled]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Labelled(str(item["q"]), str(item["id"]))
        for item in items
        if tier is None or item.get("tier") == tier
    ]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    dirs = [ROOT / "knowledge_base", ROOT / "scripts_library"]
    entries = load_content(dirs).entries
    if len(entries) < 30:
        pytest.skip("the real knowledge base is not there yet")
    return SearchIndex.build(entries, semantic=Semantic())


def measure(
    index: SearchIndex, items: list[Labelled], *, min_score: float | None = None
) -> Quality:
    """Rates over `items`; with `min_score`, hits from that score count (the «maybe» list)."""
    answerable = [item for item in items if item.expected != NONE]
    unanswerable = [item for item in items if item.expected == NONE]
    top1 = top3 = abstained = 0
    misses: list[str] = []
    for item in items:
        hits = index.search(item.query, limit=3, min_score=min_score)
        found = [hit.entry_id for hit in hits]
        if item.expected == NONE:
            abstained += not found
            if found:
                misses.append(f"{item.query!r}: expected nothing, got {found[0]} {hits[0].score}")
            continue
        top1 += found[:1] == [item.expected]
        top3 += item.expected in found
        if found[:1] != [item.expected]:
            got = ", ".join(f"{hit.entry_id} {hit.score}" for hit in hits) or "nothing"
            misses.append(f"{item.query!r}: expected {item.expected}, got {got}")
    return Quality(
        top1 / len(answerable),
        top3 / len(answerable),
        abstained / len(unanswerable),
        tuple(misses),
    )


def at_least(
    quality: Quality, top1: float | None, top3: float | None, abstained: float | None
) -> None:
    """The misses for whoever reads the output, then the floors a tier has."""
    for miss in quality.misses:
        print("  miss:", miss)
    if top1 is not None and top3 is not None:
        assert quality.top1 >= top1
        assert quality.top3 >= top3
    if abstained is not None:
        assert quality.abstained >= abstained


def test_labelled_set_is_big_enough_and_points_at_real_entries(index: SearchIndex) -> None:
    items = labelled()
    assert len(items) >= 150
    assert sum(item.expected == NONE for item in items) >= 30
    dirs = [ROOT / "knowledge_base", ROOT / "scripts_library"]
    ids = {entry.id for entry in load_content(dirs).entries}
    unknown = sorted({item.expected for item in items} - ids - {NONE})
    assert unknown == [], f"labels point at entries that do not exist: {unknown}"


def test_search_quality_on_the_labelled_set(index: SearchIndex) -> None:
    items = labelled()
    quality = measure(index, items)
    answerable = sum(item.expected != NONE for item in items)
    print(
        f"\nsearch quality on {len(items)} queries ({answerable} answerable): "
        f"top-1 {quality.top1:.1%}, top-3 {quality.top3:.1%}, "
        f"abstained on unanswerable {quality.abstained:.1%}"
    )
    for miss in quality.misses:
        print("  miss:", miss)
    assert quality.top1 >= 0.93
    assert quality.top3 >= 0.95
    assert quality.abstained >= 0.92


@pytest.mark.parametrize(
    ("tier", "top1", "top3", "abstained"),
    [("hard", 0.58, 0.66, None), ("en", 0.70, 0.80, None), ("near", None, None, 0.80)],
)
def test_search_quality_on_hard_questions(
    index: SearchIndex, tier: str, top1: float | None, top3: float | None, abstained: float | None
) -> None:
    items = labelled(HARD, tier)
    assert len(items) >= 20
    # One of each kind keeps both rates defined; they are measured on the tier's items.
    quality = measure(
        index, [*items, Labelled("рецепт борща", NONE), Labelled("дорого", "price-too-high")]
    )
    rates = f"top-1 {quality.top1:.1%}, top-3 {quality.top3:.1%}"
    print(f"\n{tier}: {rates}, not found {quality.abstained:.1%}")
    at_least(quality, top1, top3, abstained)


@pytest.fixture(scope="module")
def domain_index() -> SearchIndex:
    return SearchIndex.build(load_content([DOMAIN / "base"]).entries, semantic=Semantic())


def test_the_second_base_is_big_enough_and_its_labels_point_at_its_entries(
    domain_index: SearchIndex,
) -> None:
    items = labelled(DOMAIN / "queries.yaml")
    ids = {entry.id for entry in load_content([DOMAIN / "base"]).entries}
    assert len(ids) >= 25 and len(items) >= 120
    assert sorted({item.expected for item in items} - ids - {NONE}) == []


@pytest.mark.parametrize(
    ("tier", "top1", "top3", "abstained"),
    [
        ("easy", 0.95, 0.95, None),
        ("hard", 0.40, 0.40, None),
        ("en", 0.86, 0.86, None),
        ("none", None, None, 0.90),
        ("near", None, None, 0.85),
    ],
)
def test_search_quality_on_the_second_base(
    domain_index: SearchIndex,
    tier: str,
    top1: float | None,
    top3: float | None,
    abstained: float | None,
) -> None:
    items = labelled(DOMAIN / "queries.yaml", tier)
    assert len(items) >= 15
    quality = measure(
        domain_index,
        [*items, Labelled("рецепт борща", NONE), Labelled("тарифы", "faq-tariffs")],
    )
    print(f"\nsecond base, {tier}: top-1 {quality.top1:.1%}, top-3 {quality.top3:.1%}, "
          f"not found {quality.abstained:.1%}")  # fmt: skip
    at_least(quality, top1, top3, abstained)
