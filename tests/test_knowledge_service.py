"""KnowledgeService on SQLite and PostgreSQL, and its CLI."""

import asyncio
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.cli import main
from bot.common.clock import FrozenClock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.container import Core
from bot.knowledge.content import load_content
from bot.knowledge.semantic import Semantic, VectorCache, Vectors
from bot.knowledge.service import KnowledgeService
from bot.people.service import Role
from tests.test_vector_cache import Fake

ROOT = Path(__file__).resolve().parents[1]


async def test_a_confirmed_answer_is_found_and_exported(any_core: Core, tmp_path: Path) -> None:
    await any_core.load_content()
    lead = await any_core.people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    assert await any_core.knowledge.search(anna, "как оформить отпуск за свой счёт") == []
    question, leads = await any_core.knowledge.ask_lead(anna, "как оформить отпуск за свой счёт")
    assert [p.name for p in leads] == ["Лида"]
    with pytest.raises(Forbidden):
        await any_core.knowledge.answer_question(anna, question.id, "сама")
    answered = await any_core.knowledge.answer_question(
        lead, question.id, "Через портал, за 3 дня."
    )
    assert answered.asker.name == "Анна"
    with pytest.raises(Invalid):
        await any_core.knowledge.answer_question(lead, question.id, "ещё раз")
    entry = await any_core.knowledge.confirm(lead, question.id, accept=True)
    assert entry is not None
    hits = await any_core.knowledge.search(anna, "как оформить отпуск за свой счёт")
    assert hits and hits[0].entry_id == entry.id
    written = await any_core.knowledge.export_new(tmp_path / "new")
    assert [p.name for p in written] == [f"{entry.id}.md"]
    loaded = load_content([tmp_path / "new"])
    assert loaded.problems == () and loaded.entries[0].aliases == (
        "как оформить отпуск за свой счёт",
    )
    assert await any_core.knowledge.export_new(tmp_path / "new") == []


async def test_without_a_lead_questions_go_to_admins(any_core: Core) -> None:
    await any_core.people.ensure_person(1, "Админ", Role.ADMIN, None)
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    _, answerers = await any_core.knowledge.ask_lead(anna, "вопрос")
    assert [p.name for p in answerers] == ["Админ"]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.LEAD])
async def test_only_an_admin_reloads_the_content(core: Core, role: Role) -> None:
    await core.load_content()
    person = await core.people.ensure_person(1, "Кто-то", role, "Урал")
    with pytest.raises(Forbidden) as error:
        await core.knowledge.reload(person)
    assert error.value.key == "team.admin_only"
    admin = await core.people.ensure_person(2, "Админ", Role.ADMIN, None)
    loaded = await core.knowledge.reload(admin)
    assert loaded.count >= 30 and loaded.problems == ()


async def test_a_deactivated_person_gets_no_answers(core: Core) -> None:
    await core.load_content()
    admin = await core.people.ensure_person(1, "Админ", Role.ADMIN, None)
    anna = await core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    gone = await core.people.set_active(admin, anna.id, False)
    with pytest.raises(Forbidden):
        await core.knowledge.answer(gone, "клиент говорит дорого")
    with pytest.raises(Forbidden):
        await core.knowledge.ask_lead(gone, "как оформить отпуск")
    with pytest.raises(Forbidden):
        core.knowledge.entry(gone, "price-too-high")


