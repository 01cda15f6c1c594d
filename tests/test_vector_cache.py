"""The search's vector cache: kept per text, so a rebuild embeds only what changed, and
a restart with unchanged content embeds nothing; on disk it is bounded, written whole or
not at all, and a broken file only costs embedding again."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.common.clock import FrozenClock
from bot.container import Core
from bot.knowledge.content import Entry
from bot.knowledge.search import SearchIndex
from bot.knowledge.semantic import Semantic, VectorCache, Vectors
from bot.knowledge.service import KnowledgeService, Status
from bot.people.service import Role

ROOT = Path(__file__).resolve().parents[1]
DIMS = 32


class Fake:
    """A stand-in embedder: a unit vector per text from its hash; counts what it embeds."""

    def __init__(self, name: str = "fake") -> None:
        self._name = name
        self.embedded: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    @staticmethod
    def _vectors(texts: Sequence[str]) -> Vectors:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows, np.float32).reshape(len(texts), DIMS)

    def queries(self, texts: Sequence[str]) -> Vectors:
        return self._vectors(texts)

    def passages(self, texts: Sequence[str]) -> Vectors:
        self.embedded.extend(texts)
        return self._vectors(texts)

    def documents(self, texts: Sequence[str]) -> Vectors:
        self.embedded.extend(texts)
        return self._vectors(texts)


def _entry(entry_id: str, title: str, *aliases: str) -> Entry:
    return Entry(
        id=entry_id, kind="objection", title=title, aliases=aliases, tags=(), files=(),
        body="", source=Path(f"{entry_id}.md"),
    )  # fmt: skip


BASE = [
    _entry("price", "Дорого", "у вас дорого", "высокая цена"),
    _entry("budget", "Нет бюджета", "нет денег"),
    _entry("boss", "Надо посоветоваться с руководством", "решает директор"),
    _entry("think", "Я подумаю", "мы подумаем"),
]


@pytest.fixture(autouse=True)
def fresh_process() -> None:
    VectorCache.forget()  # each test starts as a new process would


def _build(entries: Sequence[Entry], fake: Fake, folder: Path | None, **options: int) -> None:
    SearchIndex.build(entries, semantic=Semantic(fake, VectorCache(folder, **options)))


def _files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def _rows(folder: Path) -> int:
    (path,) = folder.glob("*.npz")
    with np.load(path) as data:
        return len(data["keys"])


def test_an_edited_entry_and_a_new_one_are_the_only_texts_embedded(tmp_path: Path) -> None:
    fake = Fake()
    _build(BASE, fake, tmp_path)
    assert len(fake.embedded) == len(BASE)
    edited = [replace(BASE[0], aliases=(*BASE[0].aliases, "цена кусается")), *BASE[1:]]
    edited.append(_entry("tender", "У нас тендер", "только через закупки"))
    fake.embedded.clear()
    _build(edited, fake, tmp_path)
    assert fake.embedded == [
        "Дорого. у вас дорого. высокая цена. цена кусается",
        "У нас тендер. только через закупки",
    ]
    fake.embedded.clear()
    VectorCache.forget()  # a restart: both versions are on disk
    _build(BASE, fake, tmp_path)
    _build(edited, fake, tmp_path)
    assert fake.embedded == []


def test_the_same_text_is_embedded_once_per_model(tmp_path: Path) -> None:
    twins = [*BASE, _entry("price-2", "Дорого", "у вас дорого", "высокая цена")]
    fake = Fake()
    _build(twins, fake, tmp_path)
    assert len(fake.embedded) == len(BASE)
    other = Fake("another-model")
    _build(twins, other, tmp_path)
    assert len(other.embedded) == len(BASE)  # another model's vectors are its own


def test_a_broken_or_foreign_cache_file_is_embedded_anew_and_rewritten(tmp_path: Path) -> None:
    fake = Fake()
    _build(BASE, fake, tmp_path)
    (path,) = tmp_path.glob("*.npz")
    for damage in (b"not numpy at all", path.read_bytes()[:300], b""):
        path.write_bytes(damage)
        VectorCache.forget()
        fake.embedded.clear()
        _build(BASE, fake, tmp_path)
        assert len(fake.embedded) == len(BASE)
        assert _rows(tmp_path) == len(BASE)
    np.savez(path, keys=np.array(["x"]), vectors=np.zeros((2, 3), np.float32))  # not ours
    VectorCache.forget()
    fake.embedded.clear()
    _build(BASE, fake, tmp_path)
    assert len(fake.embedded) == len(BASE)


def test_a_write_that_fails_midway_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = Fake()
    _build(BASE, fake, tmp_path)
    before = _files(tmp_path)

    def torn(file: object, **arrays: object) -> None:
        assert hasattr(file, "write")
        file.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", torn)
    grown = [*BASE, _entry("tender", "У нас тендер", "только через закупки")]
    _build(grown, fake, tmp_path)  # the build itself succeeds: the cache is only a cache
    monkeypatch.undo()
    assert _files(tmp_path) == before  # no temporary file left, the old one in place
    VectorCache.forget()
    fake.embedded.clear()
    _build(grown, fake, tmp_path)
    assert fake.embedded == ["У нас тендер. только через закупки"]


def test_the_disk_copy_keeps_the_base_and_a_bounded_number_of_older_texts(
    tmp_path: Path,
) -> None:
    fake = Fake()
    for version in range(6):
        extra = _entry("changing", f"Версия {version}", "меняется каждый раз")
        _build([*BASE, extra], fake, tmp_path, spare=2)
    assert _rows(tmp_path) == len(BASE) + 1 + 2
    VectorCache.forget()
    fake.embedded.clear()
    for version in (5, 4, 3, 0):
        extra = _entry("changing", f"Версия {version}", "меняется каждый раз")
        _build([*BASE, extra], fake, tmp_path, spare=2)
    assert fake.embedded == ["Версия 0. меняется каждый раз"]  # 5, 4, 3 were kept


def test_the_memory_part_is_bounded(tmp_path: Path) -> None:
    fake = Fake()
    other = [_entry(f"o{n}", f"Другое {n}", "иначе") for n in range(len(BASE))]
    _build(BASE, fake, None, limit=len(BASE))
    _build(other, fake, None, limit=len(BASE))
    fake.embedded.clear()
    _build(BASE, fake, None, limit=len(BASE))
    assert len(fake.embedded) == len(BASE)  # pushed out by the other base
    fake.embedded.clear()
    _build(BASE, fake, None, limit=len(BASE))
    assert fake.embedded == []


def test_cache_files_of_the_former_layout_are_removed(tmp_path: Path) -> None:
    old = tmp_path / f"{'ab' * 20}.npy"
    np.save(old, np.zeros((2, 3), np.float32))
    _build(BASE, Fake(), tmp_path)
    assert not old.exists()
    assert [p.suffix for p in _files(tmp_path)] == [".npz"]


async def test_a_restart_embeds_nothing_and_a_learned_phrasing_one_passage(
    core: Core, tmp_path: Path, clock: FrozenClock
) -> None:
    """On SQLite, through the service: the bot's start, its restart, a lesson."""
    dirs = (ROOT / "knowledge_base", ROOT / "scripts_library")
    folder = tmp_path / "search-index"
    first = Fake()
    service = KnowledgeService(
        core.db, dirs, clock=clock, semantic=Semantic(first, VectorCache(folder))
    )
    loaded = await service.load()
    assert len(first.embedded) >= loaded.count  # every entry embedded once, at least

    VectorCache.forget()
    again = Fake()
    service = KnowledgeService(
        core.db, dirs, clock=clock, semantic=Semantic(again, VectorCache(folder))
    )
    await service.load()
    assert again.embedded == []
    lead = await core.people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    assert await service.search(lead, "клиент говорит что дорого")
    question = "заказчик жмётся по деньгам и тянет с ответом"
    vote = await service.feedback(lead, "price-too-high", up=True, query=question, asked=True)
    assert vote.status == Status.ACTIVE and vote.changed
    assert len(again.embedded) == 1 and question.split()[0] in again.embedded[0]
