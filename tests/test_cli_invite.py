"""`voronka invite` before the bot has a token: the invite is made, and chat can use it."""

import json
import re
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VORONKA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'v.db'}")
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VORONKA_BOT_TOKEN", raising=False)
    monkeypatch.delenv("VORONKA_BOT_USERNAME", raising=False)


@pytest.mark.usefixtures("offline")
def test_without_a_username_the_invite_is_printed_as_a_start_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["invite", "--role", "admin"]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"^/start [A-Za-z0-9_-]{8,}$", out, re.MULTILINE)
    assert "voronka chat" in err and "VORONKA_BOT_USERNAME" in err


@pytest.mark.usefixtures("offline")
def test_the_json_says_there_is_no_link_yet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--role", "lead", "--team", "Урал", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["link"] is None and payload["token"] and payload["team"] == "Урал"


@pytest.mark.usefixtures("offline")
def test_with_a_username_the_link_is_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VORONKA_BOT_USERNAME", "@voronka_bot")
    assert main(["invite", "--role", "manager", "--team", "Урал"]) == 0
    assert re.search(r"^https://t\.me/voronka_bot\?start=\S+$", capsys.readouterr().out, re.M)
