"""Where each person is in a dialog with the bot, kept in the database.

The state itself is an opaque JSON document here: its shape (which dialog, which step, the
offer being built) belongs to the interface that holds the dialog (`bot/tg/dialogs.py`).
Keeping it in a row rather than in process memory is what lets a restart, or another
process behind the same database, go on where the person was.
"""

from __future__ import annotations

from bot.common.clock import Clock
from bot.conversations import store
from bot.db.session import SessionFactory, reading, transaction
from bot.people.service import Person


class ConversationsService:
    def __init__(self, db: SessionFactory, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def state_of(self, person: Person) -> str | None:
        """The person's saved state; read at every update, so it never goes stale."""
        async with reading(self._db) as connection:
            return await store.read_state(connection, person.telegram_id)

    async def keep(self, person: Person, state: str | None) -> None:
        """Save the person's state; None means nothing is pending and drops the row."""
        async with transaction(self._db) as session:
            if state is None:
                await store.delete_state(session, person.telegram_id)
            else:
                await store.write_state(session, person.telegram_id, state, self._clock())
