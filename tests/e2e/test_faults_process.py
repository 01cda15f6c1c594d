"""Faults against the real `voronka run`: a redelivered update, Telegram failing to take the
answer to a committed move (issue 11)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.bot_api_standin import BotApiStandin
from tests.e2e.conftest import BotProcess
from tests.e2e.test_bot_process import say

pytestmark = pytest.mark.e2e

ANNA = 7201


def _moves(bot_process: BotProcess) -> int:
    path = bot_process.data_dir / "voronka.db"
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM stage_transitions").fetchone()[0])


def _registered(standin: BotApiStandin, bot_process: BotProcess) -> None:
    invite = bot_process.invite("manager", team="Урал")
    bot_process.start()
    say(standin, ANNA, f"/start {invite['token']}", replies=2)
    say(standin, ANNA, "/new Фиалка, 100 000", replies=2)


def test_a_redelivered_move_moves_once_and_is_not_answered_again(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    _registered(standin, bot_process)
    assert "Фиалка" in say(standin, ANNA, "фиалка дальше")
    moves, answers = _moves(bot_process), standin.sent_count(ANNA)
    standin.redeliver(standin.last_update_id(ANNA))
    say(standin, ANNA, "/help")  # handled after the redelivery: it has been dealt with
    assert _moves(bot_process) == moves
    assert standin.sent_count(ANNA) == answers + 1  # only /help's answer


def test_a_move_is_confirmed_when_telegram_fails_at_first(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    _registered(standin, bot_process)
    moves = _moves(bot_process)
    standin.fail_next("sendMessage", 500)
    standin.fail_next("sendMessage", 429, retry_after=1)
    answer = say(standin, ANNA, "фиалка дальше")
    assert "Фиалка" in answer and "попробуйте ещё раз" not in answer
    assert _moves(bot_process) == moves + 1


def test_killed_after_the_commit_the_redelivered_move_changes_nothing(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    """kill -9 while the move's answer is on its way, and Telegram delivers the update again
    to the restarted bot (as when the confirming poll was lost): it knows it was handled.

    (PTB confirms an update with its next poll as soon as it has fetched it, so a kill alone
    does not bring it back; the stand-in is told to.)"""
    _registered(standin, bot_process)
    moves, answers = _moves(bot_process), standin.sent_count(ANNA)
    sending = len(standin.calls_to("sendMessage"))
    released = standin.hold_next("sendMessage")
    standin.send_message(ANNA, "фиалка дальше", first_name=f"U{ANNA}")
    standin.wait_until(
        lambda: len(standin.calls_to("sendMessage")) > sending or None,
        timeout=20,
        what="the move's answer to be on its way",
    )
    bot_process.kill_now()
    released.set()
    move = standin.last_update_id(ANNA)
    assert _moves(bot_process) == moves + 1  # committed before the answer
    bot_process.start()
    standin.redeliver(move)
    say(standin, ANNA, "/help")  # after the redelivered update
    assert _moves(bot_process) == moves + 1
    assert standin.sent_count(ANNA) == answers + 1  # /help's answer only
    assert standin.times_delivered(move) == 2


def test_a_second_process_on_one_sqlite_file_is_stopped_with_one_line(
    standin: BotApiStandin, bot_process: BotProcess
) -> None:
    bot_process.start()
    second = bot_process.cli("chat", "--user-id", "5", check=False)
    assert second.returncode == 2
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "another voronka process" in lines[0], second.stderr
    assert "Traceback" not in second.stderr
    bot_process.kill_now()
    again = bot_process.cli("chat", "--user-id", "5", check=False)  # kill -9 let go of it
    assert "another voronka process" not in again.stderr
