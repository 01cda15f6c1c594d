"""The offer builder: catalog lines, discounts, terms, a preview, then PDF and DOCX or approval."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from telegram import InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.common.errors import DomainError, Invalid, InvalidFile
from bot.common.i18n import Catalog, catalog, format_amount
from bot.common.money import to_decimal
from bot.deals.matching import DealMatcher
from bot.offers.pricing import line_sum
from bot.offers.service import Documents, Draft, VatMismatch
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.render import keyboard
from bot.tg.replies import reply, send_to, show

DRAFT_KEY = "offer_draft"
SEARCH_RESULTS = 8
MAX_SKU_TOKEN = 32  # with "oi:" and a deal id, within Telegram's 64 bytes of button data
NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:(\d+(?:[.,]\d+)?)\s*%)?\s*$")

Rows = list[list[tuple[str, str]]]


dialogs.persisted(DRAFT_KEY, Draft)


def _builder(context: Ctx) -> Draft:
    """The offer being put together, kept per person until generated or cancelled."""
    draft = (context.user_data or {}).get(DRAFT_KEY)
    if not isinstance(draft, Draft):
        raise Invalid("offer.no_draft")
    return draft


def _pressed(update: Update, context: Ctx) -> Draft:
    """The draft a builder button belongs to. Buttons carry their draft's deal, so a press
    on an older builder (another deal's, or one from a second device) changes nothing."""
    draft = _builder(context)
    if cb.of(update).number(0) != draft.deal_id:
        raise Invalid("offer.stale_builder", title=draft.title)
    return draft


def _keep(context: Ctx, draft: Draft) -> None:
    if context.user_data is not None:
        context.user_data[DRAFT_KEY] = draft


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
    """Open the builder; the deal's own draft, if one is being built, goes on."""
    draft = (context.user_data or {}).get(DRAFT_KEY)
    if not (isinstance(draft, Draft) and draft.deal_id == deal_id):
        _keep(context, await context.core.offers.open_draft(context.person, deal_id))
    await _show_builder(update, context)


# --- the builder screen -------------------------------------------------------------------


def builder_text(builder: Draft, context: Ctx, *, preview: bool) -> str:
    t = context.t
    lines = [t("offer.builder_title", title=builder.title)]
    if not builder.lines:
        lines.append(t("offer.no_lines_yet"))
        return "\n".join(lines)
    for n, line in enumerate(builder.lines, 1):
        lines.append(
            t(
                "offer.line", n=n, name=line.name, qty=_number(line.qty), unit=line.unit,
                price=format_amount(line.price), discount=_number(line.discount_percent)
                if line.discount_percent else None, sum=format_amount(line_sum(line)),
            )
        )  # fmt: skip
    shown = context.core.offers.preview(context.person, builder)
    totals, violations = shown.totals, shown.violations
    lines.append("")
    lines.append(t("offer.subtotal", amount=format_amount(totals.subtotal)))
    if totals.discount:
        lines.append(
            t("offer.discount_line", percent=_number(totals.discount_percent),
              amount=format_amount(totals.discount))
        )  # fmt: skip
    if totals.vat_percent is None:
        lines.append(t("offer.no_vat"))
    else:
        lines.append(
            t("offer.vat_included", percent=_number(totals.vat_percent),
              amount=format_amount(totals.vat))
        )  # fmt: skip
    lines.append(t("offer.total", amount=format_amount(totals.total)))
    if preview:
        terms = shown.terms
        lines.append("")
        lines.append(
            t("offer.terms", payment=terms.payment, delivery=terms.delivery, days=terms.valid_days)
        )
    if violations:
        what = "; ".join(f"{v.name[:40]} {_number(v.effective_percent)}%" for v in violations[:5])
        limit = _number(shown.limit)
        lines.append("")
        lines.append(t("offer.over_limit", limit=limit, what=what))
    return "\n".join(lines)


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",")


def builder_keyboard(builder: Draft, t: Catalog) -> Any:
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
    return keyboard(rows)


async def _show_builder(update: Update, context: Ctx, *, edit: bool = False) -> None:
    builder = _builder(context)
    text = builder_text(builder, context, preview=False)
    markup = builder_keyboard(builder, context.t)
    await (show(update, text, markup) if edit else reply(update, text, markup))


async def show_builder(update: Update, context: Ctx) -> None:
    _pressed(update, context)
    await _show_builder(update, context, edit=True)


async def preview(update: Update, context: Ctx) -> None:
    builder = _pressed(update, context)
    t = context.t
    rows: Rows = [
        [
            (t("offer.generate"), cb.pack(cb.OFFER_GENERATE, builder.deal_id)),
            (t("offer.edit"), cb.pack(cb.OFFER_SHOW, builder.deal_id)),
        ]
    ]
    await show(update, builder_text(builder, context, preview=True), keyboard(rows))


async def cancel_builder(update: Update, context: Ctx) -> None:
    _pressed(update, context)
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
    dialogs.finish(context.user_data)
    await show(update, context.t("offer.cancelled"))


# --- adding lines -------------------------------------------------------------------------


async def _prompt(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    _pressed(update, context)
    dialogs.start(context.user_data, dialog)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, text)


async def add_item(update: Update, context: Ctx) -> None:
    await _prompt(update, context, Dialog(dialogs.OFFER_SEARCH), context.t("offer.search_prompt"))


async def add_free(update: Update, context: Ctx) -> None:
    context.core.offers.check_free_lines(context.person)
    await _prompt(update, context, Dialog(dialogs.OFFER_FREE), context.t("offer.free_prompt"))


