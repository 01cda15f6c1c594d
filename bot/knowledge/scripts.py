"""Walking a branching call script: pure state that fits in Telegram callback data.

A walk is the step it started from plus the answer indexes chosen since, so "back" is
just dropping the last choice and the whole state encodes to a few characters
(`"0.120"`). It is resolved against the entry every time, so a walk that no longer fits
(the script was edited and reloaded) resolves to None and the bot starts over.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.knowledge.content import Entry, ScriptStep

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {char: value for value, char in enumerate(_DIGITS)}
MAX_ANSWERS = len(_DIGITS)
"""Answers per step a walk can address (one character each)."""


@dataclass(frozen=True, slots=True)
class Walk:
    """Position in a script: `origin` step index, then the answer indexes chosen from it."""

    origin: int = 0
    path: tuple[int, ...] = ()

    @property
    def at_start(self) -> bool:
        return self.origin == 0 and not self.path


def start() -> Walk:
    """A walk at the first step."""
    return Walk()


def restart(walk: Walk | None = None) -> Walk:
    """Back to the first step, whatever the walk was."""
    return Walk()


def back(walk: Walk) -> Walk:
    """Undo the last answer; from a shortened walk's origin, go to the start."""
    if walk.path:
        return Walk(walk.origin, walk.path[:-1])
    return Walk()


def trail(entry: Entry, walk: Walk) -> tuple[ScriptStep, ...] | None:
    """The steps visited from the origin to the current one, or None if the walk is stale."""
    if not 0 <= walk.origin < len(entry.steps):
        return None
    step = entry.steps[walk.origin]
    visited = [step]
    for index in walk.path:
        if not 0 <= index < len(step.answers):
            return None
        target = entry.step(step.answers[index].target)
        if target is None:
            return None
        step = target
        visited.append(step)
    return tuple(visited)


def current(entry: Entry, walk: Walk) -> ScriptStep | None:
    """The step the walk is at, or None if it does not fit the entry."""
    visited = trail(entry, walk)
    return visited[-1] if visited else None


def choose(entry: Entry, walk: Walk, index: int) -> Walk | None:
    """Follow answer `index` of the current step; None if there is no such answer or step."""
    step = current(entry, walk)
    if step is None or not 0 <= index < min(len(step.answers), MAX_ANSWERS):
        return None
    if entry.step(step.answers[index].target) is None:
        return None
    return Walk(walk.origin, (*walk.path, index))


def encode(walk: Walk) -> str:
    """Short ASCII form, e.g. `0.` at the start or `0.120` after three answers."""
    return f"{walk.origin}." + "".join(_DIGITS[index] for index in walk.path)


def decode(text: str) -> Walk | None:
    """Parse `encode`'s output; None for anything malformed."""
    origin, dot, path = text.partition(".")
    if not dot or not origin.isascii() or not origin.isdigit() or len(origin) > 6:
        return None
    if any(char not in _VALUE for char in path):
        return None
    return Walk(int(origin), tuple(_VALUE[char] for char in path))


def fit(entry: Entry, walk: Walk, max_chars: int) -> Walk:
    """Forget the oldest answers until `encode(walk)` fits in `max_chars`.

    The step reached after the forgotten answers becomes the new origin, so the walk
    stays on the same step; only the way back gets shorter.
    """
    while len(encode(walk)) > max_chars and walk.path:
        visited = trail(entry, walk)
        if visited is None:
            return Walk()
        origin = next(i for i, step in enumerate(entry.steps) if step is visited[1])
        walk = Walk(origin, walk.path[1:])
    return walk
