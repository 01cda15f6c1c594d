"""Meaning in the search: the bundled model, a company's embeddings server, the vector cache."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from bot.knowledge.content import Entry, load_content
from bot.knowledge.search import SearchIndex
from bot.knowledge.semantic import BundledEmbedder, Semantic, VectorCache, Vectors, semantic_from


def _entry(entry_id: str, title: str, *aliases: str) -> Entry:
    return Entry(
        id=entry_id, kind="objection", title=title, aliases=aliases, tags=(), files=(),
        body="", source=Path(f"{entry_id}.md"),
    )  # fmt: skip


ENTRIES = [
    _entry("price", "Дорого", "у вас дорого", "высокая цена"),
    _entry("budget", "Нет бюджета", "нет денег"),
    _entry("boss", "Надо посоветоваться с руководством", "решает директор"),
    _entry("think", "Я подумаю", "мы подумаем"),
    _entry("supplier", "У нас уже есть поставщик", "работаем с другими"),
    _entry("silent", "Клиент пропал после КП", "не отвечает"),
    _entry("warranty", "Какие гарантии?", "а если сломается"),
    _entry("later", "Перезвоните позже", "наберите через месяц"),
    _entry("tender", "У нас тендер", "только через закупки"),
]


class StandIn:
    """An OpenAI-compatible /v1/embeddings server on 127.0.0.1 that embeds with the bundled
    model (so its vectors mean something) and counts what it was asked."""

    def __init__(self) -> None:
        self.inputs: list[str] = []
        self.broken = False
        model = BundledEmbedder()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if stand_in.broken or self.path != "/v1/embeddings":
                    self.send_response(503)
                    self.end_headers()
                    return
                stand_in.inputs.extend(body["input"])
                vectors = model.passages(body["input"]) * 3.0  # not normalised, on purpose
                data = [
                    {"object": "embedding", "index": i, "embedding": v.tolist()}
                    for i, v in enumerate(vectors)
                ]
                out = json.dumps({"object": "list", "data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.server.shutdown()
    server.server.server_close()


ROOT = Path(__file__).resolve().parents[1]


def test_english_and_paraphrased_questions_find_russian_entries() -> None:
    shipped = load_content([ROOT / "knowledge_base", ROOT / "scripts_library"]).entries
    index = SearchIndex.build(shipped, semantic=Semantic())
    assert index.hybrid
    for query, expected in [
        ("the client says it's too expensive, what do I answer?", "price-too-high"),
        ("cold call script", "cold-call"),
        ("говорят в этом году на такое никто денег не закладывал, что делать", "no-budget"),
    ]:
        hits = index.search(query, limit=3)
        assert hits and hits[0].entry_id == expected, (query, hits)


def test_the_company_server_is_used_when_set(stand_in: StandIn, tmp_path: Path) -> None:
    semantic = semantic_from(stand_in.url, "e5-large", tmp_path)
    index = SearchIndex.build(ENTRIES, semantic=semantic)
    assert "Дорого. у вас дорого. высокая цена" in stand_in.inputs
    hits = index.search("клиент говорит, что у вас дорого", limit=1)
    assert [hit.entry_id for hit in hits] == ["price"]
    assert stand_in.inputs[-1] == "клиент говорит, что у вас дорого"


def test_a_failing_server_falls_back_to_the_bundled_model_with_a_log_line(
    stand_in: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = SearchIndex.build(ENTRIES, semantic=semantic_from(stand_in.url, "", tmp_path))
    stand_in.broken = True
    with caplog.at_level(logging.WARNING):
        hits = index.search("клиент говорит, что у вас дорого", limit=1)
    assert [hit.entry_id for hit in hits] == ["price"]
    assert "embeddings server failed, using the bundled model" in caplog.text


def test_an_unreachable_server_at_build_still_gives_a_hybrid_index(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        index = SearchIndex.build(
            ENTRIES, semantic=semantic_from("http://127.0.0.1:9", "", tmp_path)
        )
        hits = index.search("у них всё решает директор", limit=1)
    assert [hit.entry_id for hit in hits] == ["boss"]
    assert "embeddings server failed" in caplog.text


class Counting:
    """The bundled model, counting the passages it embeds."""

    def __init__(self) -> None:
        self.embedded = 0
        self._model = BundledEmbedder()

    @property
    def name(self) -> str:
        return "counting"

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self._model.queries(texts)

    def passages(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        return self._model.passages(texts)

    def documents(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        return self._model.documents(texts)


def test_unchanged_content_is_not_embedded_again_after_a_restart(tmp_path: Path) -> None:
    first = Counting()
    SearchIndex.build(ENTRIES, semantic=Semantic(first, VectorCache(tmp_path)))
    assert first.embedded == len(ENTRIES)
    VectorCache.forget()  # a restart: the process remembers nothing
    again = Counting()
    index = SearchIndex.build(ENTRIES, semantic=Semantic(again, VectorCache(tmp_path)))
    assert again.embedded == 0
    assert index.search("дорого", limit=1)[0].entry_id == "price"
    changed = [*ENTRIES, _entry("terms", "Условия договора", "юристы")]
    SearchIndex.build(changed, semantic=Semantic(again, VectorCache(tmp_path)))
    assert again.embedded == 1  # only the new entry: vectors are kept per text


def test_an_entry_is_found_by_what_its_body_says(tmp_path: Path) -> None:
    """The body is embedded too (its start, as documents): a question its title and aliases
    do not cover, but its text answers, finds it; a restart embeds none of it again."""
    body = (
        "Гарантия производителя на все металлоконструкции — 10 лет, на покраску — 5 лет.\n\n"
        "Если стойка погнулась не от удара погрузчика, меняем её за свой счёт."
    )
    entries = [*ENTRIES, replace(_entry("terms", "Условия поставки", "договор"), body=body)]
    VectorCache.forget()  # nothing remembered from the tests before
    counting = Counting()
    index = SearchIndex.build(entries, semantic=Semantic(counting, VectorCache(tmp_path)))
    assert counting.embedded == len(entries) + 1  # one passage each, one document
    hits = index.search("сколько лет держится краска на стеллажах", limit=3, min_score=0.0)
    assert hits[0].entry_id == "terms"
    VectorCache.forget()
    again = Counting()
    SearchIndex.build(entries, semantic=Semantic(again, VectorCache(tmp_path)))
    assert again.embedded == 0


def test_a_broken_cache_file_is_embedded_anew(tmp_path: Path) -> None:
    counting = Counting()
    SearchIndex.build(ENTRIES, semantic=Semantic(counting, VectorCache(tmp_path)))
    for path in tmp_path.glob("*.npz"):
        path.write_bytes(b"not numpy")
    VectorCache.forget()
    again = Counting()
    SearchIndex.build(ENTRIES, semantic=Semantic(again, VectorCache(tmp_path)))
    assert again.embedded == len(ENTRIES)
    with np.load(next(tmp_path.glob("*.npz"))) as data:
        assert data["vectors"].shape[0] == len(ENTRIES)


def test_a_question_typed_in_caps_lock_gets_the_same_answer() -> None:
    shipped = load_content([ROOT / "knowledge_base", ROOT / "scripts_library"]).entries
    index = SearchIndex.build(shipped, semantic=Semantic())
    questions = [
        "нам это сейчас не нужно, у нас всё и так работает",
        "говорят денег на это не закладывали",
    ]
    for query in questions:
        plain = index.search(query, limit=1)
        shouted = index.search(query.upper() + "!", limit=1)
        assert plain and [hit.entry_id for hit in shouted] == [plain[0].entry_id], query


def test_a_sales_question_the_base_lacks_is_no_answer_but_may_offer_candidates() -> None:
    shipped = load_content([ROOT / "knowledge_base", ROOT / "scripts_library"]).entries
    index = SearchIndex.build(shipped, semantic=Semantic())
    near_miss = "как передать клиента другому менеджеру в отпуске"
    assert index.search(near_miss, limit=3) == []
    weak = index.search(near_miss, limit=3, min_score=index.maybe_threshold)
    assert weak and all(hit.score < index.threshold for hit in weak)
    assert [hit.score for hit in weak] == sorted((hit.score for hit in weak), reverse=True)


def test_a_held_key_or_pasted_junk_finds_nothing() -> None:
    shipped = load_content([ROOT / "knowledge_base", ROOT / "scripts_library"]).entries
    index = SearchIndex.build(shipped, semantic=Semantic())
    for junk in ["x" * 4096, "x" * 100, "ж" * 300 + " " + "q" * 64]:
        assert index.search(junk, limit=3, min_score=index.maybe_threshold) == [], junk[:10]
