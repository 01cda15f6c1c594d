"""The offer builder: catalog lines, discounts, terms, a preview, then PDF and DOCX or approval."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from telegram import InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.common.errors import DomainError, Invalid, InvalidFile
from bot.common.i18n import Catalog, catalog
from bot.common.money import CURRENCY_SYMBOLS, CURRENCY_WORDS, parse_amount, to_decimal
from bot.deals.matching import DealMatcher
from bot.offers.catalog import CatalogItem
from bot.offers.labels import item_labels, shorten
from bot.offers.pricing import OfferLine, Violation, line_sum
from bot.offers.service import (
    MAX_DRAFTS,
    Decision,
    Documents,
    Draft,
    NotForThisOffer,
    OfferView,
    Opening,
)
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.render import keyboard
from bot.tg.replies import reply, send_to, show

DRAFTS_KEY = "offer_drafts"
OLD_DRAFT_KEY = "offer_draft"  # one draft per person, as versions before 12 kept it
SEARCH_RESULTS = 8
LABEL_WIDTH = 40  # of a catalog button's name part; phones cut longer labels anyway
MAX_SKU_TOKEN = 32  # with "oi:" and a deal id, within Telegram's 64 bytes of button data
NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:(\d+(?:[.,]\d+)?)\s*%)?\s*$")
TWO_NUMBERS = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s+(\d+(?:[.,]\d+)?)\s*$")
NAME_IN_TEXT = 60  # of a product name in a message line: cut at a word, kept distinct
FREE_LINE_PARTS = 4  # name; unit; quantity; price
_ZERO = re.compile(r"0+(?:[.,]0+)?")


def _currency_words() -> str:
    words = sorted(CURRENCY_WORDS, key=len, reverse=True)
    return "|".join(re.escape(word) + r"\.?" for word in words)


# A price with the currency's sign before it or its sign or word after it: «$1250.50»,
# «1 250,50 руб», «1250 usd». The number in between is the money parser's to read.
_PRICE = re.compile(
    r"(?P<pre>[" + re.escape("".join(CURRENCY_SYMBOLS.values())) + r"])?\s*"
    r"(?P<num>.*?)\s*(?P<cur>" + _currency_words() + r")?",
    re.IGNORECASE,
)

Rows = list[list[tuple[str, str]]]


# Drafts are kept with the person's dialog state in the database (`dialogs.persisted`), one
# per deal: a restart, a second device or opening another deal's offer loses none of them.
dialogs.persisted(DRAFTS_KEY, dict[int, Draft])
dialogs.persisted(OLD_DRAFT_KEY, Draft)


def _drafts(context: Ctx) -> dict[int, Draft]:
    """The person's drafts by deal, least recently changed first."""
    data = context.user_data if context.user_data is not None else {}
    drafts = data.get(DRAFTS_KEY)
    if not isinstance(drafts, dict):
        drafts = {}
    old = data.pop(OLD_DRAFT_KEY, None)
    if isinstance(old, Draft) and old.deal_id not in drafts:
        drafts[old.deal_id] = old
    if drafts:
        data[DRAFTS_KEY] = drafts
    return drafts


def _draft_for(context: Ctx, deal_id: int) -> Draft:
    draft = _drafts(context).get(deal_id)
    if draft is None:
        raise Invalid("offer.no_draft")
    return draft


def _answering(context: Ctx, dialog: Dialog) -> Draft:
    """The draft a typed answer is for: its question names the deal (one asked by a version
    before 12 names none, and then means the person's only draft)."""
    drafts = _drafts(context)
    if dialog.deal_id == 0 and len(drafts) == 1:
        return next(iter(drafts.values()))
    return _draft_for(context, dialog.deal_id)


def _pressed(update: Update, context: Ctx) -> Draft:
    """The draft a builder button belongs to: buttons carry their draft's deal, so a press
    on an older builder works on that deal's own draft and no other."""
    return _draft_for(context, cb.of(update).number(0))


