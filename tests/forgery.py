"""Two teams with deals, offers, a question and a plan, and button data forged against them.

Team «Север» is the one pressing; team «Юг» owns the objects whose ids are forged into the
buttons. `FOREIGN_WORDS` are the names and titles of «Юг» that no answer to someone of
«Север» may contain. The ids are sequential, so a forged id is only ever a guess; a
refused press must look the same whether the guess hit something or nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from telegram.ext import CallbackQueryHandler

from bot.db.models import Deal
from bot.db.session import transaction
from bot.deals.service import Via
from bot.offers.service import OfferSpec
from bot.people.service import Person, Role
from bot.tg.offline import ChatClient
from tests.conftest import Harness

NORTH, SOUTH = "Север", "Юг"
SECRET_DEAL = "Тайный Лотос"
SECRET_CLIENT = "ООО Скрытая Гавань"
SECRET_MANAGER = "Борис Секретов"
SECRET_LEAD = "Олег Южанин"
SECRET_QUESTION = "где взять пропуск на склад Гавани"
FOREIGN_WORDS = (SECRET_DEAL, SECRET_CLIENT, SECRET_MANAGER, SECRET_LEAD, "Гавань", "Гавани")
NOWHERE = 987_654  # an id that names nothing

# How each button's data is laid out (bot/tg/callbacks.py): `{deal}`, `{person}`, `{team}`,
# `{offer}` (pending), `{issued}`, `{question}`, `{transition}` stand for ids, `{v}` for the
# deal's version. A prefix the bot registers without a layout here fails the tests.
LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "ir": (("manager",), ("admin",)),
    "it": (("manager", "{team}"), ("admin", "{team}"), ("manager", "new")),
    "tp": (("{person}",),),
    "tr": (("{person}",), ("{person}", "lead")),
    "tt": (("{person}",), ("{person}", "{team}")),
    "td": (("{person}",), ("{person}", "yes")),
    "ta": (("{person}",),),
    "tl": ((),),
    "fp": (("1",),),
    "sp": (("2026-11", "1"),),
    "pp": (("1",),),
    "sl": (("1",),),
    "dv": (("{deal}",),),
    "dn": (("{deal}", "{v}"),),
    "dp": (("{deal}", "{v}"),),
    "dm": (("{deal}", "offer", "{v}"), ("{deal}", "won", "{v}")),
    "dw": (("{deal}", "{v}"),),
    "dy": (("{deal}", "{v}"),),
    "da": (("{deal}", "{v}"),),
    "dl": (("{deal}", "{v}"),),
    "dr": (("{deal}", "price", "{v}"),),
    "dt": (("{deal}",),),
    "ds": (("{deal}",),),
    "dq": (("{deal}", "1", "next_step.{deal}."), ("{deal}", "0", "next_step.{deal}.")),
    "du": (("{transition}",),),
    "dg": (("{deal}",), ("{deal}", "{person}")),
    "dc": (("{deal}",),),
    "dk": (("{deal}",),),
    "dz": (("0", "{person}"),),
    "df": ((),),
    "dx": (("won",), ("lost",)),
    "fl": (("{deal}",),),
    "ke": (("price-too-high",),),
    "ku": (("price-too-high",),),
    "kd": (("price-too-high",),),
    "kp": (("price-too-high", "AAAAAAAA"),),
    "kw": ((), ("1",)),
    "kx": ((str(NOWHERE), "1"),),  # phrasings are the company's, not a team's
    "kl": ((),),
    "kq": (("{question}",),),
    "kc": (("{question}", "1"), ("{question}", "0")),
    "kb": ((), ("objection",), ("objection", "0")),
    "kn": ((),),
    "km": (("{deal}",),),
    "sw": (("closing", "0."),),
    "sg": (("closing", "0."),),
    "se": ((),),
    "oo": (("{deal}",),),
    "oa": (("{deal}",),),
    "oi": (("{deal}", "VS-PR-2700-3"),),
    "of": (("{deal}",),),
    "od": (("{deal}",),),
    "ot": (("{deal}", "payment"),),
    "or": (("{deal}",), ("{deal}", "1", "1")),
    "os": (("{deal}",),),
    "op": (("{deal}",),),
    "og": (("{deal}",),),
    "ox": (("{deal}",),),
    "oy": (("{offer}",),),
    "on": (("{offer}",),),
    "ol": (("{issued}",),),
    "ow": (("{deal}",),),
    "oq": (("{offer}",),),
    "oe": (("{offer}",),),
    "st": (("{team}", "2026-11"),),
    "lp": (("{team}", "week"),),
    "pf": (("{person}",),),
    "ft": (("{team}",),),
    "fs": (("{team}", "b2b"),),
}

_PATTERN = re.compile(r"^\^([a-z]+)\(:\|\$\)$")


def registered_prefixes(harness: Harness) -> list[str]:
    """The callback prefixes the application answers, read from its handlers."""
    found = []
    for handlers in harness.app.handlers.values():
        for handler in handlers:
            pattern = (
                getattr(handler, "pattern", None)
                if isinstance(handler, CallbackQueryHandler)
                else None
            )
            text = getattr(pattern, "pattern", pattern)
            match = _PATTERN.match(text) if isinstance(text, str) else None
            if match:
                found.append(match.group(1))
    return found


@dataclass
class World:
    harness: Harness
    people: dict[str, Person] = field(default_factory=dict)
    chats: dict[str, ChatClient] = field(default_factory=dict)
    foreign: dict[str, int] = field(default_factory=dict)  # «Юг»'s objects
    own: dict[str, int] = field(default_factory=dict)  # «Север»'s objects

    def data(self, prefix: str, layout: tuple[str, ...], ids: dict[str, int] | None) -> str:
        """Button data on that layout: with these ids, or with ids that name nothing."""
        values: dict[str, Any] = dict.fromkeys(self.foreign, NOWHERE)
        values.update(ids or {})
        values["v"] = self.foreign["v"]  # the version is the same guess either way
        return ":".join([prefix, *(part.format(**values) for part in layout)])


async def build_world(harness: Harness) -> World:
    """«Север» (admin, lead, two managers, one deactivated) and «Юг» (lead, manager)."""
    world = World(harness)
    core = harness.core
    for key, role, team, name in (
        ("admin", Role.ADMIN, None, "Админ Главный"),
        ("north_lead", Role.LEAD, NORTH, "Лида Северная"),
        ("anna", Role.MANAGER, NORTH, "Анна Северная"),
        ("vera", Role.MANAGER, NORTH, "Вера Северная"),
        ("gone", Role.MANAGER, NORTH, "Глеб Ушедший"),
        ("south_lead", Role.LEAD, SOUTH, SECRET_LEAD),
        ("boris", Role.MANAGER, SOUTH, SECRET_MANAGER),
    ):
        person, chat = await harness.person(role, team=team, name=name)
        world.people[key], world.chats[key] = person, chat
    people = world.people
    await core.people.set_active(people["admin"], people["gone"].id, False)
    boris = people["boris"]

    secret = await core.deals.create(boris, SECRET_DEAL, client=SECRET_CLIENT, amount=Decimal(9))
    moved = await core.deals.move(boris, secret.id, "needs", via=Via.BUTTON)
    issued_deal = await core.deals.create(boris, f"{SECRET_DEAL} 2")
    item = core.offers.catalog.get("VS-PR-2700-3")
    assert item is not None
    line = core.offers.catalog_line(item, Decimal(1), Decimal(0))
    pending = await core.offers.submit(boris, OfferSpec(secret.id, (line,), Decimal(11)))
    issued = await core.offers.submit(boris, OfferSpec(issued_deal.id, (line,), Decimal(0)))
    question, _ = await core.knowledge.ask_lead(boris, SECRET_QUESTION)
    world.foreign = {
        "deal": secret.id, "v": moved.deal.version, "person": boris.id,
        "team": boris.team_id or 0, "offer": pending.offer.id, "issued": issued.offer.id,
        "question": question.id, "transition": moved.transition_id,
    }  # fmt: skip

    anna = people["anna"]
    own_deal = await core.deals.create(anna, "Ромашка", client="ООО Ромашка")
    own_move = await core.deals.move(anna, own_deal.id, "needs", via=Via.BUTTON)
    await core.deals.create(people["vera"], "Лютик", amount=Decimal(150_000))
    world.own = {
        "deal": own_deal.id, "v": own_move.deal.version, "person": people["vera"].id,
        "team": anna.team_id or 0, "transition": own_move.transition_id,
    }  # fmt: skip
    return world


async def deal_versions(world: World) -> dict[int, int]:
    """Every deal's version: a refused press changes none."""
    async with transaction(world.harness.core.db) as session:
        rows = await session.execute(select(Deal.id, Deal.version))
        return {int(deal_id): int(version) for deal_id, version in rows.all()}
