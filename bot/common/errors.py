"""Domain errors, each carrying a message key the Telegram layer translates; and file errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class DomainError(Exception):
    """A use case refused; `key` names the message, `params` fill it in."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r}, {self.params!r})"


class NotFound(DomainError):
    """The thing asked for does not exist, or the caller may not know it does.

    Both cases raise the same error with the same key and nothing of the thing in it:
    ids are sequential, so any difference would let a forged button list what exists.
    """


class Forbidden(DomainError):
    """The caller may not do this. Never said of a thing outside the caller's scope (that
    is NotFound): decided by who they are before any look-up, or about a thing they may see."""


class Invalid(DomainError):
    """The input is malformed; the message says what the right form is."""


class Conflict(DomainError):
    """Someone else changed the thing first."""


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One thing wrong in a file or document, pointed at precisely enough to fix it.

    `field` is a path inside the file (`history[1].at`, `items[2].qty`, `company.inn`);
    `row` the record's number in a file of records, counted from 1 as people count them;
    `file` and `line` are given where problems of many files are listed together (the
    knowledge base).
    """

    why: str
    field: str = ""
    row: int | None = None
    file: Path | None = None
    line: int = 0

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line > 0 else f"{self.file}: "
        if self.row is not None:
            where += f"row {self.row}, "
        if self.field:
            where += f"{self.field}: "
        return where + self.why


class InvalidFile(ValueError):
    """A file or document cannot be used: every problem found, not just the first.

    The one error of every file format (the deals import file, the catalog, requisites,
    the funnel file, an offer document); `file` names it when it came from a file.
    """

    def __init__(
        self,
        problems: Sequence[FileProblem],
        file: Path | str | None = None,
        *,
        what: str = "file",
        setting: str = "",
    ) -> None:
        self.problems = tuple(problems)
        self.file = file
        self.what = what
        self.setting = setting
        text = "; ".join(str(problem) for problem in self.problems)
        super().__init__(f"{file}: {text}" if file is not None else text)

    def of_setting(self, what: str, setting: str) -> InvalidFile:
        """The same problems, told as those of the file a setting names (for the start-up).

        The loaders know the file, not the setting that chose it; whoever reads the
        setting says which it is, so that the person starting the bot knows what to fix.
        """
        return InvalidFile(self.problems, self.file, what=what, setting=setting)

    @property
    def heading(self) -> str:
        """ "Invalid funnel file (VORONKA_FUNNEL_FILE)"."""
        return f"Invalid {self.what}" + (f" ({self.setting})" if self.setting else "")


class AlreadyHandled(Exception):
    """This update was handled before (a redelivery): nothing is to change, nothing sent."""


class Unavailable(Exception):
    """The database cannot be reached or used right now; nothing was written."""
