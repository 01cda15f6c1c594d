"""The deals each person may change, kept in memory for matching text commands.

Reading a person's deals from the database for every message cost more than the rest of
a text move together (see benchmarks/deals.py). The bot is the only process that moves
deals, so it keeps the lists itself: every change it makes is written into them after
it commits. An entry still expires after `ttl` seconds, so that what another process
wrote (`voronka deals import` from the command line) shows up soon. A stale version
can do no harm: a move re-reads the deal and refuses when its version changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.deals.matching import DealRef
from bot.deals.store import Scope

DEFAULT_TTL = 10.0
PRUNE_ABOVE = 256  # lists kept before expired ones are swept out


class RefsCache:
    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[Scope, tuple[float, dict[int, DealRef]]] = {}
        self.generation = 0  # changes with every write, so a read racing one is not kept

    def get(self, scope: Scope) -> list[DealRef] | None:
        entry = self._entries.get(scope)
        if entry is None or entry[0] <= self._clock():
            return None
        return list(entry[1].values())

    def put(self, scope: Scope, refs: list[DealRef], generation: int) -> None:
        """Keep a list read from the database, unless a write came in while it was read."""
        if generation != self.generation:
            return
        now = self._clock()
        if len(self._entries) >= PRUNE_ABOVE:
            self._entries = {s: entry for s, entry in self._entries.items() if entry[0] > now}
        self._entries[scope] = (now + self._ttl, {ref.id: ref for ref in refs})

    def __len__(self) -> int:
        return len(self._entries)

    def changed(self, ref: DealRef, owner_id: int, team_id: int | None) -> None:
        """A deal was written: update the lists that hold it; drop those that should and don't."""
        self.generation += 1
        for scope, (_, refs) in list(self._entries.items()):
            if scope.holds(owner_id, team_id) and ref.id in refs:
                refs[ref.id] = ref
            elif scope.holds(owner_id, team_id) or ref.id in refs:
                del self._entries[scope]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