def _keep(context: Ctx, draft: Draft) -> None:
    drafts = _drafts(context)
    drafts.pop(draft.deal_id, None)
    drafts[draft.deal_id] = draft
    while len(drafts) > MAX_DRAFTS:
        drafts.pop(next(iter(drafts)))
    if context.user_data is not None:
        context.user_data[DRAFTS_KEY] = drafts


def _drop(context: Ctx, deal_id: int) -> None:
    drafts = _drafts(context)
    drafts.pop(deal_id, None)
    if context.user_data is not None and not drafts:
        context.user_data.pop(DRAFTS_KEY, None)


def _decimal(text: str) -> Decimal:
    try:
        return to_decimal(text, "qty")
    except InvalidFile:
        raise Invalid("offer.bad_qty") from None


# --- opening ------------------------------------------------------------------------------


async def offer_command(update: Update, context: Ctx) -> None:
    """/offer <deal>"""
    text = " ".join(context.args or [])
    if not text:
        await reply(update, context.t("offer.usage"))
        return
    refs = await context.core.deals.refs(context.person)
    deals, confident = DealMatcher(refs, context.core.funnels).resolve_deal(text)
    if not deals:
        await reply(update, context.t("deal.no_match", name=text[:60]))
        return
    if not confident:
        rows = [[(d.title[:60], cb.pack(cb.OFFER_OPEN, d.id))] for d in deals]
        await reply(update, context.t("deal.choose_deal"), keyboard(rows))
        return
    await _open(update, context, deals[0].id)


async def open_button(update: Update, context: Ctx) -> None:
    await _open(update, context, cb.of(update).number(0))


async def _open(update: Update, context: Ctx, deal_id: int) -> None:
    """Open the builder, whichever way it is opened (/offer, the card's 📄 КП): a lost deal
    is refused, an offer of the person's still waiting for approval is told first, and
    the deal's own draft, if one is being built, goes on (with a button to start anew)."""
    opening = await context.core.offers.opening(context.person, deal_id)
    if opening.pending is not None:
        await _say_pending(update, context, opening, opening.pending)
        return
    note = None
    if opening.deal.status == "won":
        note = context.t("offer.deal_won", title=opening.deal.title)
    draft = _drafts(context).get(deal_id)
    if draft is not None:
        await _show_builder(update, context, draft, resumed=bool(draft.lines), note=note)
        return
    draft = await context.core.offers.open_draft(context.person, deal_id)
    _keep(context, draft)
    await _show_builder(update, context, draft, note=note)


async def _say_pending(update: Update, context: Ctx, opening: Opening, pending: OfferView) -> None:
    """The person's offer on this deal waits for a decision: who takes it, and the choice
    to wait for it or to take it back and change it."""
    t = context.t
    text = t(
        "offer.pending_notice", title=opening.deal.title,
        total=t.amount(pending.total, pending.currency),
        names=", ".join(person.name for person in opening.deciders),
    )  # fmt: skip
    rows: Rows = [[(t("offer.withdraw_button"), cb.pack(cb.OFFER_WITHDRAW, pending.id))]]
    await reply(update, text, keyboard(rows))


async def withdraw(update: Update, context: Ctx) -> None:
    """«Отозвать и изменить»: the offer leaves approval, its lines come back to the builder."""
    draft = await context.core.offers.withdraw(context.person, cb.of(update).number(0))
    _keep(context, draft)
    await _show_builder(update, context, draft, edit=True, note=context.t("offer.withdrawn"))


async def edit_offer(update: Update, context: Ctx) -> None:
    """«✏️ Изменить» under a rejection: the builder with the rejected offer's lines."""
    draft = await context.core.offers.reopen(context.person, cb.of(update).number(0))
    _keep(context, draft)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await _show_builder(update, context, draft, note=context.t("offer.reopened"))


