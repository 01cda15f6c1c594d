"""The digest: JSON and text, the chart, and delivery that can be trusted (frozen clock)."""

import json
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.common.clock import FrozenClock
from bot.common.i18n import catalog
from bot.deals.service import Via
from bot.people.service import Role
from bot.reports.digest import digest_json
from bot.reports.telegram import jobs
from bot.reports.telegram.digest import DigestRenderer
from bot.reports.telegram.jobs import send_digests
from tests.conftest import Harness
from tests.test_metrics import _dataset, at

MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "RETRY_DELAYS", (0.0, 0.0, 0.0))


async def test_json_fields_and_amounts_as_strings(harness: Harness, clock: FrozenClock) -> None:
    lida = (await _dataset(harness.core, clock))["lida"]
    assert lida.team_id is not None
    digest = await harness.core.reports.daily_digest(lida, lida.team_id, date(2026, 11, 30))
    data = digest_json(digest)
    assert list(data) == [
        "team", "date", "new_deals", "deals_advanced", "stages_advanced", "won_count",
        "won_amount", "won_amount_other", "lost_count", "lost_reasons", "pipeline_by_stage",
        "weighted_forecast", "weighted_forecast_other", "stalled", "managers",
    ]  # fmt: skip
    assert data["won_amount"] == "200000.00" and data["weighted_forecast"] == "56500.00"
    assert data["pipeline_by_stage"]["offer"] == {"count": 1, "amount": "100000.00"}
    assert list(data["pipeline_by_stage"]) == ["lead", "needs", "offer"]  # funnel order
    assert data["stalled"] == [
        {"deal_id": data["stalled"][0]["deal_id"], "title": "F", "owner_telegram_id": 1,
         "stage": "lead", "days": 10}
    ]  # fmt: skip
    anna = next(m for m in data["managers"] if m["name"] == "Анна")
    assert set(anna) == {
        "telegram_id", "name", "deals_advanced", "stages_advanced", "won_count", "won_amount",
        "won_amount_other", "lost_count", "plan_amount", "fact_amount", "fact_amount_other",
    }  # fmt: skip
    json.dumps(data)


async def test_text_in_both_languages(harness: Harness, clock: FrozenClock) -> None:
    lida = (await _dataset(harness.core, clock))["lida"]
    assert lida.team_id is not None
    digest = await harness.core.reports.daily_digest(lida, lida.team_id, date(2026, 11, 30))
    renderer = DigestRenderer(harness.core.funnels, harness.core.settings.tz)
    ru = renderer.text(digest, catalog("ru"))
    assert "📊 <b>Сводка «Урал» за 30.11.2026</b>" in ru
    assert "продвинуто: 2 сделки (4 шага)" in ru and "✖ Проиграно: 1 (Цена — 1)" in ru
    assert "• F — Анна, Новый лид, 10 дн." in ru
    en = renderer.text(digest, catalog("en"))
    assert "advanced: 2 deals (4 steps)" in en and "Lost: 1 (Price — 1)" in en


async def test_the_digest_is_sent_at_nine_once_and_caught_up_after_downtime(
    harness: Harness, clock: FrozenClock
) -> None:
    await _dataset(harness.core, clock)
    lead = harness.client(4, name="Лида")
    admin_person, admin = await harness.person(Role.ADMIN, name="Ольга")
    at(clock, "2026-12-01 08:59")
    assert await send_digests(harness.app) == 0  # before 09:00 local
    at(clock, "2026-12-01 09:00")
    sent = await send_digests(harness.app)
    assert sent == 3  # Лида: Урал; Ольга (admin): Урал and Сибирь
    photo = next(m for m in lead.messages() if m.photo)
    assert photo.photo and photo.photo.startswith(b"\x89PNG")
    assert "Сводка «Урал» за 30.11.2026" in lead.last_reply().text
    assert await send_digests(harness.app) == 0  # a restart: nothing twice
    at(clock, "2026-12-01 15:00")  # a later run on the same day sends nothing again
    assert await send_digests(harness.app) == 0
    at(clock, "2026-12-02 11:30")  # down at 09:00 that day: the first run catches up
    assert await send_digests(harness.app) == 3
    del admin_person, admin


