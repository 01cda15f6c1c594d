"""The one mechanism for multi-step exchanges: a named dialog with typed data, kept in the database.

A person has at most one pending dialog (the question the bot asked last: a note, a next
step, an amount, a /new step, an offer line...); /cancel drops it. Buttons can start a
dialog from any message, which is why this is one pending question per person rather than
nested conversations.

Handlers work on `context.user_data` as before. Around every update of a registered
person, `restore` fills it from the person's saved state and `snapshot` serialises it
again; when that changed, the application saves it (see `bot/tg/observe.py`). So a
restart, or another process on the same database, goes on where the person was. Only the
keys registered with `persisted` are kept, each validated by its type on the way back in,
so a state written by an older version is dropped rather than misread.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

log = logging.getLogger("voronka.dialogs")

DIALOG_KEY = "dialog"


class DialogKind(StrEnum):
    NOTE = "note"
    NEXT_STEP = "next_step"
    LOST_COMMENT = "lost_comment"
    AMOUNT = "amount"  # the final amount before winning
    NEW_DEAL = "new_deal"
    KB_ANSWER = "kb_answer"  # a lead's answer to a question
    SCRIPT_GAP = "script_gap"  # what the client really said at a script step
    OFFER_SEARCH = "offer_search"  # a product name or SKU for the offer being built
    OFFER_QTY = "offer_qty"  # «10» or «10 5%»
    OFFER_FREE = "offer_free"  # «Название; ед.; кол-во; цена»
    OFFER_DISCOUNT = "offer_discount"
    OFFER_TERMS = "offer_terms"
    OFFER_REJECT = "offer_reject"  # the lead's comment on a rejected offer
    PLAN = "plan"  # «1,5 млн, 5»
    CHOOSE_DEAL = "choose_deal"  # the words to apply to the deal the person picks
    INVITE_TEAM = "invite_team"  # the name of the new team an invite is for


# Questions that may be left unanswered (they have «Пропустить»): moving on to something else
# leaves them without a word, or a run of moves would get a line each.
OPTIONAL = frozenset({DialogKind.NEXT_STEP, DialogKind.LOST_COMMENT})

NOTE = DialogKind.NOTE
NEXT_STEP = DialogKind.NEXT_STEP
LOST_COMMENT = DialogKind.LOST_COMMENT
AMOUNT = DialogKind.AMOUNT
NEW_DEAL = DialogKind.NEW_DEAL
KB_ANSWER = DialogKind.KB_ANSWER
SCRIPT_GAP = DialogKind.SCRIPT_GAP
OFFER_SEARCH = DialogKind.OFFER_SEARCH
OFFER_QTY = DialogKind.OFFER_QTY
OFFER_FREE = DialogKind.OFFER_FREE
OFFER_DISCOUNT = DialogKind.OFFER_DISCOUNT
OFFER_TERMS = DialogKind.OFFER_TERMS
OFFER_REJECT = DialogKind.OFFER_REJECT
PLAN = DialogKind.PLAN
CHOOSE_DEAL = DialogKind.CHOOSE_DEAL
INVITE_TEAM = DialogKind.INVITE_TEAM


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _NoData(_Data):
    pass


class _NewDeal(_Data):
    step: Literal["title", "client", "amount", "next_step"]
    title: str | None = None
    contact: str | None = None
    amount: Decimal | None = None
    currency: str | None = None


class _Amount(_Data):
    version: int


class _KbAnswer(_Data):
    question_id: int


class _ScriptGap(_Data):
    entry_id: str
    step_id: str
    walk: str = "0."  # where the walk was, to go on from (a state saved before: the start)


class _OfferQty(_Data):
    sku: str


class _OfferTerms(_Data):
    field: Literal["payment", "delivery", "valid"]


class _OfferReject(_Data):
    offer_id: int


class _Plan(_Data):
    person_id: int
    name: str


class _ChooseDeal(_Data):
    stage_text: str | None = None
    note: str | None = None


class _InviteTeam(_Data):
    role: str


# What each dialog carries besides its deal; checked when it starts and when it is restored.
DATA: dict[DialogKind, type[_Data]] = {
    NOTE: _NoData, NEXT_STEP: _NoData, LOST_COMMENT: _NoData, AMOUNT: _Amount,
    NEW_DEAL: _NewDeal, KB_ANSWER: _KbAnswer, SCRIPT_GAP: _ScriptGap, OFFER_SEARCH: _NoData,
    OFFER_QTY: _OfferQty, OFFER_FREE: _NoData, OFFER_DISCOUNT: _NoData,
    OFFER_TERMS: _OfferTerms, OFFER_REJECT: _OfferReject, PLAN: _Plan,
    CHOOSE_DEAL: _ChooseDeal, INVITE_TEAM: _InviteTeam,
}  # fmt: skip


@dataclass
class Dialog:
    """A pending question. `data` is checked against the kind's model when it starts."""

    kind: DialogKind
    deal_id: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = DialogKind(self.kind)
        self.data = _checked(self.kind, self.data)

    @property
    def marker(self) -> str:
        """Which question exactly (kind, deal, step): a button that answers one carries it,
        so a press from an older question cannot answer a newer one."""
        step = self.data.get("step") or self.data.get("offer_id") or ""
        return f"{self.kind.value}.{self.deal_id}.{step}"


