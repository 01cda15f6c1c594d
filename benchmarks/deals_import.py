"""Benchmark the deals import on a synthetic file: by default 100,000 deals, 1,000,000 moves.

    python benchmarks/deals_import.py [--deals 100000] [--moves 10] [--database URL]

Writes the file to a temporary folder, imports it into a fresh SQLite database migrated with
`bot.db.migrate.upgrade` (or into an empty database at --database), prints how long reading
and importing took, then imports the same file again (every deal is already there, so
nothing changes) and prints that time too; last, the time to export everything as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import load_settings
from bot.container import Core, build_core
from bot.db.migrate import upgrade
from bot.db.models import Deal, StageTransition
from bot.db.session import transaction
from bot.deals.cli import deal_transfer, read_file
from bot.deals.funnel import Funnel

OWNERS = 200
TEAMS = ("Урал", "Сибирь", "Центр", "Юг", "Северо-Запад")
START = datetime(2023, 1, 1, tzinfo=UTC)
VIAS = ("button", "text", "command", "followup", "offer")


def _deal(number: int, moves: int, funnel: Funnel, reasons: list[str], rng: random.Random) -> Any:
    """One deal in the export format with `moves` history entries (the creation included)."""
    owner = 900_000_000 + rng.randrange(OWNERS)
    created = START + timedelta(minutes=rng.randrange(60 * 24 * 600))
    at, stage = created, funnel.first.key
    history = [_entry(None, stage, at, owner, "create")]
    for _ in range(moves - 1):
        target = rng.choice([s.key for s in funnel.stages if s.key != stage])
        at += timedelta(minutes=rng.randrange(1, 60 * 24 * 3))
        history.append(_entry(stage, target, at, owner, rng.choice(VIAS)))
        stage = target
    lost = funnel.stage(stage).lost
    return {
        "external_id": f"bench-{number}",
        "title": f"Стеллажи для склада №{number}",
        "client": {"name": f"ООО «Клиент {number % 20_000}»", "contact": "Иван Петров",
                   "phone": "+7 900 000-00-00", "email": None},
        "owner_telegram_id": owner,
        "team": TEAMS[(owner - 900_000_000) % len(TEAMS)],
        "funnel": funnel.key,
        "stage": stage,
        "status": funnel.status_of(stage),
        "amount": f"{rng.randrange(10_000, 5_000_000)}.00",
        "currency": "RUB",
        "lost_reason": rng.choice(reasons) if lost else None,
        "next_step": None if funnel.stage(stage).closed else
        {"text": "Позвонить", "due": (at + timedelta(days=2)).isoformat()},
        "created_at": created.isoformat(),
        "history": history,
    }  # fmt: skip


def _entry(source: str | None, target: str, at: datetime, by: int, via: str) -> dict[str, Any]:
    return {"from": source, "to": target, "at": at.isoformat(), "by_telegram_id": by, "via": via}


def write_file(path: Path, deals: int, moves: int, core: Core) -> None:
    """Write the file a deal at a time, so generating 100k deals needs little memory."""
    rng = random.Random(20261130)
    funnel = core.funnels.default
    reasons = [reason.key for reason in core.funnels.lost_reasons]
    with path.open("w", encoding="utf-8") as file:
        file.write("[")
        for number in range(deals):
            file.write(",\n" if number else "\n")
            file.write(json.dumps(_deal(number, moves, funnel, reasons, rng), ensure_ascii=False))
        file.write("\n]\n")


async def _counts(core: Core) -> tuple[int, int]:
    async with transaction(core.db) as session:
        deals = await session.scalar(select(func.count()).select_from(Deal))
        moves = await session.scalar(select(func.count()).select_from(StageTransition))
    return deals or 0, moves or 0


async def _timed_import(core: Core, path: Path, label: str) -> None:
    started = time.perf_counter()
    rows = read_file(path)
    read = time.perf_counter() - started

    def progress(done: int, total: int) -> None:
        if done % 20_000 == 0 or done == total:
            elapsed = time.perf_counter() - started
            print(f"  {label}: {done}/{total} deals, {elapsed:.1f} s", file=sys.stderr)

    report = await deal_transfer(core).import_deals(rows, create_users=True, progress=progress)
    total = time.perf_counter() - started
    deals, moves = await _counts(core)
    print(
        f"{label}: {total:.1f} s (reading the file {read:.1f} s, import {total - read:.1f} s); "
        f"created {report.created}, unchanged {report.unchanged}, "
        f"users created {report.users_created}; the database holds {deals} deals, {moves} moves"
    )


async def _timed_export(core: Core, path: Path) -> None:
    started = time.perf_counter()
    with path.open("w", encoding="utf-8") as file:
        count = await deal_transfer(core).write_json(file)
    print(f"export to JSON: {time.perf_counter() - started:.1f} s, {count} deals")


async def run(deals: int, moves: int, database: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="voronka-bench-") as folder:
        url = database or f"sqlite+aiosqlite:///{Path(folder) / 'voronka.db'}"
        core = build_core(load_settings(database_url=url, data_dir=Path(folder)))
        try:
            await upgrade(core.engine)
            path = Path(folder) / "deals.json"
            started = time.perf_counter()
            write_file(path, deals, moves, core)
            size = path.stat().st_size / 2**20
            generated = time.perf_counter() - started
            print(f"file: {deals} deals, {deals * moves} moves, {size:.0f} MiB ({generated:.1f} s)")
            await _timed_import(core, path, "first import")
            await _timed_import(core, path, "second import (idempotent)")
            await _timed_export(core, Path(folder) / "export.json")
        finally:
            await core.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--moves", type=int, default=10, help="history entries per deal")
    parser.add_argument("--database", help="an empty, migrated database URL instead of SQLite")
    args = parser.parse_args()
    asyncio.run(run(args.deals, args.moves, args.database))


if __name__ == "__main__":
    main()