async def test_a_recipient_who_blocked_the_bot_does_not_stop_the_others(
    harness: Harness, clock: FrozenClock
) -> None:
    await _dataset(harness.core, clock)
    lead = harness.client(4, name="Лида")
    await harness.person(Role.ADMIN, name="Ольга")
    harness.request.blocked_chats.add(lead.user_id)
    at(clock, "2026-12-01 09:00")
    assert await send_digests(harness.app) == 2  # the admin's two teams
    assert await harness.core.people.identify(4, "Лида") is not None


async def test_mondays_bring_the_weekly_digest_too(harness: Harness, clock: FrozenClock) -> None:
    await _dataset(harness.core, clock)
    lead = harness.client(4, name="Лида")
    at(clock, "2026-12-07 09:05")  # a Monday: yesterday's digest and last week's
    await send_digests(harness.app)
    texts = [m.text for m in lead.messages() if not m.photo]
    assert any("Неделя «Урал»: 30 нояб – 6 дек" in text for text in texts)
    assert any("Неделей раньше" in text for text in texts)


async def test_network_errors_are_retried(
    harness: Harness, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telegram.error import NetworkError

    await _dataset(harness.core, clock)
    lead = harness.client(4, name="Лида")
    original = harness.request.do_request
    failures = {"left": 2}

    async def flaky(url: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if url.endswith("sendPhoto") and failures["left"]:
            failures["left"] -= 1
            raise NetworkError("connection reset")
        return await original(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(harness.request, "do_request", flaky)
    at(clock, "2026-12-01 09:00")
    assert await send_digests(harness.app) == 1
    assert any(m.photo for m in lead.messages())


async def test_stats_leaderboard_plan_and_export_in_the_bot(
    harness: Harness, clock: FrozenClock
) -> None:
    await _dataset(harness.core, clock)
    at(clock, "2026-11-30 18:00")
    lead = harness.client(4, name="Лида")
    anna = harness.client(1, name="Анна")
    await lead.send("/plan")
    await lead.click("Анна")
    assert (await lead.send("1,5 млн, 5 сделок"))[-1].text.startswith(
        "✅ План на 2026-11 — Анна: 1\u00a0500\u00a0000\u00a0₽, 5"
    )
    mine = (await anna.send("/stats"))[-1].text
    assert (
        "продвинуто сделок: 2 (шагов: 4)" in mine
        and "План на месяц: 1\u00a0500\u00a0000\u00a0₽" in mine
    )
    team = (await lead.send("/stats today"))[-1].text
    assert "<b>Анна</b>" in team and "<b>Борис</b>" in team
    board = (await lead.send("/leaderboard today"))[-1]
    assert "🥇 Анна — 2 сделки, выиграно 200\u00a0000\u00a0₽" in board.text
    assert (await lead.click("Отправить в чат команды", board))[-1].text == catalog("ru")(
        "leaderboard.no_group"
    )
    replies = await lead.send("/export 2026-11")
    assert replies[-1].document and replies[-1].document[0] == "voronka-2026-11.xlsx"
    assert (await anna.send("/export"))[-1].text == catalog("ru")("export.forbidden")
    assert (await anna.send("/stats позавчера"))[-1].text.startswith("Не понял период")


def test_digest_preview_cli(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VORONKA_DATABASE_URL", raising=False)
    assert (
        main(
            ["digest", "preview", "--team", "Нет такой", "--date", "2026-11-30", "--format", "json"]
        )
        == 1
    )
    assert "There is no such team" in capsys.readouterr().err


async def test_a_pace_forecast_waits_for_a_week_of_the_month(
    harness: Harness, clock: FrozenClock
) -> None:
    """One 145 000 ₽ win on the 1st made «прогноз по темпу: 9 901 810,85 ₽»."""
    lead_person, lead = await harness.person(Role.LEAD, team="Урал", name="Лида")
    anna_person, anna = await harness.person(team="Урал", name="Анна")
    at(clock, "2026-12-01 12:00")
    await lead.send("/plan")
    await lead.click("Анна")
    await lead.send("1 млн")
    deal = await harness.core.deals.create(anna_person, "Ромашка", amount=Decimal(145000))
    await harness.core.deals.win(
        anna_person, deal.id, via=Via.BUTTON, expected_version=deal.version
    )
    early = (await anna.send("/stats month"))[-1].text
    assert "прогноз по темпу: рано — нужно 7 дней месяца" in early
    at(clock, "2026-12-16 00:00")  # 15 of 31 days behind: the fact × 31 / 15
    later = (await anna.send("/stats month"))[-1].text
    assert "прогноз по темпу: 299\u00a0666,67\u00a0₽" in later
    del lead_person
