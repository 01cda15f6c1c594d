"""Questions, scripts and the unanswered loop through the real Application."""

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import build_core
from bot.db.models import KnowledgeEvent, KnowledgeQuestion
from bot.db.session import transaction
from bot.knowledge.service import Event
from bot.people.service import Role
from tests.conftest import Harness, make_settings

ru = catalog("ru")
ROOT = Path(__file__).resolve().parents[1]


async def _events(harness: Harness) -> list[tuple[str, str | None, str | None]]:
    async with transaction(harness.core.db) as session:
        rows = await session.execute(
            select(KnowledgeEvent.kind, KnowledgeEvent.entry_id, KnowledgeEvent.text).order_by(
                KnowledgeEvent.id
            )
        )
        return [(k, e, t) for k, e, t in rows]


async def test_a_question_gets_the_best_answer_and_two_more(harness: Harness) -> None:
    _, anna = await harness.person()
    reply = (await anna.send("клиент говорит дорого, что ответить?"))[-1]
    assert reply.text.startswith("<b>Дорого</b>")
    labels = reply.button_labels()
    assert labels[-2:] == ["👍", "👎"] and len(labels) == 4
    other = (await anna.click(labels[0]))[-1]
    assert other.text.startswith("<b>") and other.text != reply.text
    await anna.click("👍", reply)
    events = await _events(harness)
    assert events[0][:2] == (Event.ANSWERED, "price-too-high")
    assert events[-1][:2] == (Event.UP, "price-too-high")


@pytest.mark.parametrize(
    ("text", "expected_start"),
    [
        ("/obj подумаю", "<b>Я подумаю</b>"),
        ("/obj", ru("kb.obj_usage")),
    ],
)
async def test_obj_searches_objections(harness: Harness, text: str, expected_start: str) -> None:
    _, anna = await harness.person()
    assert (await anna.send(text))[-1].text.startswith(expected_start)


async def test_routing_borderline_between_deals_and_questions(harness: Harness) -> None:
    person, anna = await harness.person()
    await anna.send("/new Ромашка")
    assert (await anna.send("Ромашка: говорят дорого"))[-1].text == "📝 Заметка сохранена: Ромашка."
    assert (await anna.send("говорят дорого"))[-1].text.startswith("<b>Дорого</b>")
    maybe = (await anna.send("Ромашка дорого"))[-1]
    assert maybe.text == ru("deal.maybe", title="Ромашка")
    assert (await anna.click("Это вопрос"))[-1].text.startswith("<b>Дорого</b>")
    await anna.send("Ромашка дорого")
    assert (await anna.click("заметка"))[-1].text == "📝 Заметка сохранена: Ромашка."
    deal = await harness.core.deals.card(person, (await harness.core.deals.refs(person))[0].id)
    assert [n.text for n in deal.notes] == ["Ромашка дорого", "говорят дорого"]


