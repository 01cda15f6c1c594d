"""The Prometheus metrics (issue 14, item 2) move by exactly what happened in a session.

Each test reads `exposition()` (what `/metrics` serves) before and after people use the
real Application offline, and compares the two: the instruments are shared by the whole
test process, so only their change says anything.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot.common.clock import FrozenClock
from bot.common.errors import Unavailable
from bot.common.i18n import catalog
from bot.container import Core
from bot.deals.telegram.nudges import send_nudges
from bot.knowledge.service import KnowledgeService
from bot.ops.metrics import exposition
from bot.people.service import Role
from bot.reports.telegram.jobs import send_digests
from tests.conftest import Harness
from tests.test_metrics import _dataset, at

ru = catalog("ru")
en = catalog("en")

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]


def scrape() -> Samples:
    """Every sample `/metrics` would serve now, parsed as Prometheus parses it."""
    body, content_type = exposition()
    assert content_type == CONTENT_TYPE_LATEST
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


class Moved:
    """What changed between two scrapes; samples that did not change are left out."""

    def __init__(self) -> None:
        self.before = scrape()
        self.changes: Samples = {}

    def close(self) -> None:
        after = scrape()
        for key, value in after.items():
            if value != self.before.get(key, 0.0):
                self.changes[key] = value - self.before.get(key, 0.0)

    def of(self, name: str, **labels: str) -> float:
        return self.changes.get((name, tuple(sorted(labels.items()))), 0.0)

    def series(self, name: str) -> dict[Labels, float]:
        """The changed series of one sample name, by their labels."""
        return {labels: delta for (n, labels), delta in self.changes.items() if n == name}

    def updates(self) -> dict[tuple[str, str], float]:
        """The change of `voronka_updates_total`, by (handler, outcome)."""
        return {
            (dict(labels)["handler"], dict(labels)["outcome"]): delta
            for labels, delta in self.series("voronka_updates_total").items()
        }


@contextmanager
def moved() -> Iterator[Moved]:
    change = Moved()
    yield change
    change.close()


HANDLED = "voronka_update_handling_seconds_count"
TRANSACTIONS = "voronka_db_transaction_seconds_count"
TRANSACTION_TIME = "voronka_db_transaction_seconds_sum"
ERRORS = "voronka_errors_total"
NOTICES = "voronka_scheduled_notices_total"


async def test_a_text_move_is_one_ok_update_with_its_time_and_its_transactions(
    harness: Harness,
) -> None:
    _, anna = await harness.person(name="Анна")
    await anna.send("/new Ромашка")
    with moved() as change:
        replies = await anna.send("Ромашка дальше")
    assert "Ромашка" in replies[0].text
    assert change.updates() == {("on_text", "ok"): 1}
    assert change.of(HANDLED) == 1
    assert change.of("voronka_update_handling_seconds_bucket", le="+Inf") == 1
    assert change.of(TRANSACTIONS) >= 1  # the move's, beside any read
    assert change.of(TRANSACTION_TIME) > 0
    assert change.series(ERRORS) == {}


async def test_each_bot_api_call_is_timed_under_its_method(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    await anna.send("/new Ромашка")
    with moved() as change:
        replies = await anna.send("Ромашка дальше")
    calls = change.series("voronka_bot_api_seconds_count")
    assert calls == {(("method", "sendMessage"),): len(replies)}
    assert change.of("voronka_bot_api_seconds_sum", method="sendMessage") > 0


async def test_a_stranger_refused_at_the_gate_is_counted_as_refused(harness: Harness) -> None:
    with moved() as change:
        russian = await harness.stranger("ru").send("/deals")
        english = await harness.stranger("en").send("/deals")
    assert [r.text for r in russian] == [ru("common.refusal", company="Вектор Склад")]
    assert [r.text for r in english] == [en("common.refusal", company="Вектор Склад")]
    assert change.updates() == {("gate", "refused"): 2}
    assert change.of(HANDLED) == 2


async def test_a_refused_use_case_is_counted_under_its_handler(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна", language="en")
    with moved() as change:
        replies = await anna.send("/plan")
    assert [r.text for r in replies] == [en("plan.forbidden")]
    ((handler, outcome),) = change.updates()
    assert outcome == "refused" and handler != "other"
    assert change.series(ERRORS) == {}


async def test_a_handlers_error_is_an_error_update_and_an_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, lead = await harness.person(Role.LEAD, team="Урал")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(harness.core.people, "teams", broken)
    with moved() as change:
        replies = await lead.send("/team")
    assert [r.text for r in replies] == [ru("common.error")]
    ((handler, outcome),) = change.updates()
    assert outcome == "error" and handler != "other"
    assert change.of(ERRORS, where="update") == 1
    assert change.of(HANDLED) == 1


async def test_a_database_outage_at_the_gate_counts_a_database_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, anna = await harness.person(name="Анна")
    harness.core.people.forget()

    async def down(*args: object, **kwargs: object) -> None:
        raise Unavailable("connection refused")

    monkeypatch.setattr(harness.core.people, "identify", down)
    with moved() as change:
        replies = await anna.send("/deals")
    assert [r.text for r in replies] == [ru("common.unavailable")]
    assert change.updates() == {("gate", "unavailable"): 1}
    assert change.series(ERRORS) == {(("where", "database"),): 1}


async def test_a_duplicate_delivery_is_counted_as_duplicate_and_sends_nothing(
    harness: Harness,
) -> None:
    _, anna = await harness.person(name="Анна")
    await anna.send("/new Ромашка")
    await anna.send("Ромашка дальше")
    with moved() as change:
        again = await anna.redeliver()
    assert again == []
    assert change.updates() == {("gate", "duplicate"): 1}
    assert change.of(HANDLED) == 1


async def test_a_question_times_one_hybrid_search(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    with moved() as change:
        replies = await anna.send("клиент говорит дорого")
    assert replies and replies[0].text
    assert change.series("voronka_search_seconds_count") == {(("ranking", "hybrid"),): 1}
    assert change.of("voronka_search_seconds_bucket", ranking="hybrid", le="+Inf") == 1
    assert change.of("voronka_search_seconds_sum", ranking="hybrid") > 0


async def test_a_search_without_the_model_is_timed_as_lexical(
    core: Core, clock: FrozenClock
) -> None:
    service = KnowledgeService(core.db, (core.settings.knowledge_dir,), clock=clock)
    await service.load()
    person = await core.people.ensure_person(77, "Анна", Role.MANAGER, "Продажи", "ru")
    with moved() as change:
        hits = await service.search(person, "дорого")
        await service.found(person, "дорого", limit=5)
    assert hits
    assert change.series("voronka_search_seconds_count") == {(("ranking", "lexical"),): 2}


async def test_a_nudge_that_fails_counts_failed_then_retried_and_sent(
    harness: Harness, clock: FrozenClock
) -> None:
    _, anna = await harness.person(name="Анна")
    _, boris = await harness.person(name="Борис")
    for chat, title in ((anna, "Ромашка"), (boris, "Лютик")):
        await chat.send(f"/new {title}")
        await chat.send(f"{title} дальше")
        await chat.send("звонок завтра")
    clock.advance(days=1)
    clock.now = clock.now.replace(hour=6, minute=0)
    harness.request.fail("sendMessage", 500, times=1)
    with moved() as first:
        assert await send_nudges(harness.app) == 1
    assert first.series(NOTICES) == {
        (("kind", "nudge"), ("outcome", "sent")): 1,
        (("kind", "nudge"), ("outcome", "failed")): 1,
    }
    with moved() as second:
        assert await send_nudges(harness.app) == 1  # the failed one, on the next run
    assert second.series(NOTICES) == {
        (("kind", "nudge"), ("outcome", "retried")): 1,
        (("kind", "nudge"), ("outcome", "sent")): 1,
    }
    with moved() as third:
        assert await send_nudges(harness.app) == 0
    assert third.series(NOTICES) == {}


async def test_a_nudge_to_someone_who_blocked_the_bot_is_dropped(
    harness: Harness, clock: FrozenClock
) -> None:
    _, anna = await harness.person(name="Анна")
    await anna.send("/new Ромашка")
    await anna.send("Ромашка дальше")
    await anna.send("звонок завтра")
    clock.advance(days=1)
    clock.now = clock.now.replace(hour=6, minute=0)
    harness.request.fail("sendMessage", 403, times=1)
    with moved() as change:
        assert await send_nudges(harness.app) == 0
    assert change.series(NOTICES) == {(("kind", "nudge"), ("outcome", "dropped")): 1}
    with moved() as later:
        assert await send_nudges(harness.app) == 0
    assert later.series(NOTICES) == {}


async def test_each_digest_sent_is_counted_once(harness: Harness, clock: FrozenClock) -> None:
    await _dataset(harness.core, clock)
    at(clock, "2026-12-01 09:00")
    with moved() as change:
        sent = await send_digests(harness.app)
    assert sent >= 1
    assert change.series(NOTICES) == {(("kind", "digest"), ("outcome", "sent")): sent}
    with moved() as later:
        assert await send_digests(harness.app) == 0
    assert later.series(NOTICES) == {}


async def test_an_error_in_a_scheduled_job_counts_a_job_error(harness: Harness) -> None:
    with moved() as change:
        await harness.app.process_error(None, RuntimeError("a job broke"))
    assert change.series(ERRORS) == {(("where", "job"),): 1}
    assert change.updates() == {}


async def test_what_people_type_never_becomes_a_label(harness: Harness) -> None:
    _, anna = await harness.person(name="Анна")
    typed = ["zzqx-секрет-42", "/zzqx_command", "Ромашка zzqx"]
    with moved() as change:
        for text in typed:
            await anna.send(text)
        await harness.stranger().send("zzqx стороннего")
    assert sum(change.updates().values()) == 4
    body, _ = exposition()
    assert "zzqx" not in body.decode()