async def start_anew(update: Update, context: Ctx) -> None:
    """«Начать заново» on a resumed draft: an empty one for the same deal."""
    old = _pressed(update, context)
    draft = await context.core.offers.open_draft(context.person, old.deal_id)
    _keep(context, draft)
    await _show_builder(update, context, draft, edit=True)


# --- the builder screen -------------------------------------------------------------------


async def builder_text(builder: Draft, context: Ctx, *, preview: bool) -> str:
    t, currency = context.t, builder.currency
    lines = [t("offer.builder_title", title=builder.title)]
    if not builder.lines:
        lines.append(t("offer.no_lines_yet"))
        return "\n".join(lines)
    for n, line in enumerate(builder.lines, 1):
        lines.append(_line_text(t, n, line, currency))
    shown = await context.core.offers.preview(context.person, builder)
    totals, violations = shown.totals, shown.violations
    lines.append("")
    lines.append(t("offer.subtotal", amount=t.amount(totals.subtotal, currency)))
    if totals.discount:
        lines.append(
            t("offer.discount_line", percent=_number(totals.discount_percent),
              amount=t.amount(totals.discount, currency))
        )  # fmt: skip
    if totals.vat_percent is None:
        lines.append(t("offer.no_vat"))
    else:
        lines.append(
            t("offer.vat_included", percent=_number(totals.vat_percent),
              amount=t.amount(totals.vat, currency))
        )  # fmt: skip
    lines.append(t("offer.total", amount=t.amount(totals.total, currency)))
    if preview:
        terms = shown.terms
        lines.append("")
        lines.append(
            t("offer.terms", payment=terms.payment, delivery=terms.delivery, days=terms.valid_days)
        )
    if violations:
        shown_names = item_labels([v.name for v in violations[:5]], NAME_IN_TEXT)
        what = "; ".join(
            f"{name} {_number(v.effective_percent)}%"
            for name, v in zip(shown_names, violations, strict=False)
        )
        limit = _number(shown.limit)
        names = ", ".join(person.name for person in shown.approvers)
        lines.append("")
        lines.append(t("offer.over_limit", limit=limit, what=what, names=names))
    return "\n".join(lines)


def _line_text(t: Catalog, n: int, line: OfferLine, currency: str) -> str:
    return t(
        "offer.line", n=n, name=line.name, qty=_number(line.qty), unit=line.unit,
        price=t.amount(line.price, currency), discount=_number(line.discount_percent)
        if line.discount_percent else None, sum=t.amount(line_sum(line), currency),
    )  # fmt: skip


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",")


def builder_keyboard(builder: Draft, t: Catalog, *, resumed: bool = False) -> Any:
    rows: Rows = [
        [
            (t("offer.add_item"), cb.pack(cb.OFFER_ADD, builder.deal_id)),
            (t("offer.add_free"), cb.pack(cb.OFFER_FREE, builder.deal_id)),
        ],
        [
            (t("offer.discount_button"), cb.pack(cb.OFFER_DISCOUNT, builder.deal_id)),
            (t("offer.remove_line"), cb.pack(cb.OFFER_REMOVE, builder.deal_id)),
        ],
        [
            (t("offer.payment_button"), cb.pack(cb.OFFER_TERMS, builder.deal_id, "payment")),
            (t("offer.delivery_button"), cb.pack(cb.OFFER_TERMS, builder.deal_id, "delivery")),
            (t("offer.valid_button"), cb.pack(cb.OFFER_TERMS, builder.deal_id, "valid")),
        ],
    ]
    last = [(t("offer.cancel_button"), cb.pack(cb.OFFER_CANCEL, builder.deal_id))]
    if builder.lines:
        last.insert(0, (t("offer.preview_button"), cb.pack(cb.OFFER_PREVIEW, builder.deal_id)))
    rows.append(last)
    if resumed:
        rows.append([(t("offer.start_anew"), cb.pack(cb.OFFER_NEW, builder.deal_id))])
    return keyboard(rows)


