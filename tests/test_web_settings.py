"""The webhook settings: what an operator may write, and what each one means."""

from __future__ import annotations

import pytest

from bot.config import SettingsError, load_settings


def test_webhook_mode_serves_on_8080_at_the_urls_path_unless_told_otherwise() -> None:
    settings = load_settings(webhook_url="https://bot.example.com/tg/hook", webhook_secret="abc-1")
    assert settings.webhook_path == "/tg/hook"
    assert settings.http_port_to_serve == 8080
    assert settings.http_host == "127.0.0.1"
    assert load_settings(webhook_url="https://bot.example.com", http_port=9000).webhook_path == "/"
    assert (
        load_settings(webhook_url="https://b.example.com", http_port=9000).http_port_to_serve
        == 9000
    )


def test_a_webhook_url_on_this_machine_may_be_plain_http_on_any_port() -> None:
    assert load_settings(webhook_url="http://127.0.0.1:18080/tg").webhook_path == "/tg"
    assert load_settings(webhook_url="https://bot.example.com:8443/tg").webhook_path == "/tg"


def test_polling_serves_http_only_when_a_port_is_set() -> None:
    assert load_settings().http_port_to_serve is None
    assert load_settings(http_port=9100).http_port_to_serve == 9100


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("webhook_url", "bot.example.com/tg", "VORONKA_WEBHOOK_URL"),
        ("webhook_url", "ftp://bot.example.com/tg", "VORONKA_WEBHOOK_URL"),
        ("webhook_url", "http://bot.example.com/tg", "VORONKA_WEBHOOK_URL"),
        ("webhook_url", "https://bot.example.com:9999/tg", "VORONKA_WEBHOOK_URL"),
        ("webhook_url", "https://bot.example.com:x/tg", "VORONKA_WEBHOOK_URL"),
        ("webhook_secret", "with spaces", "VORONKA_WEBHOOK_SECRET"),
        ("webhook_secret", "x" * 257, "VORONKA_WEBHOOK_SECRET"),
        ("http_port", 70000, "VORONKA_HTTP_PORT"),
        ("telegram_rate", -1, "VORONKA_TELEGRAM_RATE"),
    ],
)
def test_a_bad_value_is_named_with_what_to_write(setting: str, value: object, named: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**{setting: value})
    assert str(refused.value).startswith(f"{named}: ")
