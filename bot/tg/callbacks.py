"""Callback data: every prefix in one place, and a tiny codec (Telegram allows 64 bytes).

A list's page travels as the last part of the data that shows the list (`bot.tg.paging`).
"""

from __future__ import annotations

import hashlib
import re
from base64 import urlsafe_b64encode
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from telegram import Update

from bot.common.errors import Invalid

SEPARATOR = ":"
MAX_BYTES = 64
HASHED = "~"  # the start of a token that stands for a longer value
MAX_NUMBER = 2**31 - 1
"""The largest number a button carries: ids, versions and counts are 32-bit on PostgreSQL."""
_NUMBER = re.compile(r"[0-9]{1,10}")

# prefixes
INVITE_ROLE = "ir"  # ir:<role>[:<page of teams>]
INVITE_TEAM = "it"  # it:<role>:<team id or 0 or "new">
TEAM_PERSON = "tp"  # tp:<person id>
TEAM_SET_ROLE = "tr"  # tr:<person id>[:<role>]
TEAM_SET_TEAM = "tt"  # tt:<person id>[:<team id>]  |  tt:<person id>::<page of teams>
TEAM_DEACTIVATE = "td"  # td:<person id>[:yes]
TEAM_REACTIVATE = "ta"  # ta:<person id>
TEAM_LIST = "tl"  # tl[:<page>]
DEAL_VIEW = "dv"  # dv:<deal>
DEAL_NEXT = "dn"  # dn:<deal>:<version>
DEAL_PICK = "dp"  # dp:<deal>:<version>[:<page>]  (list stages)
DEAL_MOVE = "dm"  # dm:<deal>:<stage>:<version>
DEAL_WIN = "dw"  # dw:<deal>:<version>  (confirm)
DEAL_WIN_YES = "dy"  # dy:<deal>:<version>
DEAL_WIN_AMOUNT = "da"  # da:<deal>:<version>  (type another amount)
DEAL_LOSE = "dl"  # dl:<deal>:<version>[:<page>]  (reasons)
DEAL_LOSE_REASON = "dr"  # dr:<deal>:<reason>:<version>
DEAL_NOTE = "dt"  # dt:<deal>
DEAL_STEP = "ds"  # ds:<deal>
DEAL_STEP_QUICK = "dq"  # dq:<deal>:<days; 0 = skip>
DEAL_UNDO = "du"  # du:<transition>
DEAL_REASSIGN = "dg"  # dg:<deal>[:<person>]  |  dg:<deal>::<page of people>
DEAL_CHOOSE = "dc"  # dc:<deal>  (answer to "which deal did you mean?")
DEAL_SKIP = "dk"  # dk:<dialog marker>  (skip the pending typed answer it was shown with)
DEAL_LIST = "dz"  # dz:<offset>:<owner id or 0>
DEAL_FILTER = "df"  # df[:<page>]  (choose the owner filter)
DEAL_CLOSED = "dx"  # dx:<won|lost>  (the closed deals, latest first)
FOLLOWUP_LATER = "fl"  # fl:<deal>
KB_SHOW = "ke"  # ke:<entry>
KB_UP = "ku"  # ku:<entry>[:<question mark>]  (the mark: this answered the person's question)
KB_DOWN = "kd"  # kd:<entry>[:<question mark>]
KB_PICK = "kp"  # kp:<entry>:<question mark>  (a candidate offered for the question, chosen)
KB_LEARNED = "kw"  # kw[:<page>]  (/kb learned)
KB_UNLEARN = "kx"  # kx:<phrasing>:<version>[:<page>]  (remove a learned phrasing)
KB_ASK_LEAD = "kl"  # kl  (the last unanswered question goes to the lead)
KB_ANSWER = "kq"  # kq:<question>  (the lead answers)
KB_CONFIRM = "kc"  # kc:<question>:<1 add to the base | 0 not>
KB_BROWSE = "kb"  # kb[:<kind>[:<tag index or all>[:<page>]]]  |  kb:<kind>::<page of tags>
KB_AS_QUESTION = "kn"  # kn  («Ромашка дорого» was a question)
KB_AS_NOTE = "km"  # km:<deal>  (...or a note on the deal)
SCRIPT_WALK = "sw"  # sw:<entry>:<walk>
SCRIPT_GAP = "sg"  # sg:<entry>:<walk>  (no suitable answer)
SCRIPT_END = "se"  # se  (leave the script walk after a gap)
OFFER_OPEN = "oo"  # oo:<deal>  (start the builder)
OFFER_ADD = "oa"  # oa:<deal>  (search the catalog; every builder button names its draft's deal)
OFFER_ITEM = "oi"  # oi:<deal>:<sku token>  (`token`: a long SKU as a hash)
OFFER_FREE = "of"  # of:<deal>  (a free line)
OFFER_DISCOUNT = "od"  # od:<deal>  (a discount on the total)
OFFER_TERMS = "ot"  # ot:<deal>:<payment|delivery|valid>
OFFER_REMOVE = "or"  # or:<deal>[:<line from 1>:<lines shown>]  (which line? / remove it)
OFFER_SHOW = "os"  # os:<deal>  (back to the builder)
OFFER_PREVIEW = "op"  # op:<deal>
OFFER_GENERATE = "og"  # og:<deal>
OFFER_CANCEL = "ox"  # ox:<deal>
OFFER_APPROVE = "oy"  # oy:<offer>
OFFER_REJECT = "on"  # on:<offer>
OFFER_DOWNLOAD = "ol"  # ol:<offer>
OFFER_NEW = "ow"  # ow:<deal>  (drop the deal's draft and start an empty one)
OFFER_WITHDRAW = "oq"  # oq:<offer>  (the author takes a pending offer back to change it)
OFFER_EDIT = "oe"  # oe:<offer>  (a rejected offer's lines back in the builder)
STATS_TEAM = "st"  # st:<team>:<period>
LEADERBOARD_POST = "lp"  # lp:<team>:<period>
PLAN_FOR = "pf"  # pf:<person>
FUNNEL_TEAM = "ft"  # ft:<team>[:<page of funnels>]  (an admin picked the team)
FUNNEL_SET = "fs"  # fs:<team>:<funnel key>
FUNNEL_TEAMS = "fp"  # fp:<page>  (the admin's teams for /funnel)
STATS_TEAMS = "sp"  # sp:<period>:<page>  (the admin's teams for /stats)
PLAN_PEOPLE = "pp"  # pp:<page>  (the managers for /plan)
SCRIPT_LIST = "sl"  # sl:<page>  (/script without words)

