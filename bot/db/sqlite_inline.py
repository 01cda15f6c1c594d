"""aiosqlite's interface without its thread: SQLite calls run on the event loop itself.

aiosqlite hands every call to a worker thread and back, about 35 hand-offs for one text
move, which cost more than the SQLite work (microseconds in WAL mode; see benchmarks/deals.py).
Running the calls inline removes that cost. The engine then keeps a single connection, so
transactions queue for it asynchronously instead of blocking the loop on SQLite's lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import aiosqlite


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite.Connection whose calls execute immediately on the calling thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def connect_inline(
    database: str | Path, *, iter_chunk_size: int = 64, **kwargs: Any
) -> InlineConnection:
    """Drop-in for aiosqlite.connect, passed to SQLAlchemy as its `async_creator_fn`."""

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(str(database), **kwargs)
        return connection

    return InlineConnection(connector, iter_chunk_size)