async def test_who_may_take_a_question_to_answer(core: Core) -> None:
    await core.load_content()
    lead = await core.people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    other_lead = await core.people.ensure_person(2, "Олег", Role.LEAD, "Сибирь")
    anna = await core.people.ensure_person(3, "Анна", Role.MANAGER, "Урал")
    boris = await core.people.ensure_person(4, "Борис", Role.MANAGER, "Урал")
    admin = await core.people.ensure_person(5, "Админ", Role.ADMIN, None)
    question, _ = await core.knowledge.ask_lead(anna, "как оформить отпуск")
    for manager in (anna, boris):
        with pytest.raises(Forbidden) as error:
            await core.knowledge.question_to_answer(manager, question.id)
        assert error.value.key == "kb.not_your_question"
        with pytest.raises(Forbidden):
            await core.knowledge.confirm(manager, question.id, accept=True)
    # Another team's question is refused as if there were none: ids tell nothing.
    for question_id in (question.id, question.id + 100):
        with pytest.raises(NotFound) as gone:
            await core.knowledge.question_to_answer(other_lead, question_id)
        assert (gone.value.key, gone.value.params) == ("kb.question_gone", {})
    with pytest.raises(NotFound):
        await core.knowledge.confirm(other_lead, question.id, accept=True)
    with pytest.raises(NotFound):
        await core.knowledge.question_to_answer(lead, question.id + 100)
    assert (await core.knowledge.question_to_answer(lead, question.id)).asker == anna
    assert (
        await core.knowledge.question_to_answer(admin, question.id)
    ).question == question.question


async def test_an_empty_question_and_a_gone_entry_are_refused(core: Core) -> None:
    await core.load_content()
    anna = await core.people.ensure_person(1, "Анна", Role.MANAGER, "Урал")
    with pytest.raises(Invalid) as error:
        await core.knowledge.answer(anna, " ?! ")
    assert error.value.key == "kb.empty_query"
    with pytest.raises(Invalid) as gone:  # every entry is everyone's: gone is said as such
        await core.knowledge.feedback(anna, "no-such-entry", up=True, query="дорого")
    assert gone.value.key == "kb.entry_gone"


def test_kb_search_cli_json_and_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["kb", "search", "клиент говорит дорого", "--json", "--limit", "2"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["id"] == "price-too-high" and len(results) <= 2
    assert set(results[0]) == {"id", "kind", "title", "score"}
    assert main(["kb", "search", "рецепт борща", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("дорого\nрецепт борща\n"))
    assert main(["kb", "search", "-", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["query"] for line in lines] == ["дорого", "рецепт борща"]
    assert lines[0]["results"][0]["id"] == "price-too-high" and lines[1]["results"] == []


def test_content_check_passes_on_the_shipped_content(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check"]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_content_check_reports_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.md").write_text("---\nid: x\nkind: faq\ntitle: A\n---\nтекст", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\nid: x\nkind: oops\n---\nтекст", encoding="utf-8")
    monkeypatch.setenv("VORONKA_KNOWLEDGE_DIR", str(tmp_path))
    monkeypatch.setenv("VORONKA_SCRIPTS_DIR", str(tmp_path / "none"))
    assert main(["content", "check"]) == 1
    out = capsys.readouterr().out
    assert "b.md:" in out


class HeldQueries(Fake):
    """A stand-in embedder whose query waits until the test lets it go from the event loop."""

    def __init__(self) -> None:
        super().__init__("held")
        self.entered = threading.Event()
        self.released = threading.Event()

    def queries(self, texts: Sequence[str]) -> Vectors:
        self.entered.set()
        if not self.released.wait(10):
            raise AssertionError("the search held the event loop: nothing could let it go")
        return super().queries(texts)


async def test_a_hybrid_search_leaves_the_event_loop_to_other_people(
    core: Core, clock: FrozenClock
) -> None:
    """Embedding the query takes ~10 ms of the model's C code: it runs beside the event
    loop, so another person's update is handled meanwhile (here: the loop lets it go)."""
    embedder = HeldQueries()
    semantic = Semantic(embedder, VectorCache(None))
    service = KnowledgeService(core.db, [ROOT / "knowledge_base"], clock=clock, semantic=semantic)
    await core.open_database()
    await core.migrate()
    await service.load()
    embedder.entered.clear()  # only the question's own query counts
    anna = await core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    asking = asyncio.create_task(service.answer(anna, "клиент говорит дорого"))
    assert await asyncio.to_thread(embedder.entered.wait, 10)
    embedder.released.set()  # only a free event loop gets here before the query gives up
    await asking
