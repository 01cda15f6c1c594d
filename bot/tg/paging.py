"""Long lists of buttons, a page at a time, with ◀ n/m ▶ under the page.

Telegram refuses a keyboard of more than 100 buttons, and with 110 teams the admin's team
choices did just that. So every keyboard built from a list whose length depends on the data
(teams, people, deals, stages, funnels, entries…) shows one page of it through `paged`.

A page button carries the screen's own callback data with the page number in it (the
caller's `turn`), so pressing it renders that page again from the list as it is now: a
list that shrank meanwhile shows its last page instead, and a page that is not a number is
an expired button like any other malformed one. Everything else a screen checks (a deal's
version, a dialog's marker) travels in the same data and is checked as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.common.errors import Invalid
from bot.tg.callbacks import Callback

PAGE_SIZE = 10
PREVIOUS = "◀"
NEXT = "▶"
MAX_PAGE_DIGITS = 6  # a million pages of ten: more than any list here

T = TypeVar("T")
Button = tuple[str, str]  # (label, callback data)
Rows = list[list[Button]]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int  # from 0, within the pages there are
    count: int  # at least 1, also for an empty list


def page_of(items: Sequence[T], number: int, size: int = PAGE_SIZE) -> Page[T]:
    """Page `number` (from 0) of `items`; a number past the end gives the last page."""
    count = max(1, -(-len(items) // size))
    number = min(max(number, 0), count - 1)
    return Page(items[number * size : (number + 1) * size], number, count)


def navigation(number: int, count: int, turn: Callable[[int], str]) -> list[Button]:
    """◀ n/m ▶ for page `number` of `count`; nothing when it all fits on one page.

    The middle button shows where one is and renders the same page again (a refresh).
    """
    if count <= 1:
        return []
    number = min(max(number, 0), count - 1)
    row: list[Button] = []
    if number > 0:
        row.append((PREVIOUS, turn(number - 1)))
    row.append((f"{number + 1}/{count}", turn(number)))
    if number < count - 1:
        row.append((NEXT, turn(number + 1)))
    return row


def paged(
    items: Sequence[T],
    number: int,
    button: Callable[[T], Button],
    turn: Callable[[int], str],
    *,
    size: int = PAGE_SIZE,
    per_row: int = 1,
) -> Rows:
    """The buttons of one page of `items`, `per_row` to a row, then the page navigation.

    `turn(n)` is the callback data that shows page n of this same list; the caller adds
    its own fixed rows (← Back, ➕ New) after these.
    """
    page = page_of(items, number, size)
    buttons = [button(item) for item in page.items]
    rows = [buttons[start : start + per_row] for start in range(0, len(buttons), per_row)]
    turning = navigation(page.number, page.count, turn)
    if turning:
        rows.append(turning)
    return rows


def page_number(data: Callback, index: int) -> int:
    """The page a pressed button asks for: 0 when it names none (an older button)."""
    value = data.get(index)
    if not value:
        return 0
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_PAGE_DIGITS:
        raise Invalid("common.expired_button")
    return int(value)
