"""Waiting for a typed answer after a button: a note, a next step, an amount, a /new step.

One pending question per person, kept in `user_data`; /cancel drops it. Buttons can start
a question from any message, which is why this is simpler than nested conversations here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DIALOG_KEY = "dialog"


@dataclass
class Dialog:
    kind: str  # see the constants below
    deal_id: int = 0
    data: dict[str, Any] = field(default_factory=dict)


NOTE = "note"
NEXT_STEP = "next_step"
LOST_COMMENT = "lost_comment"
AMOUNT = "amount"  # the final amount before winning
NEW_DEAL = "new_deal"  # data["step"]: title | client | amount | next_step
KB_ANSWER = "kb_answer"  # a lead's answer to a question; data["question_id"]
SCRIPT_GAP = "script_gap"  # what the client really said; data["entry_id"], data["step_id"]
OFFER_SEARCH = "offer_search"  # a product name or SKU for the offer being built
OFFER_QTY = "offer_qty"  # data["sku"]: «10» or «10 5%»
OFFER_FREE = "offer_free"  # «Название; ед.; кол-во; цена»
OFFER_DISCOUNT = "offer_discount"
OFFER_TERMS = "offer_terms"  # data["field"]: payment | delivery | valid
OFFER_REJECT = "offer_reject"  # data["offer_id"]: the lead's comment
PLAN = "plan"  # data["person_id"], data["name"]: «1,5 млн, 5»
CHOOSE_DEAL = "choose_deal"  # data["stage_text"]: the stage words to apply to the chosen deal


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
