"""Two `voronka run` on one PostgreSQL database: one polls, the other stands by and takes
over when the first is killed (kill -9) or stopped (SIGTERM) (issue 14, items 3 and 4)."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.bot_api_standin import BotApiStandin
from tests.e2e.conftest import BotProcess
from tests.e2e.test_bot_process import say
from tests.e2e.test_database_outage_process import PrivateServer, server

__all__ = ["server"]  # the fixture: a PostgreSQL of the test's own, to be restarted

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

LEAD = 7400
WRITERS = (7401, 7402, 7403, 7404)
DEALS = ("Фиалка", "Ромашка", "Василёк", "Лютик")
# The moves each writer makes, one stage at a time, with a question between two of them.
STAGES = ("Квалификация", "Выявление потребностей", "Презентация", "КП отправлено",
          "Переговоры", "Договор и счёт")  # fmt: skip
STANDBY = "standby: another process is polling"
TOOK_OVER = "took over polling"


@pytest.fixture
def pair(
    standin: BotApiStandin, tmp_path: Path, empty_postgres_database: str
) -> Iterator[list[BotProcess]]:
    """Two processes on an empty database of their own (they migrate it)."""
    processes = [BotProcess(standin, tmp_path / name) for name in ("a", "b")]
    for process in processes:
        process.env["VORONKA_DATABASE_URL"] = empty_postgres_database
        process.env["VORONKA_TIMEZONE"] = "UTC"
    yield processes
    for process in processes:
        process.stop()


def wait_for_log(process: BotProcess, line: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while line not in (process.log_path.read_text() if process.log_path.exists() else ""):
        assert process.process is not None and process.process.poll() is None, "it exited"
        assert time.monotonic() < deadline, f"{line!r} not in {process.log_path}"
        time.sleep(0.05)


def start_pair(standin: BotApiStandin, active: BotProcess, standby: BotProcess) -> None:
    active.start()
    wait_for_log(active, "polling: no other process is polling this database")
    polls = len(standin.calls_to("getUpdates"))
    standby.start()
    wait_for_log(standby, STANDBY)
    time.sleep(1.5)  # a standby's try or two: it must not poll meanwhile
    assert STANDBY not in active.log_path.read_text()
    # Only the active process polls: the stand-in answers a second poller with 409, none came.
    assert not [e for e in standin.errors if e["error_code"] == 409]
    assert len(standin.calls_to("getUpdates")) >= polls


class Writer(threading.Thread):
    """A manager moving their deal stage by stage, asking for help between two moves, each
    message sent once and its answer awaited (long enough to span a failover)."""

    def __init__(self, standin: BotApiStandin, user_id: int, deal: str) -> None:
        super().__init__(daemon=True)
        self.standin, self.user_id, self.deal = standin, user_id, deal
        self.messages: list[str] = []
        for stage in STAGES:
            self.messages += [f"{deal} → {stage}", "/help"]
        self.before = standin.sent_count(user_id)
        self.sent = 0
        self.answered = 0
        self.failure: BaseException | None = None
        self.answer_times: list[float] = []

    def run(self) -> None:
        try:
            for message in self.messages:
                before = self.standin.sent_count(self.user_id)
                self.sent += 1
                self.standin.send_message(self.user_id, message, first_name=f"U{self.user_id}")
                self.standin.wait_for_reply(self.user_id, after=before, timeout=40)
                self.answered += 1
                self.answer_times.append(time.monotonic())
                time.sleep(0.4)  # reading the answer
        except BaseException as error:  # reported by the test
            self.failure = error

    def replies(self) -> list[str]:
        return [str(r["text"]) for r in self.standin.sent(self.user_id)[self.before :]]


def register(standin: BotApiStandin, process: BotProcess) -> None:
    lead = process.invite("lead", team="Урал")
    invites = [process.invite("manager", team="Урал") for _ in WRITERS]
    say(standin, LEAD, f"/start {lead['token']}", replies=2)
    for user_id, deal, invite in zip(WRITERS, DEALS, invites, strict=True):
        say(standin, user_id, f"/start {invite['token']}", replies=2)
        say(standin, user_id, f"/new {deal}, 100 000", replies=2)


def digests(standin: BotApiStandin) -> list[object]:
    return [p for p in standin.calls_to("sendPhoto") if p.get("chat_id") == LEAD]


def test_kill_9_the_active_process_while_people_write_the_standby_takes_over(
    standin: BotApiStandin, pair: list[BotProcess]
) -> None:
    active, standby = pair
    # The team is made by a first process, stopped, so that the digest can fall due a
    # fixed time after the pair starts: a little after the active one is killed.
    active.env["VORONKA_DIGEST_TIME"] = "23:59:59"
    active.start()
    register(standin, active)
    active.stop()
    due = datetime.now(UTC) + timedelta(seconds=45)
    if due.date() != (due - timedelta(minutes=2)).date():
        pytest.skip("too close to midnight for a digest due in a minute")
    for process in pair:
        process.env["VORONKA_DIGEST_TIME"] = due.strftime("%H:%M:%S")
    start_pair(standin, active, standby)
    assert datetime.now(UTC) < due - timedelta(seconds=5), "the start took too long"
    while datetime.now(UTC) < due - timedelta(seconds=5):
        time.sleep(0.05)

    writers = [Writer(standin, u, d) for u, d in zip(WRITERS, DEALS, strict=True)]
    for writer in writers:
        writer.start()
    # Killed between two updates (every message so far answered), once each writer has had
    # a few answers, two seconds before the digest is due; the writing goes on.
    deadline = time.monotonic() + 60
    while not (
        all(w.answered >= 3 for w in writers)
        and datetime.now(UTC) >= due - timedelta(seconds=2)
        and all(w.sent == w.answered for w in writers)
    ):
        assert time.monotonic() < deadline, "the writers stalled before the kill"
        time.sleep(0.001)
    assert not digests(standin), "the digest went out before it was due"
    killed_at = time.monotonic()
    active.kill_now()
    unanswered = sum(len(w.messages) - w.answered for w in writers)

    wait_for_log(standby, TOOK_OVER, timeout=30)
    for writer in writers:
        writer.join(timeout=120)
        assert writer.failure is None, f"{writer.user_id}: {writer.failure!r}"
    after_kill = [t for w in writers for t in w.answer_times if t > killed_at]
    assert len(after_kill) == unanswered  # the rest was written during and after the failover
    takeover = min(after_kill) - killed_at
    print(f"\nfailover: the first answer after kill -9 came {takeover:.2f} s later")
    assert takeover < 15

    standin.wait_until(lambda: digests(standin) or None, timeout=30, what="the digest")
    time.sleep(2)  # anything sent twice would be here by now
    for writer in writers:
        replies = writer.replies()
        # Every message answered exactly once.
        assert len(replies) == len(writer.messages), replies
        # Nothing moved twice: the deal went through each stage once, in order.
        moves = [r.split("\n")[0] for r in replies if r.startswith(f"{writer.deal}: ")]
        stages = ("Новый лид", *STAGES)
        assert moves == [f"{writer.deal}: {a} → {b}" for a, b in itertools.pairwise(stages)]
    # The digest due during the failover went out once, from the process that took over.
    assert len(digests(standin)) == 1
    assert "took over polling" not in active.log_path.read_text()
    assert standin.unknown_methods == []


def test_sigterm_while_an_update_is_handled_the_reply_goes_out_and_the_standby_takes_over(
    standin: BotApiStandin, pair: list[BotProcess]
) -> None:
    active, standby = pair
    start_pair(standin, active, standby)
    register(standin, active)

    # The reply to this move is slow to reach Telegram while the process is told to stop.
    held = standin.hold_next("sendMessage", then_answer=True)
    calls = len(standin.calls_to("sendMessage"))
    before = standin.sent_count(WRITERS[0])
    standin.send_message(WRITERS[0], f"{DEALS[0]} → Квалификация", first_name="U")
    standin.wait_until(lambda: len(standin.calls_to("sendMessage")) > calls or None,
                       timeout=20, what="the move's reply to be on its way")  # fmt: skip
    assert active.process is not None
    active.process.send_signal(signal.SIGTERM)
    time.sleep(1)
    polls = len(standin.calls_to("getUpdates"))
    held.set()
    assert active.process.wait(timeout=10) == 0
    reply = standin.wait_for_reply(WRITERS[0], after=before, timeout=5)
    assert str(reply["text"]).startswith(f"{DEALS[0]}: Новый лид → Квалификация")
    log = active.log_path.read_text()
    assert "SIGTERM: stopping" in log and log.rstrip().endswith("stopped")

    wait_for_log(standby, TOOK_OVER, timeout=15)
    standin.wait_until(lambda: len(standin.calls_to("getUpdates")) > polls or None,
                       timeout=15, what="the standby to poll")  # fmt: skip
    assert say(standin, WRITERS[1], "/help")
    moved = [r for r in standin.sent(WRITERS[0])[before:] if "Квалификация" in str(r["text"])]
    assert len(moved) == 1  # applied and answered once, by the process that stopped


def test_the_database_restarts_the_active_process_steps_down_and_one_polls_after(
    standin: BotApiStandin, tmp_path: Path, server: PrivateServer
) -> None:
    pair = [BotProcess(standin, tmp_path / name) for name in ("a", "b")]
    try:
        for process in pair:
            process.env["VORONKA_DATABASE_URL"] = server.url
        active, standby = pair
        start_pair(standin, active, standby)
        register(standin, active)

        server.stop()  # the polling lock goes with the server's sessions
        wait_for_log(active, "lost the polling lock", timeout=15)
        server.start()
        deadline = time.monotonic() + 30
        while not any(TOOK_OVER in p.log_path.read_text() for p in pair):
            assert time.monotonic() < deadline, "nobody took over after the restart"
            time.sleep(0.1)
        assert say(standin, WRITERS[0], f"{DEALS[0]} → Квалификация").startswith(
            f"{DEALS[0]}: Новый лид → Квалификация"
        )
        # One process polls: two would keep terminating each other's getUpdates with 409.
        conflicts = len([e for e in standin.errors if e["error_code"] == 409])
        time.sleep(3)
        assert len([e for e in standin.errors if e["error_code"] == 409]) == conflicts
        assert sum(TOOK_OVER in p.log_path.read_text() for p in pair) == 1
    finally:
        for process in pair:
            process.stop()