ALL_PREFIXES = (
    INVITE_ROLE,
    INVITE_TEAM,
    TEAM_PERSON,
    TEAM_SET_ROLE,
    TEAM_SET_TEAM,
    TEAM_DEACTIVATE,
    TEAM_REACTIVATE,
    TEAM_LIST,
    DEAL_VIEW,
    DEAL_NEXT,
    DEAL_PICK,
    DEAL_MOVE,
    DEAL_WIN,
    DEAL_WIN_YES,
    DEAL_WIN_AMOUNT,
    DEAL_LOSE,
    DEAL_LOSE_REASON,
    DEAL_NOTE,
    DEAL_STEP,
    DEAL_STEP_QUICK,
    DEAL_UNDO,
    DEAL_REASSIGN,
    DEAL_CHOOSE,
    DEAL_SKIP,
    DEAL_LIST,
    DEAL_FILTER,
    DEAL_CLOSED,
    FOLLOWUP_LATER,
    KB_SHOW,
    KB_UP,
    KB_DOWN,
    KB_PICK,
    KB_LEARNED,
    KB_UNLEARN,
    KB_ASK_LEAD,
    KB_ANSWER,
    KB_CONFIRM,
    KB_BROWSE,
    KB_AS_QUESTION,
    KB_AS_NOTE,
    SCRIPT_WALK,
    SCRIPT_GAP,
    SCRIPT_END,
    OFFER_OPEN,
    OFFER_ADD,
    OFFER_ITEM,
    OFFER_FREE,
    OFFER_DISCOUNT,
    OFFER_TERMS,
    OFFER_REMOVE,
    OFFER_SHOW,
    OFFER_PREVIEW,
    OFFER_GENERATE,
    OFFER_CANCEL,
    OFFER_APPROVE,
    OFFER_REJECT,
    OFFER_DOWNLOAD,
    OFFER_NEW,
    OFFER_WITHDRAW,
    OFFER_EDIT,
    STATS_TEAM,
    LEADERBOARD_POST,
    PLAN_FOR,
    FUNNEL_TEAM,
    FUNNEL_SET,
    FUNNEL_TEAMS,
    STATS_TEAMS,
    PLAN_PEOPLE,
    SCRIPT_LIST,
)


def pack(prefix: str, *parts: object) -> str:
    data = SEPARATOR.join([prefix, *(str(part) for part in parts)])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


@dataclass(frozen=True, slots=True)
class Callback:
    prefix: str
    args: tuple[str, ...]

    def number(self, index: int) -> int:
        """The part at `index` as a whole number from 0 to MAX_NUMBER.

        The one place where numbers in button data are read: anything else there (a part
        missing, «abc», «1.5», «²», 2^63) was never put there by the bot, so the press is
        answered as a stale button and reaches no query.
        """
        text = self.get(index)
        if _NUMBER.fullmatch(text) is None or int(text) > MAX_NUMBER:
            raise Invalid("common.expired_button")
        return int(text)

    def get(self, index: int, default: str = "") -> str:
        return self.args[index] if index < len(self.args) else default

    def word(self, index: int, allowed: Collection[str]) -> str:
        """The part at `index` if it is one of `allowed` (a role, a field's name); any other
        word was never put there by the bot: the press is answered as a stale button."""
        text = self.get(index)
        if text not in allowed:
            raise Invalid("common.expired_button")
        return text


def unpack(data: str) -> Callback:
    prefix, *args = data.split(SEPARATOR)
    return Callback(prefix, tuple(args))


def of(update: Update) -> Callback:
    """The callback data of a button press (handlers are registered per prefix)."""
    query = update.callback_query
    assert query is not None
    return unpack(query.data or "")


def token(value: str, limit: int) -> str:
    """A value of any length (a SKU) as one part of callback data.

    A short ASCII value without the separator travels as itself; any other as a hash of
    17 characters that `untoken` finds again among the values it may stand for.
    """
    if (
        len(value) <= limit
        and value.isascii()
        and SEPARATOR not in value
        and not value.startswith(HASHED)
    ):
        return value
    return _hashed(value)


def untoken(part: str, values: Iterable[str]) -> str:
    """The value a `token` stands for, among `values`; a hash of none of them stays as it is
    (and then names nothing: the button is stale)."""
    if not part.startswith(HASHED):
        return part
    return next((value for value in values if _hashed(value) == part), part)


def _hashed(value: str) -> str:
    digest = hashlib.blake2b(value.encode(), digest_size=12).digest()
    return HASHED + urlsafe_b64encode(digest).decode()


def pattern(prefix: str) -> str:
    """A regex for CallbackQueryHandler that matches one prefix exactly."""
    return f"^{prefix}(:|$)"