def _checked(kind: DialogKind, data: dict[str, Any]) -> dict[str, Any]:
    return DATA[kind].model_validate(data).model_dump(exclude_none=True)


def _dump_dialog(dialog: Dialog) -> Any:
    payload = DATA[dialog.kind].model_validate(dialog.data).model_dump(mode="json")
    return {"kind": dialog.kind.value, "deal_id": dialog.deal_id, "data": payload}


def _load_dialog(value: Any) -> Dialog:
    if not isinstance(value, dict):
        raise ValueError("a dialog is an object")
    return Dialog(DialogKind(value["kind"]), int(value["deal_id"]), dict(value["data"]))


@dataclass(frozen=True)
class _Kept:
    dump: Any
    load: Any


PERSISTED: dict[str, _Kept] = {DIALOG_KEY: _Kept(_dump_dialog, _load_dialog)}


def persisted(key: str, kind: Any) -> None:
    """Keep `user_data[key]` (of type `kind`, anything pydantic can validate) across updates."""
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    PERSISTED[key] = _Kept(
        lambda value: adapter.dump_python(value, mode="json"), adapter.validate_python
    )


def snapshot(user_data: dict[Any, Any]) -> str | None:
    """The persisted part of `user_data` as one JSON document (None when nothing is kept)."""
    document = {
        key: kept.dump(user_data[key])
        for key, kept in PERSISTED.items()
        if user_data.get(key) is not None
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True) if document else None


def restore(user_data: dict[Any, Any], state: str | None) -> None:
    """Replace the persisted part of `user_data` by the saved state."""
    for key in PERSISTED:
        user_data.pop(key, None)
    if not state:
        return
    try:
        document = json.loads(state)
    except ValueError:
        log.warning("a saved dialog state is not JSON; dropped")
        return
    for key, value in document.items() if isinstance(document, dict) else ():
        kept = PERSISTED.get(key)
        if kept is None:
            continue  # written by a version that kept more
        try:
            user_data[key] = kept.load(value)
        except (ValidationError, ValueError, KeyError, TypeError):
            log.warning("a saved %s no longer fits its type; dropped", key)


def current(user_data: dict[Any, Any] | None) -> Dialog | None:
    if user_data is None:
        return None
    dialog = user_data.get(DIALOG_KEY)
    return dialog if isinstance(dialog, Dialog) else None


def start(user_data: dict[Any, Any] | None, dialog: Dialog) -> None:
    if user_data is not None:
        user_data[DIALOG_KEY] = dialog


def finish(user_data: dict[Any, Any] | None) -> None:
    if user_data is not None:
        user_data.pop(DIALOG_KEY, None)