async def _show_builder(
    update: Update,
    context: Ctx,
    builder: Draft,
    *,
    edit: bool = False,
    resumed: bool = False,
    note: str | None = None,
) -> None:
    text = await builder_text(builder, context, preview=False)
    if resumed:
        text = f"{context.t('offer.resumed', count=len(builder.lines))}\n{text}"
    if note is not None:
        text = f"{note}\n{text}"
    markup = builder_keyboard(builder, context.t, resumed=resumed)
    await (show(update, text, markup) if edit else reply(update, text, markup))


async def show_builder(update: Update, context: Ctx) -> None:
    await _show_builder(update, context, _pressed(update, context), edit=True)


async def preview(update: Update, context: Ctx) -> None:
    builder = _pressed(update, context)
    t = context.t
    rows: Rows = [
        [
            (t("offer.generate"), cb.pack(cb.OFFER_GENERATE, builder.deal_id)),
            (t("offer.edit"), cb.pack(cb.OFFER_SHOW, builder.deal_id)),
        ]
    ]
    await show(update, await builder_text(builder, context, preview=True), keyboard(rows))


async def cancel_builder(update: Update, context: Ctx) -> None:
    _drop(context, _pressed(update, context).deal_id)
    dialogs.finish(context.user_data)
    await show(update, context.t("offer.cancelled"))


# --- adding lines -------------------------------------------------------------------------


async def _prompt(
    update: Update, context: Ctx, kind: dialogs.DialogKind, text: str, **data: Any
) -> None:
    draft = _pressed(update, context)
    dialogs.start(context.user_data, Dialog(kind, deal_id=draft.deal_id, data=data))
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, text)


async def add_item(update: Update, context: Ctx) -> None:
    await _prompt(update, context, dialogs.OFFER_SEARCH, context.t("offer.search_prompt"))


async def add_free(update: Update, context: Ctx) -> None:
    context.core.offers.check_free_lines(context.person)
    draft = _pressed(update, context)
    text = context.t("offer.free_prompt", currency=draft.currency)
    await _prompt(update, context, dialogs.OFFER_FREE, text)


async def ask_discount(update: Update, context: Ctx) -> None:
    await _prompt(update, context, dialogs.OFFER_DISCOUNT, context.t("offer.discount_prompt"))


TERMS_FIELDS = ("payment", "delivery", "valid")


async def ask_terms(update: Update, context: Ctx) -> None:
    field_name = cb.of(update).word(1, TERMS_FIELDS)
    terms, t = context.core.offers.terms(_pressed(update, context)), context.t
    if field_name == "payment":
        text = t("offer.payment_prompt", current=terms.payment)
    elif field_name == "delivery":
        text = t("offer.delivery_prompt", current=terms.delivery)
    else:
        text = t("offer.valid_prompt")
    await _prompt(update, context, dialogs.OFFER_TERMS, text, field=field_name)


async def choose_item(update: Update, context: Ctx) -> None:
    offers = context.core.offers
    item = offers.item(cb.untoken(cb.of(update).get(1), (i.sku for i in offers.catalog.items)))
    draft = _pressed(update, context)
    offers.check_item(draft, item)  # another currency or VAT rate: said before the quantity
    await _prompt(update, context, dialogs.OFFER_QTY, _qty_prompt(context, item), sku=item.sku)


def _qty_prompt(context: Ctx, item: CatalogItem) -> str:
    return context.t(
        "offer.qty_prompt", name=item.name, price=context.t.amount(item.price, item.currency),
        unit=item.unit, sku=item.sku,
    )  # fmt: skip


