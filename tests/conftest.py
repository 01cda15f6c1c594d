"""Shared fixtures: migrated databases (SQLite, PostgreSQL), the core, the offline bot."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.common.clock import FrozenClock
from bot.config import Settings, load_settings
from bot.container import Core, build_core
from bot.db.migrate import upgrade
from bot.db.models import Base
from bot.db.session import create_engine, dispose
from bot.people.service import Person, Role
from bot.tg.app import build_application
from bot.tg.offline import ChatClient, OfflineRequest

POSTGRES_URL_VARIABLE = "VORONKA_TEST_POSTGRES_URL"
START = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow


def run_in_thread(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to the end on its own loop, even when a test loop is running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _migrate(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        await dispose(engine)

    run_in_thread(run())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "voronka.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


def postgres_server() -> str:
    """The server .ci/run started; without one the test is skipped (and fails in CI)."""
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"set {POSTGRES_URL_VARIABLE} to run the PostgreSQL tests")
    return server


@contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """A database of its own on the test server, with no tables; dropped after."""
    server = postgres_server()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin_url = make_url(server).set(database="postgres")

    async def execute(statement: str) -> None:
        engine = create_engine(
            admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        async with engine.connect() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    run_in_thread(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        run_in_thread(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated database on the server .ci/run started; skipped locally without one."""
    with new_postgres_database("voronka_test") as url:
        _migrate(url)
        yield url


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    """A database of the test's own with no tables: the processes under test migrate it."""
    with new_postgres_database("voronka_empty") as url:
        yield url


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "voronka.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    url = request.getfixturevalue("postgres_database")
    await _truncate(url)
    return url


def make_settings(tmp_path: Path, url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": url,
        "company_name": "Вектор Склад",
        "bot_token": None,
        "admins": (),
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def core(tmp_path: Path, sqlite_url: str, clock: FrozenClock) -> AsyncIterator[Core]:
    """The core on SQLite: for tests about behaviour rather than the database."""
    built = build_core(make_settings(tmp_path, sqlite_url), clock=clock)
    yield built
    await built.close()


@pytest.fixture
async def any_core(tmp_path: Path, database_url: str, clock: FrozenClock) -> AsyncIterator[Core]:
    """The core on each database: for service and database tests."""
    built = build_core(make_settings(tmp_path, database_url), clock=clock)
    yield built
    await built.close()


class Harness:
    """The real Application with an offline request, and people to talk to it."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.request = OfflineRequest()
        self.app = build_application(
            core, request=self.request, rate_limit=False, backoff=(0.0,) * 4
        )
        self._next_id = 1000

    async def person(
        self,
        role: Role = Role.MANAGER,
        team: str | None = "Продажи",
        name: str | None = None,
        language: str = "ru",
    ) -> tuple[Person, ChatClient]:
        self._next_id += 1
        person = await self.core.people.ensure_person(
            self._next_id,
            name or f"{role.value.title()} {self._next_id}",
            role,
            None if role is Role.ADMIN and team == "Продажи" else team,
            language,
        )
        return person, self.client(person.telegram_id, language=language, name=person.name)

    def client(
        self, user_id: int, *, language: str | None = "ru", name: str = "Test"
    ) -> ChatClient:
        return ChatClient(self.app, self.request, user_id, first_name=name, language_code=language)

    def stranger(self, language: str | None = "ru") -> ChatClient:
        self._next_id += 1
        return self.client(self._next_id, language=language, name="Stranger")


@pytest.fixture
async def harness(core: Core) -> AsyncIterator[Harness]:
    built = Harness(core)
    await core.load_content()
    await core.knowledge.ready()  # one index for the whole session
    await built.app.initialize()
    yield built
    await built.app.shutdown()


PersonFactory = Callable[..., Awaitable[tuple[Person, ChatClient]]]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many PostgreSQL and end-to-end tests really ran (CI must show both)."""
    counts = {"postgres": [0, 0], "e2e": [0, 0]}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome != "skipped" and report.when != "call":
                continue
            keywords = getattr(report, "keywords", {})
            for marker in counts:
                if marker in keywords:
                    counts[marker][0 if outcome == "passed" else 1] += 1
    for marker, (passed, other) in counts.items():
        terminalreporter.write_line(f"{marker} tests: {passed} passed, {other} not passed")
