"""Start-up failures that explain themselves.

Something outside the code (the data folder, the database, Telegram) keeps the bot from
starting: the operator gets one line that says what is wrong and what to do, the command
exits with 2, and the traceback is logged only at DEBUG. The checks run before the
migrations, so a start that cannot work leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


class CannotStart(Exception):
    """The bot cannot start; the message is one line for whoever runs it."""

    def __init__(self, problem: str, remedy: str) -> None:
        self.problem = problem
        self.remedy = remedy
        super().__init__(one_line(f"Cannot start: {problem}. {remedy}."))


def one_line(text: str) -> str:
    """Whitespace and line breaks folded, so a library's message keeps to one line."""
    return " ".join(text.split())


def reason(error: BaseException) -> str:
    """An error's own words (first line only), or its type when it has none."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # "Permission denied", without the errno and the path again
    return one_line(lines[0]) if lines else type(error).__name__


def check_data_dir(path: Path) -> None:
    """The data folder exists (it is created when missing) and this user may write into it.

    Written by the bot for offers, SQLite and files: finding out at the first offer, or
    from SQLite's "unable to open database file", says too little too late.
    """
    setting = "VORONKA_DATA_DIR"
    if path.exists() and not path.is_dir():
        raise CannotStart(
            f"the data folder {path} is a file, not a folder", f"Point {setting} at a folder"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CannotStart(
            f"the data folder {path} does not exist and cannot be created ({reason(error)})",
            f"Create it for the user running the bot, or point {setting} at a writable folder",
        ) from error
    try:
        handle, probe = tempfile.mkstemp(prefix=".voronka-write-check-", dir=path)
    except OSError as error:
        raise CannotStart(
            f"the data folder {path} is not writable ({reason(error)})",
            f"Give the user running the bot write access to it, or point {setting} "
            "at a writable folder",
        ) from error
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(probe)