async def remove_line(update: Update, context: Ctx) -> None:
    """«🗑 Убрать строку»: which one? Each button names its line and the number of lines
    shown, so a list from before another change removes nothing."""
    draft = _pressed(update, context)
    data = cb.of(update)
    if len(data.args) > 1:
        draft = context.core.offers.without_line(
            context.person, draft, data.number(1) - 1, data.number(2)
        )
        _keep(context, draft)
        await _show_builder(update, context, draft, edit=True)
        return
    t = context.t
    if not draft.lines:
        await show(update, t("offer.no_lines"), builder_keyboard(draft, t))
        return
    count = len(draft.lines)
    rows: Rows = [
        [(shorten(f"{n}. {line.name}", LABEL_WIDTH + 4) + " · "
          + t.amount(line_sum(line), draft.currency),
          cb.pack(cb.OFFER_REMOVE, draft.deal_id, n, count))]
        for n, line in enumerate(draft.lines, 1)
    ]  # fmt: skip
    rows.append([(t("common.back"), cb.pack(cb.OFFER_SHOW, draft.deal_id))])
    await show(update, t("offer.remove_which"), keyboard(rows))


async def answer_reject(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """The lead's comment on an offer they reject."""
    await _reject(update, context, dialog.data["offer_id"], text)


async def answer_search(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """A product name or SKU: an exact SKU is taken at once, otherwise the matches as
    buttons that show what tells them apart."""
    offers, t = context.core.offers, context.t
    draft = _answering(context, dialog)
    exact = offers.exact_item(text)
    if exact is not None:
        try:
            offers.check_item(draft, exact)
        except NotForThisOffer:
            dialogs.finish(context.user_data)
            raise
        question = Dialog(dialogs.OFFER_QTY, deal_id=draft.deal_id, data={"sku": exact.sku})
        dialogs.start(context.user_data, question)
        await reply(update, _qty_prompt(context, exact))
        return
    items = offers.search_items(text, SEARCH_RESULTS)
    if not items:
        await reply(update, t("offer.search_none", query=text[:60]))
        return
    labels = item_labels([item.name for item in items], LABEL_WIDTH)
    rows = [
        [
            (
                f"{label} · {t.amount(item.price, item.currency)}",
                cb.pack(cb.OFFER_ITEM, draft.deal_id, cb.token(item.sku, MAX_SKU_TOKEN)),
            )
        ]
        for label, item in zip(labels, items, strict=True)
    ]
    listed = "\n".join(
        t("offer.search_line", name=item.name, sku=item.sku,
          price=t.amount(item.price, item.currency))
        for item in items
    )  # fmt: skip
    dialogs.finish(context.user_data)
    await reply(update, f"{t('offer.search_results')}\n{listed}", keyboard(rows))


async def answer_qty(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """«10» or «10 5%» for the catalog item picked."""
    two = TWO_NUMBERS.match(text)
    if two:  # «10 5»: a quantity and a discount without its %, or a typo in the quantity
        raise Invalid("offer.two_numbers", qty=two.group(1), second=two.group(2))
    match = NUMBER.match(text)
    if not match:
        raise Invalid("offer.bad_qty")
    discount = _decimal(match.group(2)) if match.group(2) else Decimal(0)
    qty = _decimal(match.group(1))
    offers = context.core.offers
    draft = _answering(context, dialog)
    try:
        draft = offers.add_item(context.person, draft, dialog.data["sku"], qty, discount)
    except NotForThisOffer as mismatch:  # not a typo to retry: leave the question
        dialogs.finish(context.user_data)
        await reply(update, context.t(mismatch.key, **mismatch.params))
        await _show_builder(update, context, draft)
        return
    await _changed(update, context, draft)


def looks_like_free_line(text: str) -> bool:
    """A message with «;» is an answer to the custom-line question, even one wrong in a
    detail: it gets that detail's error, never a trip to the knowledge base."""
    return ";" in text


async def answer_free_line(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """«Название; ед.; кол-во; цена»; each part that is wrong is named, with an example."""
    parts = [part.strip() for part in text.split(";")]
    if len(parts) != FREE_LINE_PARTS:
        if len(parts) == 1:
            raise Invalid("offer.bad_line")
        raise Invalid("offer.bad_line_parts", count=len(parts))
    name, unit, count, price = parts
    offers, draft = context.core.offers, _answering(context, dialog)
    name, unit = offers.line_words(name, unit)  # the parts in their order: the first wrong one
    draft = offers.add_free_line(
        context.person, draft, name, unit, _line_qty(count), _line_price(price, draft.currency)
    )
    await _changed(update, context, draft)


def _line_qty(text: str) -> Decimal:
    try:
        qty = to_decimal(text, "qty")
    except InvalidFile:
        raise Invalid("offer.bad_line_qty", value=text[:30]) from None
    if qty <= 0:
        raise Invalid("offer.bad_line_qty", value=text[:30])
    return qty


def _line_price(text: str, currency: str) -> Decimal:
    """A price as people type it, with or without the offer's currency sign or word
    («$1250.50», «1 250,50 руб»); another currency is refused, not converted.

    The number itself goes to the one money parser (`parse_amount`); only the currency
    sign or word is taken off here, so that it can be checked against the offer's.
    """
    match = _PRICE.fullmatch(text.strip())
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    example = f"{symbol}1250.50" if symbol in ("$", "€") else f"1 250,50 {symbol}"
    if match is None or not match["num"]:
        raise Invalid("offer.bad_line_price", value=text[:30], currency=currency, example=example)
    word = (match["pre"] or match["cur"] or "").lower().rstrip(".")
    named = CURRENCY_WORDS.get(word) if word else None
    if named is not None and named != currency:
        raise Invalid(
            "offer.line_price_currency", value=text[:30], currency=named, deal_currency=currency
        )
    number = match["num"].strip()
    if _ZERO.fullmatch(number):
        return Decimal(0)  # a line given for free («Доставка; рейс; 1; 0») is a line
    try:
        price, _ = parse_amount(number)
    except Invalid:
        raise Invalid(
            "offer.bad_line_price", value=text[:30], currency=currency, example=example
        ) from None
    return price


async def answer_discount(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """The whole offer's discount in percent."""
    draft = context.core.offers.set_discount(
        context.person, _answering(context, dialog), _decimal(text.rstrip("% "))
    )
    await _changed(update, context, draft)


async def answer_terms(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """Payment or delivery terms, or the validity in days."""
    offers, person = context.core.offers, context.person
    draft = _answering(context, dialog)
    field_name = dialog.data["field"]
    if field_name == "valid":
        if not text.strip().isdecimal():  # «²» is a digit to isdigit(), not to int()
            raise Invalid("offer.bad_valid")
        draft = offers.set_valid_days(person, draft, int(text))
    elif field_name == "payment":
        draft = offers.set_payment_terms(person, draft, text)
    else:
        draft = offers.set_delivery_terms(person, draft, text)
    await _changed(update, context, draft)


async def _changed(update: Update, context: Ctx, draft: Draft) -> None:
    _keep(context, draft)
    dialogs.finish(context.user_data)
    await _show_builder(update, context, draft)


# --- generating and approving -------------------------------------------------------------


async def generate(update: Update, context: Ctx) -> None:
    builder = _pressed(update, context)
    core, t = context.core, context.t
    result = await core.offers.submit(context.person, builder)
    _drop(context, builder.deal_id)
    total = t.amount(result.offer.total, result.offer.currency)
    if result.documents is not None:
        await show(update, t("offer.issued", number=result.documents.number, total=total))
        await _send_documents(context, update.effective_chat.id, result.documents)  # type: ignore[union-attr]
        if result.deal_moved_to:
            funnel = core.funnels.funnel(result.deal.funnel)
            stage = funnel.stage(result.deal_moved_to).name(context.language)
            await reply(update, t("offer.moved", stage=stage))
        return
    names = ", ".join(person.name for person in result.approvers)
    await show(update, t("offer.sent_for_approval", names=names))
    what = _over(result.violations)
    for approver in result.approvers:
        at = catalog(approver.language)
        text = at("offer.approval_request", name=context.person.name, title=result.deal.title,
                  total=at.amount(result.offer.total, result.offer.currency),
                  what=what)  # fmt: skip
        await send_to(
            core, context.bot, approver.telegram_id, text, decision_keyboard(result.offer, at)
        )


def _files(documents: Documents) -> list[tuple[str, bytes]]:
    number = documents.number
    return [(f"{number}.pdf", documents.pdf), (f"{number}.docx", documents.docx)]


def _over(violations: tuple[Violation, ...]) -> str:
    """«name: 11% > 10%» for the first lines above the limit: it fits one message. Long
    names are cut at a word, keeping what tells one line from another."""
    first = violations[:10]
    names = item_labels([v.name for v in first], NAME_IN_TEXT)
    return "; ".join(
        f"{name}: {_number(v.effective_percent)}% > {_number(v.limit_percent)}%"
        for name, v in zip(names, first, strict=True)
    )


def decision_keyboard(offer: OfferView, t: Catalog) -> Any:
    return keyboard([decision_row(offer, t)])


def decision_row(offer: OfferView, t: Catalog) -> list[tuple[str, str]]:
    """✅/✖ for a pending offer: in the request, in /approvals and on the deal's card."""
    return [
        (t("offer.approve"), cb.pack(cb.OFFER_APPROVE, offer.id)),
        (t("offer.reject"), cb.pack(cb.OFFER_REJECT, offer.id)),
    ]


async def approvals_command(update: Update, context: Ctx) -> None:
    """/approvals: every offer waiting for the reader's decision, one message each."""
    waiting = await context.core.offers.pending_for(context.person)
    t = context.t
    if not waiting:
        await reply(update, t("offer.approvals_none"))
        return
    await reply(update, t("offer.approvals_header", count=len(waiting)))
    for item in waiting:
        text = t(
            "offer.approvals_item", name=item.creator_name, title=item.deal_title,
            total=t.amount(item.offer.total, item.offer.currency),
            what=_over(item.violations),
        )  # fmt: skip
        await reply(update, text, decision_keyboard(item.offer, t))


async def _send_documents(context: Ctx, chat_id: int, documents: Documents) -> None:
    await context.bot.send_document(
        chat_id, InputFile(documents.pdf, filename=f"{documents.number}.pdf")
    )
    await context.bot.send_document(
        chat_id, InputFile(documents.docx, filename=f"{documents.number}.docx")
    )


async def approve(update: Update, context: Ctx) -> None:
    decision = await context.core.offers.decide(
        context.person, cb.of(update).number(0), approve=True
    )
    if decision.withdrawn:
        await _withdrawn_as_lost(update, context, decision)
        return
    creator, documents, approver = decision.creator, decision.documents, context.person.name
    assert documents is not None
    total = decision.offer.total, decision.offer.currency
    reached = await send_to(
        context.core,
        context.bot,
        creator.telegram_id,
        lambda ct: (
            ct("offer.approved_manager", approver=approver)
            + "\n\n"
            + ct("offer.issued", number=documents.number, total=ct.amount(*total))
        ),
        files=_files(documents),
    )
    forwarded = any(recipient.instead_of for recipient in reached)
    key = "post.offer_approved_forwarded" if forwarded else "offer.approved_lead"
    await show(update, context.t(key, name=creator.name))


async def _withdrawn_as_lost(update: Update, context: Ctx, decision: Decision) -> None:
    """The deal was lost while its offer waited: nothing is issued; the approver and the
    author are told, the author with the way back to the offer's lines."""
    title, creator = decision.deal_title, decision.creator
    await show(update, context.t("offer.withdrawn_lost_lead", title=title, name=creator.name))
    await send_to(
        context.core, context.bot, creator.telegram_id,
        lambda ct: ct("offer.withdrawn_lost_manager", title=title, approver=context.person.name),
        _edit_keyboard(decision.offer, catalog(creator.language)),
    )  # fmt: skip


def _edit_keyboard(offer: OfferView, t: Catalog) -> Any:
    return keyboard([[(t("offer.edit_button"), cb.pack(cb.OFFER_EDIT, offer.id))]])


async def reject(update: Update, context: Ctx) -> None:
    offer_id = cb.of(update).number(0)
    await context.core.offers.pending(context.person, offer_id)
    question = Dialog(dialogs.OFFER_REJECT, data={"offer_id": offer_id})
    skip = keyboard([[(context.t("common.skip"), cb.pack(cb.DEAL_SKIP, question.marker))]])
    dialogs.start(context.user_data, question)
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, context.t("offer.reject_prompt"), skip)


async def _reject(update: Update, context: Ctx, offer_id: int, comment: str | None) -> None:
    try:
        decision = await context.core.offers.decide(
            context.person, offer_id, approve=False, comment=comment
        )
    except Invalid:
        raise  # the comment was refused (too long): the question stays open for another
    except DomainError:
        dialogs.finish(context.user_data)  # decided by someone else meanwhile, say
        raise
    dialogs.finish(context.user_data)
    await reply(update, context.t("offer.rejected_lead"))
    approver = context.person.name
    await send_to(
        context.core,
        context.bot,
        decision.creator.telegram_id,
        lambda ct: ct(
            "offer.rejected_manager",
            approver=approver,
            title=decision.deal_title,
            comment=decision.comment,  # as recorded (at most 1,000 characters): fits a message
        ),
        _edit_keyboard(decision.offer, catalog(decision.creator.language)),
    )


async def reject_without_comment(update: Update, context: Ctx, dialog: Dialog) -> None:
    await _reject(update, context, dialog.data["offer_id"], None)


async def download(update: Update, context: Ctx) -> None:
    documents = await context.core.offers.documents(context.person, cb.of(update).number(0))
    assert update.callback_query is not None
    await update.callback_query.answer()
    await _send_documents(context, update.effective_chat.id, documents)  # type: ignore[union-attr]


def offer_handlers() -> list[Any]:
    return [
        CommandHandler("offer", offer_command),
        CommandHandler("approvals", approvals_command),
        CallbackQueryHandler(start_anew, pattern=cb.pattern(cb.OFFER_NEW)),
        CallbackQueryHandler(open_button, pattern=cb.pattern(cb.OFFER_OPEN)),
        CallbackQueryHandler(add_item, pattern=cb.pattern(cb.OFFER_ADD)),
        CallbackQueryHandler(choose_item, pattern=cb.pattern(cb.OFFER_ITEM)),
        CallbackQueryHandler(add_free, pattern=cb.pattern(cb.OFFER_FREE)),
        CallbackQueryHandler(ask_discount, pattern=cb.pattern(cb.OFFER_DISCOUNT)),
        CallbackQueryHandler(ask_terms, pattern=cb.pattern(cb.OFFER_TERMS)),
        CallbackQueryHandler(remove_line, pattern=cb.pattern(cb.OFFER_REMOVE)),
        CallbackQueryHandler(show_builder, pattern=cb.pattern(cb.OFFER_SHOW)),
        CallbackQueryHandler(preview, pattern=cb.pattern(cb.OFFER_PREVIEW)),
        CallbackQueryHandler(generate, pattern=cb.pattern(cb.OFFER_GENERATE)),
        CallbackQueryHandler(cancel_builder, pattern=cb.pattern(cb.OFFER_CANCEL)),
        CallbackQueryHandler(approve, pattern=cb.pattern(cb.OFFER_APPROVE)),
        CallbackQueryHandler(reject, pattern=cb.pattern(cb.OFFER_REJECT)),
        CallbackQueryHandler(download, pattern=cb.pattern(cb.OFFER_DOWNLOAD)),
        CallbackQueryHandler(withdraw, pattern=cb.pattern(cb.OFFER_WITHDRAW)),
        CallbackQueryHandler(edit_offer, pattern=cb.pattern(cb.OFFER_EDIT)),
    ]
