"""How fast deals move: the core service, the whole bot, and raw SQLite as the ceiling.

(a) `core.deals.move` on SQLite (a fresh file) and, given a server, on PostgreSQL
    (a fresh database `voronka_bench_<random>`, dropped at the end);
(b) text moves («Ромашка → переговоры») end to end through `Application.process_update`
    with the offline request: real handlers, real replies, SQLite; once with the deal lists
    for matching kept in memory (a person typing again within seconds) and once with them
    read from the database for every update (the first message in a while);
(c) stdlib sqlite3 with the bot's pragmas, one UPDATE plus one INSERT per commit.

One manager with 30 deals; every case runs sequentially, warms up first and then measures
for `--seconds` (or `--count` operations, whichever comes first). Moves alternate forward
and backward, and every measured move is checked to have written its history row.

Usage: python benchmarks/deals.py [--postgres URL] [--seconds N] [--count N]
Prints a Markdown table. Target for (b): at least 300 updates/s with p99 at most 20 ms
on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.config import PACKAGE_DEFAULTS, Settings, load_settings
from bot.container import Core, build_core
from bot.db.models import StageTransition
from bot.db.session import create_engine
from bot.deals.service import Via
from bot.people.service import Person, Role
from bot.tg.app import build_application
from bot.tg.offline import ChatClient, OfflineRequest

POSTGRES_URL_VARIABLE = "VORONKA_TEST_POSTGRES_URL"
TARGET_RATE = 300.0  # (b) updates per second...
TARGET_P99_MS = 20.0  # ...with this p99, on a 2-core machine
WARMUP = 300
MANAGER_TELEGRAM_ID = 5_000_001
MANAGER_FIRST, MANAGER_LAST = "Анна", "Смирнова"

# Thirty deals of one manager; several names are alike on purpose, as in real lists.
DEAL_NAMES = (
    "Ромашка", "Ромашка-Юг", "Северный Ветер", "Северный Поток", "СеверСталь-Логистик",
    "Альфа-Трейд", "Альфатех", "Восток", "Восток-Сервис", "ТК Глобус", "Глобус-Маркет",
    "Уралмаш-Склад", "Агрокомплекс Кубань", "Acme Logistics", "Nordic Foods", "Nordic Trade",
    "Baltic Pack", "Greenline Retail", "ПромСнаб погрузчики", "Вектор", "Кузнецов", "Соколова",
    "Меридиан 3PL", "Стройдвор", "Стройбор", "Хладокомбинат", "Сибирская Тара",
    "Волга-Дистрибуция", "Мегаполис Ритейл", "Полимер-Пак",
)  # fmt: skip

# (a): two neighbouring open stages. (b): two open stages as a manager types them.
CORE_STAGES = ("qualification", "needs")
TEXT_STAGES = (("qualification", "квалификация"), ("negotiation", "переговоры"))


@dataclass(frozen=True)
class Budget:
    seconds: float
    count: int | None
    warmup: int = WARMUP


@dataclass
class Result:
    case: str
    backend: str
    unit: str
    timings: list[float]
    elapsed: float
    cpu: float  # process CPU seconds (all threads) while measuring
    note: str = ""

    @property
    def rate(self) -> float:
        return len(self.timings) / self.elapsed

    def ms(self, share: float) -> float:
        """Nearest-rank percentile of the per-operation latency, in milliseconds."""
        ordered = sorted(self.timings)
        rank = max(1, math.ceil(share * len(ordered)))
        return ordered[rank - 1] * 1000


# --- measuring ------------------------------------------------------------------------


Sample = tuple[list[float], float, float]  # per-operation seconds, wall seconds, CPU seconds


async def timed(step: Callable[[int], Awaitable[None]], budget: Budget) -> Sample:
    """Warm up, then time each awaited step until the budget is spent."""
    for index in range(budget.warmup):
        await step(index)
    limit = budget.count or sys.maxsize
    timings: list[float] = []
    index = budget.warmup
    cpu = time.process_time()
    started = time.perf_counter()
    deadline = started + budget.seconds
    while len(timings) < limit:
        before = time.perf_counter()
        await step(index)
        after = time.perf_counter()
        timings.append(after - before)
        index += 1
        if after >= deadline:
            break
    return timings, time.perf_counter() - started, time.process_time() - cpu


def timed_sync(step: Callable[[int], None], budget: Budget) -> Sample:
    """`timed` for plain functions, so no event loop sits in the ceiling."""
    for index in range(budget.warmup):
        step(index)
    limit = budget.count or sys.maxsize
    timings: list[float] = []
    index = budget.warmup
    cpu = time.process_time()
    started = time.perf_counter()
    deadline = started + budget.seconds
    while len(timings) < limit:
        before = time.perf_counter()
        step(index)
        after = time.perf_counter()
        timings.append(after - before)
        index += 1
        if after >= deadline:
            break
    return timings, time.perf_counter() - started, time.process_time() - cpu


# --- the bot's database -----------------------------------------------------------------


def settings_for(url: str, data_dir: Path) -> Settings:
    return load_settings(
        data_dir=data_dir,
        database_url=url,
        bot_token=None,
        admins=(),
        funnel_file=PACKAGE_DEFAULTS / "funnel.yaml",
    )


@asynccontextmanager
async def postgres_database(server: str) -> AsyncIterator[str]:
    """A fresh database on the server, dropped afterwards even when the run fails."""
    name = f"voronka_bench_{uuid.uuid4().hex[:10]}"
    admin_url = make_url(server).set(database="postgres").render_as_string(hide_password=False)

    async def execute(statement: str) -> None:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    await execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        await execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def migrated_core(url: str, data_dir: Path) -> AsyncIterator[Core]:
    core = build_core(settings_for(url, data_dir))
    try:
        await core.migrate()
        yield core
    finally:
        await core.close()


async def seed(core: Core, stages: tuple[str, str]) -> tuple[Person, list[int]]:
    """The manager and 30 deals: even ones in the first stage, odd ones in the second."""
    manager = await core.people.ensure_person(
        MANAGER_TELEGRAM_ID, f"{MANAGER_FIRST} {MANAGER_LAST}", Role.MANAGER, "Продажи"
    )
    ids = []
    for index, title in enumerate(DEAL_NAMES):
        deal = await core.deals.create(manager, title, client=f"ООО «{title}»")
        await core.deals.move(manager, deal.id, stages[index % 2], via=Via.IMPORT)
        ids.append(deal.id)
    return manager, ids


async def history_rows(core: Core, via: str) -> int:
    async with core.db() as session:
        query = select(func.count()).select_from(StageTransition).where(StageTransition.via == via)
        return int(await session.scalar(query) or 0)


# --- (a) the core service ----------------------------------------------------------------


async def bench_core(url: str, backend: str, data_dir: Path, budget: Budget) -> Result:
    async with migrated_core(url, data_dir) as core:
        manager, ids = await seed(core, CORE_STAGES)
        stage_of = {deal_id: CORE_STAGES[index % 2] for index, deal_id in enumerate(ids)}
        version_of: dict[int, int | None] = dict.fromkeys(ids)
        first, second = CORE_STAGES

        async def step(index: int) -> None:
            deal_id = ids[index % len(ids)]
            target = second if stage_of[deal_id] == first else first
            result = await core.deals.move(
                manager, deal_id, target, via=Via.COMMAND, expected_version=version_of[deal_id]
            )
            stage_of[deal_id], version_of[deal_id] = result.to_stage, result.deal.version

        timings, elapsed, cpu = await timed(step, budget)
        written = await history_rows(core, Via.COMMAND)
        expected = budget.warmup + len(timings)
        if written != expected:
            raise SystemExit(f"(a) {backend}: {written} history rows for {expected} moves")
    return Result("(a) core `deals.move`", backend, "moves", timings, elapsed, cpu)


# --- (b) the whole bot -----------------------------------------------------------------


async def bench_bot(url: str, data_dir: Path, budget: Budget, *, cold: bool) -> Result:
    """`cold`: the person and their deal lists are read from the database for every update, as
    for a person whose last message was longer ago than they are kept (10 s; deal_refs.py).
    """
    async with migrated_core(url, data_dir) as core:
        _, ids = await seed(core, (TEXT_STAGES[0][0], TEXT_STAGES[1][0]))
        request = OfflineRequest()
        app = build_application(core, request=request, rate_limit=False)
        await app.initialize()
        try:
            client = ChatClient(
                app, request, MANAGER_TELEGRAM_ID, first_name=MANAGER_FIRST, last_name=MANAGER_LAST
            )
            (first_key, first_word), (second_key, second_word) = TEXT_STAGES
            stage_of = {deal_id: TEXT_STAGES[index % 2][0] for index, deal_id in enumerate(ids)}
            asked = 0
            failures: list[str] = []

            async def step(index: int) -> None:
                nonlocal asked
                position = index % len(ids)
                deal_id, title = ids[position], DEAL_NAMES[position]
                forward = stage_of[deal_id] == first_key
                message = f"{title} → {second_word if forward else first_word}"
                if cold:  # the first message after a pause: who is writing, and their deals
                    core.people.forget()
                    core.deals.forget_refs()
                replies = await client.send(message)
                if replies and "→" in replies[0].text and title in replies[0].text:
                    stage_of[deal_id] = second_key if forward else first_key
                    asked += "\n\n" in replies[0].text  # the next-step question rides along
                else:
                    failures.append(f"{message!r}: {[r.text for r in replies]}")
                # The offline request keeps every call; the real one keeps nothing.
                request.calls.clear()
                request.outbox.clear()
                request.messages.clear()

            timings, elapsed, cpu = await timed(step, budget)
        finally:
            await app.shutdown()
        if failures:
            raise SystemExit(f"(b) {len(failures)} texts did not move a deal, e.g. {failures[0]}")
        written = await history_rows(core, Via.TEXT)
        expected = budget.warmup + len(timings)
        if written != expected:
            raise SystemExit(f"(b) {written} history rows for {expected} text moves")
    share = asked / expected
    note = f"{share:.0%} of updates also asked for the next step"
    lists = "person and lists read every time" if cold else "lists kept in memory"
    case = f"(b) text move, `process_update`, {lists}"
    return Result(case, "SQLite", "updates", timings, elapsed, cpu, note)


# --- (c) the ceiling -----------------------------------------------------------------------

RAW_SCHEMA = """
CREATE TABLE deals (
    id INTEGER PRIMARY KEY, stage VARCHAR(50) NOT NULL,
    version INTEGER NOT NULL, updated_at DATETIME NOT NULL
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY, deal_id INTEGER NOT NULL REFERENCES deals (id),
    from_stage VARCHAR(50), to_stage VARCHAR(50) NOT NULL, at DATETIME NOT NULL
);
CREATE INDEX ix_history_deal_at ON history (deal_id, at);
CREATE INDEX ix_history_at ON history (at);
"""


def bench_raw_sqlite(path: Path, budget: Budget) -> Result:
    connection = sqlite3.connect(path)
    try:
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            connection.execute(f"PRAGMA {pragma}")
        connection.execute("PRAGMA busy_timeout=5000")
        connection.executescript(RAW_SCHEMA)
        now = datetime.now(UTC).isoformat()
        connection.executemany(
            "INSERT INTO deals (id, stage, version, updated_at) VALUES (?, ?, 1, ?)",
            [(index + 1, CORE_STAGES[index % 2], now) for index in range(len(DEAL_NAMES))],
        )
        connection.commit()
        first, second = CORE_STAGES
        stage_of = {index + 1: CORE_STAGES[index % 2] for index in range(len(DEAL_NAMES))}

        def step(index: int) -> None:
            deal_id = index % len(DEAL_NAMES) + 1
            source = stage_of[deal_id]
            target = second if source == first else first
            at = datetime.now(UTC).isoformat()
            connection.execute(
                "UPDATE deals SET stage = ?, version = version + 1, updated_at = ? WHERE id = ?",
                (target, at, deal_id),
            )
            connection.execute(
                "INSERT INTO history (deal_id, from_stage, to_stage, at) VALUES (?, ?, ?, ?)",
                (deal_id, source, target, at),
            )
            connection.commit()
            stage_of[deal_id] = target

        timings, elapsed, cpu = timed_sync(step, budget)
        written = connection.execute("SELECT count(*) FROM history").fetchone()[0]
        if written != budget.warmup + len(timings):
            raise SystemExit("(c) the history table lost rows")
    finally:
        connection.close()
    case = "(c) raw `sqlite3`, UPDATE + INSERT"
    return Result(case, "SQLite", "transactions", timings, elapsed, cpu)


# --- the report ---------------------------------------------------------------------------


def verdict(result: Result) -> str:
    met = result.rate >= TARGET_RATE and result.ms(0.99) <= TARGET_P99_MS
    return f"≥ {TARGET_RATE:.0f}/s, p99 ≤ {TARGET_P99_MS:.0f} ms: {'met' if met else 'missed'}"


def report(results: list[Result], budget: Budget, load: tuple[float, float]) -> None:
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}; load average {load[0]:.2f} before, "
        f"{load[1]:.2f} after; warm-up {budget.warmup}, then {budget.seconds:g} s per case"
        + (f" (at most {budget.count} operations)" if budget.count else "")
        + "."
    )
    print()
    print("| case | database | operations | per second | p50 ms | p99 ms | CPU ms/op | target |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for result in results:
        target = verdict(result) if result.unit == "updates" else ""
        print(
            f"| {result.case} | {result.backend} | {len(result.timings):,} {result.unit} | "
            f"{result.rate:,.0f} | {result.ms(0.50):.2f} | {result.ms(0.99):.2f} | "
            f"{result.cpu / len(result.timings) * 1000:.2f} | {target} |"
        )
    print()
    print("CPU ms/op: process CPU time (all threads) per operation; wall time above.")
    for result in results:
        if result.note:
            print(f"{result.case}: {result.note}.")


async def run(args: argparse.Namespace, workdir: Path) -> list[Result]:
    budget = Budget(args.seconds, args.count)
    sqlite_url = f"sqlite+aiosqlite:///{workdir / 'core.db'}"
    results = [await bench_core(sqlite_url, "SQLite", workdir / "a", budget)]
    if args.postgres:
        async with postgres_database(args.postgres) as url:
            results.append(await bench_core(url, "PostgreSQL", workdir / "a-pg", budget))
    bot_url = f"sqlite+aiosqlite:///{workdir / 'bot.db'}"
    results.append(await bench_bot(bot_url, workdir / "b", budget, cold=False))
    cold_url = f"sqlite+aiosqlite:///{workdir / 'bot-cold.db'}"
    results.append(await bench_bot(cold_url, workdir / "b-cold", budget, cold=True))
    results.append(bench_raw_sqlite(workdir / "raw.db", budget))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get(POSTGRES_URL_VARIABLE),
        help=f"postgresql+asyncpg://user@host:port/db (default: ${POSTGRES_URL_VARIABLE})",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per case")
    parser.add_argument("--count", type=int, default=None, help="at most this many per case")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # one log line per update would be timed too
    warnings.simplefilter("ignore")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="voronka-bench-") as directory:
        results = asyncio.run(run(args, Path(directory)))
    report(results, Budget(args.seconds, args.count), (load_before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