async def ask_discount(update: Update, context: Ctx) -> None:
    await _prompt(
        update, context, Dialog(dialogs.OFFER_DISCOUNT), context.t("offer.discount_prompt")
    )


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
    await _prompt(update, context, Dialog(dialogs.OFFER_TERMS, data={"field": field_name}), text)


async def choose_item(update: Update, context: Ctx) -> None:
    offers = context.core.offers
    item = offers.item(cb.untoken(cb.of(update).get(1), (i.sku for i in offers.catalog.items)))
    t = context.t
    text = t("offer.qty_prompt", name=item.name, price=format_amount(item.price), unit=item.unit)
    await _prompt(update, context, Dialog(dialogs.OFFER_QTY, data={"sku": item.sku}), text)


async def remove_line(update: Update, context: Ctx) -> None:
    _keep(context, context.core.offers.without_last_line(context.person, _pressed(update, context)))
    await _show_builder(update, context, edit=True)


async def answer_reject(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """The lead's comment on an offer they reject."""
    await _reject(update, context, dialog.data["offer_id"], text)


async def answer_search(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """A product name or SKU: the matching catalog items as buttons."""
    items = context.core.offers.search_items(text, SEARCH_RESULTS)
    if not items:
        await reply(update, context.t("offer.search_none", query=text[:60]))
        return
    deal_id = _builder(context).deal_id
    rows = [
        [
            (
                f"{item.name[:40]} · {format_amount(item.price)}",
                cb.pack(cb.OFFER_ITEM, deal_id, cb.token(item.sku, MAX_SKU_TOKEN)),
            )
        ]
        for item in items
    ]
    dialogs.finish(context.user_data)
    await reply(update, context.t("offer.search_results"), keyboard(rows))


async def answer_qty(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """«10» or «10 5%» for the catalog item picked."""
    match = NUMBER.match(text)
    if not match:
        raise Invalid("offer.bad_qty")
    discount = _decimal(match.group(2)) if match.group(2) else Decimal(0)
    qty = _decimal(match.group(1))
    offers = context.core.offers
    try:
        draft = offers.add_item(
            context.person, _builder(context), dialog.data["sku"], qty, discount
        )
    except VatMismatch as mismatch:  # not a typo to retry: leave the question
        dialogs.finish(context.user_data)
        await reply(update, context.t(mismatch.key, **mismatch.params))
        await _show_builder(update, context)
        return
    await _changed(update, context, draft)


async def answer_free_line(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """«Название; ед.; кол-во; цена»."""
    parts = [part.strip() for part in text.split(";")]
    if len(parts) != 4:
        raise Invalid("offer.bad_line")
    name, unit, count, price = parts
    draft = context.core.offers.add_free_line(
        context.person, _builder(context), name, unit, _decimal(count), _decimal(price)
    )
    await _changed(update, context, draft)


async def answer_discount(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """The whole offer's discount in percent."""
    draft = context.core.offers.set_discount(
        context.person, _builder(context), _decimal(text.rstrip("% "))
    )
    await _changed(update, context, draft)


async def answer_terms(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """Payment or delivery terms, or the validity in days."""
    offers, person, draft = context.core.offers, context.person, _builder(context)
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
    await _show_builder(update, context)


# --- generating and approving -------------------------------------------------------------


async def generate(update: Update, context: Ctx) -> None:
    builder = _pressed(update, context)
    core, t = context.core, context.t
    result = await core.offers.submit(context.person, builder)
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
    if result.documents is not None:
        await show(update, t("offer.issued", number=result.documents.number,
                             total=format_amount(result.offer.total)))  # fmt: skip
        await _send_documents(context, update.effective_chat.id, result.documents)  # type: ignore[union-attr]
        if result.deal_moved_to:
            funnel = core.funnels.funnel(result.deal.funnel)
            stage = funnel.stage(result.deal_moved_to).name(context.language)
            await reply(update, t("offer.moved", stage=stage))
        return
    names = ", ".join(person.name for person in result.approvers)
    await show(update, t("offer.sent_for_approval", names=names))
    what = "; ".join(
        f"{v.name[:40]}: {_number(v.effective_percent)}% > {_number(v.limit_percent)}%"
        for v in result.violations[:10]
    )
    for approver in result.approvers:
        at = catalog(approver.language)
        text = at("offer.approval_request", name=context.person.name, title=result.deal.title,
                  total=format_amount(result.offer.total), what=what)  # fmt: skip
        rows = [[(at("offer.approve"), cb.pack(cb.OFFER_APPROVE, result.offer.id)),
                 (at("offer.reject"), cb.pack(cb.OFFER_REJECT, result.offer.id))]]  # fmt: skip
        await send_to(core, context.bot, approver.telegram_id, text, keyboard(rows))


def _files(documents: Documents) -> list[tuple[str, bytes]]:
    number = documents.number
    return [(f"{number}.pdf", documents.pdf), (f"{number}.docx", documents.docx)]


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
    creator, documents, approver = decision.creator, decision.documents, context.person.name
    assert documents is not None
    total = format_amount(decision.offer.total)
    reached = await send_to(
        context.core,
        context.bot,
        creator.telegram_id,
        lambda ct: (
            ct("offer.approved_manager", approver=approver)
            + "\n\n"
            + ct("offer.issued", number=documents.number, total=total)
        ),
        files=_files(documents),
    )
    forwarded = any(recipient.instead_of for recipient in reached)
    key = "post.offer_approved_forwarded" if forwarded else "offer.approved_lead"
    await show(update, context.t(key, name=creator.name))


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
    ]
