"""File formats as pydantic models: pydantic's error report turned into our problems.

pydantic's own messages ("Input should be a valid string") name neither the file's field
as its author wrote it nor what to write instead. `problems_of` is the one place that turns
`ValidationError.errors()` into `FileProblem`s: a dotted field path (`history[1].at`) and a
reason in the words the file formats have always used, each format adding its own words
for a missing value or a value of the wrong kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.common.errors import FileProblem

__all__ = ["Why", "field_path", "problems_of", "why"]

Why = PydanticCustomError
"""Raise `Why(why)` (via `why`) in a validator: the message is shown as it is."""

# A value missing (or null where one is required) and values of the wrong kind.
_MISSING = frozenset({"missing"})
_WRONG_KIND = frozenset(
    {
        "model_type",
        "model_attributes_type",
        "dict_type",
        "list_type",
        "string_type",
        "int_type",
        "bool_type",
        "decimal_type",
    }
)
_DEFAULTS = {
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "dict_type": "expected an object",
    "list_type": "expected a list",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "decimal_type": "expected a number",
}


def why(message: str) -> PydanticCustomError:
    """An error whose message is shown to the file's author word for word.

    Without a context pydantic leaves the template as it is, so braces need no escaping.
    """
    return PydanticCustomError("why", message)


def field_path(loc: tuple[int | str, ...]) -> str:
    """("history", 1, "at") → "history[1].at"."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def problems_of(
    error: ValidationError,
    *,
    words: Mapping[str, str] = {},
    root: str = "",
    row: int | None = None,
    where: Callable[[tuple[int | str, ...]], str] = field_path,
) -> list[FileProblem]:
    """One problem per error, in pydantic's order (the order of the model's fields).

    `words` gives a format's own reason for a missing or wrong-kind value of a field,
    keyed by its path without indexes (`history`, `history[]`, `client`); a missing
    value is otherwise "required"; `client.*` (`*` at the top) words an unknown field.
    `root` names the whole record when it is wrong.
    `where` names a place in the file, when a format's authors know places by other
    names than a path (the funnel file: "funnel 'b2b', stage 'offer', field 'key'").
    """
    return [_problem(details, words, root, row, where) for details in error.errors()]


def _problem(
    details: ErrorDetails,
    words: Mapping[str, str],
    root: str,
    row: int | None,
    where: Callable[[tuple[int | str, ...]], str],
) -> FileProblem:
    loc = details["loc"]
    kind = details["type"]
    given: Any = details.get("input")
    path = where(loc) or root
    if kind in _MISSING or (kind in _WRONG_KIND and given is None):
        return FileProblem(words.get(_key(loc), "required"), path, row)
    if kind in _WRONG_KIND:
        return FileProblem(words.get(_key(loc), _DEFAULTS[kind]), path, row)
    if kind == "extra_forbidden":
        parent = _key(loc[:-1])
        return FileProblem(words.get(f"{parent}.*" if parent else "*", "unknown field"), path, row)
    if kind == "string_too_long":
        limit = (details.get("ctx") or {}).get("max_length")
        return FileProblem(f"longer than {limit} characters", path, row)
    return FileProblem(details["msg"], path, row)


def _key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += "[]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key
