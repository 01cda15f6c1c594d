"""KnowledgeService on SQLite and PostgreSQL, and its CLI."""

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.common.errors import Forbidden, Invalid
from bot.container import Core
from bot.knowledge.content import load_content
from bot.people.service import Role


async def test_a_confirmed_answer_is_found_and_exported(any_core: Core, tmp_path: Path) -> None:
    await any_core.load_content()
    lead = await any_core.people.ensure_person(1, "Лида", Role.LEAD, "Урал")
    anna = await any_core.people.ensure_person(2, "Анна", Role.MANAGER, "Урал")
    assert any_core.knowledge.search("как оформить отпуск за свой счёт") == []
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
    hits = any_core.knowledge.search("как оформить отпуск за свой счёт")
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
