"""Search quality on the real base: a labelled set of queries as managers type them.

Fails when top-1 < 90% or top-3 < 97% of answerable queries, or fewer than 90% of the
unanswerable ones are answered "not found". Run with `-s` to see the numbers and misses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.knowledge.content import load_content
from bot.knowledge.search import SearchIndex

ROOT = Path(__file__).resolve().parents[1]
QUERIES = Path(__file__).with_name("data") / "search_queries.yaml"
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


def labelled() -> list[Labelled]:
    items = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    return [Labelled(str(item["q"]), str(item["id"])) for item in items]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    dirs = [ROOT / "knowledge_base", ROOT / "scripts_library"]
    entries = load_content(dirs).entries
    if len(entries) < 30:
        pytest.skip("the real knowledge base is not there yet")
    return SearchIndex.build(entries)


def measure(index: SearchIndex, items: list[Labelled]) -> Quality:
    answerable = [item for item in items if item.expected != NONE]
    unanswerable = [item for item in items if item.expected == NONE]
    top1 = top3 = abstained = 0
    misses: list[str] = []
    for item in items:
        hits = index.search(item.query, limit=3)
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
    assert quality.top1 >= 0.90
    assert quality.top3 >= 0.97
    assert quality.abstained >= 0.90
