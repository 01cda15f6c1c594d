"""SQLite serves one bot process: a second `voronka run` or `voronka chat` on the same file
is stopped at start with one line, rather than left to answer from its own copy of people's
dialogs (each process keeps them in memory on SQLite; see bot/conversations/service.py).

The hold is an exclusive `flock` on `<database>.lock`, taken for the life of the process;
the system lets go of it when the process ends, however it ends (kill -9 included), so a
crash never leaves the file held. Shell commands that only read or import (`voronka
report`, `voronka deals import`) do not take it: they keep no dialogs.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.common.startup import CannotStart, reason

# The descriptors by database file, kept open (and so locked) until the process ends.
# By file, not one for the process: `voronka restore` in the same process as a test suite
# (or any caller holding one file) must still find out when another process has the next.
_held: dict[Path, int] = {}


def hold_sqlite_file(url: str) -> None:
    """Take the database file for this process; CannotStart when another one has it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database == ":memory:":
        return
    lock = Path(f"{parsed.database}.lock").resolve()
    if lock in _held:
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise CannotStart(
            f"cannot write {lock} next to the database ({reason(error)})",
            "Give the user running the bot write access to that folder",
        ) from error
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise CannotStart(
            f"another voronka process (run or chat) is using {parsed.database}; SQLite serves "
            "one bot process at a time",
            "Stop the other one first, or use PostgreSQL (VORONKA_DATABASE_URL) to run several",
        ) from None
    _held[lock] = descriptor
