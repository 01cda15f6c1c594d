"""How fast the digest's figures are: `MetricsService.team_figures` against raw SQL as the ceiling.

    python benchmarks/digest.py [--deals 100000] [--moves 1000000] [--teams 10]
                                [--postgres URL] [--repeat 3] [--explain]

1. A fresh SQLite file migrated with `bot.db.migrate.upgrade` gets a synthetic history: deals
   created over the last `--days` days (ending with `--last-day`, yesterday in Moscow by
   default), about `--moves / --deals` history rows each (the creation, then moves: mostly
   forward, some backward, some lost with a reason and some reopened, some won), owners spread
   over `--managers` managers in each of `--teams` teams. The rows are generated and inserted
   with stdlib sqlite3 in a child process, so the parent's memory figures below belong to the
   measured part only; `deals.stage/status/stage_changed_at` agree with the last history row.
2. `team_figures(team, day_period(<last day>, Europe/Moscow))` for every team: one warm-up
   pass, then `--repeat` timed passes; p50 and max per team, and the whole pass.
3. The same figures from hand-written SQL through stdlib sqlite3, team-scoped, in two
   variants: "window" rebuilds the stage at the end of the day with ROW_NUMBER() (MetricsService
   did so first, at 7 s a team); "best" reads deals.stage/stage_changed_at and the history only for
   deals moved after the end. Both are checked against MetricsService (moves, won, lost,
   pipeline, stalled and more); every mismatch is printed.
4. Memory: the tracemalloc peak of the warm-up pass (tracing slows Python down, so it never
   overlaps the timed passes) and the process's max RSS.
5. With `--postgres URL` (or $VORONKA_TEST_POSTGRES_URL): a fresh database
   `voronka_digest_bench_<random>` gets the same rows (read back from the SQLite file, loaded
   with asyncpg COPY), then step 2 runs there; the database is dropped at the end.

`--explain` logs the statements one `team_figures` call issues (an event listener), with
their time and SQLite's EXPLAIN QUERY PLAN.
Targets: at most 300 ms per team on SQLite on a 2-core machine, within 1.5x of the raw SQL,
peak memory at most 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import platform
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.common.clock import system_clock
from bot.config import PACKAGE_DEFAULTS
from bot.db.migrate import upgrade
from bot.db.session import SessionFactory, create_engine, create_session_factory
from bot.deals.funnel import FunnelConfig, load_funnels
from bot.people.service import PeopleService, Person, Role
from bot.reports.metrics import Period, TeamFigures, day_period, month_period
from bot.reports.service import ReportsService

POSTGRES_URL_VARIABLE = "VORONKA_TEST_POSTGRES_URL"
FUNNEL_FILE = PACKAGE_DEFAULTS / "funnel.yaml"
MSK = ZoneInfo("Europe/Moscow")
TARGET_TEAM_MS = 300.0  # per team on SQLite, 2-core machine
TARGET_RAW_RATIO = 1.5  # MetricsService within this factor of the raw SQL
TARGET_PEAK_MB = 200.0
TEAM_NAMES = (
    "Центр", "Северо-Запад", "Юг", "Урал", "Сибирь",
    "Поволжье", "Дальний Восток", "Кавказ", "Черноземье", "Казахстан",
)  # fmt: skip
VIAS = ("button", "text", "text", "command", "followup", "offer")
MAX_ROWS_PER_DEAL = 40
EPOCH = datetime(1970, 1, 1)

# --- the synthetic history (runs in a child process) ------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    path: str
    deals: int
    moves: int
    teams: int
    managers: int
    days: int
    last_day: date
    seed: int


def sql_time(moment: datetime) -> str:
    """The text SQLAlchemy stores for a DateTime on SQLite: naive UTC with microseconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _stamp(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).isoformat(" ", "microseconds")


def _working_hours(seconds: float) -> int:
    """Squeeze a moment into 09:00-19:00 Moscow (06:00-16:00 UTC) of its UTC day; monotonic."""
    day, into = divmod(seconds, 86_400)
    return int(day * 86_400 + 6 * 3_600 + into * (10 / 24))


class Walker:
    """A deal's way through the funnel: mostly forward, sometimes back, lost, reopened, won."""

    P_LOST = 0.06
    P_BACK = 0.3
    P_SKIP = 0.08

    def __init__(self, funnels: FunnelConfig, rng: random.Random) -> None:
        funnel = funnels.default
        self.keys = [stage.key for stage in funnel.stages]
        self.lost = funnel.lost_stage.order
        won = [stage.order for stage in funnel.stages if stage.won]
        self.first_won, self.won = won[0], set(won)
        self.open_orders = [stage.order for stage in funnel.open_stages]
        self.reasons = [reason.key for reason in funnels.lost_reasons]
        self.reason_weights = [5, 3, 3, 2, 2, 3, 1, 1][: len(self.reasons)]
        self.reason_weights += [1] * (len(self.reasons) - len(self.reason_weights))
        self.rng = rng

    def _forward(self, stage: int, steps: int) -> int:
        target = stage
        for _ in range(steps):
            following = [o for o in self.open_orders if o > target]
            target = following[0] if following else self.first_won
            if target in self.won:
                break
        return target

    def walk(self, moves: int, stage: int | None = None) -> list[tuple[int, int]]:
        """Up to `moves` (source, target) pairs from `stage` (the first one by default);
        fewer when the deal ends won or lost."""
        rng, before_lost = self.rng, self.open_orders[0]
        path: list[tuple[int, int]] = []
        stage = self.open_orders[0] if stage is None else stage
        while len(path) < moves:
            if stage == self.lost:
                if rng.random() < 0.6:
                    break
                target = before_lost  # reopened where it was
            elif stage in self.won:
                won_later = [o for o in sorted(self.won) if o > stage]
                if not won_later or rng.random() < 0.4:
                    break
                target = won_later[0]  # paid, then handed to production
            else:
                roll = rng.random()
                if roll < self.P_LOST:
                    before_lost, target = stage, self.lost
                elif roll < self.P_LOST + self.P_BACK and stage != self.open_orders[0]:
                    earlier = [o for o in self.open_orders if o < stage]
                    target = earlier[-1] if rng.random() < 0.85 else rng.choice(earlier)
                else:
                    target = self._forward(stage, 2 if rng.random() < self.P_SKIP else 1)
            path.append((stage, target))
            stage = target
        return path

    def is_open(self, stage: int) -> bool:
        return stage != self.lost and stage not in self.won


