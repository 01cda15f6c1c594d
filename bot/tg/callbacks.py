"""Callback data: every prefix in one place, and a tiny codec (Telegram allows 64 bytes)."""

from __future__ import annotations

from dataclasses import dataclass

SEPARATOR = ":"
MAX_BYTES = 64

# prefixes
INVITE_ROLE = "ir"  # ir:<role>
INVITE_TEAM = "it"  # it:<role>:<team id or 0 or "new">
TEAM_PERSON = "tp"  # tp:<person id>
TEAM_SET_ROLE = "tr"  # tr:<person id>[:<role>]
TEAM_SET_TEAM = "tt"  # tt:<person id>[:<team id>]
TEAM_DEACTIVATE = "td"  # td:<person id>[:yes]
TEAM_REACTIVATE = "ta"  # ta:<person id>
TEAM_LIST = "tl"  # tl

ALL_PREFIXES = (
    INVITE_ROLE,
    INVITE_TEAM,
    TEAM_PERSON,
    TEAM_SET_ROLE,
    TEAM_SET_TEAM,
    TEAM_DEACTIVATE,
    TEAM_REACTIVATE,
    TEAM_LIST,
)


def pack(prefix: str, *parts: object) -> str:
    data = SEPARATOR.join([prefix, *(str(part) for part in parts)])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


@dataclass(frozen=True, slots=True)
class Callback:
    prefix: str
    args: tuple[str, ...]

    def number(self, index: int) -> int:
        return int(self.args[index])

    def get(self, index: int, default: str = "") -> str:
        return self.args[index] if index < len(self.args) else default


def unpack(data: str) -> Callback:
    prefix, *args = data.split(SEPARATOR)
    return Callback(prefix, tuple(args))


def pattern(prefix: str) -> str:
    """A regex for CallbackQueryHandler that matches one prefix exactly."""
    return f"^{prefix}(:|$)"