async def test_nothing_relevant_is_said_honestly_and_goes_to_the_lead(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    reply = (await anna.send("как оформить отпуск за свой счёт"))[-1]
    assert reply.text.startswith(ru("kb.not_found"))
    assert reply.button_labels()[-1] == ru("kb.ask_lead")
    assert (await anna.click("Спросить руководителя"))[-1].text == ru(
        "kb.sent_to_lead", names="Лида"
    )
    question = lead.last_reply()
    assert "как оформить отпуск за свой счёт" in question.text
    await lead.click("Ответить", question)
    sent = (await lead.send("Заявление в кадры через портал, за 3 дня."))[-1]
    assert sent.text.startswith("Ответ отправлен: Анна")
    assert anna.last_reply().text.endswith("Заявление в кадры через портал, за 3 дня.")
    assert (await lead.click("Добавить", sent))[-1].text == ru("kb.added")
    learned = (await anna.send("как оформить отпуск за свой счёт?"))[-1]
    assert learned.text.startswith("<b>как оформить отпуск за свой счёт</b>")
    assert (Event.NOT_FOUND, None, None) in await _events(harness)


async def test_a_manager_cannot_answer_questions(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD)
    _, anna = await harness.person(name="Анна")
    _, boris = await harness.person(name="Борис")
    await anna.send("как оформить отпуск за свой счёт")
    await anna.click("Спросить руководителя")
    question_data = lead.last_reply().buttons[0][0][1]
    own = (await boris.send("/help"))[-1]
    assert (await boris.press(own, question_data))[-1].text == ru("kb.not_your_question")
    assert (await boris.send("мой ответ"))[-1].text.startswith(ru("kb.not_found"))


async def test_walking_a_branching_script_back_restart_and_gap(harness: Harness) -> None:
    _, anna = await harness.person()
    first = (await anna.send("/script холодный звонок"))[-1]
    assert first.text.startswith("<b>Холодный звонок</b> · шаг 1")
    second = (await anna.click(first.button_labels()[0], first))[-1]
    assert "шаг 2" in second.text and "← Назад" in second.button_labels()
    assert "шаг 1" in (await anna.click("← Назад", second))[-1].text
    await anna.click(first.button_labels()[0])
    third = (await anna.click(anna.last_reply().button_labels()[0]))[-1]
    assert "шаг 3" in third.text
    assert "шаг 1" in (await anna.click("⟲ Сначала", third))[-1].text
    await anna.click("Нет подходящего ответа")
    saved = (await anna.send("сказал, что у них склад в аренде"))[-1]
    assert saved.text.startswith(ru("kb.gap_saved"))
    kind, entry, text = (await _events(harness))[-1]
    assert (kind, entry, text) == (
        Event.SCRIPT_GAP,
        "cold-call",
        "сказал, что у них склад в аренде",
    )


async def test_browse_by_kind_and_tag(harness: Harness) -> None:
    _, anna = await harness.person()
    kinds = (await anna.send("/kb"))[-1]
    assert any(label.startswith("Возражения (") for label in kinds.button_labels())
    tags = (await anna.click("Возражения"))[-1]
    assert tags.button_labels()[0] == "Все"
    entries = (await anna.click("Все"))[-1]
    assert "Дорого" in entries.button_labels()
    assert (await anna.click("Дорого"))[-1].text.startswith("<b>Дорого</b>")


async def test_inline_mode_lists_answers_for_registered_people(harness: Harness) -> None:
    _, anna = await harness.person()
    (answer,) = await anna.inline("дорого")
    results = answer.params["results"]
    assert results and results[0]["title"] == "Дорого"
    assert results[0]["input_message_content"]["message_text"].startswith("<b>Дорого</b>")


@pytest.mark.parametrize("text", ["😀😀", "?!", "/obj ???"])
async def test_empty_meaningless_queries_get_a_clear_answer(harness: Harness, text: str) -> None:
    _, anna = await harness.person()
    reply = (await anna.send(text))[-1]
    assert reply.text in (ru("common.no_meaning"), ru("kb.empty_query"))


async def test_a_4096_character_question_is_answered_without_error(harness: Harness) -> None:
    _, anna = await harness.person()
    reply = (await anna.send(("клиент говорит дорого " * 200)[:4096]))[-1]
    assert reply.text.startswith("<b>Дорого</b>")


@asynccontextmanager
async def _harness_on(
    tmp_path: Path, url: str, clock: FrozenClock, knowledge: Path, scripts: Path
) -> AsyncIterator[Harness]:
    """The bot reading its content from these folders (settings, as an operator sets them)."""
    core = build_core(
        make_settings(tmp_path, url, knowledge_dir=knowledge, scripts_dir=scripts), clock=clock
    )
    built = Harness(core)
    await core.load_content()
    await built.app.initialize()
    try:
        yield built
    finally:
        await built.app.shutdown()
        await core.close()


async def test_reload_is_for_admins_and_old_buttons_say_the_entry_is_gone(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    knowledge, scripts = tmp_path / "kb", tmp_path / "scripts"
    shutil.copytree(ROOT / "knowledge_base", knowledge)
    shutil.copytree(ROOT / "scripts_library", scripts)
    async with _harness_on(tmp_path, sqlite_url, clock, knowledge, scripts) as harness:
        _, admin = await harness.person(Role.ADMIN)
        _, anna = await harness.person()
        answer = (await anna.send("дорого"))[-1]
        assert (await anna.send("/reload"))[-1].text == ru("team.admin_only")
        shutil.rmtree(knowledge)
        shutil.rmtree(scripts)
        knowledge.mkdir()
        scripts.mkdir()
        reloaded = (await admin.send("/reload"))[-1].text
        assert reloaded.startswith("База знаний перечитана: 0 статей")
        assert (await anna.click("👍", answer))[-1].text == ru("kb.entry_gone")


async def test_broken_yaml_is_skipped_and_reported_while_the_rest_loads(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    knowledge, scripts = tmp_path / "kb", tmp_path / "scripts"
    knowledge.mkdir()
    scripts.mkdir()
    (knowledge / "good.md").write_text(
        "---\nkind: faq\ntitle: Хорошая\n---\nТекст", encoding="utf-8"
    )
    (knowledge / "bad.md").write_text(
        "---\nkind: faq\ntitle: [не закрыта\n---\nТекст", encoding="utf-8"
    )
    async with _harness_on(tmp_path, sqlite_url, clock, knowledge, scripts) as harness:
        _, admin = await harness.person(Role.ADMIN)
        reply = (await admin.send("/reload"))[-1].text
        assert reply.startswith(ru("kb.reloaded", count=1, problems=1))
        assert "bad.md:" in reply
        _, anna = await harness.person()
        assert (await anna.send("хорошая"))[-1].text.startswith("<b>Хорошая</b>")


async def test_an_entry_with_a_long_non_ascii_id_still_gets_working_buttons(
    tmp_path: Path, sqlite_url: str, clock: FrozenClock
) -> None:
    """Callback data holds 64 bytes; the Telegram side gives such an entry a short token."""
    knowledge, scripts = tmp_path / "kb", tmp_path / "scripts"
    knowledge.mkdir()
    scripts.mkdir()
    entry_id = "скидка-для-постоянного-клиента-с-большим-объёмом"
    (knowledge / "discount.md").write_text(
        f"---\nid: {entry_id}\nkind: faq\ntitle: Скидка постоянному клиенту\n---\nДо 5%.",
        encoding="utf-8",
    )
    async with _harness_on(tmp_path, sqlite_url, clock, knowledge, scripts) as harness:
        _, anna = await harness.person()
        answer = (await anna.send("скидка постоянному клиенту"))[-1]
        assert answer.text.startswith("<b>Скидка постоянному клиенту</b>")
        assert all(len(data.encode()) <= 64 for row in answer.buttons for _, data in row)
        await anna.click("👍", answer)
        assert (await _events(harness))[-1][:2] == (Event.UP, entry_id)


async def test_only_files_inside_the_content_folder_are_sent_and_the_rest_is_reported(
    tmp_path: Path,
    sqlite_url: str,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    knowledge, scripts = tmp_path / "kb", tmp_path / "scripts"
    (knowledge / "docs").mkdir(parents=True)
    scripts.mkdir()
    (tmp_path / "secret.txt").write_text("пароль", encoding="utf-8")
    (knowledge / "docs/price.pdf").write_bytes(b"%PDF")
    (knowledge / "link.pdf").symlink_to(tmp_path / "secret.txt")
    entry = knowledge / "racks.md"
    entry.write_text(
        "---\nid: racks\nkind: product\ntitle: Стеллажи\n"
        f'files: [docs/price.pdf, ../secret.txt, "{tmp_path / "secret.txt"}", link.pdf]\n'
        "---\nПолочные стеллажи.\n",
        encoding="utf-8",
    )
    with caplog.at_level("WARNING"):
        async with _harness_on(tmp_path, sqlite_url, clock, knowledge, scripts) as harness:
            _, anna = await harness.person()
            replies = await anna.send("стеллажи")
    assert replies[0].text.startswith("<b>Стеллажи</b>")
    assert [m.document for m in replies if m.document] == [("price.pdf", b"%PDF")]
    logged = [r.getMessage() for r in caplog.records if "content problem" in r.getMessage()]
    assert len(logged) == 3
    assert all(f"{entry}:5: file '" in line and "of entry 'racks'" in line for line in logged)
    monkeypatch.setenv("VORONKA_KNOWLEDGE_DIR", str(knowledge))
    monkeypatch.setenv("VORONKA_SCRIPTS_DIR", str(scripts))
    assert main(["content", "check"]) == 1
    checked = capsys.readouterr().out
    for name in ("'../secret.txt'", repr(str(tmp_path / "secret.txt")), "'link.pdf'"):
        assert f"{entry}:5: file {name} of entry 'racks'" in checked
    assert "docs/price.pdf" not in checked


async def test_a_long_question_and_a_long_answer_reach_the_asker_whole(harness: Harness) -> None:
    """A question of 4,000 characters, an answer of 3,500 (its limit): the answer goes out
    in parts, none over Telegram's limit."""
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    question = " ".join(["как оформить отпуск за свой счёт в пятницу"] * 95)[:4000]
    answer = " ".join([f"пункт {n}: заявление в кадры через портал." for n in range(120)])[:3500]
    await anna.send(question)
    await anna.click("Спросить руководителя")
    await lead.click("Ответить", lead.last_reply())
    before = len(harness.request.calls)
    await lead.send(answer)
    sent = [c.params["text"] for c in harness.request.calls[before:] if c.method == "sendMessage"]
    assert sent and all(len(text) <= 4096 for text in sent)
    to_anna = [m.text for m in anna.messages()][-3:]
    assert answer[-40:] in "\n".join(to_anna)
    assert lead.last_reply().text.startswith("Ответ отправлен: Анна")


# --- who is offered «🙋 Спросить руководителя» (issue 12, item 16) ----------------------------

en = catalog("en")
UNKNOWN = "как оформить отпуск за свой счёт"


async def _questions(harness: Harness) -> list[str]:
    async with transaction(harness.core.db) as session:
        rows = await session.execute(select(KnowledgeQuestion.question))
        return [question for (question,) in rows]


async def test_a_lead_with_nobody_above_is_not_offered_to_ask(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    reply = (await lead.send(UNKNOWN))[-1]
    assert reply.text.startswith(ru("kb.not_found_alone"))
    assert not any(label.startswith("🙋") for label in reply.button_labels())
    assert (await anna.send(UNKNOWN))[-1].button_labels()[-1:] == [ru("kb.ask_lead")]


async def test_a_leads_question_goes_to_an_admin_who_answers_it(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN, name="Ада")
    _, lead = await harness.person(Role.LEAD, name="Лида")
    reply = (await lead.send(UNKNOWN))[-1]
    assert reply.text.startswith(ru("kb.not_found_admin"))
    assert reply.button_labels()[-1:] == ["🙋 Спросить администратора"]
    assert (await lead.click("Спросить администратора"))[-1].text == ru(
        "kb.sent_to_lead", names="Ада"
    )
    await admin.click("Ответить", admin.last_reply())
    sent = (await admin.send("Через портал, за 3 дня."))[-1]
    assert sent.text.startswith("Ответ отправлен: Лида")
    assert lead.last_reply().text.endswith("Через портал, за 3 дня.")


async def test_an_english_lead_asks_an_admin(harness: Harness) -> None:
    _, admin = await harness.person(Role.ADMIN, name="Ada")
    _, lead = await harness.person(Role.LEAD, name="Lee", language="en")
    reply = (await lead.send("how do I book unpaid leave"))[-1]
    assert reply.text.startswith(en("kb.not_found_admin"))
    assert reply.button_labels()[-1:] == ["🙋 Ask an admin"]
    assert (await lead.click("Ask an admin"))[-1].text == en("kb.sent_to_lead", names="Ada")
    assert "how do I book unpaid leave" in admin.last_reply().text


async def test_an_english_lead_is_offered_to_ask_once_there_is_an_admin(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Lee", language="en")
    alone = (await lead.send("how do I book unpaid leave"))[-1]
    assert alone.text.startswith(en("kb.not_found_alone"))
    assert not any("Ask" in label for label in alone.button_labels())
    _, admin = await harness.person(Role.ADMIN, name="Ада")
    offered = (await lead.send("how do I book unpaid leave"))[-1]
    assert offered.button_labels()[-1:] == ["🙋 Ask an admin"]
    mine = (await admin.send(UNKNOWN))[-1]  # the only admin: a lead is not above them
    assert mine.text.startswith(ru("kb.not_found_alone"))
    assert not any("Спросить" in label for label in mine.button_labels())


async def test_an_old_ask_button_with_nobody_left_to_ask_stores_nothing(harness: Harness) -> None:
    """The button was offered while another admin was there; pressed after they left."""
    me, admin = await harness.person(Role.ADMIN, name="Ада")
    other, _ = await harness.person(Role.ADMIN, name="Олег")
    offered = (await admin.send(UNKNOWN))[-1]
    assert offered.button_labels()[-1:] == ["🙋 Спросить администратора"]
    await harness.core.people.set_active(me, other.id, False)
    assert (await admin.click("Спросить администратора", offered))[-1].text == ru(
        "kb.nobody_to_ask"
    )
    assert await _questions(harness) == []
    assert not any(
        label.startswith("🙋") for label in (await admin.send(UNKNOWN))[-1].button_labels()
    )


async def test_an_english_question_finds_the_russian_answer(harness: Harness) -> None:
    _, anna = await harness.person(name="Anna")
    reply = (await anna.send("the client says it's too expensive, what do I answer?"))[-1]
    assert reply.text.startswith("<b>Дорого</b>")
    assert (await anna.send("/obj expensive"))[-1].text.startswith("<b>Дорого</b>")


async def test_weak_candidates_are_offered_as_maybe_beside_the_ask_button(
    harness: Harness,
) -> None:
    await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    reply = (await anna.send("как передать клиента другому менеджеру в отпуске"))[-1]
    assert reply.text.startswith(ru("kb.not_found"))
    assert reply.text.endswith(ru("kb.maybe"))
    labels = reply.button_labels()
    assert labels[-1] == ru("kb.ask_lead") and len(labels) >= 2
    assert all(label.startswith("❔ ") for label in labels[:-1])
    shown = (await anna.click(labels[0]))[-1]
    assert shown.text.startswith("<b>" + labels[0].removeprefix("❔ "))
    assert (await anna.click("Спросить руководителя", reply))[-1].text == ru(
        "kb.sent_to_lead", names="Лида"
    )
    assert (Event.NOT_FOUND, None, None) in await _events(harness)


async def test_nothing_like_the_question_shows_no_maybe(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    reply = (await anna.send("рецепт борща"))[-1]
    assert ru("kb.maybe") not in reply.text
    assert not any(label.startswith("❔") for label in reply.button_labels())
