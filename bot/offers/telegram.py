"""The offer builder: catalog lines, discounts, terms, a preview, then PDF and DOCX or approval."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from telegram import InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.common.errors import Invalid, InvalidFile
from bot.common.i18n import Catalog, catalog, format_amount
from bot.common.money import to_decimal
from bot.deals.matching import DealMatcher
from bot.offers.pricing import OfferLine, line_sum
from bot.offers.service import Documents, OfferSpec
from bot.tg import callbacks as cb
from bot.tg import dialogs
from bot.tg.context import Ctx
from bot.tg.dialogs import Dialog
from bot.tg.handlers.common import reply, show
from bot.tg.render import keyboard

DRAFT_KEY = "offer_draft"
SEARCH_RESULTS = 8
NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:(\d+(?:[.,]\d+)?)\s*%)?\s*$")

Rows = list[list[tuple[str, str]]]


@dataclass
class Builder:
    """The offer being put together, kept per person until generated or cancelled."""

    deal_id: int
    title: str
    lines: list[OfferLine] = field(default_factory=list)
    discount: Decimal = Decimal(0)
    vat: Decimal | None = None  # taken from the first catalog line, else the default
    payment: str | None = None
    delivery: str | None = None
    valid_days: int | None = None

    def spec(self, default_vat: Decimal) -> OfferSpec:
        return OfferSpec(
            deal_id=self.deal_id, lines=tuple(self.lines), discount_percent=self.discount,
            vat_percent=self.vat if self.lines and self.vat is not None else default_vat,
            payment_terms=self.payment, delivery_terms=self.delivery, valid_days=self.valid_days,
        )  # fmt: skip


def _builder(context: Ctx) -> Builder:
    draft = (context.user_data or {}).get(DRAFT_KEY)
    if not isinstance(draft, Builder):
        raise Invalid("offer.no_draft")
    return draft


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
    deal = await context.core.deals.card(context.person, deal_id)
    if context.user_data is not None:
        context.user_data[DRAFT_KEY] = Builder(deal.id, deal.title)
    await _show_builder(update, context)


# --- the builder screen -------------------------------------------------------------------


def builder_text(builder: Builder, context: Ctx, *, preview: bool) -> str:
    core, t = context.core, context.t
    offers = core.offers
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
    spec = builder.spec(offers.vat_percent)
    totals, violations = offers.preview(context.person, spec)
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
        requisites = offers.requisites
        lines.append("")
        lines.append(
            t("offer.terms", payment=builder.payment or requisites.payment_terms,
              delivery=builder.delivery or requisites.delivery_terms,
              days=builder.valid_days or offers.valid_days)
        )  # fmt: skip
    if violations:
        what = "; ".join(f"{v.name[:40]} {_number(v.effective_percent)}%" for v in violations[:5])
        limit = _number(offers.policy.limit(context.person))
        lines.append("")
        lines.append(t("offer.over_limit", limit=limit, what=what))
    return "\n".join(lines)


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",")


def builder_keyboard(builder: Builder, t: Catalog) -> Any:
    rows: Rows = [
        [
            (t("offer.add_item"), cb.pack(cb.OFFER_ADD)),
            (t("offer.add_free"), cb.pack(cb.OFFER_FREE)),
        ],
        [
            (t("offer.discount_button"), cb.pack(cb.OFFER_DISCOUNT)),
            (t("offer.remove_line"), cb.pack(cb.OFFER_REMOVE)),
        ],
        [
            (t("offer.payment_button"), cb.pack(cb.OFFER_TERMS, "payment")),
            (t("offer.delivery_button"), cb.pack(cb.OFFER_TERMS, "delivery")),
            (t("offer.valid_button"), cb.pack(cb.OFFER_TERMS, "valid")),
        ],
    ]
    last = [(t("offer.cancel_button"), cb.pack(cb.OFFER_CANCEL))]
    if builder.lines:
        last.insert(0, (t("offer.preview_button"), cb.pack(cb.OFFER_PREVIEW)))
    rows.append(last)
    return keyboard(rows)


async def _show_builder(update: Update, context: Ctx, *, edit: bool = False) -> None:
    builder = _builder(context)
    text = builder_text(builder, context, preview=False)
    markup = builder_keyboard(builder, context.t)
    await (show(update, text, markup) if edit else reply(update, text, markup))


async def show_builder(update: Update, context: Ctx) -> None:
    await _show_builder(update, context, edit=True)


async def preview(update: Update, context: Ctx) -> None:
    builder = _builder(context)
    t = context.t
    rows: Rows = [
        [
            (t("offer.generate"), cb.pack(cb.OFFER_GENERATE)),
            (t("offer.edit"), cb.pack(cb.OFFER_SHOW)),
        ]
    ]
    await show(update, builder_text(builder, context, preview=True), keyboard(rows))


async def cancel_builder(update: Update, context: Ctx) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
    dialogs.finish(context.user_data)
    await show(update, context.t("offer.cancelled"))


# --- adding lines -------------------------------------------------------------------------


async def _prompt(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    _builder(context)
    dialogs.start(context.user_data, dialog)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, text)


async def add_item(update: Update, context: Ctx) -> None:
    await _prompt(update, context, Dialog(dialogs.OFFER_SEARCH), context.t("offer.search_prompt"))


async def add_free(update: Update, context: Ctx) -> None:
    if not context.core.offers.free_lines:
        raise Invalid("offer.free_lines_off")
    await _prompt(update, context, Dialog(dialogs.OFFER_FREE), context.t("offer.free_prompt"))


async def ask_discount(update: Update, context: Ctx) -> None:
    await _prompt(
        update, context, Dialog(dialogs.OFFER_DISCOUNT), context.t("offer.discount_prompt")
    )


async def ask_terms(update: Update, context: Ctx) -> None:
    field_name = cb.of(update).get(0)
    builder, requisites, t = _builder(context), context.core.offers.requisites, context.t
    if field_name == "payment":
        text = t("offer.payment_prompt", current=builder.payment or requisites.payment_terms)
    elif field_name == "delivery":
        text = t("offer.delivery_prompt", current=builder.delivery or requisites.delivery_terms)
    else:
        text = t("offer.valid_prompt")
    await _prompt(update, context, Dialog(dialogs.OFFER_TERMS, data={"field": field_name}), text)


async def choose_item(update: Update, context: Ctx) -> None:
    sku = cb.of(update).get(0)
    item = context.core.offers.catalog.get(sku)
    if item is None:
        raise Invalid("common.expired_button")
    t = context.t
    text = t("offer.qty_prompt", name=item.name, price=format_amount(item.price), unit=item.unit)
    await _prompt(update, context, Dialog(dialogs.OFFER_QTY, data={"sku": item.sku}), text)


async def remove_line(update: Update, context: Ctx) -> None:
    builder = _builder(context)
    if builder.lines:
        builder.lines.pop()
    await _show_builder(update, context, edit=True)


async def handle_offer_text(update: Update, context: Ctx, dialog: Dialog, text: str) -> None:
    """A typed answer inside the builder."""
    offers, t = context.core.offers, context.t
    if dialog.kind == dialogs.OFFER_REJECT:
        await _reject(update, context, dialog.data["offer_id"], text)
        return
    builder = _builder(context)
    if dialog.kind == dialogs.OFFER_SEARCH:
        items = offers.catalog.search(text, limit=SEARCH_RESULTS)
        if not items:
            await reply(update, t("offer.search_none", query=text[:60]))
            return
        rows = [
            [(f"{item.name[:40]} · {format_amount(item.price)}", cb.pack(cb.OFFER_ITEM, item.sku))]
            for item in items
        ]
        dialogs.finish(context.user_data)
        await reply(update, t("offer.search_results"), keyboard(rows))
        return
    if dialog.kind == dialogs.OFFER_QTY:
        match = NUMBER.match(text)
        if not match:
            raise Invalid("offer.bad_qty")
        item = offers.catalog.get(dialog.data["sku"])
        if item is None:
            raise Invalid("common.expired_button")
        vat = offers.vat_of(item)
        if builder.lines and builder.vat != vat:  # not a typo to retry: leave the question
            dialogs.finish(context.user_data)
            await reply(update, t("offer.vat_mismatch", name=item.name))
            await _show_builder(update, context)
            return
        discount = _decimal(match.group(2)) if match.group(2) else Decimal(0)
        if not 0 <= discount <= 100:
            raise Invalid("offer.bad_discount")
        builder.lines.append(offers.catalog_line(item, _decimal(match.group(1)), discount))
        builder.vat = vat
    elif dialog.kind == dialogs.OFFER_FREE:
        parts = [part.strip() for part in text.split(";")]
        if len(parts) != 4:
            raise Invalid("offer.bad_line")
        name, unit, qty, price = parts
        line = offers.free_line(name, unit, _decimal(qty), _decimal(price))
        if not builder.lines:
            builder.vat = offers.vat_percent
        builder.lines.append(line)
    elif dialog.kind == dialogs.OFFER_DISCOUNT:
        value = _decimal(text.rstrip("% "))
        if not 0 <= value <= 100:
            raise Invalid("offer.bad_discount")
        builder.discount = value
    elif dialog.kind == dialogs.OFFER_TERMS:
        field_name = dialog.data["field"]
        if field_name == "valid":
            if not text.strip().isdigit() or not 1 <= int(text) <= 365:
                raise Invalid("offer.bad_valid")
            builder.valid_days = int(text)
        elif field_name == "payment":
            builder.payment = " ".join(text.split())[:500]
        else:
            builder.delivery = " ".join(text.split())[:500]
    dialogs.finish(context.user_data)
    await _show_builder(update, context)


# --- generating and approving -------------------------------------------------------------


async def generate(update: Update, context: Ctx) -> None:
    builder = _builder(context)
    core, t = context.core, context.t
    result = await core.offers.submit(context.person, builder.spec(core.offers.vat_percent))
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
    if result.documents is not None:
        await show(update, t("offer.issued", number=result.documents.number,
                             total=format_amount(result.offer.total)))  # fmt: skip
        await _send_documents(context, update.effective_chat.id, result.documents)  # type: ignore[union-attr]
        if result.deal_moved_to:
            stage = await _stage_name(context, builder.deal_id, result.deal_moved_to)
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
        text = at("offer.approval_request", name=context.person.name, title=builder.title,
                  total=format_amount(result.offer.total), what=what)  # fmt: skip
        rows = [[(at("offer.approve"), cb.pack(cb.OFFER_APPROVE, result.offer.id)),
                 (at("offer.reject"), cb.pack(cb.OFFER_REJECT, result.offer.id))]]  # fmt: skip
        await context.bot.send_message(approver.telegram_id, text, reply_markup=keyboard(rows))


async def _stage_name(context: Ctx, deal_id: int, key: str) -> str:
    deal = await context.core.deals.card(context.person, deal_id)
    return context.core.funnels.funnel(deal.funnel).stage(key).name(context.language)


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
    creator = decision.creator
    await show(update, context.t("offer.approved_lead", name=creator.name))
    ct = catalog(creator.language)
    await context.bot.send_message(
        creator.telegram_id, ct("offer.approved_manager", approver=context.person.name)
    )
    assert decision.documents is not None
    await context.bot.send_message(
        creator.telegram_id,
        ct(
            "offer.issued",
            number=decision.documents.number,
            total=format_amount(decision.offer.total),
        ),
    )
    await _send_documents(context, creator.telegram_id, decision.documents)


async def reject(update: Update, context: Ctx) -> None:
    offer_id = cb.of(update).number(0)
    await context.core.offers.pending_view(offer_id)
    skip = keyboard([[(context.t("common.skip"), cb.pack(cb.DEAL_SKIP))]])
    dialogs.start(context.user_data, Dialog(dialogs.OFFER_REJECT, data={"offer_id": offer_id}))
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, context.t("offer.reject_prompt"), skip)


async def _reject(update: Update, context: Ctx, offer_id: int, comment: str | None) -> None:
    dialogs.finish(context.user_data)
    decision = await context.core.offers.decide(
        context.person, offer_id, approve=False, comment=comment
    )
    deal = await context.core.deals.card(context.person, decision.offer.deal_id)
    await reply(update, context.t("offer.rejected_lead"))
    ct = catalog(decision.creator.language)
    text = ct(
        "offer.rejected_manager", approver=context.person.name, title=deal.title, comment=comment
    )
    await context.bot.send_message(decision.creator.telegram_id, text)


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
