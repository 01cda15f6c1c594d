"""End-to-end load: 200 people at once against the real `voronka run` in webhook mode.

    python benchmarks/load.py [--people 200] [--rate 200] [--seconds 30]
                              [--postgres postgresql+asyncpg://postgres@127.0.0.1:55461/postgres]

The real process (or two) runs in webhook mode against the Bot API stand-in of the
end-to-end tests, everything on 127.0.0.1. Each simulated person registers with an invite,
opens three deals, then repeats a working session: `/deals`, a press on a deal's button (the
card), a move typed as text («Клиент-7-2 в кп»), the next step the bot then asks for, and a
knowledge question, with a pause between steps (on average `people / rate` seconds, so
together they offer `rate` updates per second). Each update is posted to the bot's webhook
as Telegram would (with the secret), and timed from the post to the bot's first Bot API call
for that chat (the reply, the card's edit, or the button's answer).

Configurations: one process on SQLite, one on PostgreSQL, and two workers on PostgreSQL
(two processes on their own ports; updates spread by chat id, as a proxy with a sticky
hash would). The stand-in's own ceiling (sendMessage calls per second it serves, with the
load generator in the same process as here, 8 and MAX_CONCURRENT calls at once) is measured
in the same run, so the figures can be read against it; and each worker's `/metrics`, read
before and after the window, says where an update's time went inside the bot (handling,
Bot API calls, database connections). Without `--postgres`, the PostgreSQL rows are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bot.config import load_settings
from bot.container import build_core
from bot.people.service import Role
from bot.tg.ordering import MAX_CONCURRENT
from tests.e2e.bot_api_standin import BotApiStandin, running_standin
from tests.e2e.conftest import TOKEN, voronka_executable

SECRET = "load-test-secret"
RATE = os.environ.get("VORONKA_TELEGRAM_RATE", "0")  # see the module's docstring
PATH = "/telegram"
FIRST_USER = 8_100_000
STAGES = ("квал", "встреча", "демо", "кп", "переговоры")
QUESTIONS = (
    "клиент говорит, что у вас дорого, что ответить?",
    "какие сроки поставки?",
    "чем вы лучше конкурентов?",
    "есть ли гарантия?",
    "как работает доставка?",
)
NEXT_STEPS = ("позвонить завтра в 11", "встреча в пятницу в 15:00", "отправить договор завтра")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the bot's processes -----------------------------------------------------------------


@dataclass
class Worker:
    port: int
    data_dir: Path
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def bot_env(standin: BotApiStandin, data_dir: Path, database_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        **standin.bot_env(),
        "VORONKA_DATA_DIR": str(data_dir),
        "VORONKA_DATABASE_URL": database_url,
        "VORONKA_COMPANY_NAME": "Вектор Склад",
        "VORONKA_LOG_LEVEL": "INFO",
        "VORONKA_WEBHOOK_URL": f"https://bot.example.com{PATH}",
        "VORONKA_WEBHOOK_SECRET": SECRET,
        "VORONKA_HTTP_PORT": str(port),
        "VORONKA_TELEGRAM_RATE": RATE,
    }


async def wait_ready(client: httpx.AsyncClient, worker: Worker) -> None:
    deadline = time.monotonic() + 180
    while True:
        if worker.process.poll() is not None:
            raise RuntimeError(f"the bot exited: see {worker.data_dir / 'bot.log'}")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(f"{worker.url}/readyz")).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("the bot did not become ready")
        await asyncio.sleep(0.2)


async def wait_idle(worker: Worker) -> None:
    """Until the process uses under a tenth of a core (the hybrid index is built at start)."""
    pid = worker.process.pid
    for _ in range(600):
        before = cpu_seconds(pid)
        await asyncio.sleep(1.0)
        if cpu_seconds(pid) - before < 0.1:
            return


def stop(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


async def invites(database_url: str, data_dir: Path, count: int) -> list[str]:
    """One invite per person, made through the service (200 `voronka invite` runs would
    take minutes); ten teams of managers."""
    core = build_core(load_settings(database_url=database_url, data_dir=data_dir))
    try:
        await core.migrate()
        made = []
        for i in range(count):
            info = await core.people.create_invite(None, Role.MANAGER, team_name=f"Load {i % 10}")
            made.append(info.token)
        return made
    finally:
        await core.close()


# --- the people ----------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: int = 0

    def add(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)

    def all(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]


class Load:
    """The stand-in's side of the run: updates go to the workers, replies are timed."""

    def __init__(self, standin: BotApiStandin, workers: list[Worker], client: httpx.AsyncClient):
        self.standin = standin
        self.workers = workers
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.outbox: list[dict[str, Any]] = []
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.queries: dict[str, int] = {}
        self.posters: dict[int, Poster] = {}
        standin.webhook_sink = self.outbox.append  # called in this thread (send_message)
        standin.call_listener = self._heard

    def _heard(self, method: str, params: dict[str, Any]) -> None:
        now = time.perf_counter()
        chat = params.get("chat_id")
        if method == "answerCallbackQuery":
            chat = self.queries.get(str(params.get("callback_query_id")))
        if isinstance(chat, int):
            self.loop.call_soon_threadsafe(self._resolve, chat, now)

    def _resolve(self, chat: int, at: float) -> None:
        future = self.waiting.pop(chat, None)
        if future is not None and not future.done():
            future.set_result(at)

    async def deliver(self, chat: int) -> float:
        """Post the update just made for `chat`; seconds until the bot's first call for it.

        As Telegram does, a chat's next update is posted only once the bot has answered the
        post of the one before (the bot answers once it has handled it); the person reads
        the reply and types the next one meanwhile, so the pause is not held up by that.
        """
        (update,) = self.outbox
        self.outbox.clear()
        poster = self.posters.get(chat)
        if poster is None:
            poster = self.posters[chat] = Poster(self.workers[chat % len(self.workers)])
        await poster.answered()
        future = self.loop.create_future()
        self.waiting[chat] = future
        started = time.perf_counter()
        poster.post(json.dumps(update).encode())
        return await asyncio.wait_for(future, timeout=30) - started


