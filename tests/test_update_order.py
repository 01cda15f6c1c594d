"""Two people's updates are handled at once, one person's strictly in order (bot/tg/ordering.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from bot.tg.ordering import PerPersonOrder


def from_person(update_id: int, user_id: int) -> Update:
    person = User(user_id, f"U{user_id}", is_bot=False)
    chat = Chat(user_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, datetime.now(UTC), chat, from_user=person))


async def test_a_persons_next_update_waits_while_another_persons_goes_ahead() -> None:
    processor = PerPersonOrder(8)
    log: list[str] = []
    first_may_end = asyncio.Event()
    second_person_done = asyncio.Event()

    async def handle(name: str, wait: asyncio.Event | None = None) -> None:
        log.append(f"start {name}")
        if wait is not None:
            await wait.wait()
        log.append(f"end {name}")
        if name == "oleg 1":
            second_person_done.set()

    anna_1 = asyncio.create_task(
        processor.process_update(from_person(1, 71), handle("anna 1", first_may_end))
    )
    anna_2 = asyncio.create_task(processor.process_update(from_person(2, 71), handle("anna 2")))
    oleg_1 = asyncio.create_task(processor.process_update(from_person(3, 72), handle("oleg 1")))
    await asyncio.wait_for(second_person_done.wait(), timeout=5)
    assert log == ["start anna 1", "start oleg 1", "end oleg 1"]  # Anna's second one waits

    first_may_end.set()
    await asyncio.gather(anna_1, anna_2, oleg_1)
    assert log[3:] == ["end anna 1", "start anna 2", "end anna 2"]


async def test_an_update_of_nobody_in_particular_is_not_held_up() -> None:
    processor = PerPersonOrder(8)
    held = asyncio.Event()
    done: list[str] = []

    async def slow() -> None:
        await held.wait()
        done.append("anna")

    async def quick() -> None:
        done.append("nobody")

    anna = asyncio.create_task(processor.process_update(from_person(1, 71), slow()))
    await asyncio.wait_for(processor.process_update(Update(2), quick()), timeout=5)
    assert done == ["nobody"]
    held.set()
    await anna
    assert done == ["nobody", "anna"]
