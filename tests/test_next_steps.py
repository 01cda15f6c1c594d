"""The labelled sets of next-step phrasings, in Russian and English (bot/deals/dates.py).

next_steps.yaml (90 phrasings, 39 English) is the set the reader was tuned on; its
abbreviations («след. вторник», «на след неделе», «в эту пятницу») came from an outsider's hour
with the bot (issue 12); the held-out set stayed at 88/90 after them.
next_steps_holdout.yaml (90 phrasings, 45 English) was written by someone who had not read the
reader and is never tuned on. Its first run scored 86/90 for the due time (96%) and 86/90 with
the step's text; after fixing what it showed to be general defects (12-hour times glued to
minutes, «к пятнице»), with cases of their own added to the tuning set, 88/90. The two left
are typos of the day word («завтро», "tommorow"), left unread on purpose: fuzzy day words
would read «завтрак» as tomorrow.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.common.errors import Invalid
from bot.deals.dates import parse_next_step

DATA = Path(__file__).parent / "data"
SETS = {"next_steps.yaml": 1.0, "next_steps_holdout.yaml": 0.95}  # share that must be right


def _read(case: dict[str, Any], now: datetime, tz: ZoneInfo) -> tuple[str, str]:
    try:
        step = parse_next_step(case["text"], now, tz, "")
    except Invalid:
        return "refused", ""
    return step.due.astimezone(tz).strftime("%Y-%m-%d %H:%M"), step.text


@pytest.mark.parametrize("name", SETS)
def test_the_labelled_phrasings_land_on_their_day_hour_and_text(name: str) -> None:
    data = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    now, tz = datetime.fromisoformat(data["now"]), ZoneInfo(data["tz"])
    misses = []
    for case in data["cases"]:
        expected = ("refused", "") if case.get("refused") else (case["due"], case["step"])
        got = _read(case, now, tz)
        if (got[0], got[1].lower()) != (expected[0], expected[1].lower()):
            misses.append(f"{case['text']!r}: {got} instead of {expected}")
    right = 1 - len(misses) / len(data["cases"])
    assert right >= SETS[name], "\n".join(misses)


def test_both_languages_are_about_half_of_each_set() -> None:
    for name in SETS:
        cases = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["cases"]
        latin = sum(1 for case in cases if not any("а" <= c <= "я" for c in case["text"].lower()))
        assert 0.4 <= latin / len(cases) <= 0.6, name