def generate(spec: Spec) -> dict[str, Any]:
    """Generate and insert the rows; returns the counts and timings (plain data, picklable)."""
    started = time.perf_counter()
    rng = random.Random(spec.seed)
    funnels = load_funnels(FUNNEL_FILE)
    walker = Walker(funnels, rng)
    keys, funnel_key = walker.keys, funnels.default.key
    end_moment = datetime.combine(spec.last_day + timedelta(days=1), datetime.min.time(), MSK)
    end = int((end_moment.astimezone(UTC).replace(tzinfo=None) - EPOCH).total_seconds())
    start = end - spec.days * 86_400
    setup = _stamp(start - 30 * 86_400)

    teams = [
        (n, TEAM_NAMES[n - 1] if n <= len(TEAM_NAMES) else f"Команда {n}", setup)
        for n in range(1, spec.teams + 1)
    ]
    users: list[tuple[Any, ...]] = []
    leads: dict[int, int] = {}
    managers: list[tuple[int, int]] = []  # (user id, team id)
    for team_id, _, _ in teams:
        for number in range(spec.managers + 1):
            user_id = len(users) + 1
            role = "lead" if number == 0 else "manager"
            if role == "lead":
                leads[team_id] = user_id
            else:
                managers.append((user_id, team_id))
            name = f"{'Руководитель' if role == 'lead' else 'Менеджер'} {team_id}-{number:02d}"
            users.append(
                (user_id, 700_000_000 + user_id, name, None, role, team_id, "ru", 1, 1, setup)
            )
    admin = len(users) + 1
    users.append(
        (admin, 700_000_000 + admin, "Администратор", None, "admin", None, "ru", 1, 1, setup)
    )

    weights = [rng.uniform(0.4, 1.6) for _ in managers]
    owners = rng.choices(managers, weights=weights, k=spec.deals)
    created = sorted(_working_hours(start + rng.random() * (end - start)) for _ in owners)
    mean_rows = spec.moves / spec.deals
    low = max(1, math.floor(mean_rows * 0.3))
    targets = [rng.randint(low, max(low, round(2 * mean_rows - low))) for _ in owners]

    # Paths first, newest deal first: what a young deal cannot hold goes to older ones...
    paths: list[list[tuple[int, int]]] = [[] for _ in owners]
    capacity = [
        max(1, min(MAX_ROWS_PER_DEAL, 1 + int((end - born) / 86_400 * 0.5))) for born in created
    ]
    debt = spec.moves - sum(targets)
    for index in reversed(range(spec.deals)):
        want = targets[index] + debt
        paths[index] = walker.walk(min(max(1, want), capacity[index]) - 1)
        debt = want - 1 - len(paths[index])
    # ...and what is left over continues open deals and reopens lost ones: an exact total.
    while debt > 0:
        candidates = [
            index
            for index, path in enumerate(paths)
            if len(path) + 1 < capacity[index] and (not path or path[-1][1] not in walker.won)
        ]
        if not candidates:
            break
        for index in rng.sample(candidates, min(len(candidates), debt)):
            path = paths[index]
            room = min(debt, capacity[index] - 1 - len(path), rng.randint(1, 4))
            if path and path[-1][1] == walker.lost:
                path.append((walker.lost, path[-1][0]))  # reopened where it was
                debt, room = debt - 1, room - 1
            more = walker.walk(room, path[-1][1] if path else None)
            path.extend(more)
            debt -= len(more)
            if debt <= 0:
                break

    deals: list[tuple[Any, ...]] = []
    history: list[tuple[int, int, str | None, str, int | None, str, str | None, int]] = []
    for index, path in enumerate(paths):
        deal_id, born = index + 1, created[index]
        owner, team_id = owners[index]
        span = end - born
        life = min(span * 0.999, rng.uniform(5, 80) * 86_400)
        moments = [born]
        for offset in sorted(rng.random() for _ in path):
            moments.append(max(moments[-1] + 1, _working_hours(born + offset * life)))
        moments = [min(moment, end - 1) for moment in moments]
        history.append((born, deal_id, None, keys[0], owner, "create", None, owner))
        reason = None
        for (source, target), moment in zip(path, moments[1:], strict=True):
            who = owner if rng.random() < 0.9 else leads[team_id]
            reason = None
            if target == walker.lost:
                reason = rng.choices(walker.reasons, walker.reason_weights)[0]
            history.append(
                (moment, deal_id, keys[source], keys[target], who, rng.choice(VIAS), reason, owner)
            )
        final = path[-1][1] if path else walker.open_orders[0]
        status = "won" if final in walker.won else "lost" if final == walker.lost else "open"
        amount = None
        if rng.random() > 0.05:
            amount = float(max(1000, round(math.exp(rng.gauss(12.6, 1.0)), -3)))
        probability = rng.choice((10, 30, 50, 70, 90)) if rng.random() < 0.1 else None
        next_text = next_due = None
        if status == "open" and rng.random() < 0.75:
            next_text = "Позвонить, уточнить решение"
            next_due = _stamp(moments[-1] + int(rng.uniform(-5, 10) * 86_400))
        deals.append((
            deal_id, f"Поставка стеллажей №{deal_id}", owner, team_id, funnel_key, keys[final],
            status, amount, "RUB", probability, reason if status == "lost" else None,
            next_text, next_due, _stamp(born), _stamp(moments[-1]), _stamp(moments[-1]),
            len(moments),
        ))  # fmt: skip

    history.sort(key=lambda row: (row[0], row[1]))
    month = spec.last_day.strftime("%Y-%m")
    plans = [
        (user_id, month, float(rng.randrange(5, 40) * 100_000), rng.randrange(3, 15),
         leads[team_id], setup)
        for user_id, team_id in managers
        if rng.random() < 0.6
    ]  # fmt: skip
    generated = time.perf_counter() - started

    connection = sqlite3.connect(spec.path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO teams (id, name, created_at) VALUES (?, ?, ?)", teams)
        connection.executemany(
            "INSERT INTO users (id, telegram_id, name, username, role, team_id, language,"
            " active, reachable, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            users,
        )
        connection.executemany(
            "INSERT INTO deals (id, title, owner_id, team_id, funnel, stage, status, amount,"
            " currency, probability, lost_reason, next_step_text, next_step_due, created_at,"
            " updated_at, stage_changed_at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            deals,
        )
        connection.executemany(
            "INSERT INTO stage_transitions (id, deal_id, from_stage, to_stage, at, by_id, via,"
            " lost_reason, owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (number, deal, source, target, _stamp(moment), who, via, reason, owner)
                for number, (moment, deal, source, target, who, via, reason, owner) in enumerate(
                    history, 1
                )
            ),
        )
        connection.executemany(
            "INSERT INTO plans (user_id, month, amount, deals, set_by_id, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            plans,
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return {
        "teams": len(teams),
        "users": len(users),
        "deals": len(deals),
        "moves": len(history),
        "generate_s": generated,
        "insert_s": time.perf_counter() - started - generated,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "size_mb": os.path.getsize(spec.path) / 2**20,
    }


# --- the figures in one comparable shape -------------------------------------------------

Summary = dict[str, Any]


def orm_summary(figures: TeamFigures) -> Summary:
    """What MetricsService reports, as plain values the raw SQL can be compared with."""
    return {
        "new_deals": figures.new_deals,
        "deals_advanced": figures.deals_advanced,
        "stages_advanced": figures.stages_advanced,
        "won_count": figures.won_count,
        "won_amount": figures.won_amount,
        "lost_count": figures.lost_count,
        "lost_reasons": dict(figures.lost_reasons),
        "moves_into": dict(figures.moves_into),
        "pipeline": {k: (v.count, v.amount) for k, v in figures.pipeline_by_stage.items()},
        "forecast": figures.weighted_forecast,
        "stalled": [(s.deal_id, s.stage, s.days) for s in figures.stalled],
        "overdue": [(o.deal_id, sql_time(o.due)) for o in getattr(figures, "overdue", ())],
        "managers": {
            m.user_id: (
                m.new_deals, m.deals_advanced, m.stages_advanced, m.won_count, m.won_amount,
                m.lost_count, m.plan_amount, m.plan_deals, m.fact_amount, m.fact_deals,
            )
            for m in figures.managers
        },
    }  # fmt: skip


def differences(label: str, ours: Summary, theirs: Summary) -> list[str]:
    found = []
    for key in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(key), theirs.get(key)
        if mine == other:
            continue
        if isinstance(mine, dict) and isinstance(other, dict):
            keys = sorted(set(mine) | set(other), key=str)
            shown = [
                f"{k}: {mine.get(k)} != {other.get(k)}" for k in keys if mine.get(k) != other.get(k)
            ]
            found.append(
                f"{label} {key}: " + "; ".join(shown[:5]) + (" ..." if len(shown) > 5 else "")
            )
        else:
            found.append(f"{label} {key}: {mine} != {other}")
    return found


def money(value: float | None) -> Decimal:
    return Decimal(repr(float(value or 0))).quantize(Decimal("0.01"))


# --- the same figures in hand-written SQL (stdlib sqlite3) -------------------------------


class RawSql:
    """The statements team_figures needs, hand-written: team-scoped, simple CASE lookups.

    `window` rebuilds each deal's stage at the end of the day with ROW_NUMBER() over the team's
    history in a single pass (no join back to a derived table); `best` takes deals.stage and
    stage_changed_at (the time of a deal's last history row: moves, undo and import keep it so)
    and reads the history only for deals moved after the end, and computes month-to-date won
    figures only (all team_figures uses from that range).
    """

    def __init__(self, path: str, funnels: FunnelConfig, *, best: bool) -> None:
        self.connection = sqlite3.connect(path)
        self.connection.execute("PRAGMA busy_timeout=5000")
        self.funnels = funnels
        self.best = best
        self.label = "raw SQL, best" if best else "raw SQL, window"
        self.won_keys = sorted({s.key for f in funnels.funnels for s in f.stages if s.won})
        self.times: dict[str, list[float]] = {}

    def close(self) -> None:
        self.connection.close()

    def lookup(
        self, funnel: str, stage: str, value: Callable[[Any], str | None], default: str
    ) -> str:
        """CASE funnel WHEN .. THEN CASE stage WHEN .. THEN value END END (keys are [a-z0-9_-])."""
        branches = []
        for fun in self.funnels.funnels:
            whens = " ".join(
                f"WHEN '{st.key}' THEN {value(st)}" for st in fun.stages if value(st) is not None
            )
            branches.append(f"WHEN '{fun.key}' THEN CASE {stage} {whens} ELSE {default} END")
        return f"CASE {funnel} {' '.join(branches)} ELSE {default} END"

    def code(self, funnel: str, stage: str) -> str:
        """order * 4 + won * 2 + lost; an unknown stage is order -1, neither won nor lost."""
        return self.lookup(funnel, stage, lambda s: str(s.order * 4 + 2 * s.won + s.lost), "-4")

    def _run(self, label: str, sql: str, params: dict[str, Any]) -> list[Any]:
        started = time.perf_counter()
        rows = self.connection.execute(sql, params).fetchall()
        self.times.setdefault(label, []).append((time.perf_counter() - started) * 1000)
        return rows

    def moves_sql(self, won_only: bool = False) -> str:
        tc, fc = self.code("d.funnel", "t.to_stage"), self.code("d.funnel", "t.from_stage")
        extra = ""
        if won_only:
            extra = "AND t.to_stage IN (" + ", ".join(f"'{k}'" for k in self.won_keys) + ")"
        columns = (
            "0, 0, TOTAL(won), TOTAL(CASE WHEN won THEN amount ELSE 0 END), 0"
            if won_only
            else "COUNT(DISTINCT CASE WHEN fwd THEN deal_id END), TOTAL(fwd), TOTAL(won),"
            " TOTAL(CASE WHEN won THEN amount ELSE 0 END), TOTAL(lost)"
        )
        return f"""
            SELECT owner_id, {columns}
            FROM (
                SELECT owner_id, deal_id, amount,
                       tc / 4 > fc / 4 AND tc % 2 = 0 AS fwd,
                       (tc / 2) % 2 = 1 AND (fc / 2) % 2 = 0 AS won,
                       tc % 2 = 1 AND fc % 2 = 0 AS lost
                FROM (
                    SELECT COALESCE(t.owner_id, t.by_id, d.owner_id) AS owner_id, t.deal_id,
                           COALESCE(d.amount, 0) AS amount,
                           {tc} AS tc, {fc} AS fc
                    FROM stage_transitions t JOIN deals d ON d.id = t.deal_id
                    WHERE d.team_id = :team AND t.at >= :start AND t.at < :end
                      AND t.from_stage IS NOT NULL {extra}
                )
            )
            GROUP BY owner_id"""

    def pipeline_sql(self) -> str:
        code = self.code("funnel", "stage")
        prob = self.lookup("funnel", "stage", lambda s: str(s.probability), "0")
        if self.best:
            deals = """
                SELECT d.funnel AS funnel, COALESCE(d.amount, 0) AS amount, d.probability,
                       CASE WHEN d.stage_changed_at < :end THEN d.stage ELSE COALESCE((
                           SELECT t.to_stage FROM stage_transitions t
                           WHERE t.deal_id = d.id AND t.at < :end
                           ORDER BY t.at DESC, t.id DESC LIMIT 1), (
                           SELECT t.from_stage FROM stage_transitions t
                           WHERE t.deal_id = d.id AND t.at >= :end
                           ORDER BY t.at, t.id LIMIT 1), d.stage) END AS stage
                FROM deals d
                WHERE d.team_id = :team AND d.created_at < :end
                  AND (d.status = 'open' OR d.stage_changed_at >= :end)"""
        else:
            deals = """
                SELECT funnel, amount, probability, stage FROM (
                    SELECT d.funnel AS funnel, COALESCE(d.amount, 0) AS amount, d.probability,
                           COALESCE(t.to_stage, (
                               SELECT a.from_stage FROM stage_transitions a
                               WHERE a.deal_id = d.id AND a.at >= :end
                               ORDER BY a.at, a.id LIMIT 1), d.stage) AS stage,
                           ROW_NUMBER() OVER (
                               PARTITION BY d.id ORDER BY t.at DESC, t.id DESC) AS rn
                    FROM deals d
                    LEFT JOIN stage_transitions t ON t.deal_id = d.id AND t.at < :end
                    WHERE d.team_id = :team AND d.created_at < :end
                ) WHERE rn = 1"""
        return f"""
            SELECT stage, COUNT(*), TOTAL(amount), TOTAL(amount * COALESCE(probability, p))
            FROM (SELECT stage, amount, probability, {code} AS c, {prob} AS p FROM ({deals}))
            WHERE (c / 2) % 2 = 0 AND c % 2 = 0
            GROUP BY stage"""

    def stalled_sql(self, end: datetime) -> str:
        def cutoff(stage: Any) -> str | None:
            if not stage.rotting_days or stage.closed:
                return None
            return f"'{sql_time(end - timedelta(days=stage.rotting_days))}'"

        cutoffs = self.lookup("funnel", "stage", cutoff, "NULL")
        if self.best:
            deals = """
                SELECT d.id, d.title, d.owner_id, d.funnel, d.next_step_due,
                       CASE WHEN d.stage_changed_at < :end THEN d.stage ELSE (
                           SELECT t.to_stage FROM stage_transitions t
                           WHERE t.deal_id = d.id AND t.at < :end
                           ORDER BY t.at DESC, t.id DESC LIMIT 1) END AS stage,
                       CASE WHEN d.stage_changed_at < :end THEN d.stage_changed_at ELSE (
                           SELECT t.at FROM stage_transitions t
                           WHERE t.deal_id = d.id AND t.at < :end
                           ORDER BY t.at DESC, t.id DESC LIMIT 1) END AS at
                FROM deals d
                WHERE d.team_id = :team AND d.created_at < :end
                  AND (d.status = 'open' OR d.stage_changed_at >= :end)"""
        else:
            deals = """
                SELECT id, title, owner_id, funnel, next_step_due, stage, at FROM (
                    SELECT d.id, d.title, d.owner_id, d.funnel, d.next_step_due,
                           t.to_stage AS stage, t.at AS at,
                           ROW_NUMBER() OVER (
                               PARTITION BY d.id ORDER BY t.at DESC, t.id DESC) AS rn
                    FROM deals d JOIN stage_transitions t ON t.deal_id = d.id AND t.at < :end
                    WHERE d.team_id = :team
                ) WHERE rn = 1"""
        return f"""
            SELECT x.id, x.title, u.telegram_id, u.name, x.stage, x.at
            FROM ({deals}) x CROSS JOIN users u
            WHERE u.id = x.owner_id AND x.at < {cutoffs}
              AND (x.next_step_due IS NULL OR x.next_step_due <= :end)
            ORDER BY x.at LIMIT :limit"""

    def day_sql(self, what: str) -> str:
        tc, fc = self.code("d.funnel", "t.to_stage"), self.code("d.funnel", "t.from_stage")
        if what == "lost":
            column, flag = "t.lost_reason", f"({tc}) % 2 = 1 AND ({fc}) % 2 = 0"
        else:
            column, flag = "t.to_stage", f"({tc}) / 4 > ({fc}) / 4 AND ({tc}) % 2 = 0"
        return f"""
            SELECT {column}, COUNT(*)
            FROM stage_transitions t JOIN deals d ON d.id = t.deal_id
            WHERE d.team_id = :team AND t.at >= :start AND t.at < :end
              AND t.from_stage IS NOT NULL AND {flag}
            GROUP BY {column}"""

    def team_figures(self, team_id: int, period: Period, tz: ZoneInfo, limit: int = 10) -> Summary:
        end, start = sql_time(period.end), sql_time(period.start)
        month = month_period(int(period.month[:4]), int(period.month[5:7]), tz)
        day = {"team": team_id, "start": start, "end": end}
        run = self._run
        run("team", "SELECT name FROM teams WHERE id = :team", day)
        moves = {row[0]: row[1:] for row in run("moves, day", self.moves_sql(), day)}
        mtd = {
            row[0]: row[1:]
            for row in run(
                "moves, month to date",
                self.moves_sql(won_only=self.best),
                {**day, "start": sql_time(month.start)},
            )
        }
        new = dict(
            run(
                "new deals",
                "SELECT COALESCE(t.by_id, d.owner_id), COUNT(*) FROM stage_transitions t"
                " JOIN deals d ON d.id = t.deal_id WHERE d.team_id = :team"
                " AND t.from_stage IS NULL AND t.at >= :start AND t.at < :end"
                " GROUP BY COALESCE(t.by_id, d.owner_id)",
                day,
            )
        )
        plans = {
            user: (amount, deals)
            for user, amount, deals in run(
                "plans", "SELECT user_id, amount, deals FROM plans WHERE month = :month",
                {"month": period.month},
            )
        }  # fmt: skip
        winners = {user for user, row in mtd.items() if row[2]}  # won this month to date
        owners = sorted(set(moves) | set(new) | winners)
        planned = ", ".join(str(int(user)) for user in plans) or "NULL"
        people = run(
            "people",
            "SELECT id FROM users WHERE (team_id = :team AND active AND role = 'manager')"
            f" OR id IN ({', '.join(str(int(o)) for o in owners) or 'NULL'})"
            f" OR (team_id = :team AND id IN ({planned}))",
            day,
        )
        pipeline_rows = run("pipeline", self.pipeline_sql(), day)
        stalled_rows = run("stalled", self.stalled_sql(period.end), {**day, "limit": limit})
        reasons_rows = run("lost reasons", self.day_sql("lost"), day)
        into_rows = run("moves into", self.day_sql("into"), day)
        overdue_rows = run(
            "overdue",
            "SELECT d.id, d.next_step_due FROM deals d JOIN users u ON u.id = d.owner_id"
            " WHERE d.team_id = :team AND d.status = 'open' AND d.next_step_due < :end"
            " ORDER BY d.next_step_due LIMIT :limit",
            {**day, "limit": limit},
        )

        managers = {}
        for (user_id,) in people:
            adv, stages, won, won_amount, lost = moves.get(user_id, (0, 0, 0, 0, 0))
            month_won = mtd.get(user_id, (0, 0, 0, 0, 0))
            plan = plans.get(user_id)
            managers[user_id] = (
                new.get(user_id, 0), int(adv), int(stages), int(won), money(won_amount),
                int(lost),
                money(plan[0]) if plan and plan[0] is not None else None,
                plan[1] if plan else None,
                money(month_won[3]), int(month_won[2]),
            )  # fmt: skip
        reasons: dict[str, int] = {}
        for reason, count in reasons_rows:
            reasons[reason or "other"] = reasons.get(reason or "other", 0) + count
        forecast = sum((money(weighted) / 100 for *_, weighted in pipeline_rows), Decimal(0))
        stalled = []
        for deal_id, _title, _telegram, _name, stage, at in stalled_rows:
            moved = datetime.fromisoformat(at).replace(tzinfo=UTC)
            stalled.append((deal_id, stage, (period.end - moved).days))
        values = list(managers.values())
        return {
            "new_deals": sum(v[0] for v in values),
            "deals_advanced": sum(v[1] for v in values),
            "stages_advanced": sum(v[2] for v in values),
            "won_count": sum(v[3] for v in values),
            "won_amount": sum((v[4] for v in values), Decimal("0.00")),
            "lost_count": sum(v[5] for v in values),
            "lost_reasons": dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
            "moves_into": dict(into_rows),
            "pipeline": {
                stage: (count, money(amount)) for stage, count, amount, _ in pipeline_rows
            },
            "forecast": forecast.quantize(Decimal("0.01")),
            "stalled": stalled,
            "overdue": [(deal_id, due) for deal_id, due in overdue_rows],
            "managers": managers,
        }


# --- timing -----------------------------------------------------------------------------


@dataclass
class Timings:
    per_team: dict[int, list[float]] = field(default_factory=dict)  # ms
    passes: list[float] = field(default_factory=list)  # ms for all teams, one after another

    def add(self, team: int, ms: float) -> None:
        self.per_team.setdefault(team, []).append(ms)

    def p50(self, team: int) -> float:
        return statistics.median(self.per_team[team])

    def max(self, team: int) -> float:
        return max(self.per_team[team])

    def worst_p50(self) -> float:
        return max(self.p50(team) for team in self.per_team)

    def pass_p50(self) -> float:
        return statistics.median(self.passes)


@dataclass
class Measured:
    timings: Timings
    figures: dict[int, Summary]
    peak_mb: float | None = None


ADMIN = Person(
    id=0, telegram_id=0, name="bench", role=Role.ADMIN, team_id=None, team_name=None,
    language="ru", active=True,
)  # fmt: skip


class MetricsService:
    """`ReportsService.team_figures` as an admin asks for it: what the digest computes."""

    def __init__(self, db: SessionFactory, funnels: FunnelConfig, tz: ZoneInfo) -> None:
        people = PeopleService(db, clock=system_clock)
        self._reports = ReportsService(
            db, funnels, people, clock=system_clock, tz=tz, digest_time=datetime.min.time()
        )

    async def team_figures(self, team_id: int, period: Period) -> TeamFigures:
        return await self._reports.team_figures(ADMIN, team_id, period)


async def measure_service(
    metrics: MetricsService, teams: Sequence[int], period: Period, repeat: int, *, trace: bool
) -> Measured:
    """One warm-up pass (traced by tracemalloc when asked: tracing slows Python down, so it
    never overlaps the timed passes), then `repeat` timed passes over all teams."""
    figures: dict[int, Summary] = {}
    if trace:
        tracemalloc.start()
    for team in teams:
        figures[team] = orm_summary(await metrics.team_figures(team, period))
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    timings = Timings()
    for _ in range(repeat):
        pass_started = time.perf_counter()
        for team in teams:
            started = time.perf_counter()
            await metrics.team_figures(team, period)
            timings.add(team, (time.perf_counter() - started) * 1000)
        timings.passes.append((time.perf_counter() - pass_started) * 1000)
    return Measured(timings, figures, peak)


def measure_raw(
    raw: RawSql, teams: Sequence[int], period: Period, repeat: int, *, trace: bool
) -> Measured:
    figures: dict[int, Summary] = {}
    if trace:
        tracemalloc.start()
    for team in teams:
        figures[team] = raw.team_figures(team, period, MSK)
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    raw.times.clear()
    timings = Timings()
    for _ in range(repeat):
        pass_started = time.perf_counter()
        for team in teams:
            started = time.perf_counter()
            raw.team_figures(team, period, MSK)
            timings.add(team, (time.perf_counter() - started) * 1000)
        timings.passes.append((time.perf_counter() - pass_started) * 1000)
    return Measured(timings, figures, peak)


class StatementLog:
    """Every statement the engine runs, with its time (rows are fetched within it)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.entries: list[tuple[str, Any, float]] = []
        self.on = False
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, _c: Any, _cur: Any, _s: str, _p: Any, context: Any, _m: bool) -> None:
        context._bench_started = time.perf_counter()

    def _after(
        self, _c: Any, _cur: Any, statement: str, params: Any, context: Any, _m: bool
    ) -> None:
        if self.on:
            elapsed = (time.perf_counter() - context._bench_started) * 1000
            self.entries.append((statement, params, elapsed))


def statement_label(statement: str, seen: dict[str, int]) -> str:
    """A short name for a statement team_figures issues (the second moves query is the
    month to date)."""
    text_ = " ".join(statement.split())
    rules = (
        ("FROM teams", "team"),
        ("stage_transitions.to_stage IN (", "moves, month to date"),
        ("count(DISTINCT", "moves"),
        ("FROM plans", "plans"),
        ("FROM users", "people"),
        ("coalesce(anon_1.to_stage", "pipeline"),
        ("anon_1.to_stage, anon_1.at", "stalled"),
        ("stage_transitions.lost_reason, count", "lost reasons"),
        ("stage_transitions.to_stage, count", "moves into"),
        ("next_step_text", "overdue"),
        ("SELECT deals.owner_id, count(*)", "new deals"),
    )
    label = next((name for needle, name in rules if needle in text_), text_[:40])
    seen[label] = seen.get(label, 0) + 1
    if label == "moves":
        return "moves, day" if seen[label] == 1 else "moves, month to date"
    return label


async def statement_breakdown(
    metrics: MetricsService, log: StatementLog, team: int, period: Period, runs: int
) -> tuple[dict[str, float], list[tuple[str, str, Any]]]:
    """Median time per statement of one team_figures call, and the statements themselves."""
    times: dict[str, list[float]] = {}
    statements: list[tuple[str, str, Any]] = []
    for number in range(runs):
        log.entries.clear()
        log.on = True
        try:
            await metrics.team_figures(team, period)
        finally:
            log.on = False
        seen: dict[str, int] = {}
        for statement, params, ms in log.entries:
            label = statement_label(statement, seen)
            times.setdefault(label, []).append(ms)
            if number == 0:
                statements.append((label, statement, params))
    return {label: statistics.median(values) for label, values in times.items()}, statements


def explain(path: str, statements: list[tuple[str, str, Any]]) -> list[str]:
    lines = []
    connection = sqlite3.connect(path)
    try:
        for label, statement, params in statements:
            lines.append(f"-- {label}")
            rows = connection.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
            depth = {0: 0}
            for node, parent, _, detail in rows:
                depth[node] = depth.get(parent, 0) + 1
                lines.append("   " + "  " * (depth[node] - 1) + detail)
    finally:
        connection.close()
    return lines


# --- PostgreSQL ---------------------------------------------------------------------------

COPY_COLUMNS = {
    "teams": ("id", "name", "created_at"),
    "users": (
        "id", "telegram_id", "name", "username", "role", "team_id", "language", "active",
        "reachable", "created_at",
    ),
    "deals": (
        "id", "title", "owner_id", "team_id", "funnel", "stage", "status", "amount", "currency",
        "probability", "lost_reason", "next_step_text", "next_step_due", "created_at",
        "updated_at", "stage_changed_at", "version",
    ),
    "stage_transitions": (
        "id", "deal_id", "from_stage", "to_stage", "at", "by_id", "via", "lost_reason",
    ),
    "plans": ("id", "user_id", "month", "amount", "deals", "set_by_id", "updated_at"),
}  # fmt: skip
MOMENTS = {"created_at", "updated_at", "stage_changed_at", "next_step_due", "at"}


def _converter(column: str) -> Callable[[Any], Any]:
    if column in MOMENTS:
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if column == "amount":
        return lambda v: None if v is None else money(v)
    if column in ("active", "reachable"):
        return lambda v: None if v is None else bool(v)
    return lambda v: v


def _asyncpg_params(url: str, database: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "host": parsed.host or "localhost",
        "port": parsed.port or 5432,
        "user": parsed.username,
        "password": parsed.password,
        "database": database,
    }


@asynccontextmanager
async def fresh_postgres(server: str) -> AsyncIterator[tuple[str, str]]:
    """A new database `voronka_digest_bench_<random>`, dropped afterwards even on failure."""
    import asyncpg

    name = f"voronka_digest_bench_{uuid.uuid4().hex[:10]}"
    admin_db = make_url(server).database or "postgres"
    admin = await asyncpg.connect(**_asyncpg_params(server, admin_db))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False), name
    finally:
        admin = await asyncpg.connect(**_asyncpg_params(server, admin_db))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def load_postgres(url: str, name: str, sqlite_path: str) -> float:
    """Copy every generated row from the SQLite file with COPY; returns the seconds taken."""
    import asyncpg

    started = time.perf_counter()
    source = sqlite3.connect(sqlite_path)
    target = await asyncpg.connect(**_asyncpg_params(url, name))
    try:
        for table, columns in COPY_COLUMNS.items():
            convert = [_converter(column) for column in columns]
            cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
            while chunk := cursor.fetchmany(10_000):
                records = [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in chunk]
                await target.copy_records_to_table(table, records=records, columns=columns)
            await target.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        await target.execute("ANALYZE")
    finally:
        await target.close()
        source.close()
    return time.perf_counter() - started


def team_stats(path: str, period: Period) -> dict[int, tuple[str, int, int]]:
    connection = sqlite3.connect(path)
    try:
        names = dict(connection.execute("SELECT id, name FROM teams ORDER BY id"))
        deals = dict(connection.execute("SELECT team_id, COUNT(*) FROM deals GROUP BY team_id"))
        moves = dict(
            connection.execute(
                "SELECT d.team_id, COUNT(*) FROM stage_transitions t JOIN deals d"
                " ON d.id = t.deal_id WHERE t.at >= ? AND t.at < ? AND t.from_stage IS NOT NULL"
                " GROUP BY d.team_id",
                (sql_time(period.start), sql_time(period.end)),
            )
        )
    finally:
        connection.close()
    return {team: (name, deals.get(team, 0), moves.get(team, 0)) for team, name in names.items()}


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class PostgresResult:
    measured: Measured
    load_s: float
    migrate_s: float
    version: str
    mismatches: list[str]


async def run_postgres(
    server: str, path: str, funnels: FunnelConfig, teams: Sequence[int], period: Period,
    repeat: int, expected: dict[int, Summary],
) -> PostgresResult:  # fmt: skip
    async with fresh_postgres(server) as (url, name):
        print(f"PostgreSQL: database {name}", file=sys.stderr, flush=True)
        engine = create_engine(url)
        try:
            started = time.perf_counter()
            await upgrade(engine)
            migrate_s = time.perf_counter() - started
            load_s = await load_postgres(url, name, path)
            async with engine.connect() as connection:
                version = str(await connection.scalar(text("SHOW server_version")))
            metrics = MetricsService(create_session_factory(engine), funnels, MSK)
            measured = await measure_service(metrics, teams, period, repeat, trace=False)
            mismatches = [
                line
                for team in teams
                for line in differences(
                    f"team {team}: PostgreSQL vs SQLite", measured.figures[team], expected[team]
                )
            ]
        finally:
            await engine.dispose()
    return PostgresResult(measured, load_s, migrate_s, version, mismatches)


def cell(timings: Timings | None, team: int) -> str:
    if timings is None:
        return "—"
    return f"{timings.p50(team):,.0f} / {timings.max(team):,.0f}"


async def run(args: argparse.Namespace) -> None:
    import sqlalchemy

    funnels = load_funnels(FUNNEL_FILE)
    last_day: date = args.last_day or datetime.now(MSK).date() - timedelta(days=1)
    period = day_period(last_day, MSK)
    month = month_period(last_day.year, last_day.month, MSK)
    server = args.postgres or os.environ.get(POSTGRES_URL_VARIABLE)
    machine = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="voronka-digest-") as folder:
        path = str(Path(folder) / "voronka.db")
        url = f"sqlite+aiosqlite:///{path}"

        # 1. A fresh, migrated file and the synthetic history (in a child process).
        engine = create_engine(url)
        started = time.perf_counter()
        await upgrade(engine)
        await engine.dispose()
        migrate_s = time.perf_counter() - started
        spec = Spec(
            path, args.deals, args.moves, args.teams, args.managers, args.days, last_day, args.seed
        )
        print(f"generating {args.deals:,} deals, {args.moves:,} history rows...", file=sys.stderr)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            made = pool.submit(generate, spec).result()
        generation = (
            f"generation: {made['generate_s'] + made['insert_s']:.1f} s (building rows "
            f"{made['generate_s']:.1f} s, sqlite3 executemany in one transaction "
            f"{made['insert_s']:.1f} s); migration {migrate_s:.1f} s; file "
            f"{made['size_mb']:.0f} MiB; generator's max RSS {made['max_rss_mb']:.0f} MiB "
            "(a child process)"
        )
        print(generation, file=sys.stderr, flush=True)
        stats = team_stats(path, period)
        teams = sorted(stats)

        # 2. MetricsService on SQLite.
        rss_before = max_rss_mb()
        engine = create_engine(url)
        log = StatementLog(engine)
        metrics = MetricsService(create_session_factory(engine), funnels, MSK)
        print("MetricsService on SQLite...", file=sys.stderr, flush=True)
        orm = await measure_service(metrics, teams, period, args.repeat, trace=True)

        # 3. Raw SQL, the same figures.
        print("raw SQL...", file=sys.stderr, flush=True)
        raw_window = RawSql(path, funnels, best=False)
        raw_best = RawSql(path, funnels, best=True)
        window = measure_raw(raw_window, teams, period, args.repeat, trace=True)
        best = measure_raw(raw_best, teams, period, args.repeat, trace=True)
        rss_after = max_rss_mb()
        mismatches = [
            line
            for team in teams
            for measured, name in ((window, "raw SQL (window)"), (best, "raw SQL (best)"))
            for line in differences(
                f"team {team}: {name} vs MetricsService", measured.figures[team], orm.figures[team]
            )
        ]

        breakdown: dict[str, dict[str, float]] = {}
        plans: list[str] = []
        if args.explain:
            team = teams[0]
            breakdown["MetricsService"], statements = await statement_breakdown(
                metrics, log, team, period, args.repeat
            )
            for raw in (raw_window, raw_best):
                raw.times.clear()
                for _ in range(args.repeat):
                    raw.team_figures(team, period, MSK)
                breakdown[raw.label] = {k: statistics.median(v) for k, v in raw.times.items()}
            plans = explain(path, statements)
        raw_window.close()
        raw_best.close()
        await engine.dispose()

        # 5. PostgreSQL.
        postgres = None
        if server:
            postgres = await run_postgres(
                server, path, funnels, teams, period, args.repeat, orm.figures
            )
        rss_end = max_rss_mb()

    # --- the report ---------------------------------------------------------------------
    day_moves = sum(moves for _, _, moves in stats.values())
    print(f"## Digest figures: `MetricsService.team_figures` ({args.repeat} timed passes)\n")
    print(f"- machine: {machine}" + (f"; PostgreSQL {postgres.version}" if postgres else ""))
    print(
        f"- data: {made['deals']:,} deals, {made['moves']:,} history rows "
        f"({made['deals']:,} creations and {made['moves'] - made['deals']:,} moves) over "
        f"{args.days} days, {made['teams']} teams × {args.managers} managers; the day "
        f"{last_day.isoformat()} (Europe/Moscow) has {day_moves:,} moves; month to date from "
        f"{month.label}-01"
    )
    print(f"- {generation}")
    if postgres:
        print(
            f"- PostgreSQL: migration {postgres.migrate_s:.1f} s, COPY of the same rows and "
            f"ANALYZE {postgres.load_s:.1f} s"
        )
    print()
    header = (
        "| Team | Deals | Moves on the day | MetricsService, SQLite p50 / max ms "
        "| Raw SQL (window) p50 / max ms | Raw SQL (best) p50 / max ms "
        "| MetricsService ÷ raw (window) | MetricsService ÷ raw (best) "
        "| MetricsService, PostgreSQL p50 / max ms |"
    )
    print(header)
    print("|" + "---|" * header.count(" |"))
    pg = postgres.measured.timings if postgres else None
    for team in teams:
        name, deals, moves = stats[team]
        ratio_w = orm.timings.p50(team) / window.timings.p50(team)
        ratio_b = orm.timings.p50(team) / best.timings.p50(team)
        print(
            f"| {name} | {deals:,} | {moves:,} | {cell(orm.timings, team)} "
            f"| {cell(window.timings, team)} | {cell(best.timings, team)} "
            f"| {ratio_w:.1f}× | {ratio_b:.1f}× | {cell(pg, team)} |"
        )
    print(
        f"| **all {len(teams)} teams, one pass** | {made['deals']:,} | {day_moves:,} "
        f"| {orm.timings.pass_p50():,.0f} | {window.timings.pass_p50():,.0f} "
        f"| {best.timings.pass_p50():,.0f} "
        f"| {orm.timings.pass_p50() / window.timings.pass_p50():.1f}× "
        f"| {orm.timings.pass_p50() / best.timings.pass_p50():.1f}× "
        f"| {pg.pass_p50() if pg else 0:,.0f} |"
    )
    worst = orm.timings.worst_p50()
    worst_ratio = max(orm.timings.p50(t) / window.timings.p50(t) for t in teams)
    peak = orm.peak_mb or 0.0
    print("\n| Target | Measured | Met |\n|---|---|---|")
    print(
        f"| ≤ {TARGET_TEAM_MS:.0f} ms per team on SQLite (2-core machine) "
        f"| worst team p50 {worst:,.0f} ms | {'yes' if worst <= TARGET_TEAM_MS else 'no'} |"
    )
    print(
        f"| within {TARGET_RAW_RATIO}× of the raw SQL (window) "
        f"| worst team {worst_ratio:.1f}× | {'yes' if worst_ratio <= TARGET_RAW_RATIO else 'no'} |"
    )
    print(
        f"| peak memory ≤ {TARGET_PEAK_MB:.0f} MB | tracemalloc peak {peak:.1f} MiB "
        f"(raw SQL {window.peak_mb or 0:.1f} / {best.peak_mb or 0:.1f} MiB); max RSS "
        f"{rss_after:.0f} MiB after SQLite ({rss_before:.0f} MiB before the metrics, "
        f"{rss_end:.0f} MiB at the end) | "
        f"{'yes' if max(peak, rss_after) <= TARGET_PEAK_MB else 'no'} |"
    )
    all_mismatches = mismatches + (postgres.mismatches if postgres else [])
    checked = (
        "new deals, deals advanced, stages advanced, won (count, amount), lost, lost reasons, "
        "moves into, pipeline (count, amount), forecast, stalled, overdue, every manager's row"
    )
    if all_mismatches:
        print(f"\n**Mismatches ({len(all_mismatches)}):**\n")
        for line in all_mismatches:
            print(f"- {line}")
    else:
        print(
            f"\nVerified for every team: the raw SQL (both variants)"
            f"{' and PostgreSQL' if postgres else ''} give the same {checked} as "
            "MetricsService on SQLite."
        )
    if breakdown:
        names = list(breakdown)
        labels = list(breakdown["MetricsService"])
        for extra in names[1:]:
            labels += [label for label in breakdown[extra] if label not in labels]
        print(f"\n### Per statement, team {stats[teams[0]][0]} (median ms)\n")
        print("| Statement | " + " | ".join(names) + " |")
        print("|---|" + "---:|" * len(names))
        for label in labels:
            values = [breakdown[n].get(label) for n in names]
            shown = " | ".join("—" if v is None else f"{v:,.1f}" for v in values)
            print(f"| {label} | {shown} |")
        sums = " | ".join(f"**{sum(breakdown[n].values()):,.1f}**" for n in names)
        print(f"| total | {sums} |")
    if plans:
        print("\n### EXPLAIN QUERY PLAN of the statements MetricsService issues (SQLite)\n")
        print("```")
        print("\n".join(plans))
        print("```")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--moves", type=int, default=1_000_000, help="history rows in all")
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--managers", type=int, default=20, help="managers per team")
    parser.add_argument("--days", type=int, default=120, help="how far the history goes back")
    parser.add_argument(
        "--last-day", type=date.fromisoformat, default=None,
        help="the reported day, YYYY-MM-DD (default: yesterday in Moscow)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over all teams")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument(
        "--postgres",
        help=f"postgresql+asyncpg://user@host:port/db (default: ${POSTGRES_URL_VARIABLE})",
    )
    parser.add_argument("--explain", action="store_true", help="statements and their plans")
    args = parser.parse_args()
    if args.moves < args.deals:
        parser.error("--moves counts every history row, creations included: at least --deals")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
