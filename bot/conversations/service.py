"""Where each person is in a dialog with the bot, kept in the database.

The state itself is an opaque JSON document here: its shape (which dialog, which step, the
offer being built) belongs to the interface that holds the dialog (`bot/tg/dialogs.py`).
Keeping it in a row rather than in process memory is what lets a restart, or another
process behind the same database, go on where the person was.

How it is read depends on who else may write it. On PostgreSQL several processes may serve
one person, so the row is read at every update. SQLite is one process's database (a bot
process; the shell's commands do not touch dialogs), so there the row is read once per
person after a start and then kept in memory: every change is written to the database
before it is kept, so memory never holds what a restart would lose. This spares the
hottest path, a text move, one read per update (benchmarks/deals.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.common.clock import Clock
from bot.common.lru import LRU
from bot.conversations import store
from bot.db.session import Session, SessionFactory, reading, transaction
from bot.people.service import Person

KEPT_PEOPLE = 10_000  # states kept in memory at most (SQLite); the least recently used go
HANDLED_KEPT = timedelta(days=2)  # Telegram redelivers an update for at most a day


class ConversationsService:
    def __init__(self, db: SessionFactory, clock: Clock, *, sole_writer: bool) -> None:
        """`sole_writer`: this process is the only one that writes dialog states (SQLite)."""
        self._db = db
        self._clock = clock
        self._kept: LRU[int, str | None] | None = LRU(KEPT_PEOPLE) if sole_writer else None

    async def state_of(self, person: Person) -> str | None:
        """The person's saved state."""
        kept = self._kept
        if kept is not None and person.telegram_id in kept:
            return kept.get(person.telegram_id, None)
        async with reading(self._db) as connection:
            state = await store.read_state(connection, person.telegram_id)
        if kept is not None:
            kept.put(person.telegram_id, state)
        return state

    async def keep(self, person: Person, state: str | None) -> None:
        """Save the person's state; None means nothing is pending and drops the row."""
        async with transaction(self._db) as session:
            kept = await self.keep_in(session, person, state)
        kept()

    async def keep_in(
        self, session: Session, person: Person, state: str | None
    ) -> Callable[[], None]:
        """Save the state inside a caller's transaction; call what this returns once that
        transaction has committed (a rollback leaves the state unsaved, and unkept)."""
        if self._kept is not None:
            self._kept.pop(person.telegram_id)  # a failed write must not leave it kept
        if state is None:
            await store.delete_state(session, person.telegram_id)
        else:
            await store.write_state(session, person.telegram_id, state, self._clock())
        kept = self._kept
        if kept is None:
            return _nothing
        return lambda: kept.put(person.telegram_id, state)


def _nothing() -> None:
    """Nothing kept in memory to update (PostgreSQL reads the row every time)."""


class DeliveriesService:
    """Which Telegram updates were handled: a redelivered one changes nothing, sends nothing.

    An update that changes something is recorded by its own transaction
    (`bot.db.session.transaction`); one that only answers is recorded when it is done.
    """

    def __init__(self, db: SessionFactory, clock: Clock, *, sole_writer: bool = False) -> None:
        """`sole_writer`: this process is the only one handling updates (SQLite)."""
        self._db = db
        self._clock = clock
        self._sole_writer = sole_writer
        self._highest: int | None = None  # the highest update id seen (sole writer only)

    async def handled(self, update_id: int) -> bool:
        """Whether this update was handled before.

        Telegram numbers updates in order, so for the sole process of a database an id above
        every id it has seen (and recorded before it started) is new, and needs no read;
        a redelivery comes with an id at or below them and is looked up.
        """
        if self._sole_writer:
            if self._highest is None:
                async with reading(self._db) as connection:
                    self._highest = await store.highest_handled(connection) or 0
            if update_id > self._highest:
                self._highest = update_id
                return False
        async with reading(self._db) as connection:
            return await store.handled(connection, update_id)

    async def mark_handled(self, update_id: int) -> None:
        async with transaction(self._db) as session:
            await store.mark_handled(session, update_id, self._clock())

    async def forget_old(self) -> int:
        """Drop records older than any redelivery; returns how many went."""
        async with transaction(self._db) as session:
            return await store.forget_handled(session, self._clock() - HANDLED_KEPT)
