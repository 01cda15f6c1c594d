"""The update being handled, as the layers below the bot see it, without knowing Telegram.

Telegram may deliver one update twice (a confirming `getUpdates` lost, a slow webhook). The
Telegram layer opens a `Delivery` for each update it handles; the first transaction that
writes records its id in that same transaction (`bot.db.session.transaction`), so a
redelivery is refused by the database itself, and a crash before the commit leaves the
update to be handled when it comes again. A committed delivery also tells the Telegram layer
that an apology must not ask the person to repeat what is already done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# A write that rides along with the update's transactions: given the session of one about to
# commit, it writes what it has pending (if anything) and returns what to do once that commit
# is through. The dialog state is one (`bot.tg.conversation`): a move that ends a pending
# question commits with the question's end, in one transaction instead of two.
Rider = Callable[[Any], Awaitable[Callable[[], None] | None]]


@dataclass
class Delivery:
    """One update: its id, whether a transaction recording it has committed, and the writes
    that ride along with each of its transactions."""

    update_id: int
    committed: bool = False
    riders: list[Rider] = field(default_factory=list)


_current: ContextVar[Delivery | None] = ContextVar("voronka_delivery", default=None)


def current() -> Delivery | None:
    return _current.get()


@contextmanager
def delivering(update_id: int) -> Iterator[Delivery]:
    """Handle one update: transactions inside record it (see the module's docstring)."""
    delivery = Delivery(update_id)
    token = _current.set(delivery)
    try:
        yield delivery
    finally:
        _current.reset(token)
