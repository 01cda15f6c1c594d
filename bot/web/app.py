"""The ASGI app: the Telegram webhook (in webhook mode), `/healthz`, `/readyz`, `/metrics`.

Telegram-free on purpose: the webhook route hands the decoded body to `Webhook.deliver`,
which the Telegram side supplies (it queues the update and returns once it is handled, or
after a few seconds: `bot.web.webhook.ANSWER_WITHIN`). Telegram waits for our answer before
sending that chat's next update and retries when it gets none, so the 200 comes as soon as
the update is safe, and never so late that Telegram gives up on it.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.ops import metrics
from bot.ops.metrics import exposition
from bot.web.health import Health

log = logging.getLogger("voronka.web")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20
"""Bytes of a webhook body we read at most; Telegram's updates are far smaller."""


class BadUpdate(ValueError):
    """The body is JSON, but not an update the bot can read."""


@dataclass(frozen=True)
class Webhook:
    path: str
    secret: str
    deliver: Callable[[dict[str, Any]], Awaitable[None]]
    """Queue one update (raises BadUpdate when it is not one); returns once it is handled,
    or when a slow one has been waited for long enough."""


def build_app(health: Health, webhook: Webhook | None = None) -> Starlette:
    """The routes of this process. Without `webhook` (polling mode) there is no endpoint
    Telegram could call: only the health and metrics routes."""
    routes = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz(health), methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
    ]
    if webhook is not None:
        routes.append(Route(webhook.path, _telegram(webhook), methods=["POST"]))
    return Starlette(routes=routes)


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


def _readyz(health: Health) -> Callable[[Request], Awaitable[Response]]:
    async def readyz(request: Request) -> Response:
        readiness = await health.readiness()
        return JSONResponse(readiness.as_json(), status_code=200 if readiness.ready else 503)

    return readyz


async def _metrics(request: Request) -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


class _Once:
    """True at most once in `seconds`: Telegram retries a refused post every few seconds."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._last = -seconds

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self._seconds:
            return False
        self._last = now
        return True


def _telegram(webhook: Webhook) -> Callable[[Request], Awaitable[Response]]:
    expected = webhook.secret.encode()
    refusals = _Once(60.0)

    async def telegram(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        # Checked before the body is read, in constant time: a caller without the secret
        # learns nothing and changes nothing.
        if not hmac.compare_digest(given, expected):
            metrics.webhook_refused("secret")
            if given and refusals.due():  # posts with a secret: Telegram's, most likely
                log.error(
                    "webhook posts come with another secret token, refused: another worker"
                    " (or an earlier run) registered a different VORONKA_WEBHOOK_SECRET with"
                    " Telegram. Give every worker the same secret, then restart one of them"
                    " to register it again"
                )
            elif not given:
                log.warning("webhook request without a secret token refused")
            return PlainTextResponse("forbidden\n", status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY:
            metrics.webhook_refused("size")
            return PlainTextResponse("body too large\n", status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise BadUpdate("not a JSON object")
            await webhook.deliver(data)
        except (ValueError, BadUpdate) as error:  # JSONDecodeError is a ValueError
            log.warning("webhook body refused: %s", error)
            metrics.webhook_refused("body")
            return PlainTextResponse("bad update\n", status_code=400)
        return Response(status_code=200)

    return telegram
