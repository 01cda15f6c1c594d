"""Database time, from SQLAlchemy's pool events into `voronka_db_transaction_seconds`.

What is timed is how long each connection is held, from the pool's checkout to its checkin:
one service's transaction (`bot.db.session.transaction`), or one hot-path read (`reading`).
Pool events rather than the cursor events around each statement: any connection-level
listener makes SQLAlchemy join its event dispatch into every new connection and call it for
every statement, which cost about 30 µs per statement here, while the pool already calls
its events and adds about 2 µs per transaction; the text move, where that counts, is
benchmarked (`benchmarks/deals.py`). A slow statement shows as a slow transaction.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from bot.ops.metrics import TRANSACTION_SECONDS

_TAKEN = "voronka_taken_at"
_observe = TRANSACTION_SECONDS.observe


def _checkout(_: Any, entry: ConnectionPoolEntry, *__: Any) -> None:
    entry.info[_TAKEN] = perf_counter()


def _checkin(_: Any, entry: ConnectionPoolEntry) -> None:
    taken = entry.info.pop(_TAKEN, None)
    if taken is not None:
        _observe(perf_counter() - taken)


def time_transactions(engine: Engine) -> None:
    """Observe every connection `engine` lends (for an async engine, pass its `sync_engine`)."""
    event.listen(engine, "checkout", _checkout)
    event.listen(engine, "checkin", _checkin)
