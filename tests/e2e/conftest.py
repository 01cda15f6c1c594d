"""Fixtures for end-to-end tests: the Bot API stand-in and the real `voronka` process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bot_api_standin import BotApiStandin, running_standin

TOKEN = "987654321:AAE2E-voronka_token"
# The shipped base's vectors, kept from the first bot process that built them and given to
# every later one: each would otherwise spend ~5 s of CPU embedding the same texts, beside
# the very updates a test is timing out on. What the cache does is tested elsewhere.
SHARED_VECTORS = Path(tempfile.mkdtemp(prefix="voronka-e2e-vectors-"))


def voronka_executable() -> str:
    found = Path(sys.executable).parent / "voronka"
    return str(found) if found.exists() else shutil.which("voronka") or "voronka"


class BotProcess:
    """`voronka` commands against the stand-in, sharing one data folder."""

    def __init__(
        self, standin: BotApiStandin, data_dir: Path, *, share_vectors: bool = True
    ) -> None:
        self.standin = standin
        self.data_dir = data_dir
        self.share_vectors = share_vectors
        self.env = {
            **os.environ,
            **standin.bot_env(),
            "VORONKA_DATA_DIR": str(data_dir),
            "VORONKA_COMPANY_NAME": "Вектор Склад",
            "VORONKA_LOG_LEVEL": "INFO",
        }
        self.env.pop("VORONKA_DATABASE_URL", None)
        self.process: subprocess.Popen[str] | None = None
        self.log_path = data_dir / "bot.log"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [voronka_executable(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def invite(self, role: str, team: str | None = None) -> dict[str, Any]:
        args = ["invite", "--role", role, "--json"] + (["--team", team] if team else [])
        return dict(json.loads(self.cli(*args).stdout))

    def _vectors(self) -> Path:
        return self.data_dir / "search-index"

    def _take_shared_vectors(self) -> None:
        if not self.share_vectors or self._vectors().exists():
            return
        shared = sorted(SHARED_VECTORS.glob("vectors-*.npz"))
        if shared:
            self._vectors().mkdir(parents=True)
            for path in shared:
                shutil.copy2(path, self._vectors() / path.name)

    def _share_vectors(self) -> None:
        """After the process ended: its vectors for the next ones, where it holds more."""
        if not self.share_vectors:
            return
        for path in self._vectors().glob("vectors-*.npz"):
            kept = SHARED_VECTORS / path.name
            if not kept.exists() or kept.stat().st_size < path.stat().st_size:
                shutil.copy2(path, kept)

    def start(self) -> None:
        self._take_shared_vectors()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [voronka_executable(), "run"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.standin.wait_until(
            lambda: self.standin.calls_to("getUpdates") or None, timeout=60, what="the bot to poll"
        )

    def kill(self) -> None:
        """kill -9 once Telegram has been told every update so far was received."""
        assert self.process is not None
        polls = len(self.standin.calls_to("getUpdates"))
        self.standin.wait_until(
            lambda: len(self.standin.calls_to("getUpdates")) > polls or None,
            timeout=30,
            what="the bot to confirm the last update",
        )
        self.process.kill()
        self.process.wait()

    def kill_now(self) -> None:
        """kill -9 at once, whatever the bot is doing (updates may be unconfirmed)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        self.kill()
        polls = len(self.standin.calls_to("getUpdates"))
        self.start()
        self.standin.wait_until(
            lambda: len(self.standin.calls_to("getUpdates")) > polls or None,
            timeout=60,
            what="the restarted bot to poll",
        )

    def stop(self) -> str:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._share_vectors()
        return self.log_path.read_text() if self.log_path.exists() else ""


@pytest.fixture
def standin() -> Iterator[BotApiStandin]:
    with running_standin(TOKEN) as server:
        yield server


@pytest.fixture
def bot_process(standin: BotApiStandin, tmp_path: Path) -> Iterator[BotProcess]:
    process = BotProcess(standin, tmp_path / "data")
    yield process
    process.stop()