class Poster:
    """One chat's webhook posts, on a kept-alive connection of its own.

    Plain HTTP/1.1 over asyncio streams: httpx's pool, with 200 posts held open while the bot
    handles them, took most of a core of the load generator and starved the bot of updates.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._last: asyncio.Task[None] | None = None

    def post(self, body: bytes) -> None:
        self._last = asyncio.create_task(self._post(body))

    async def answered(self) -> None:
        """Until the last post was answered; raises what went wrong with it."""
        if self._last is not None:
            last, self._last = self._last, None
            await last

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.answered()
        if self._streams is not None:
            self._streams[1].close()

    async def _post(self, body: bytes) -> None:
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{self.worker.port}\r\n"
            f"Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        for attempt in (1, 2):  # a kept-alive connection closed as it was reused: once more
            try:
                if self._streams is None:
                    self._streams = await asyncio.open_connection("127.0.0.1", self.worker.port)
                reader, writer = self._streams
                writer.write(head + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                status = int(status_line.split()[1])
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                self._streams = None
                if attempt == 2:
                    raise
                continue
            if status != 200:
                raise RuntimeError(f"webhook answered {status}")
            return


class Person:
    def __init__(self, load: Load, index: int, token: str, seed: int) -> None:
        self.load = load
        self.user = FIRST_USER + index
        self.token = token
        self.deals = [f"Клиент-{index}-{k}" for k in range(1, 4)]
        self.random = random.Random(seed + index)
        self.stage = itertools.cycle(STAGES)

    async def say(self, text: str) -> float:
        self.load.standin.send_message(self.user, text, first_name=f"P{self.user}")
        return await self.load.deliver(self.user)

    async def press_a_deal(self) -> float:
        standin = self.load.standin
        rows = standin.buttons(self.user)
        labels = [label for row in rows for label in row if "Клиент" in label]
        query = standin.click_button(self.user, self.random.choice(labels or rows[0]))
        self.load.queries[query] = self.user
        return await self.load.deliver(self.user)

    async def register(self) -> None:
        """Not timed: the person's /start and three deals, each with its next step."""
        await asyncio.sleep(self.random.uniform(0, 2))
        steps = [f"/start {self.token}"]
        for deal in self.deals:
            steps += [f"/new {deal}, {self.random.randint(1, 90) * 10_000}"]
            steps += [self.random.choice(NEXT_STEPS)]
        for text in steps:
            try:
                await self.say(text)
            except (RuntimeError, TimeoutError, OSError, EOFError) as error:
                print(f"warm-up: {self.user} {text!r}: {error!r}", file=sys.stderr, flush=True)
            await asyncio.sleep(self.random.uniform(1, 3))  # about 70 updates/s in all

    async def session(self, results: Results, until: float, pause: float) -> None:
        steps = [
            ("/deals", lambda: self.say("/deals")),
            ("card button", self.press_a_deal),
            ("text move", lambda: self.say(f"{self.random.choice(self.deals)} {next(self.stage)}")),
            ("next step", lambda: self.say(self.random.choice(NEXT_STEPS))),
            ("question", lambda: self.say(self.random.choice(QUESTIONS))),
        ]
        await asyncio.sleep(self.random.uniform(0, 2 * pause))
        for kind, step in itertools.cycle(steps):
            if time.perf_counter() >= until:
                return
            try:
                results.add(kind, await step())
            except (RuntimeError, TimeoutError, LookupError, OSError, EOFError):
                results.failures += 1
            await asyncio.sleep(self.random.uniform(0, 2 * pause))


