"""uvicorn on the bot's own event loop, on a socket bound before anything else starts.

Binding first means a port already in use is told in one line (`CannotStart`) before the
database is migrated or Telegram is told about a webhook, like every other start-up fault.
uvicorn's own signal handling is left out: whoever runs the server decides when it stops
(the webhook runner on SIGTERM/SIGINT, the polling runner when polling ends), so there is
one shutdown order, not two competing ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from bot.common.startup import CannotStart, reason
from bot.container import Core
from bot.web.app import build_app
from bot.web.health import Health, Probe

GRACE_SECONDS = 5
"""How long requests in flight may take to finish when the server stops."""

KEEP_ALIVE_SECONDS = 75


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or the reason it cannot be had, in the operator's words."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(2048)
        except BaseException:
            sock.close()
            raise
    except OSError as error:
        where = f"{host}:{port}"
        if error.errno == errno.EADDRINUSE:
            raise CannotStart(
                f"the HTTP port {where} is already in use",
                "Stop whatever listens there, or choose another port in VORONKA_HTTP_PORT",
            ) from error
        raise CannotStart(
            f"cannot listen on {where} ({reason(error)})",
            "Check VORONKA_HTTP_HOST and VORONKA_HTTP_PORT (ports below 1024 need root)",
        ) from error
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the runner owns the signals (see the module's docstring)


class HttpServer:
    """One uvicorn server serving `app` on `sock`, started and stopped by the runner."""

    def __init__(self, app: Starlette, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app,
            log_config=None,  # keep Voronka's logging as configured
            access_log=False,  # one log line per update is written by the bot already
            lifespan="off",
            timeout_graceful_shutdown=GRACE_SECONDS,
            # Longer than a proxy's idle upstream connections (nginx: 60 s), so the proxy,
            # not us, closes them: no request is lost on a connection closed under it.
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self._server = _Server(config)
        self._sock = sock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise CannotStart(
                    f"the HTTP server on {self.address} stopped at start",
                    "See the log above for why",
                )
            await asyncio.sleep(0.01)

    @property
    def address(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"{host}:{port}"

    def request_stop(self) -> None:
        self._server.should_exit = True

    async def wait(self) -> None:
        """Until the server stopped (after `request_stop`, requests in flight finished)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        self.request_stop()
        await self.wait()


async def start_beside_polling(core: Core, telegram: Probe) -> HttpServer | None:
    """Polling mode: the health and metrics routes on `VORONKA_HTTP_PORT`, when it is set."""
    port = core.settings.http_port_to_serve
    if port is None:
        return None
    sock = bind(core.settings.http_host, port)
    health = Health(core, telegram)
    health.telegram_answered()  # the start-up getMe has just answered
    server = HttpServer(build_app(health), sock)
    await server.start()
    return server
