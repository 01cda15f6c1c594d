"""Each SQL statement's time, from SQLAlchemy's cursor events into `voronka_db_statement_seconds`.

Cursor events time what the driver spends on a statement, not the Python around it, and
they see every statement: the services' transactions and the hot-path reads alike. They are
kept to two dictionary writes and one observation, because the text move runs several
statements and its cost is benchmarked (`benchmarks/deals.py`).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from sqlalchemy import Engine, event

from bot.ops.metrics import STATEMENT_SECONDS

_STARTED = "voronka_statement_started"
_observe = STATEMENT_SECONDS.observe


def _before(connection: Any, *_: Any) -> None:
    connection.info[_STARTED] = perf_counter()


def _after(connection: Any, *_: Any) -> None:
    started = connection.info.pop(_STARTED, None)
    if started is not None:
        _observe(perf_counter() - started)


def time_statements(engine: Engine) -> None:
    """Observe every statement `engine` runs (for an async engine, pass its `sync_engine`)."""
    event.listen(engine, "before_cursor_execute", _before)
    event.listen(engine, "after_cursor_execute", _after)
