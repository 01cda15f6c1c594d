"""Benchmark the knowledge-base search on synthetic bases against a plain rapidfuzz scan.

    python benchmarks/search.py [--sizes 1000,10000,100000] [--queries 500]

For each size: index build time (best of a few builds), memory (tracemalloc: peak during
build and what the index keeps), p50/p99 per query over a mix of matching and random
queries (each query's best of 3 runs; and p99 of the first run, when typo lookups are not
cached yet), and the same queries through `rapidfuzz.process.extract(query, texts,
scorer=fuzz.token_set_ratio, limit=3)` on the same texts (as many as fit in
`--scan-budget` seconds). Bases up to `--files-up-to` entries are also written as .md files
and timed through `load_content`. Prints a Markdown table.

With `--hybrid-sizes`, the hybrid index (bundled multilingual-e5-small) on the same bases, on
one core: the model's passage throughput (`--embed-sample` passages embedded afresh), the
first build (every passage embedded, unless `--cache-dir` already holds them: then it is
estimated from the CPU throughput), a restart with unchanged content (vectors read from disk),
a rebuild after one entry changed, p50/p99 per query including the query's embedding (wall
and CPU time: on a busy machine the CPU time is what one free core would take), and
the RSS of a fresh process holding the base and its hybrid index. Keep `--cache-dir` between
runs: a fresh 10,000-entry build takes minutes.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rapidfuzz import fuzz, process

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.knowledge.content import KINDS, Entry, load_content
from bot.knowledge.search import SearchIndex, embedded_texts
from bot.knowledge.semantic import BundledEmbedder, Semantic, VectorCache, Vectors


def words(text: str) -> list[str]:
    return text.split()


SALES_WORDS = words(
    """
