"""Time from `voronka run` to the first answer of the shipped base, end to end.

    python benchmarks/first_answer.py [--runs 3]

Starts the real `voronka` process against the Bot API stand-in of the end-to-end tests (on
127.0.0.1, SQLite in a temporary data folder): an admin registers, then asks one question.
Measured from the moment the process is started to the answer's arrival at the stand-in,
for a first start (no vectors on disk: the word index answers while the hybrid one is
being built) and for restarts (the hybrid index is built from the vectors on disk).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.bot_api_standin import BotApiStandin, running_standin
from tests.e2e.conftest import TOKEN, BotProcess

QUESTION = "клиент говорит, что у вас дорого, что ответить?"
USER = 7001


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_answer(
    standin: BotApiStandin, bot: BotProcess, *, register: str | None
) -> tuple[float, float]:
    """Seconds from starting the process to the answer of QUESTION, wall and the bot
    process's CPU (what it would take on an idle core of its own)."""
    polls = len(standin.calls_to("getUpdates"))
    started = time.perf_counter()
    bot.start()
    standin.wait_until(
        lambda: len(standin.calls_to("getUpdates")) > polls or None, timeout=120, what="polls"
    )
    if register is not None:
        before = standin.sent_count(USER)
        standin.send_message(USER, f"/start {register}", first_name="Admin")
        standin.wait_for_reply(USER, after=before + 1, timeout=120)
    before = standin.sent_count(USER)
    standin.send_message(USER, QUESTION, first_name="Admin")
    reply = standin.wait_for_reply(USER, after=before, timeout=120)
    spent = time.perf_counter() - started
    assert bot.process is not None
    cpu = cpu_seconds(bot.process.pid)
    assert "дорого" in str(reply["text"]).lower(), reply
    bot.stop()
    return spent, cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    fresh: list[tuple[float, float]] = []
    again: list[tuple[float, float]] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder, running_standin(TOKEN) as standin:
            bot = BotProcess(standin, Path(folder) / "data", share_vectors=False)
            token = bot.invite("admin")["token"]
            fresh.append(first_answer(standin, bot, register=token))
            again.append(first_answer(standin, bot, register=None))
    print("| start | to the first answer, s (median) | bot's CPU by then, s (median) | runs |")
    print("|---|---:|---:|---|")
    for name, spent in (("first start, no vectors on disk", fresh), ("restart", again)):
        runs = ", ".join(f"{wall:.2f}/{cpu:.2f}" for wall, cpu in spent)
        wall = statistics.median(w for w, _ in spent)
        cpu = statistics.median(c for _, c in spent)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {runs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
