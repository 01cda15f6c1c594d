"""Domain errors. Each carries a message key the Telegram layer translates."""

from __future__ import annotations

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
    """The thing asked for does not exist (or the caller may not know it does)."""


class Forbidden(DomainError):
    """The caller may not do this."""


class Invalid(DomainError):
    """The input is malformed; the message says what the right form is."""


class Conflict(DomainError):
    """Someone else changed the thing first."""
