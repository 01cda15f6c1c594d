"""Deals through the real Application: create, list, move by text and buttons, undo, steps."""

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.container import build_core
from bot.db.models import Deal, User
from bot.db.session import transaction
from bot.deals.service import Via
from bot.deals.telegram.nudges import send_followups, send_nudges
from bot.people.service import Person, Role
from tests.conftest import Harness, make_settings

ru = catalog("ru")
en = catalog("en")


def again(key: str, **params: object) -> str:
    """A refusal of an answer, with the question still open: it says how to leave it."""
    return f"{ru(key, **params)}\n{ru('common.leave_hint')}"


async def _stored(harness: Harness, owner: Person | None = None) -> list[tuple[str, str, str]]:
    """The deals as the database holds them, (title, stage, status), not as a cache has them."""
    query = select(Deal.title, Deal.stage, Deal.status).order_by(Deal.id)
    if owner is not None:
        query = query.where(Deal.owner_id == owner.id)
    async with transaction(harness.core.db) as session:
        return [(title, stage, status) for title, stage, status in await session.execute(query)]


async def test_new_deal_in_one_line_with_amount_and_contact(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    replies = await anna.send("/new Ромашка ООО, 150 000, Иван Петров +7 999 123-45-67")
    assert replies[0].text.startswith("✨ Сделка создана: <b>Ромашка ООО</b>, 150\u00a0000\u00a0₽")
    card = replies[1].text
    assert "👤 Иван Петров +7 999 123-45-67" in card and "📍 Новый лид — 0 дней" in card


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("150к", "150\u00a0000\u00a0₽"),
        ("150 тыс", "150\u00a0000\u00a0₽"),
        ("1,5 млн", "1\u00a0500\u00a0000\u00a0₽"),
        ("2.5m", "2\u00a0500\u00a0000\u00a0₽"),
        ("$3,000", "$3\u00a0000"),
    ],
)
async def test_amounts_in_the_forms_people_type(harness: Harness, typed: str, shown: str) -> None:
    _, anna = await harness.person()
    replies = await anna.send(f"/new Ромашка, {typed}")
    assert shown in replies[0].text


@pytest.mark.parametrize("amount", ["сто тысяч", "-5"])
async def test_a_bad_amount_is_explained_and_nothing_is_created(
    harness: Harness, amount: str
) -> None:
    _person, anna = await harness.person()
    replies = await anna.send(f"/new Ромашка, {amount}")
    assert [r.text for r in replies] == [ru("amount.invalid", value=amount)]
    assert await _stored(harness) == []


async def test_an_overlong_title_is_refused_with_an_example(harness: Harness) -> None:
    _person, anna = await harness.person()
    replies = await anna.send("/new " + "Я" * 4000)
    assert replies[-1].text.startswith("Название сделки — от 1 до 200 символов")
    assert await _stored(harness) == []


async def test_markup_in_names_is_shown_literally(harness: Harness) -> None:
    _, anna = await harness.person()
    replies = await anna.send("/new <b>Ромашка</b> & *Co*")
    assert "&lt;b&gt;Ромашка&lt;/b&gt; &amp; *Co*" in replies[1].text


async def test_new_deal_dialog_with_skips_and_cancel(harness: Harness) -> None:
    _person, anna = await harness.person()
    await anna.send("/new")
    await anna.send("Ромашка")
    await anna.click("Пропустить")
    await anna.send("150к")
    replies = await anna.click("Пропустить")
    assert "Ромашка" in replies[0].text and "150\u00a0000" in replies[0].text
    await anna.send("/new")
    assert (await anna.send("/cancel"))[-1].text == ru("common.cancelled")
    assert len(await _stored(harness)) == 1


async def test_move_by_text_confirms_with_undo_and_asks_next_step(harness: Harness) -> None:
    _person, anna = await harness.person()
    await anna.send("/new Ромашка")
    replies = await anna.send("ромашку в кп")
    assert replies[0].text.split("\n\n")[0] == "<b>Ромашка</b>: Новый лид → КП отправлено"
    assert replies[0].button_labels()[0] == "↩ Отменить"
    assert replies[0].text.endswith(ru("next_step.ask_after_move"))
    assert "Завтра" in replies[0].button_labels() and len(replies) == 1
    replies = await anna.send("позвонить завтра в 11")
    assert replies[-1].text == "📅 Ромашка: позвонить — вт 01.12 11:00"
    assert [stage for _, stage, _ in await _stored(harness)] == ["offer"]