клиент клиента клиенту клиенты клиентов заказчик заказчика покупатель менеджер менеджера
продажа продажи продаж сделка сделку сделки сделок договор договора договоров контракт
предложение предложения коммерческое коммерческого цена цены цену ценой стоимость
стоимости дорого дорогой дороже дешевле скидка скидку скидки скидок бюджет бюджета
бюджете оплата оплату оплаты предоплата предоплату отсрочка отсрочку рассрочка платеж
платежа счет счета счёт закрывающие документы акт акты накладная поставка поставки
поставку поставщик поставщика поставщиков конкурент конкурента конкуренты конкурентов
склад склада складе складской складские стеллаж стеллажи стеллажей стеллажах паллета
паллеты паллет паллетоместо паллетомест ярус яруса нагрузка нагрузку нагрузки монтаж
монтажа монтажу инспекция инспекцию инспекции проект проекта проектирование замер
замера выезд выезда инженер инженера гарантия гарантию гарантии срок сроки сроков
качество качества металл металла толщина сертификат сертификаты паспорт расчет
расчёт логистика логистики руководитель руководителя директор директора собственник
решение решения согласование согласовать утвердить утверждает закупка закупки
закупок тендер тендера тендере снабжение снабженец звонок звонка звонки звонить
перезвонить перезвоню встреча встречу встречи презентация презентацию демонстрация
письмо письма почта почту рассылка каталог каталога прайс отказ отказа отказался
возражение возражения потребность потребности задача задачи проблема проблемы боль
ценность выгода выгоды экономия экономию окупаемость рентабельность прибыль выручка
объем объём объема заказ заказа заказы партия партию отгрузка отгрузку доставка
доставку транспорт регион регионы екатеринбург москва новосибирск самара челябинск
тюмень производство производства завод завода цех оборудование техника погрузчик
погрузчика штабелер тележка тележки wms система системы учет учёт интеграция 1с
внедрение обучение поддержка сервис сервиса ремонт запчасти лизинг кредит аренда
площадь площади высота высоты ширина проход проходы мезонин мезонина полочные
фронтальные глубинные набивные гравитационные консольные мобильные
"""
)
FILLER = words("и в на с по для что как это не у нас вас мы вы уже очень только")
TAGS = words("цена деньги сроки склад стеллажи отказ тендер логистика сервис гарантия")


@dataclass(frozen=True, slots=True)
class Row:
    size: int
    build_s: float
    peak_mb: float
    kept_mb: float
    load_s: float | None
    p50_ms: float
    p99_ms: float
    cold_p99_ms: float
    scan_p50_ms: float
    scan_p99_ms: float
    scan_queries: int


def zipf_weights(count: int) -> list[float]:
    return [1.0 / (rank + 1) ** 0.9 for rank in range(count)]


def phrase(rng: random.Random, weights: Sequence[float], low: int, high: int) -> str:
    words = rng.choices(SALES_WORDS, weights=weights, k=rng.randint(low, high))
    return " ".join(words)


def body(rng: random.Random, weights: Sequence[float]) -> str:
    sentences = []
    for _ in range(rng.randint(4, 12)):
        words = rng.choices(SALES_WORDS, weights=weights, k=rng.randint(5, 12))
        for _ in range(rng.randint(1, 4)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(FILLER))
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def make_entries(size: int, seed: int = 7) -> list[Entry]:
    rng = random.Random(seed)
    shuffled = SALES_WORDS[:]
    weights = zipf_weights(len(shuffled))
    kinds = sorted(KINDS)
    entries = []
    for number in range(size):
        rng.shuffle(weights)  # each entry has its own favourite words
        entries.append(
            Entry(
                id=f"e{number}",
                kind=kinds[number % len(kinds)],
                title=phrase(rng, weights, 2, 5).capitalize(),
                aliases=tuple(phrase(rng, weights, 2, 5) for _ in range(rng.randint(2, 7))),
                tags=tuple(rng.sample(TAGS, rng.randint(1, 3))),
                files=(),
                body=body(rng, weights),
                source=Path(f"e{number}.md"),
            )
        )
    return entries


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    position = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:position] + word[position + 1 :]
    return word[:position] + word[position + 1] + word[position] + word[position + 2 :]


def make_queries(entries: Sequence[Entry], count: int, seed: int = 11) -> list[str]:
    """Half ask for an entry in its words (sometimes with a typo), half are random."""
    rng = random.Random(seed)
    queries = []
    for number in range(count):
        if number % 2 == 0:
            entry = rng.choice(entries)
            source = rng.choice((entry.title, *entry.aliases)).lower().split()
            words = rng.sample(source, min(len(source), rng.randint(2, 4)))
            if rng.random() < 0.3:
                words[0] = typo(rng, words[0])
            prefix = rng.choice(("", "клиент говорит ", "что ответить если ", "подскажите "))
            queries.append(prefix + " ".join(words))
        else:
            words = rng.sample(SALES_WORDS, rng.randint(1, 6))
            if rng.random() < 0.3:
                words.append(rng.choice(("отпуск", "погода", "борщ", "футбол", "кино")))
            queries.append(" ".join(words))
    return queries


def timings(
    run: Callable[[str], object],
    queries: Sequence[str],
    repeats: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float]:
    """p50 and p99 in ms; with repeats, each query's best time (caches warm, no hiccups).
    With `clock=time.thread_time`, CPU time: what a query costs on a core of its own,
    whatever else the machine runs."""
    spent = []
    for query in queries:
        best = math.inf
        for _ in range(repeats):
            started = clock()
            run(query)
            best = min(best, (clock() - started) * 1000.0)
        spent.append(best)
    spent.sort()
    p99 = spent[min(len(spent) - 1, round(0.99 * (len(spent) - 1)))]
    return statistics.median(spent), p99


def best_build(entries: Sequence[Entry], runs: int) -> float:
    """Fastest of a few builds, in seconds: the build is deterministic, the machine is not."""
    best = math.inf
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        SearchIndex.build(entries)
        best = min(best, time.perf_counter() - started)
    return best


def write_files(entries: Sequence[Entry], root: Path) -> None:
    for entry in entries:
        aliases = "".join(f"\n  - {alias}" for alias in entry.aliases)
        text = (
            f"---\nid: {entry.id}\nkind: {entry.kind}\ntitle: {entry.title}\n"
            f"aliases:{aliases}\ntags: [{', '.join(entry.tags)}]\n---\n{entry.body}\n"
        )
        (root / f"{entry.id}.md").write_text(text, encoding="utf-8")


def measure(size: int, query_count: int, files_up_to: int, scan_budget_s: float) -> Row:
    entries = make_entries(size)
    load_s = None
    if size <= files_up_to:
        with tempfile.TemporaryDirectory() as folder:
            write_files(entries, Path(folder))
            started = time.perf_counter()
            loaded = load_content([Path(folder)])
            load_s = time.perf_counter() - started
            assert len(loaded.entries) == size, loaded.problems[:3]
    build_s = best_build(entries, 3 if size <= 10_000 else 2)
    gc.collect()
    tracemalloc.start()
    index = SearchIndex.build(entries)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    queries = make_queries(entries, query_count)
    index.search(queries[0])
    _, cold_p99 = timings(index.search, queries)  # every query seen for the first time
    p50, p99 = timings(index.search, queries, repeats=3)
    texts = [" ".join((entry.title, *entry.aliases, entry.body)) for entry in entries]
    started = time.perf_counter()
    process.extract(queries[0], texts, scorer=fuzz.token_set_ratio, limit=3)
    one = time.perf_counter() - started
    scan_count = max(20, min(len(queries), int(scan_budget_s / max(one, 1e-6))))
    scan_queries = queries[:scan_count]
    scan_p50, scan_p99 = timings(
        lambda q: process.extract(q, texts, scorer=fuzz.token_set_ratio, limit=3), scan_queries
    )
    return Row(
        size,
        build_s,
        peak / 2**20,
        kept / 2**20,
        load_s,
        p50,
        p99,
        cold_p99,
        scan_p50,
        scan_p99,
        scan_count,
    )


def table(rows: Sequence[Row], query_count: int) -> str:
    lines = [
        "| entries | build, s | build peak, MiB | index kept, MiB | load_content, s "
        f"| search p50, ms | search p99, ms | p99 first sight, ms ({query_count} q) "
        "| rapidfuzz scan p50, ms | scan p99, ms | scan queries |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        load = "—" if row.load_s is None else f"{row.load_s:.2f}"
        lines.append(
            f"| {row.size:,} | {row.build_s:.2f} | {row.peak_mb:.1f} | {row.kept_mb:.1f} | {load} "
            f"| {row.p50_ms:.2f} | {row.p99_ms:.2f} | {row.cold_p99_ms:.2f} "
            f"| {row.scan_p50_ms:.1f} "
            f"| {row.scan_p99_ms:.1f} | {row.scan_queries} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class HybridRow:
    size: int
    passages: int
    per_s: float
    first_build_s: float
    first_measured: bool
    restart_s: float
    vectors_load_s: float
    changed_s: float
    changed_embedded: int
    p50_ms: float
    p99_ms: float
    cpu_p50_ms: float
    cpu_p99_ms: float
    kinds_p99_ms: float
    rss_mb: float
    hwm_mb: float


class Counting:
    """The bundled model, counting the passages it embeds."""

    def __init__(self) -> None:
        self.model = BundledEmbedder()
        self.embedded = 0

    @property
    def name(self) -> str:
        return self.model.name

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self.model.queries(texts)

    def passages(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        return self.model.passages(texts)

    def documents(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        return self.model.documents(texts)


def passage_texts(entries: Sequence[Entry]) -> list[str]:
    """The texts the hybrid index embeds: passages of titles and aliases, body documents."""
    heads, bodies = embedded_texts(entries)
    return [*heads.texts, *bodies.texts]


def hybrid_build(entries: Sequence[Entry], folder: Path) -> tuple[SearchIndex, float, int]:
    counting = Counting()
    gc.collect()
    started = time.perf_counter()
    index = SearchIndex.build(entries, semantic=Semantic(counting, VectorCache(folder)))
    return index, time.perf_counter() - started, counting.embedded


def measure_hybrid(size: int, query_count: int, folder: Path, sample: int) -> HybridRow:
    entries = make_entries(size)
    texts = passage_texts(entries)
    model = BundledEmbedder()
    model.passages(["разогрев"])
    probe = [f"{text} ({size})" for text in texts[:sample]]  # never cached
    started = time.thread_time()  # CPU: the engine runs on this thread (one OpenMP thread)
    model.passages(probe)
    per_s = len(probe) / (time.thread_time() - started)
    lexical_s = best_build(entries, 1)
    VectorCache.forget()
    index, first_s, embedded = hybrid_build(entries, folder)
    first_measured = embedded == len(set(texts))
    if not first_measured:  # the vectors were on disk already: estimate from the throughput
        first_s = lexical_s + len(set(texts)) / per_s
    VectorCache.forget()
    index, restart_s, embedded = hybrid_build(entries, folder)
    assert embedded == 0, embedded
    VectorCache.forget()

    def refuse(batch: Sequence[str]) -> Vectors:
        raise AssertionError(f"{len(batch)} passages embedded on a restart")

    heads, bodies = embedded_texts(entries)
    started = time.perf_counter()
    VectorCache(folder).passages(model.name, heads.texts, refuse)
    VectorCache(folder).passages(f"{model.name}#documents", bodies.texts, refuse)
    vectors_load_s = time.perf_counter() - started
    edit = f"{entries[0].title} изменено {time.time_ns()}"  # new on every run of the benchmark
    changed = [replace(entries[0], title=edit), *entries[1:]]
    _, changed_s, changed_embedded = hybrid_build(changed, folder)
    queries = make_queries(entries, query_count)
    index.search(queries[0])
    p50, p99 = timings(index.search, queries)
    cpu_p50, cpu_p99 = timings(index.search, queries, clock=time.thread_time)
    _, kinds_p99 = timings(
        lambda q: index.search(q, kinds=("objection",)), queries, clock=time.thread_time
    )
    rss, hwm = probe_rss(size, folder)
    return HybridRow(
        size, len(texts), per_s, first_s, first_measured, restart_s, vectors_load_s,
        changed_s, changed_embedded, p50, p99, cpu_p50, cpu_p99, kinds_p99, rss, hwm,
    )  # fmt: skip


def probe_rss(size: int, folder: Path) -> tuple[float, float]:
    """RSS and peak RSS (MiB) of a fresh process that builds the base's hybrid index from
    the vectors on disk and answers a few questions, as a restarted bot would."""
    out = subprocess.run(
        [sys.executable, __file__, "--probe-rss", str(size), "--cache-dir", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def report_rss(size: int, folder: Path) -> int:
    entries = make_entries(size)
    index = SearchIndex.build(entries, semantic=Semantic(None, VectorCache(folder)))
    for query in make_queries(entries, 20):
        index.search(query)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    rss, hwm = (int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))
    print(f"{rss:.0f} {hwm:.0f}")
    return 0


def hybrid_table(rows: Sequence[HybridRow], query_count: int) -> str:
    lines = [
        "| entries | passages | embedded per CPU s | first build, s | restart build, s "
        "| of it vectors read, s | one entry changed, s (embedded) "
        f"| p50, ms | p99, ms ({query_count} q) | CPU p50, ms | CPU p99, ms "
        "| CPU p99 with a kind, ms | RSS, MiB (peak) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        first = f"{row.first_build_s:.0f}" + ("" if row.first_measured else " (estimated)")
        lines.append(
            f"| {row.size:,} | {row.passages:,} | {row.per_s:.1f} | {first} "
            f"| {row.restart_s:.2f} | {row.vectors_load_s:.2f} "
            f"| {row.changed_s:.2f} ({row.changed_embedded}) | {row.p50_ms:.1f} "
            f"| {row.p99_ms:.1f} | {row.cpu_p50_ms:.1f} | {row.cpu_p99_ms:.1f} "
            f"| {row.kinds_p99_ms:.1f} | {row.rss_mb:.0f} ({row.hwm_mb:.0f}) |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--files-up-to", type=int, default=10_000)
    parser.add_argument(
        "--scan-budget", type=float, default=60.0, help="seconds for the rapidfuzz scan per size"
    )
    parser.add_argument("--hybrid-sizes", default="", help="e.g. 1000,10000; empty: none")
    parser.add_argument("--cache-dir", type=Path, help="vectors kept here between runs")
    parser.add_argument("--embed-sample", type=int, default=200)
    parser.add_argument(
        "--one-core", action="store_true", help="pin to the first allowed CPU (Linux)"
    )
    parser.add_argument("--probe-rss", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_core or args.probe_rss:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.probe_rss:
        return report_rss(args.probe_rss, args.cache_dir)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    rows = []
    for size in sizes:
        rows.append(measure(size, args.queries, args.files_up_to, args.scan_budget))
        print(f"measured {size:,} entries", file=sys.stderr, flush=True)
    if rows:
        print(table(rows, args.queries))
    hybrid = [int(size) for size in args.hybrid_sizes.split(",") if size.strip()]
    hybrid_rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in hybrid:
            folder = (args.cache_dir or Path(scratch)) / f"bench-{size}"
            hybrid_rows.append(measure_hybrid(size, args.queries, folder, args.embed_sample))
            print(f"measured hybrid {size:,} entries", file=sys.stderr, flush=True)
    if hybrid_rows:
        print(hybrid_table(hybrid_rows, args.queries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
