"""Walking a branching script: choose, back, restart, and a state that fits callback data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge import scripts as walk
from bot.knowledge.content import Entry, parse_steps

BODY = """\
Intro.

## Приветствие {#start}
Добрый день!
- [Да](#pitch)
- [Нет](#bye)

## Презентация {#pitch}
Мы делаем стеллажи.
- [Дорого](#price)
- [Ещё раз](#start)

## Цена {#price}
От 3 900 ₽.
- [Понятно](#bye)
- [Сломано](#nowhere)

## Прощание {#bye}
Спасибо!
"""


@pytest.fixture
def script() -> Entry:
    intro, steps = parse_steps(BODY)
    return Entry(
        "cold", "script", "Холодный звонок", (), (), (), BODY, Path("cold.md"), 1, steps, intro
    )


def step_id(script: Entry, state: walk.Walk | None) -> str | None:
    assert state is not None
    step = walk.current(script, state)
    return None if step is None else step.id


def test_start_is_the_first_step(script: Entry) -> None:
    state = walk.start()
    assert state.at_start
    assert step_id(script, state) == "start"
    assert walk.encode(state) == "0."


def test_choose_follows_answers_by_index(script: Entry) -> None:
    state = walk.choose(script, walk.start(), 0)
    assert step_id(script, state) == "pitch"
    assert state is not None
    state = walk.choose(script, state, 0)
    assert step_id(script, state) == "price"
    assert state is not None
    trail = walk.trail(script, state)
    assert trail is not None
    assert [step.id for step in trail] == ["start", "pitch", "price"]


def test_choose_refuses_missing_answers_and_missing_steps(script: Entry) -> None:
    assert walk.choose(script, walk.start(), 2) is None
    assert walk.choose(script, walk.start(), -1) is None
    price = walk.Walk(0, (0, 0))
    assert step_id(script, price) == "price"
    assert walk.choose(script, price, 1) is None  # its target step does not exist


def test_back_undoes_the_last_answer_and_stays_at_start(script: Entry) -> None:
    state = walk.Walk(0, (0, 0))
    assert step_id(script, walk.back(state)) == "pitch"
    assert step_id(script, walk.back(walk.back(state))) == "start"
    assert walk.back(walk.start()) == walk.start()


def test_restart_goes_to_the_first_step(script: Entry) -> None:
    assert walk.restart(walk.Walk(0, (0, 1, 0, 0))) == walk.start()


def test_loops_are_walkable(script: Entry) -> None:
    state = walk.Walk(0, (0, 1, 0, 1, 0))
    assert step_id(script, state) == "pitch"


def test_encode_decode_round_trip_and_rejects_garbage() -> None:
    state = walk.Walk(3, (0, 1, 10, 61))
    text = walk.encode(state)
    assert text == "3.01aZ"
    assert text.isascii()
    assert walk.decode(text) == state
    for garbage in ("", "x", "1", "-1.0", "1.!", "١.0", "1234567.0"):
        assert walk.decode(garbage) is None


def test_stale_walk_resolves_to_none(script: Entry) -> None:
    assert walk.current(script, walk.Walk(0, (5,))) is None
    assert walk.current(script, walk.Walk(9, ())) is None
    assert walk.trail(script, walk.Walk(0, (0, 0, 1))) is None


def test_fit_drops_oldest_answers_but_keeps_the_step(script: Entry) -> None:
    long = walk.Walk(0, (0, 1) * 30 + (0, 0))
    assert step_id(script, long) == "price"
    short = walk.fit(script, long, 10)
    assert len(walk.encode(short)) <= 10
    assert step_id(script, short) == "price"
    assert short.path == long.path[-len(short.path) :]
    assert walk.fit(script, walk.start(), 10) == walk.start()


def test_back_from_a_shortened_origin_goes_to_start(script: Entry) -> None:
    short = walk.fit(script, walk.Walk(0, (0, 0)), 2)
    assert short == walk.Walk(2, ())
    assert walk.back(short) == walk.start()