# --- one configuration -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    name: str
    throughput: float
    p50_ms: float
    p99_ms: float
    steps: int
    failures: int
    cpu_per_update_ms: float
    by_kind: dict[str, tuple[float, float]]
    calls: dict[str, int]
    inside: dict[str, float]


async def run_configuration(
    name: str, database_urls: list[str], args: argparse.Namespace, root: Path
) -> Outcome:
    with running_standin(TOKEN) as standin:
        data_dirs = [root / f"{name}-{i}" for i in range(len(database_urls))]
        tokens = await invites(database_urls[0], data_dirs[0], args.people)
        workers = []
        for data_dir, url in zip(data_dirs, database_urls, strict=True):
            data_dir.mkdir(parents=True, exist_ok=True)
            port = free_port()
            log = (data_dir / "bot.log").open("w")
            command = [voronka_executable(), "run"]
            if args.profile:  # the event loop's thread, written when the process stops
                profile = ["-m", "cProfile", "-o", str(data_dir / "bot.prof")]
                command = [sys.executable, *profile, "-m", "bot", "run"]
            process = subprocess.Popen(  # noqa: ASYNC220 - started once, before the clock
                command,
                env=bot_env(standin, data_dir, url, port),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
            workers.append(Worker(port, data_dir, process))
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            try:
                for worker in workers:
                    await wait_ready(client, worker)
                load = Load(standin, workers, client)
                people = [Person(load, i, token, args.seed) for i, token in enumerate(tokens)]
                await asyncio.gather(*(p.register() for p in people))
                for worker in workers:
                    await wait_idle(worker)
                results = Results()
                pids = " ".join(str(w.process.pid) for w in workers)
                print(f"measuring {name} for {args.seconds:.0f} s (bot pids {pids})", flush=True)
                cpu_before = sum(cpu_seconds(w.process.pid) for w in workers)
                calls_before = len(standin.calls)
                scraped_before = [await scrape(client, w) for w in workers]
                started = time.perf_counter()
                until = started + args.seconds
                pause = args.people / args.rate
                await asyncio.gather(*(p.session(results, until, pause) for p in people))
                elapsed = time.perf_counter() - started
                await asyncio.gather(*(poster.close() for poster in load.posters.values()))
                scraped_after = [await scrape(client, w) for w in workers]
                cpu = sum(cpu_seconds(w.process.pid) for w in workers) - cpu_before
                calls = collections.Counter(method for method, _ in standin.calls[calls_before:])
            finally:
                for worker in workers:
                    stop(worker)
    if args.profile:
        import pstats

        for worker in workers:
            stats = pstats.Stats(str(worker.data_dir / "bot.prof"))
            stats.sort_stats("tottime").print_stats(25)
    latencies = sorted(results.all())
    return Outcome(
        name=name,
        throughput=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        steps=len(latencies),
        failures=results.failures,
        cpu_per_update_ms=cpu / max(len(latencies), 1) * 1000,
        calls=dict(calls.most_common()),
        inside=inside_the_bot(scraped_before, scraped_after, len(latencies)),
        by_kind={
            kind: (percentile(sorted(v), 50) * 1000, percentile(sorted(v), 99) * 1000)
            for kind, v in results.latencies.items()
        },
    )


async def scrape(client: httpx.AsyncClient, worker: Worker) -> dict[str, float]:
    """The worker's `/metrics`: each sample's value, by name (labels summed)."""
    from prometheus_client.parser import text_string_to_metric_families

    body = (await client.get(f"{worker.url}/metrics")).text
    values: dict[str, float] = collections.defaultdict(float)
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            values[sample.name] += sample.value
    return values


def inside_the_bot(
    before: list[dict[str, float]], after: list[dict[str, float]], updates: int
) -> dict[str, float]:
    """Where an update's time went, from the workers' own metrics over the window."""

    def change(name: str) -> float:
        return sum(a.get(name, 0.0) - b.get(name, 0.0) for b, a in zip(before, after, strict=True))

    def mean_ms(histogram: str) -> float:
        count = change(f"{histogram}_count")
        return change(f"{histogram}_sum") / count * 1000 if count else float("nan")

    return {
        "handling ms": mean_ms("voronka_update_handling_seconds"),
        "Bot API call ms": mean_ms("voronka_bot_api_seconds"),
        "connection held ms": mean_ms("voronka_db_transaction_seconds"),
        "connections per update": change("voronka_db_transaction_seconds_count") / max(updates, 1),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


# --- the stand-in's ceiling --------------------------------------------------------------


async def standin_ceiling(seconds: float, concurrency: int) -> float:
    """sendMessage calls per second the stand-in answers, from this process, no bot, with
    `concurrency` calls in flight (the bot has up to MAX_CONCURRENT updates in progress)."""
    with running_standin(TOKEN, strict_chats=False) as standin:
        url = f"{standin.api_base_url}{TOKEN}/sendMessage"
        count = 0
        until = time.perf_counter() + seconds

        async def caller(client: httpx.AsyncClient, chat: int) -> None:
            nonlocal count
            while time.perf_counter() < until:
                try:
                    answer = await client.post(url, data={"chat_id": str(chat), "text": "x"})
                except httpx.TransportError:  # a connection dropped under load: not counted
                    continue
                count += answer.status_code == 200

        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            started = time.perf_counter()
            await asyncio.gather(*(caller(client, 9000 + i) for i in range(concurrency)))
            return count / (time.perf_counter() - started)


# --- the run ---------------------------------------------------------------------------------


@contextlib.contextmanager
def databases(admin_url: str | None, count: int) -> Iterator[list[str]]:
    """`count` fresh PostgreSQL databases on the server of `admin_url` (dropped after)."""
    if admin_url is None:
        yield []
        return
    import asyncpg

    plain = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    names = [f"voronka_load_{os.getpid()}_{i}" for i in range(count)]

    async def run(statements: list[str]) -> None:
        connection = await asyncpg.connect(plain)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run([f"DROP DATABASE IF EXISTS {n}" for n in names]))
    asyncio.run(run([f"CREATE DATABASE {n}" for n in names]))
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield [f"{base}/{n}" for n in names]
    finally:
        asyncio.run(run([f"DROP DATABASE IF EXISTS {n} WITH (FORCE)" for n in names]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0, help="updates per second offered")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--postgres", default=os.environ.get("VORONKA_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql", "two"], action="append")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--profile", action="store_true", help="cProfile the bot, print the top")
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs")
    args = parser.parse_args()
    wanted = set(args.only or ["sqlite", "postgresql", "two"])

    ceilings = {n: asyncio.run(standin_ceiling(4.0, n)) for n in (8, MAX_CONCURRENT)}
    for n, ceiling in ceilings.items():
        print(f"stand-in ceiling: {ceiling:.0f} sendMessage calls/s, {n} at once", flush=True)
    outcomes = []
    with (
        tempfile.TemporaryDirectory(prefix="voronka-load-") as folder,
        databases(args.postgres, 2) as pg,
    ):
        root = Path(tempfile.mkdtemp(prefix="voronka-load-") if args.keep else folder)
        if args.keep:
            print(f"data folders and logs kept in {root}", flush=True)
        plans: list[tuple[str, list[str]]] = []
        if "sqlite" in wanted:
            plans.append(("1 process, SQLite", [f"sqlite+aiosqlite:///{root / 'load.db'}"]))
        if pg and "postgresql" in wanted:
            plans.append(("1 process, PostgreSQL", [pg[0]]))
        if pg and "two" in wanted:
            plans.append(("2 workers, PostgreSQL", [pg[1], pg[1]]))
        for name, urls in plans:
            outcome = asyncio.run(run_configuration(name, urls, args, root))
            outcomes.append(outcome)
            print(
                f"{name}: {outcome.throughput:.0f} updates/s, p50 {outcome.p50_ms:.0f} ms, "
                f"p99 {outcome.p99_ms:.0f} ms, {outcome.steps} updates, "
                f"{outcome.failures} failed, {outcome.cpu_per_update_ms:.1f} ms CPU per update",
                flush=True,
            )
            per_update = {m: round(n / max(outcome.steps, 1), 2) for m, n in outcome.calls.items()}
            print(f"    Bot API calls per update: {per_update}", flush=True)
            inside = ", ".join(f"{k} {v:.2f}" for k, v in outcome.inside.items())
            print(f"    inside the bot (means): {inside}", flush=True)
            for kind, (p50, p99) in outcome.by_kind.items():
                print(f"    {kind:12} p50 {p50:6.0f} ms  p99 {p99:6.0f} ms", flush=True)
    print()
    print(f"| configuration ({args.people} people, {args.rate:.0f}/s offered) "
          "| updates/s | p50 | p99 | bot CPU per update |")  # fmt: skip
    print("|---|---|---|---|---|")
    for o in outcomes:
        print(
            f"| {o.name} | {o.throughput:.0f} | {o.p50_ms:.0f} ms | {o.p99_ms:.0f} ms "
            f"| {o.cpu_per_update_ms:.1f} ms |"
        )
    for n, ceiling in ceilings.items():
        print(f"| Bot API stand-in alone (sendMessage, {n} at once) | {ceiling:.0f} | | | |")


if __name__ == "__main__":
    main()
