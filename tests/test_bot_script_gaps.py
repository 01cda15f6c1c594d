"""«🤷 Нет подходящего ответа» in a script walk: what the client said is kept for the
script's author and the walk goes on (issue 12, item 17), through the real Application."""

import asyncio
import csv
import io
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import build_core
from bot.db.models import KnowledgeEvent
from bot.db.session import transaction
from bot.knowledge.service import MAX_QUERY, Event
from bot.people.service import Role
from bot.reports.telegram.jobs import send_digests
from tests.conftest import Harness, make_settings
from tests.test_metrics import at

ru, en = catalog("ru"), catalog("en")
ROOT = Path(__file__).resolve().parents[1]
OBJECTION = "Нам ничего не нужно"  # cold-call's step titled «Нам ничего не нужно», in quotes


async def _gaps(harness: Harness) -> list[tuple[str | None, str | None, str | None]]:
    async with transaction(harness.core.db) as session:
        rows = await session.execute(
            select(KnowledgeEvent.entry_id, KnowledgeEvent.step_id, KnowledgeEvent.text)
            .where(KnowledgeEvent.kind == Event.SCRIPT_GAP)
            .order_by(KnowledgeEvent.id)
        )
        return [(e, s, t) for e, s, t in rows]


async def test_after_a_gap_the_walk_goes_back_restarts_or_ends(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    await anna.send("/script холодный звонок")
    step = (await anna.click(OBJECTION))[-1]
    assert "шаг 2" in step.text and f"<b>«{OBJECTION}»</b>" in step.text
    prompt = (await anna.click("Нет подходящего ответа"))[-1]
    assert prompt.text == ru("kb.gap_prompt", step=OBJECTION)
    assert f"на шаге «{OBJECTION}»?" in prompt.text and "««" not in prompt.text
    assert "/cancel" in prompt.text

    saved = (await anna.send("у нас склад в аренде, стеллажи не наши"))[-1]
    assert saved.text == f"{ru('kb.gap_saved')}\n{ru('kb.gap_go_on', step=OBJECTION)}"
    assert saved.button_labels() == ["↩ Вернуться к шагу", "⟲ Сначала", "✖ Завершить"]
    back = (await anna.click("Вернуться к шагу", saved))[-1]
    assert "шаг 2" in back.text and "Инспекцию не делали" in back.button_labels()

    await anna.click("Нет подходящего ответа", back)
    again = (await anna.send("перезвоните через год"))[-1]
    first = (await anna.click("Сначала", again))[-1]
    assert "шаг 1" in first.text and "Да, склад на мне" in first.button_labels()

    await anna.click("Нет подходящего ответа", first)
    ended = (await anna.click("Завершить", (await anna.send("уже купили у других"))[-1]))[-1]
    assert (ended.text, ended.button_labels()) == (ru("kb.script_left"), [])
    assert await _gaps(harness) == [
        ("cold-call", "not-interested", "у нас склад в аренде, стеллажи не наши"),
        ("cold-call", "not-interested", "перезвоните через год"),
        ("cold-call", "start", "уже купили у других"),
    ]


async def test_an_english_manager_records_a_gap_and_finishes(harness: Harness) -> None:
    _, kim = await harness.person(name="Kim", language="en")
    first = (await kim.send("/script холодный звонок"))[-1]
    assert "step 1" in first.text and en("kb.no_suitable") in first.button_labels()
    await kim.click(OBJECTION)
    prompt = (await kim.click("No suitable answer"))[-1]
    assert prompt.text == en("kb.gap_prompt", step=OBJECTION)
    assert f"“{OBJECTION}”" in prompt.text and "«" not in prompt.text
    saved = (await kim.send("they rent the warehouse"))[-1]
    assert saved.text.startswith(en("kb.gap_saved"))
    assert saved.button_labels() == ["↩ Back to the step", "⟲ Restart", "✖ Finish"]
    assert (await kim.click("Finish", saved))[-1].text == en("kb.script_left")
    assert await _gaps(harness) == [("cold-call", "not-interested", "they rent the warehouse")]


async def test_no_words_and_too_many_words_are_asked_again(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/script холодный звонок")
    await anna.click("Нет подходящего ответа")
    for nothing in ("...", "😐"):
        refused = (await anna.send(nothing))[-1]
        assert refused.text == f"{ru('kb.gap_empty')}\n{ru('common.leave_hint')}"
    too_long = " ".join(["клиент долго объяснял про склад"] * 200)[: MAX_QUERY + 200]
    refused = (await anna.send(too_long))[-1]
    assert refused.text.startswith(ru("kb.gap_too_long", limit=MAX_QUERY))
    assert await _gaps(harness) == []
    longest = too_long[:MAX_QUERY].strip()
    assert (await anna.send(longest))[-1].text.startswith(ru("kb.gap_saved"))
    assert await _gaps(harness) == [("cold-call", "start", longest)]  # whole, not cut


async def test_walking_on_instead_of_typing_drops_the_gap_question(harness: Harness) -> None:
    _, anna = await harness.person()
    first = (await anna.send("/script холодный звонок"))[-1]
    await anna.click("Нет подходящего ответа", first)
    await anna.click(OBJECTION, first)  # the client said something the script knows after all
    assert (await anna.send("клиент говорит дорого"))[-1].text.startswith("<b>Дорого</b>")
    assert await _gaps(harness) == []


async def test_old_buttons_of_a_finished_walk(harness: Harness) -> None:
    """«Завершить» ends the walk; its old buttons, pressed later, go on from where they were
    (a walk is all in its buttons), and /cancel at the prompt records nothing."""
    _, anna = await harness.person()
    await anna.send("/script холодный звонок")
    await anna.click(OBJECTION)
    await anna.click("Нет подходящего ответа")
    saved = (await anna.send("у нас склад в аренде"))[-1]
    back_data, end_data = saved.buttons[0][0][1], saved.buttons[1][1][1]
    ended = (await anna.click("Завершить", saved))[-1]
    assert ended.button_labels() == []
    resumed = (await anna.press(ended, back_data))[-1]
    assert f"<b>«{OBJECTION}»</b>" in resumed.text
    await anna.click("Нет подходящего ответа", resumed)
    assert (await anna.send("/cancel"))[-1].text == ru("common.cancelled")
    assert (await anna.press(ended, end_data))[-1].text == ru("kb.script_left")
    assert len(await _gaps(harness)) == 1


async def test_a_gap_typed_after_the_script_was_removed_is_still_kept(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    knowledge, scripts = tmp_path / "kb", tmp_path / "scripts"
    shutil.copytree(ROOT / "knowledge_base", knowledge)
    shutil.copytree(ROOT / "scripts_library", scripts)
    core = build_core(
        make_settings(tmp_path, sqlite_url, knowledge_dir=knowledge, scripts_dir=scripts),
        clock=clock,
    )
    harness = Harness(core)
    await core.load_content()
    await harness.app.initialize()
    try:
        _, admin = await harness.person(Role.ADMIN)
        _, anna = await harness.person()
        first = (await anna.send("/script холодный звонок"))[-1]
        await anna.click("Нет подходящего ответа", first)
        (scripts / "cold-call.md").unlink()
        await admin.send("/reload")
        saved = (await anna.send("у нас склад в аренде"))[-1]
        assert saved.text == f"{ru('kb.gap_saved')}\n{ru('kb.gap_script_gone')}"
        assert saved.button_labels() == []
        assert (await anna.click(first.button_labels()[0], first))[-1].text == ru("kb.entry_gone")
        assert await _gaps(harness) == [("cold-call", "start", "у нас склад в аренде")]
    finally:
        await harness.app.shutdown()
        await core.close()


# --- the gaps reach the script's author: the lead's digest and `voronka content gaps` ---------


async def _record_gaps(harness: Harness) -> None:
    """Анна (Russian) and Kim (English) each record a gap in cold-call on 30.11.2026."""
    _, anna = await harness.person(name="Анна")
    _, kim = await harness.person(name="Kim", language="en")
    await anna.send("/script холодный звонок")
    await anna.click(OBJECTION)
    await anna.click("Нет подходящего ответа")
    await anna.send("у нас склад в аренде, стеллажи не наши")
    await kim.send("/script холодный звонок")
    await kim.click("No suitable answer")
    await kim.send("=1+1 they said")


async def test_the_leads_digest_lists_the_script_gaps(harness: Harness, clock: FrozenClock) -> None:
    lida_person, _ = await harness.person(Role.LEAD, name="Лида")
    _, lee = await harness.person(Role.LEAD, name="Lee", language="en")
    await _record_gaps(harness)
    at(clock, "2026-12-01 09:00")
    await send_digests(harness.app)
    lida = harness.client(lida_person.telegram_id)
    text = next(m.text for m in reversed(lida.messages()) if "База знаний" in m.text)
    assert (
        ru(
            "digest.kb_script_gaps",
            count=2,
            gaps="Холодный звонок → «Приветствие»: «=1+1 they said» (Kim); "
            f"Холодный звонок → «{OBJECTION}»: «у нас склад в аренде, стеллажи не наши» (Анна)",
        )
        in text
    )
    english = next(m.text for m in reversed(lee.messages()) if "Knowledge base" in m.text)
    assert "🤷 No answer in the scripts (2): Холодный звонок → «Приветствие»" in english


async def test_content_gaps_exports_csv_and_xlsx(
    harness: Harness, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _record_gaps(harness)
    monkeypatch.setenv("VORONKA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path / "cli-data"))
    out = tmp_path / "gaps.csv"
    assert await asyncio.to_thread(main, ["content", "gaps", "--out", str(out)]) == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows == [
        ["script", "script_id", "step", "step_id", "client_said", "who", "team", "when"],
        ["Холодный звонок", "cold-call", f"«{OBJECTION}»", "not-interested",
         "у нас склад в аренде, стеллажи не наши", "Анна", "Продажи", "2026-11-30 10:00"],
        ["Холодный звонок", "cold-call", "Приветствие", "start", "'=1+1 they said", "Kim",
         "Продажи", "2026-11-30 10:00"],
    ]  # fmt: skip
    book = tmp_path / "gaps.xlsx"
    argv = ["content", "gaps", "--format", "xlsx", "--out", str(book)]
    assert await asyncio.to_thread(main, argv) == 0
    sheet = load_workbook(book).active
    assert sheet is not None
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert cells[2][4] == "=1+1 they said" and sheet["E3"].data_type == "s"  # text, not formula
    assert await asyncio.to_thread(main, ["content", "gaps", "--since", "2026-12-01"]) == 0
    assert await asyncio.to_thread(main, ["content", "gaps", "--format", "xlsx"]) == 2
