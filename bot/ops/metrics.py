"""The Prometheus instruments of one bot process, and their exposition for `/metrics`.

They live in a registry of their own rather than prometheus-client's global one, so that
the tests, a benchmark and several applications in one process share one set of
instruments without registering a name twice. Every label value comes from the code (a
handler's name, an outcome, a kind of notice), never from what people type, so the number
of series stays bounded. This module imports nothing of the bot: any layer may observe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REGISTRY: Final = CollectorRegistry(auto_describe=True)

# Seconds. An update is usually a few milliseconds; a report or an offer's PDF a second.
_UPDATE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SEARCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_TRANSACTION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)

UPDATES: Final = Counter(
    "voronka_updates",
    "Telegram updates handled, by the handler that took them and what came of it.",
    ("handler", "outcome"),
    registry=REGISTRY,
)
UPDATE_SECONDS: Final = Histogram(
    "voronka_update_handling_seconds",
    "Time from taking an update to having answered it.",
    registry=REGISTRY,
    buckets=_UPDATE_BUCKETS,
)
ERRORS: Final = Counter(
    "voronka_errors",
    "Errors: an unexpected one during an update (update) or outside one, in a scheduled"
    " job (job), and the database found unavailable (database).",
    ("where",),
    registry=REGISTRY,
)
NOTICES: Final = Counter(
    "voronka_scheduled_notices",
    "Scheduled notices (digest, weekly, nudge, followup): sent, dropped (the recipient"
    " blocked the bot or was deactivated), failed (given back for the next run) and"
    " retried (an attempt at one that an earlier attempt failed or left unfinished).",
    ("kind", "outcome"),
    registry=REGISTRY,
)
WEBHOOK_REFUSED: Final = Counter(
    "voronka_webhook_refused",
    "Posts to the webhook refused: without the right secret token (secret, 403), too big"
    " (size, 413), or not an update (body, 400). Alert on secret: someone probing, or a"
    " worker with another secret.",
    ("reason",),
    registry=REGISTRY,
)
SEARCH_SECONDS: Final = Histogram(
    "voronka_search_seconds",
    "Knowledge-base search time, by the ranking that answered (hybrid or lexical).",
    ("ranking",),
    registry=REGISTRY,
    buckets=_SEARCH_BUCKETS,
)
BOT_API_SECONDS: Final = Histogram(
    "voronka_bot_api_seconds",
    "Bot API calls, from sending to Telegram's answer (each attempt), by method: a slow"
    " Telegram, or a proxy in the way, shows here before it shows in the handling time.",
    ("method",),
    registry=REGISTRY,
    buckets=_UPDATE_BUCKETS,
)
TRANSACTION_SECONDS: Final = Histogram(
    "voronka_db_transaction_seconds",
    "Time a database connection was held: one transaction, or one hot-path read.",
    registry=REGISTRY,
    buckets=_TRANSACTION_BUCKETS,
)

# The outcomes an update can have (`bot.tg.observe.mark`); anything else is a bug shown as
# "other" rather than a new series.
UPDATE_OUTCOMES: Final = frozenset(
    {
        "ok", "refused", "error", "duplicate", "unavailable", "ignored", "expired",
        "unknown", "unsupported", "no_meaning", "edit_ignored", "not_found", "conflict",
    }
)  # fmt: skip
NOTICE_KINDS: Final = frozenset({"digest", "weekly", "nudge", "followup"})
NoticeOutcome = Literal["sent", "dropped", "failed", "retried"]


_update_series: dict[tuple[str, str], Counter] = {}
_observe_update = UPDATE_SECONDS.observe


def update_handled(handler: str, outcome: str, seconds: float) -> None:
    """One handled update. `handler` must come from a fixed set of names (the caller's).

    On every update's path: each (handler, outcome) series is looked up once, not through
    `labels()` (a lock and a key check) every time."""
    if outcome not in UPDATE_OUTCOMES:
        outcome = "other"
    key = (handler, outcome)
    series = _update_series.get(key)
    if series is None:
        series = _update_series[key] = UPDATES.labels(handler, outcome)
    series.inc()
    _observe_update(seconds)
    if outcome == "error":
        ERRORS.labels("update").inc()
    elif outcome == "unavailable":
        ERRORS.labels("database").inc()


_bot_api_series: dict[str, Histogram] = {}


def bot_api_call(method: str, seconds: float) -> None:
    """One Bot API call. `method` is the Bot API's name for it, from the client's code."""
    series = _bot_api_series.get(method)
    if series is None:
        series = _bot_api_series[method] = BOT_API_SECONDS.labels(method)
    series.observe(seconds)


def notice(kind: str, outcome: NoticeOutcome) -> None:
    """What became of one attempt at a scheduled notice."""
    NOTICES.labels(kind if kind in NOTICE_KINDS else "other", outcome).inc()


@contextmanager
def searching(*, hybrid: bool) -> Iterator[None]:
    """Time one knowledge-base search."""
    started = perf_counter()
    try:
        yield
    finally:
        SEARCH_SECONDS.labels("hybrid" if hybrid else "lexical").observe(perf_counter() - started)


def webhook_refused(reason: Literal["secret", "size", "body"]) -> None:
    WEBHOOK_REFUSED.labels(reason=reason).inc()


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type, for `/metrics`."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
