"""What `/readyz` checks: the database, the content, Telegram. No Telegram or SQL code here.

Liveness (`/healthz`) is only the process answering; readiness is whether it should be sent
people's updates now. Each check is bounded in time, so a hung database makes the probe say
"not ready" within its timeout instead of hanging the orchestrator's request with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.common.startup import CannotStart, reason
from bot.container import Core

CHECK_TIMEOUT = 3.0
"""Seconds one check may take before it counts as failed."""

TELEGRAM_FRESH = 30.0
"""Seconds a successful Telegram call counts as "Telegram answered recently"."""

Probe = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


class Health:
    """The readiness checks of one process.

    `telegram` is a call to the Bot API (getMe); it is made at most once per
    `TELEGRAM_FRESH` seconds and only while nothing else told us Telegram answers
    (`telegram_answered`), so an orchestrator probing every few seconds costs Telegram
    nothing extra on a busy bot.
    """

    def __init__(
        self,
        core: Core,
        telegram: Probe,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        timeout: float = CHECK_TIMEOUT,
    ) -> None:
        self._core = core
        self._telegram = telegram
        self._monotonic = monotonic
        self._timeout = timeout
        self._telegram_at: float | None = None
        self._telegram_lock = asyncio.Lock()

    def telegram_answered(self) -> None:
        """Telegram answered a call just now (the start-up getMe, setWebhook, a reply)."""
        self._telegram_at = self._monotonic()

    async def readiness(self) -> Readiness:
        database, telegram = await asyncio.gather(self._database(), self._telegram_check())
        return Readiness((database, self._content(), telegram))

    async def _database(self) -> Check:
        try:
            async with asyncio.timeout(self._timeout):
                await self._core.open_database()  # a connection and SELECT 1
        except TimeoutError:
            return Check("database", False, f"no answer within {self._timeout:g} s")
        except CannotStart as error:  # told in the operator's words, without "Cannot start"
            return Check("database", False, error.problem)
        except Exception as error:  # whatever else the driver raised: not reachable now
            return Check("database", False, reason(error))
        return Check("database", True, "SELECT 1 answered")

    def _content(self) -> Check:
        if self._core.knowledge.loaded:
            return Check("content", True, "knowledge base loaded")
        return Check(
            "content",
            False,
            "knowledge base not loaded yet (a polling standby loads it when it takes over)",
        )

    async def _telegram_check(self) -> Check:
        async with self._telegram_lock:  # concurrent probes share one getMe
            if not self._telegram_fresh():
                try:
                    async with asyncio.timeout(self._timeout):
                        await self._telegram()
                except TimeoutError:
                    return Check("telegram", False, f"no answer within {self._timeout:g} s")
                except Exception as error:  # network, 5xx, a revoked token: not reachable
                    return Check("telegram", False, reason(error))
                self.telegram_answered()
        return Check("telegram", True, f"answered within {TELEGRAM_FRESH:g} s")

    def _telegram_fresh(self) -> bool:
        at = self._telegram_at
        return at is not None and self._monotonic() - at < TELEGRAM_FRESH
