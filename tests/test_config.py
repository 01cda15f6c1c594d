from pathlib import Path

import pytest

from bot.cli import main
from bot.config import SettingsError, load_settings


def test_defaults_use_sqlite_in_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VORONKA_DATABASE_URL", raising=False)
    settings = load_settings(data_dir=Path("/srv/voronka"))
    assert settings.db_url == "sqlite+aiosqlite:////srv/voronka/voronka.db"
    assert settings.timezone == "Europe/Moscow"
    assert settings.invite_ttl_days == 7


def test_admins_are_read_as_comma_separated_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VORONKA_ADMINS", "123, 456789012345")
    assert load_settings().admins == (123, 456789012345)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("VORONKA_ADMINS", "12,abc", "VORONKA_ADMINS: expected comma-separated Telegram ids"),
        ("VORONKA_TIMEZONE", "Mars/Olympus", "VORONKA_TIMEZONE: unknown time zone"),
        ("VORONKA_DATABASE_URL", "mysql://x", "VORONKA_DATABASE_URL: expected sqlite+aiosqlite"),
        ("VORONKA_BOT_API_URL", "ftp://x", "VORONKA_BOT_API_URL: expected an http"),
        ("VORONKA_LOG_LEVEL", "LOUD", "VORONKA_LOG_LEVEL: expected one of"),
        ("VORONKA_INVITE_TTL_DAYS", "0", "VORONKA_INVITE_TTL_DAYS:"),
    ],
)
def test_an_invalid_setting_is_named_with_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert expected in str(error.value)


def test_token_is_secret_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VORONKA_BOT_TOKEN", "123:SECRET")
    settings = load_settings()
    assert "SECRET" not in repr(settings)
    assert settings.token() == "123:SECRET"


def test_an_invalid_funnel_file_stops_a_command_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    funnel = tmp_path / "funnel.yaml"
    funnel.write_text("funnels:\n  - key: B2B\n", encoding="utf-8")
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VORONKA_FUNNEL_FILE", str(funnel))
    assert main(["db", "upgrade"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "Invalid funnel file (VORONKA_FUNNEL_FILE):"
    assert (
        lines[1] == f"{funnel}: funnel #1, field 'key': lowercase latin letters, digits, '_' or '-'"
    )
    assert f"{funnel}: funnel #1, field 'stages': a list of at least two stages" in lines


def test_invalid_requisites_stop_a_command_naming_the_templates_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requisites.yaml").write_text("company:\n  name: ООО\n", encoding="utf-8")
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VORONKA_OFFER_TEMPLATES_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "Invalid offer templates (VORONKA_OFFER_TEMPLATES_DIR):"
    assert f"{tmp_path / 'requisites.yaml'}: company.inn: required" in lines
    assert f"{tmp_path / 'requisites.yaml'}: bank: required section is missing" in lines