async def test_undo_restores_the_stage(harness: Harness, clock: FrozenClock) -> None:
    _person, anna = await harness.person()
    await anna.send("/new Ромашка")
    moved = (await anna.send("Ромашка → переговоры"))[0]
    replies = await anna.click("Отменить", moved)
    assert replies[-1].text.startswith("↩ Отменено: <b>Ромашка</b> снова на этапе «Новый лид»")
    assert [stage for _, stage, _ in await _stored(harness)] == ["lead"]


async def test_undo_after_ten_minutes_says_it_expired(harness: Harness, clock: FrozenClock) -> None:
    _person, anna = await harness.person()
    await anna.send("/new Ромашка")
    moved = (await anna.send("Ромашка → переговоры"))[0]
    clock.advance(minutes=11)
    replies = await anna.click("Отменить", moved)
    assert replies[-1].text == ru("deal.undo_expired")
    assert [stage for _, stage, _ in await _stored(harness)] == ["negotiation"]


async def test_a_next_step_in_the_past_or_unreadable_is_asked_again(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    assert (await anna.send("купить слона"))[-1].text == again("next_step.not_understood")
    assert (await anna.send("вчера в 10"))[-1].text == again("next_step.in_past")
    assert (await anna.send("2025-01-01 звонок"))[-1].text == again("next_step.in_past")
    replies = await anna.send("встреча пт 15:00")
    assert replies[-1].text == "📅 Ромашка: встреча — пт 04.12 15:00"


async def test_a_deal_command_while_a_next_step_is_asked_gets_its_own_answer(
    harness: Harness,
) -> None:
    _, anna = await harness.person(language="en")
    await anna.send("/new Acme")
    await anna.send("acme next")
    replies = await anna.send("acme -> flying")  # the optional next step is left silently
    assert replies[0].text == en("deal.unknown_stage_words", words="flying", title="Acme")
    await anna.send("acme next")
    replies = await anna.send("Lutik -> contract")
    assert replies[0].text == en("deal.no_match", name="Lutik")


async def test_lost_by_text_asks_the_reason_then_a_comment(harness: Harness) -> None:
    person, anna = await harness.person()
    await anna.send("/new Ромашка")
    replies = await anna.send("Ромашка → проиграна")
    assert replies[0].text == "Почему «Ромашка» проиграна?"
    replies = await anna.click("Выбрали конкурента")
    assert replies[0].text == (
        "<b>Ромашка</b> закрыта как проигранная: Выбрали конкурента.\n\n" + ru("deal.lost_comment")
    )
    assert replies[0].button_labels() == ["↩ Отменить", "Пропустить"]
    assert (await anna.send("ушли к Азия-Стеллаж"))[-1].text == ru("deal.lost_comment_saved")
    card = await harness.core.deals.card(person, (await harness.core.deals.refs(person))[0].id)
    assert card.status == "lost" and card.lost_reason == "competitor"
    assert card.lost_comment == "ушли к Азия-Стеллаж" and card.notes == ()  # the loss's comment


async def test_won_from_the_card_confirms_the_amount(harness: Harness) -> None:
    _person, anna = await harness.person()
    await anna.send("/new Ромашка, 150 000")
    await anna.click("Выиграна")
    await anna.click("Другая сумма")
    replies = await anna.send("140 000")
    assert replies[0].text.startswith("🏆 <b>Ромашка</b> выиграна — 140\u00a0000\u00a0₽")
    assert [status for _, _, status in await _stored(harness)] == ["won"]


async def test_card_buttons_next_stage_note_and_quick_step(harness: Harness) -> None:
    _person, anna = await harness.person()
    await anna.send("/new Ромашка")
    replies = await anna.click("▶ Квалификация")
    assert replies[0].text.split("\n\n")[0] == "<b>Ромашка</b>: Новый лид → Квалификация"
    assert (await anna.click("Через 3 дня"))[-1].text.startswith("📅 Ромашка: Связаться с клиентом")
    await anna.send("/deals")
    await anna.click("Ромашка")
    await anna.click("Заметка")
    assert (await anna.send("ждут бюджет"))[-1].text == "📝 Заметка сохранена: Ромашка."
    assert (await anna.send("Ромашка: обсудили сроки"))[-1].text == "📝 Заметка сохранена: Ромашка."


async def test_a_stale_card_button_tells_and_shows_the_current_deal(harness: Harness) -> None:
    person, anna = await harness.person()
    card = (await anna.send("/new Ромашка"))[1]
    deal_id = (await harness.core.deals.refs(person))[0].id
    await harness.core.deals.move(person, deal_id, "needs", via=Via.TEXT)
    replies = await anna.click("▶ Квалификация", card)
    assert replies[0].text == ru("deal.changed", title="Ромашка")
    assert "📍 Выявление потребностей" in replies[1].text
    assert [stage for _, stage, _ in await _stored(harness)] == ["needs"]


@pytest.mark.parametrize("button", ["Выиграна", "Проиграна", "Этап"])
async def test_a_stale_card_asks_nothing_and_shows_the_current_deal(
    harness: Harness, button: str
) -> None:
    person, anna = await harness.person()
    card = (await anna.send("/new Ромашка"))[1]
    deal_id = (await harness.core.deals.refs(person))[0].id
    await harness.core.deals.move(person, deal_id, "needs", via=Via.TEXT)
    replies = await anna.click(button, card)
    assert replies[0].text == ru("deal.changed", title="Ромашка")
    assert "📍 Выявление потребностей" in replies[1].text


async def test_a_win_in_another_currency_shows_that_currency(harness: Harness) -> None:
    person, anna = await harness.person()
    await anna.send("/new Ромашка, 150 000")
    await anna.click("Выиграна")
    await anna.click("Другая сумма")
    replies = await anna.send("$3,000")
    assert replies[0].text.startswith("🏆 <b>Ромашка</b> выиграна — $3\u00a0000")
    (deal,) = await harness.core.deals.refs(person)
    card = await harness.core.deals.card(person, deal.id)
    assert (card.status, card.amount, card.currency) == ("won", 3000, "USD")


async def test_ambiguous_deal_asks_with_buttons_then_moves(harness: Harness) -> None:
    _person, anna = await harness.person()
    await anna.send("/new Северный Ветер")
    await anna.send("/new Северный Поток")
    replies = await anna.send("Северный → переговоры")
    assert replies[0].text == ru("deal.choose_deal")
    assert replies[0].button_labels() == ["Северный Ветер", "Северный Поток"]
    replies = await anna.click("Северный Поток")
    assert replies[0].text.split("\n\n")[0] == "<b>Северный Поток</b>: Новый лид → Переговоры"


async def test_an_unknown_deal_says_so_and_moves_nothing(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    replies = await anna.send("Лютик → переговоры")
    assert replies[-1].text == ru("deal.no_match", name="Лютик")


async def test_someone_elses_deal_is_not_moved(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    boris_person, boris = await harness.person(name="Борис")
    await anna.send("/new Ромашка")
    replies = await boris.send("Ромашка → договор")
    assert replies[-1].text == ru("deal.no_match", name="Ромашка")
    assert await _stored(harness, boris_person) == []
    assert await _stored(harness) == [("Ромашка", "lead", "open")]


async def test_an_unknown_stage_offers_the_stages(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    replies = await anna.send("Ромашка → луна")
    assert replies[-1].text.startswith("Не понял этап «луна» для «Ромашка»")
    assert "Переговоры" in replies[-1].button_labels()


async def test_move_command(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    replies = await anna.send("/move ромашка договор")
    assert replies[0].text.split("\n\n")[0] == "<b>Ромашка</b>: Новый лид → Договор и счёт"
    assert (await anna.send("/move"))[-1].text == ru("deal.no_match", name="")


async def test_english_move_and_card(harness: Harness) -> None:
    _, anna = await harness.person(language="en")
    await anna.send("/new Romashka, 150k")
    replies = await anna.send("romashka next")
    assert replies[0].text.split("\n\n")[0] == "<b>Romashka</b>: New lead → Qualification"
    assert replies[0].text.endswith(en("next_step.ask_after_move"))
    replies = await anna.send("/deals")  # the next step asked (optional) is left silently
    assert replies[0].text.startswith("<b>Open deals</b> (1)")


async def test_deals_list_pages_and_a_lead_filters_by_manager(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _anna_person, anna = await harness.person(name="Анна")
    _, boris = await harness.person(name="Борис")
    for index in range(10):
        await anna.send(f"/new Сделка {index}")
    await boris.send("/new Чужая")
    listing = (await lead.send("/deals"))[-1]
    assert listing.text.startswith("<b>Открытые сделки</b> (11)")
    closed = ["✅ Выигранные", "✖ Проигранные"]
    assert listing.button_labels()[-5:] == ["1/2", "▶", "👤 По менеджеру", *closed]
    second = (await lead.click("▶"))[-1]
    assert second.button_labels()[-5:] == ["◀", "2/2", "👤 По менеджеру", *closed]
    await lead.click("По менеджеру")
    filtered = (await lead.click("Борис"))[-1]
    assert filtered.text.startswith("<b>Открытые сделки</b> (1) — Борис")
    own = (await anna.send("/deals"))[-1]
    assert own.text.startswith("<b>Открытые сделки</b> (10)") and "Фильтр" not in " ".join(
        own.button_labels()
    )


async def test_a_lead_reassigns_and_the_new_owner_is_told(harness: Harness) -> None:
    _, lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    vera_person, vera = await harness.person(name="Вера")
    await anna.send("/new Ромашка")
    await lead.send("/deals")
    await lead.click("Ромашка")
    await lead.click("Передать")
    replies = await lead.click("Вера")
    assert replies[0].text == "👥 «Ромашка»: ответственный теперь Вера."
    assert vera.last_reply().text.startswith("👥 Вам передали сделку <b>Ромашка</b>")
    assert [title for title, _, _ in await _stored(harness, vera_person)] == ["Ромашка"]


async def test_morning_nudge_once_a_day(harness: Harness, clock: FrozenClock) -> None:
    _person, anna = await harness.person()
    await anna.send("/new Ромашка")
    clock.advance(days=4)  # stalled: «Новый лид» rots after 2 days
    assert await send_nudges(harness.app) == 1
    nudge = anna.last_reply()
    assert nudge.text.startswith(ru("nudge.header"))
    assert "• Ромашка — Новый лид, 4 дн. без движения" in nudge.text
    assert nudge.button_labels() == ["Ромашка"]
    assert await send_nudges(harness.app) == 0
    clock.advance(days=1)
    assert await send_nudges(harness.app) == 1


async def test_no_nudge_when_there_is_nothing_to_say(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    assert await send_nudges(harness.app) == 0


async def test_nudge_day_follows_the_team_time_zone(harness: Harness, clock: FrozenClock) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    clock.advance(days=3)
    clock.now = clock.now.replace(hour=20, minute=30)  # 23:30 in Moscow
    assert await send_nudges(harness.app) == 1
    clock.advance(hours=1)  # 00:30 in Moscow: a new local day
    assert await send_nudges(harness.app) == 1
    clock.advance(hours=1)
    assert await send_nudges(harness.app) == 0


async def test_how_did_it_go_after_the_next_step(harness: Harness, clock: FrozenClock) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    await anna.send("звонок через 2 часа")
    clock.advance(hours=2, minutes=29)
    assert await send_followups(harness.app) == 0
    clock.advance(minutes=2)
    assert await send_followups(harness.app) == 1
    question = anna.last_reply()
    assert question.text == "«Ромашка»: звонок — как прошло?"
    assert question.button_labels() == ["▶ Продвинулась", "📅 Новый шаг", "✖ Проиграна", "💤 Позже"]
    assert await send_followups(harness.app) == 0
    await anna.click("▶ Продвинулась", question)
    replies = await anna.click("Презентация")
    assert replies[0].text.split("\n\n")[0] == "<b>Ромашка</b>: Квалификация → Презентация"


async def test_a_blocked_manager_is_marked_unreachable(
    harness: Harness, clock: FrozenClock
) -> None:
    person, anna = await harness.person()
    await anna.send("/new Ромашка")
    clock.advance(days=4)
    harness.request.blocked_chats.add(person.telegram_id)
    assert await send_nudges(harness.app) == 0
    async with transaction(harness.core.db) as session:
        reachable = await session.scalar(select(User.reachable).where(User.id == person.id))
    assert reachable is False


@pytest.mark.parametrize(
    "args",
    [
        ("dv", "{id}"), ("dn", "{id}", "{v}"), ("dp", "{id}", "{v}"),
        ("dm", "{id}", "offer", "{v}"),
        ("dw", "{id}", "{v}"), ("dy", "{id}", "{v}"), ("da", "{id}", "{v}"), ("dl", "{id}", "{v}"),
        ("dr", "{id}", "price", "{v}"), ("dt", "{id}"), ("ds", "{id}"), ("dq", "{id}", "1"),
        ("dg", "{id}"), ("dc", "{id}"), ("fl", "{id}"),
    ],
)  # fmt: skip
async def test_buttons_on_someone_elses_deal_are_refused(
    harness: Harness, args: tuple[str, ...]
) -> None:
    anna_person, anna = await harness.person(name="Анна")
    _, boris = await harness.person(name="Борис")
    await anna.send("/new Ромашка")
    (deal,) = await harness.core.deals.refs(anna_person)
    own_message = (await boris.send("/help"))[-1]  # a forged button on Boris's own message
    data = ":".join(part.format(id=deal.id, v=deal.version) for part in args)
    replies = await boris.press(own_message, data)
    # Neither the deal's title nor that it exists: the answer to a press on no deal at all.
    expected = ru("deal.reassign_forbidden") if args[0] == "dg" else ru("common.expired_button")
    assert [reply.text for reply in replies] == [expected]
    assert (await harness.core.deals.card(anna_person, deal.id)).version == deal.version


async def test_a_lost_comment_over_the_limit_is_refused_and_asked_again(harness: Harness) -> None:
    person, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("Ромашка → проиграна")
    await anna.click("Выбрали конкурента")
    long_comment = "ушли к конкуренту " * 200
    replies = await anna.send(long_comment)
    assert [r.text for r in replies] == [again("deal.bad_note", limit=3000)]
    assert (await anna.send("ушли к Азия-Стеллаж"))[-1].text == ru("deal.lost_comment_saved")
    card = await harness.core.deals.card(person, (await harness.core.deals.refs(person))[0].id)
    assert card.lost_comment == "ушли к Азия-Стеллаж" and card.notes == ()


async def test_won_words_reach_a_funnels_won_stage_whatever_its_name(tmp_path: Path) -> None:
    """A session on a funnel whose won stage is «Оплачено»: «ландыш выиграна» wins the deal,
    and of «Орион» and «Орион-М», «орион-м → счёт» moves the one named."""
    from tests.test_move_matching import PAID_FUNNEL

    funnel_file = tmp_path / "funnel.yaml"
    funnel_file.write_text(yaml.safe_dump(PAID_FUNNEL, allow_unicode=True), encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    core = build_core(make_settings(tmp_path, url, funnel_file=funnel_file))
    await core.migrate()
    harness = Harness(core)
    await harness.app.initialize()
    try:
        person, anna = await harness.person()
        for title in ("Ландыш", "Орион", "Орион-М"):
            await anna.send(f"/new {title}")
        await anna.send("орион-м → счёт выставлен")
        assert (await anna.send("ландыш выиграна"))[-1].text == "Отметить «Ландыш» выигранной?"
        await anna.click("Да")
        del person
        async with transaction(core.db) as session:
            rows = await session.execute(select(Deal.title, Deal.stage))
            stages = {row.title: row.stage for row in rows}
        assert stages == {"Ландыш": "paid", "Орион": "contact", "Орион-М": "invoice"}
    finally:
        await harness.app.shutdown()
        await core.close()


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_a_title_of_emoji_only_is_refused_with_a_hint(
    harness: Harness, language: str
) -> None:
    _, anna = await harness.person(language=language)
    replies = await anna.send("/new 🔥🔥🔥, 100 000")
    t = catalog(language)
    assert [r.text for r in replies] == [t("deal.title_without_letters", title="🔥🔥🔥")]
    assert await _stored(harness) == []


@pytest.mark.parametrize(
    ("line", "key", "params"),
    [
        ("/new A2, 0", "amount.not_positive", {"value": "0"}),
        ("/new A2, 0,005", "amount.invalid", {"value": "0,005"}),
    ],
)
async def test_a_zero_or_fractional_kopeck_amount_is_explained(
    harness: Harness, line: str, key: str, params: dict[str, str]
) -> None:
    _, anna = await harness.person()
    assert [r.text for r in await anna.send(line)] == [ru(key, **params)]
    assert await _stored(harness) == []


async def test_a_billion_after_the_title_is_the_amount(harness: Harness) -> None:
    _, anna = await harness.person()
    replies = await anna.send("/new A2, 1 000 000 000")
    assert "1\u00a0000\u00a0000\u00a0000\u00a0₽" in replies[0].text


@pytest.mark.parametrize(
    ("language", "typed", "saved"),
    [
        ("en", "call them tomorrow at 11am", "📅 Acme: call them — Tue Dec 1 11:00"),
        ("en", "send contract on Friday at 3pm", "📅 Acme: send contract — Fri Dec 4 15:00"),
        ("en", "demo next monday", "📅 Acme: demo — Mon Dec 7 10:00"),
        ("ru", "позвонить в 3 часа дня", "📅 Acme: позвонить — пн 30.11 15:00"),
        ("ru", "2030-01-01 подписать акт", "📅 Acme: подписать акт — вт 01.01.2030 10:00"),
    ],
)
async def test_a_typed_next_step_shows_the_weekday_and_hour_it_was_read_as(
    harness: Harness, language: str, typed: str, saved: str
) -> None:
    _person, anna = await harness.person(language=language)
    await anna.send("/new Acme")
    await anna.send("acme -> offer" if language == "en" else "acme в кп")
    assert (await anna.send(typed))[-1].text == saved


# --- a pending question never swallows what the person moved on to --------------------------


async def test_an_objection_while_a_next_step_is_asked_is_answered(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    replies = await anna.send("клиент говорит дорого")
    assert ru("common.question_dropped") not in [r.text for r in replies]  # it was optional
    assert "дорого" in replies[-1].text.lower() and replies[-1].text != ru("kb.not_found")
    assert (await anna.send("ок"))[-1].text != again("next_step.not_understood")


async def test_a_short_non_date_is_asked_again_with_the_way_out(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    assert (await anna.send("ок"))[-1].text == again("next_step.not_understood")
    assert (await anna.send("пропустить"))[-1].text == ru("next_step.skipped")


async def test_a_move_while_an_amount_is_asked_is_that_move(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Поставка, 100 000")
    await anna.send("/new Ромашка, 200 000")
    await anna.send("ромашка выиграна")
    await anna.click("Другая сумма")
    replies = await anna.send("поставка в переговоры")
    assert replies[0].text == ru("common.question_dropped")
    assert "Поставка" in replies[1].text and "Переговоры" in replies[1].text
    assert ("Ромашка", "lead", "open") in await _stored(harness)


async def test_a_command_while_a_question_is_asked_is_that_command(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new Ромашка")
    await anna.send("ромашка дальше")
    assert "Ромашка" in (await anna.send("/deals"))[0].text
    assert (await anna.send("ок"))[-1].text != again("next_step.not_understood")
    await anna.send("/new")
    replies = await anna.send("/deals")  # a question that wants an answer is left in a line
    assert replies[0].text == ru("common.question_dropped") and "Ромашка" in replies[1].text


@pytest.mark.parametrize(("language", "word"), [("ru", "Пропустить"), ("en", "skip")])
async def test_typing_skip_does_what_the_skip_button_does(
    harness: Harness, language: str, word: str
) -> None:
    t = catalog(language)
    _, anna = await harness.person(language=language)
    await anna.send("/new")
    await anna.send("Ромашка")
    assert (await anna.send(word))[-1].text == t("deal.new_amount")
    assert (await anna.send(word))[-1].text == t("deal.new_next_step")
    replies = await anna.send(word)
    assert replies[0].text.startswith("✨")
    await anna.send("ромашка → проиграна")
    await anna.click(anna.last_reply().button_labels()[0])
    assert (await anna.send(word))[-1].text == t("deal.lost_no_comment", title="Ромашка")


@pytest.mark.parametrize(
    ("opener", "choice"), [("🔀 Этап", "Квалификация"), ("✖ Проиграна", "Цена")]
)
async def test_an_old_card_never_undoes_a_win_made_by_the_lead(
    harness: Harness, opener: str, choice: str
) -> None:
    """The manager opens the stage list (or the lost reasons) on an old card; the lead wins
    the deal meanwhile; the manager's press changes nothing and shows the deal as it is."""
    lead_person, _lead = await harness.person(Role.LEAD, name="Лида")
    _, anna = await harness.person(name="Анна")
    card = (await anna.send("/new Ромашка, 100 000"))[1]
    listed = (await anna.click(opener, card))[-1]
    deal = (await harness.core.deals.refs(lead_person))[0]
    await harness.core.deals.win(
        lead_person, deal.id, via=Via.BUTTON, expected_version=deal.version
    )
    replies = await anna.click(choice, listed)
    assert replies[0].text == ru("deal.changed", title="Ромашка")
    assert [(stage, status) for _, stage, status in await _stored(harness)] == [("paid", "won")]


async def test_closed_deals_have_their_views_and_their_names_open_their_cards(
    harness: Harness,
) -> None:
    _, anna = await harness.person()
    for title in ("Ромашка", "Лютик", "Фиалка"):
        await anna.send(f"/new {title}, 100 000")
    await anna.send("ромашка выиграна")
    await anna.click("Да")
    await anna.send("лютик → проиграна")
    await anna.click("Цена")
    won = (await anna.send("/deals won"))[-1]
    assert won.text.startswith("<b>Выигранные сделки</b>") and "Ромашка" in won.text
    assert "Лютик" not in won.text and "Фиалка" not in won.text
    lost = (await anna.click("✖ Проигранные", won))[-1]
    assert "Лютик" in lost.text
    card = (await anna.click("Лютик", lost))[-1]
    assert "Лютик" in card.text and "Проиграна" in card.text
    typed = await anna.send("ромашка")
    assert typed[-1].text.startswith("<b>Ромашка</b>") and "🏆 Выиграна" in typed[-1].text
    assert (await anna.send("/deals проигранные"))[-1].text.startswith("<b>Проигранные")
    assert (await anna.send("/deals всякие"))[-1].text == ru("deal.unknown_view", view="всякие")
    opened = (await anna.send("/deals"))[-1]
    assert "✅ Выигранные" in opened.button_labels()


async def test_an_old_tomorrow_button_answers_nothing_once_its_question_was_left(
    harness: Harness,
) -> None:
    person, anna = await harness.person()
    await anna.send("/new Ромашка")
    asked = (await anna.send("ромашка дальше"))[0]
    await anna.send("/new")  # the next-step question is left
    await anna.send("/cancel")
    assert (await anna.click("Завтра", asked))[-1].text == ru("common.expired_button")
    card = await harness.core.deals.card(person, (await harness.core.deals.refs(person))[0].id)
    assert card.next_step_due is None


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_a_command_in_the_middle_of_new_says_how_to_start_again(
    harness: Harness, language: str
) -> None:
    t = catalog(language)
    _, anna = await harness.person(language=language)
    await anna.send("/new")
    await anna.send("Acme Corp")
    replies = await anna.send("/deals")
    assert replies[0].text == t("deal.new_dropped", title="Acme Corp")
    assert "/new Acme Corp" in replies[0].text


async def test_a_title_too_long_in_the_new_dialog_is_refused_at_once(harness: Harness) -> None:
    _, anna = await harness.person()
    await anna.send("/new")
    replies = await anna.send("Я" * 300)
    assert replies[-1].text.startswith(ru("deal.bad_title", limit=200, length=300))
    assert (await anna.send("Ромашка"))[-1].text == ru("deal.new_client")


async def test_a_lead_confirming_a_managers_win_leaves_the_win_hers(harness: Harness) -> None:
    """The outsider saw «🥈 Лида — 1 deal, won 2 300 000 ₽» after the lead pressed «Выиграна»
    on Anna's deal: a move counts for whose deal it was, whoever pressed the button."""
    _, anna = await harness.person(name="Анна", team="Урал")
    _, lida = await harness.person(Role.LEAD, name="Лида", team="Урал")
    await anna.send("/new Северсталь, 2 300 000")
    await lida.send("/deals")
    await lida.click("Северсталь")
    await lida.click("Выиграна")
    confirmed = await lida.click("Да, выиграна")
    assert confirmed[0].text.startswith("🏆 <b>Северсталь</b> выиграна")
    board = (await lida.send("/leaderboard today"))[-1].text
    assert "Анна — 1 сделка, выиграно 2\u00a0300\u00a0000\u00a0₽" in board
    assert "Лида" not in board


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_an_open_deals_exact_name_alone_opens_its_card(
    harness: Harness, language: str
) -> None:
    """The second check saw «Ромашка Центр» alone ask «note or question?»."""
    _, anna = await harness.person(language=language)
    await anna.send("/new Ромашка Центр")
    await anna.send("/new Ромашка Плюс")
    card = (await anna.send("ромашка центр"))[-1]
    assert card.text.startswith("<b>Ромашка Центр</b>")
    maybe = (await anna.send("Ромашка Центр дорого"))[-1]  # more than the name: still asked
    assert not maybe.text.startswith("<b>Ромашка Центр</b>")
