"""Search quality on HELD-OUT questions: written by someone who had read neither the engine
nor the shipped entries' aliases, and never tuned on (nothing in the engine was fitted or
chosen while looking at these files or their misses; only the figures were read).

Two sets: questions for the shipped base, and a base in another domain (a cloud phone
system, `search_holdout/telecom_base`) with its own questions. Each has easy, hard (as
people type between calls, some in English) and unanswerable questions, half of those near
misses. The floors are the figures measured when the set was added, less a small margin:
they catch a regression; the issue's targets (hard top-1 0.80, «not found» 0.90) are not
met yet. Run with `-s` to see the figures (not the misses: reading them would spend the set).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge.content import load_content
from bot.knowledge.search import SearchIndex
from bot.knowledge.semantic import Semantic
from tests.test_search_quality import NONE, Labelled, labelled, measure

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = Path(__file__).with_name("data") / "search_holdout"

# (set, tier) -> floors for top-1 and «not found» (None: not measured on that tier)
FLOORS = {
    ("shipped", "easy"): (0.95, None),
    ("shipped", "hard"): (0.42, None),
    ("shipped", "none"): (None, 0.82),
    ("telecom", "easy"): (0.88, None),
    ("telecom", "hard"): (0.25, None),
    ("telecom", "none"): (None, 0.90),
}


@pytest.fixture(scope="module")
def indexes() -> dict[str, SearchIndex]:
    shipped = load_content([ROOT / "knowledge_base", ROOT / "scripts_library"]).entries
    telecom = load_content([HOLDOUT / "telecom_base"]).entries
    return {
        "shipped": SearchIndex.build(shipped, semantic=Semantic()),
        "telecom": SearchIndex.build(telecom, semantic=Semantic()),
    }


def test_the_held_out_sets_are_big_enough_and_point_at_real_entries() -> None:
    bases = {
        "shipped": [ROOT / "knowledge_base", ROOT / "scripts_library"],
        "telecom": [HOLDOUT / "telecom_base"],
    }
    for name, dirs in bases.items():
        items = labelled(HOLDOUT / f"{name}.yaml")
        assert len(items) >= 150
        assert sum(item.expected == NONE for item in items) >= 30
        ids = {entry.id for entry in load_content(dirs).entries}
        assert {item.expected for item in items} - ids - {NONE} == set(), name
    assert len(load_content([HOLDOUT / "telecom_base"]).entries) >= 30


@pytest.mark.parametrize(("name", "tier"), sorted(FLOORS))
def test_search_quality_on_held_out_questions(
    indexes: dict[str, SearchIndex], name: str, tier: str
) -> None:
    path = HOLDOUT / f"{name}.yaml"
    items = labelled(path, tier)
    # `measure` needs both kinds; the padding item is of the other kind than the tier's, so
    # it does not enter the rate the floor reads.
    padding = labelled(path, "easy")[:1] if tier == "none" else [Labelled("рецепт борща", NONE)]
    quality = measure(indexes[name], [*items, *padding])
    # What a person sees: the answers, or below them the «maybe one of these» candidates.
    shown = measure(indexes[name], [*items, *padding], min_score=indexes[name].maybe_threshold)
    print(f"\n{name} {tier}: top-1 {quality.top1:.1%}, top-3 {quality.top3:.1%}, "
          f"not found {quality.abstained:.1%}; among answers or «maybe» {shown.top3:.1%}, "
          f"nothing shown {shown.abstained:.1%} (n={len(items)})")  # fmt: skip
    top1, abstained = FLOORS[(name, tier)]
    if top1 is not None:
        assert quality.top1 >= top1
    if abstained is not None:
        assert quality.abstained >= abstained
