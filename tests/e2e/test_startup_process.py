"""`voronka run` that cannot start says why in one line, exits with 2, and shows no traceback.

Found when Telegram was unreachable (a 231-line traceback), and likewise for a data folder
the bot cannot write, a database that refuses connections and an SQLite file that cannot be
opened. The traceback is still there for whoever asks for it with VORONKA_LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bot_api_standin import BotApiStandin
from tests.e2e.conftest import TOKEN, BotProcess, voronka_executable

pytestmark = pytest.mark.e2e

NOBODY = 65534


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(
    bot: BotProcess, *, prefix: tuple[str, ...] = (), **options: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, voronka_executable(), "run"],
        env=bot.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **options,
    )


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code 2, nothing but one line on stderr, no traceback anywhere."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Cannot start: ")
    return lines[0]


def test_telegram_unreachable(bot_process: BotProcess) -> None:
    bot_process.env["VORONKA_BOT_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    line = the_one_line(run(bot_process))
    assert "Telegram cannot be reached at http://127.0.0.1:" in line
    assert "VORONKA_BOT_API_URL" in line
    assert TOKEN not in line


def test_the_traceback_is_there_at_debug(bot_process: BotProcess) -> None:
    bot_process.env["VORONKA_BOT_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    bot_process.env["VORONKA_LOG_LEVEL"] = "DEBUG"
    result = run(bot_process)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Cannot start: Telegram cannot be reached")
    assert TOKEN not in result.stderr


def test_a_token_telegram_rejects(standin: BotApiStandin, bot_process: BotProcess) -> None:
    bot_process.env["VORONKA_BOT_TOKEN"] = TOKEN.split(":")[0] + ":wrong"
    line = the_one_line(run(bot_process))
    assert "Telegram rejected the bot token" in line and "VORONKA_BOT_TOKEN" in line
    assert ":wrong" not in line


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's own temporary folders are private)."""
    path = Path(tempfile.mkdtemp(prefix="voronka-e2e-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(bot: BotProcess, shared_dir: Path) -> tuple[str, ...]:
    """The command prefix that runs `voronka` as nobody, with a home of its own."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no user to whom a folder is read-only")
    home = shared_dir / "home"
    home.mkdir()
    home.chmod(0o777)
    bot.env.update(HOME=str(home), MPLCONFIGDIR=str(home))
    return (setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")


def test_a_read_only_data_folder(bot_process: BotProcess, shared_dir: Path) -> None:
    data = shared_dir / "data"
    data.mkdir()
    data.chmod(0o555)
    bot_process.env["VORONKA_DATA_DIR"] = str(data)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root writes anywhere: run as a user the folder is read-only for
        prefix = as_nobody(bot_process, shared_dir)
    line = the_one_line(run(bot_process, prefix=prefix, cwd=shared_dir))
    assert f"the data folder {data} is not writable" in line
    assert "VORONKA_DATA_DIR" in line
    assert list(data.iterdir()) == []


def test_a_data_folder_that_cannot_be_created(bot_process: BotProcess, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bot_process.env["VORONKA_DATA_DIR"] = str(blocker / "data")
    line = the_one_line(run(bot_process))
    assert f"the data folder {blocker / 'data'} does not exist and cannot be created" in line


def test_a_database_that_refuses_connections(bot_process: BotProcess) -> None:
    port = closed_port()
    url = f"postgresql+asyncpg://voronka:s3cret@127.0.0.1:{port}/voronka"
    bot_process.env["VORONKA_DATABASE_URL"] = url
    line = the_one_line(run(bot_process))
    assert f"PostgreSQL at 127.0.0.1:{port}/voronka refused the connection" in line
    assert "s3cret" not in line


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda path: path.write_bytes(b"garbage " * 100), "is not an SQLite database"),
        (lambda path: path.mkdir(), "is a folder, not a file"),
    ],
    ids=["not-a-database", "a-folder"],
)
def test_an_sqlite_file_that_cannot_be_opened(
    bot_process: BotProcess, tmp_path: Path, make: Any, says: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    database = data / "voronka.db"
    make(database)
    line = the_one_line(run(bot_process))
    assert f"{database} {says}" in line and "VORONKA_DATABASE_URL" in line


def test_nothing_is_migrated_when_telegram_is_unreachable(
    bot_process: BotProcess, tmp_path: Path
) -> None:
    bot_process.env["VORONKA_BOT_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    the_one_line(run(bot_process))
    database = tmp_path / "data" / "voronka.db"
    with sqlite3.connect(database) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    assert tables == []


def test_voronka_chat_explains_a_broken_database_in_one_line_too(tmp_path: Path) -> None:
    """`voronka chat` is the README's first way in: the same one line as `voronka run`."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "voronka.db").write_bytes(b"this is not an SQLite database at all" * 100)
    environment = {**os.environ, "VORONKA_DATA_DIR": str(data)}
    environment.pop("VORONKA_DATABASE_URL", None)
    result = subprocess.run(
        [voronka_executable(), "chat", "--user-id", "5"], env=environment, input="",
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("Cannot start:") and "Traceback" not in result.stderr


def test_sigterm_while_a_large_new_base_is_embedded_stops_within_10_s(
    standin: BotApiStandin, tmp_path: Path
) -> None:
    """A new base of 400 entries takes the bundled model about half a minute to embed at
    start, in the background (the word index answers meanwhile). A SIGTERM then must not
    wait for that build: the process stops within 10 s (issue 14, item 4)."""
    folder = tmp_path / "knowledge" / "objections"
    folder.mkdir(parents=True)
    for i in range(400):
        (folder / f"entry-{i}.md").write_text(
            f"---\nid: entry-{i}\nkind: objection\ntitle: Возражение {i}, клиент {i} сомневается\n"
            f"aliases:\n  - сомнение номер {i}\n---\n"
            f"Уточните, что именно смущает клиента {i}, и предложите пилот на месяц.\n",
            encoding="utf-8",
        )
    bot = BotProcess(standin, tmp_path / "data", share_vectors=False)
    bot.env["VORONKA_KNOWLEDGE_DIR"] = str(tmp_path / "knowledge")
    bot.start()  # polling: the hybrid index is being built
    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    try:
        assert bot.process.wait(timeout=10) == 0
    finally:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait()
    log = bot.log_path.read_text()
    assert "content problem" not in log  # all 400 were read, and the build had begun
    assert "knowledge base: 412 entries" in log  # with the 12 scripts of scripts_library/
