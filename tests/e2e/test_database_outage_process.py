"""PostgreSQL stopped under a running `voronka run`: nobody gets past the gate, and the bot
serves again once the database is back (issue 11, item 1)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.common.i18n import catalog
from tests.e2e.bot_api_standin import BotApiStandin
from tests.e2e.conftest import BotProcess
from tests.e2e.test_bot_process import say

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ru = catalog("ru")
ANNA, STRANGER = 7301, 7399
TOOL = Path(__file__).resolve().parents[2] / "tools" / "postgres.sh"
PG_CTL = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))


class PrivateServer:
    """A PostgreSQL of this test's own, so that stopping it disturbs no other test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def create(self) -> None:
        subprocess.run([str(TOOL), "start", str(self.folder), str(self.port)], check=True,
                       capture_output=True)  # fmt: skip

    def _ctl(self, *args: str) -> None:
        command = [PG_CTL[-1], "-D", str(self.folder / "data"), *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._ctl("-l", str(self.folder / "server.log"), "-w", "-o", options, "start")


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    if not PG_CTL:
        pytest.skip("PostgreSQL is not installed")
    # Not under pytest's tmp_path: the postgres user must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="voronka-pg-outage-"))
    folder.chmod(0o755)
    private = PrivateServer(folder / "pg")
    private.create()
    yield private
    subprocess.run([str(TOOL), "stop", str(private.folder)], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def test_nobody_gets_past_the_gate_while_postgresql_is_down(
    standin: BotApiStandin, bot_process: BotProcess, server: PrivateServer
) -> None:
    bot_process.env["VORONKA_DATABASE_URL"] = server.url
    invite = bot_process.invite("manager", team="Урал")
    bot_process.start()
    say(standin, ANNA, f"/start {invite['token']}", replies=2)
    say(standin, ANNA, "/new Фиалка, 100 000", replies=2)

    server.stop()
    unavailable = ru("common.unavailable")
    for text in ("/kb", "/script", "клиент говорит дорого", "фиалка дальше"):
        assert say(standin, ANNA, text) == unavailable
        assert say(standin, STRANGER, text) == unavailable
    query = standin.inline_query(STRANGER, "дорого")
    assert standin.wait_for_inline_answer(query, timeout=20)["results"] == []
    before = standin.sent_count(ANNA)
    standin.send_message(ANNA, "/help", first_name=f"U{ANNA}")
    standin.wait_for_reply(ANNA, after=before, timeout=20)
    assert [r["text"] for r in standin.sent(ANNA)[before:]] == [unavailable]  # one apology

    server.start()
    assert "Фиалка" in say(standin, ANNA, "фиалка дальше")
    assert say(standin, STRANGER, "/kb") == ru("common.refusal", company="Вектор Склад")
