"""The labelled sets of move messages: accuracy ≥ 95% and never a wrong silent move.

move_messages.yaml is the set the matcher was tuned on. move_messages_holdout.yaml was written
later, by someone who had not seen the matcher, and is never tuned on: it says whether what was
learned holds for messages nobody has tried yet. Its first run scored 138/140 (the two misses
ask with buttons where no deal matches; asking is the safe side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import PACKAGE_DEFAULTS
from bot.deals.funnel import load_funnels
from bot.deals.matching import DealMatcher, DealRef, Intent, IntentKind

DATA = Path(__file__).parent / "data"
SETS = ("move_messages.yaml", "move_messages_holdout.yaml")
ASK = {IntentKind.ASK_DEAL}
NOT_FOUND = {IntentKind.NOT_FOUND, IntentKind.NONE}


def _matcher(name: str) -> tuple[DealMatcher, dict[str, Any]]:
    data = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    deals = [
        DealRef(i + 1, d["title"], d.get("client"), "b2b", d["stage"], "open", 1)
        for i, d in enumerate(data["deals"])
    ]
    return DealMatcher(deals, load_funnels(PACKAGE_DEFAULTS / "funnel.yaml")), data


def _outcome(intent: Intent) -> str | tuple[str, str]:
    if intent.kind is IntentKind.MOVE:
        return (intent.deal.title, intent.stage or "")
    if intent.kind in ASK:
        return "ask"
    if intent.kind in NOT_FOUND:
        return "not_found"
    return intent.kind.value


def _expected(expect: Any) -> str | tuple[str, str]:
    return (expect["deal"], expect["stage"]) if isinstance(expect, dict) else str(expect)


@pytest.mark.parametrize("name", SETS)
def test_move_messages_are_understood(name: str) -> None:
    matcher, data = _matcher(name)
    messages = data["messages"]
    wrong_moves: list[str] = []
    misses: list[str] = []
    for item in messages:
        text = item["text"]
        explicit = text.startswith("/move ")
        intent = matcher.parse(text.removeprefix("/move ") if explicit else text, explicit=explicit)
        got, expected = _outcome(intent), _expected(item["expect"])
        if got == expected:
            continue
        line = f"{text!r}: expected {expected}, got {got}"
        (wrong_moves if isinstance(got, tuple) else misses).append(line)
    correct = len(messages) - len(wrong_moves) - len(misses)
    accuracy = correct / len(messages)
    print(
        f"\n{name}: {correct}/{len(messages)} correct ({accuracy:.1%}), "
        f"{len(wrong_moves)} wrong silent moves"
    )
    for line in wrong_moves + misses:
        print("  ", line)
    assert not wrong_moves, "a wrong silent move is a failure on its own"
    assert accuracy >= 0.95
    assert len(messages) >= 80


PAID_FUNNEL = {
    "funnels": [
        {
            "key": "shop",
            "name": {"ru": "Магазин", "en": "Shop"},
            "default": True,
            "stages": [
                {"key": "contact", "name": {"ru": "Контакт", "en": "Contact"}},
                {"key": "invoice", "name": {"ru": "Счёт выставлен", "en": "Invoiced"}},
                {"key": "paid", "name": {"ru": "Оплачено", "en": "Paid"}, "won": True},
                {"key": "gone", "name": {"ru": "Ушёл", "en": "Gone"}, "lost": True},
            ],
        }
    ],
    "lost_reasons": [{"key": "price", "name": {"ru": "Цена", "en": "Price"}}],
}


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("ландыш выиграна", "paid"), ("ландыш → выиграли", "paid"), ("ландыш закрыли", "paid"),
        ("ландыш оплатили", "paid"), ("Landysh won", "paid"), ("ландыш closed won", "paid"),
        ("ландыш проиграна", "gone"), ("ландыш слили", "gone"), ("ландыш отказались", "gone"),
        ("ландыш -> lost", "gone"), ("ландыш closed lost", "gone"),
    ],
)  # fmt: skip
def test_won_and_lost_words_reach_any_funnels_won_and_lost_stages(text: str, stage: str) -> None:
    from bot.deals.funnel import parse_funnels

    deals = [DealRef(1, "Ландыш", None, "shop", "invoice", "open", 1)]
    intent = DealMatcher(deals, parse_funnels(PAID_FUNNEL)).parse(text)
    assert (intent.kind, intent.stage) == (IntentKind.MOVE, stage)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("орион-м → кп", "Орион-М"), ("Орион М → кп", "Орион-М"), ("ОРИОН-М в кп", "Орион-М"),
        ("орион → кп", "Орион"), ("Ёлка-2 → кп", "Елка 2"),
    ],
)  # fmt: skip
def test_a_name_typed_exactly_moves_that_deal_however_alike_the_others(
    text: str, title: str
) -> None:
    deals = [
        DealRef(1, "Орион", None, "b2b", "lead", "open", 1),
        DealRef(2, "Орион-М", None, "b2b", "lead", "open", 1),
        DealRef(3, "Елка 2", None, "b2b", "lead", "open", 1),
        DealRef(4, "Елка", None, "b2b", "lead", "open", 1),
    ]
    intent = DealMatcher(deals, load_funnels(PACKAGE_DEFAULTS / "funnel.yaml")).parse(text)
    assert (intent.kind, intent.deal.title, intent.stage) == (IntentKind.MOVE, title, "offer")
