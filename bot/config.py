"""Settings from the environment (prefix ``VORONKA_``) or a ``.env`` file."""

from __future__ import annotations

import logging
import re
from datetime import time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.common.money import CURRENCY_CODE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DEFAULTS = Path(__file__).resolve().parent / "defaults"
TELEGRAM_API_URL = "https://api.telegram.org"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})  # the ports Telegram posts webhooks to
DEFAULT_HTTP_PORT = 8080
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(BaseSettings):
    """Everything an operator may configure; validated once at start."""

    model_config = SettingsConfigDict(
        env_prefix="VORONKA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    bot_username: str | None = None
    data_dir: Path = Path("data")
    database_url: str | None = None
    timezone: str = "Europe/Moscow"
    admins: Annotated[tuple[int, ...], NoDecode] = ()
    company_name: str = "Voronka"
    bot_api_url: str = TELEGRAM_API_URL
    log_level: str = "INFO"
    invite_ttl_days: int = Field(default=7, ge=1, le=365)
    funnel_file: Path = PACKAGE_DEFAULTS / "funnel.yaml"
    knowledge_dir: Path = PROJECT_ROOT / "knowledge_base"
    scripts_dir: Path = PROJECT_ROOT / "scripts_library"
    offer_templates_dir: Path = PROJECT_ROOT / "templates" / "offers"
    catalog_file: Path = PROJECT_ROOT / "knowledge_base" / "catalog.yaml"
    # An OpenAI-compatible embeddings server (…/v1/embeddings) used by the knowledge search
    # instead of the bundled model; on any failure the bundled model answers.
    embeddings_url: str | None = None
    embeddings_model: str = ""
    nudge_time: time = time(9, 30)
    digest_time: time = time(9, 0)
    next_step_grace_minutes: int = Field(default=30, ge=0, le=24 * 60)
    undo_minutes: int = Field(default=10, ge=1, le=24 * 60)
    max_discount_manager: Decimal = Field(default=Decimal(10), ge=0, le=100)
    max_discount_lead: Decimal = Field(default=Decimal(20), ge=0, le=100)
    max_discount_admin: Decimal = Field(default=Decimal(30), ge=0, le=100)
    vat_percent: Decimal = Field(default=Decimal(22), ge=0, le=100)
    offer_valid_days: int = Field(default=14, ge=1, le=365)
    offer_free_lines: bool = True
    offer_moves_deal: bool = True
    # «USD=92.5,EUR=101»: rubles per unit, for figures that add up amounts of several
    # currencies. Amounts in a currency without a rate are never added to rubles.
    exchange_rates: Annotated[dict[str, Decimal], NoDecode] = Field(default_factory=dict)
    # Webhook mode (see bot/web/): set the public URL Telegram calls and `voronka run` serves
    # it instead of polling; its path is the endpoint's path.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    http_host: str = "127.0.0.1"
    # None: no HTTP server when polling, 8080 in webhook mode (see `http_port_to_serve`).
    http_port: int | None = Field(default=None, ge=1, le=65535)
    # Messages per second the bot sends at most, all chats together: Telegram's documented
    # limit is about 30 (more with paid broadcasts); 0 leaves it to Telegram's 429 answers.
    telegram_rate: float = Field(default=30, ge=0, le=1000)

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            try:
                return tuple(int(part) for part in parts if part)
            except ValueError:
                raise ValueError(
                    "expected comma-separated Telegram ids, e.g. 123456789,987654321"
                ) from None
        return value

    @field_validator("exchange_rates", mode="before")
    @classmethod
    def _split_rates(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        rates: dict[str, Decimal] = {}
        for part in (p.strip() for p in value.replace(";", ",").split(",")):
            if not part:
                continue
            code, _, rate = part.partition("=")
            code = code.strip().upper()
            try:
                number = Decimal(rate.strip().replace(",", "."))
            except ArithmeticError:
                number = Decimal(0)
            if not CURRENCY_CODE.fullmatch(code) or not number.is_finite() or number <= 0:
                raise ValueError(f"expected CODE=rate pairs, e.g. USD=92.5,EUR=101; got {part!r}")
            rates[code] = number
        return rates

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Europe/Moscow") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("bot_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL, e.g. https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(
                "expected the public https:// URL Telegram calls, e.g. https://bot.example.com/tg"
            )
        if parts.hostname in _LOOPBACK:  # a Bot API stand-in on this machine, for trying it
            return value
        try:
            port = parts.port or 443
        except ValueError:
            port = -1
        if parts.scheme != "https" or port not in _WEBHOOK_PORTS:
            raise ValueError(
                "Telegram calls only https:// URLs on port 443, 80, 88 or 8443, e.g. "
                "https://bot.example.com/tg (http:// only for 127.0.0.1 or localhost, when "
                "trying the bot against a stand-in)"
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's own rule for secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -.
        if value is None or not value.get_secret_value():
            return None
        if not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("expected 1 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "expected sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host/db"
            )
        return value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'voronka.db'}"
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        assert self.database_url is not None  # filled by _default_database
        return self.database_url

    @property
    def webhook_path(self) -> str:
        """The webhook endpoint's path: the public URL's path (a proxy passes it on as is)."""
        return urlsplit(self.webhook_url or "").path or "/"

    @property
    def http_port_to_serve(self) -> int | None:
        """The HTTP server's port: the setting, else 8080 in webhook mode, else none."""
        if self.http_port is not None:
            return self.http_port
        return DEFAULT_HTTP_PORT if self.webhook_url else None

    def token(self) -> str | None:
        return self.bot_token.get_secret_value() if self.bot_token else None


class SettingsError(Exception):
    """A setting is invalid; the message names it and says what is wrong."""


def describe_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = "VORONKA_" + "_".join(str(part) for part in item["loc"][:1]).upper()
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's report into one line per bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
