"""Deal cards, lists and their keyboards, in the reader's language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup

from bot.common.i18n import Catalog
from bot.deals.funnel import FunnelConfig
from bot.deals.service import PAGE_SIZE, DealPage, DealView
from bot.offers.service import OfferView
from bot.offers.telegram import decision_row
from bot.people.service import Person, Role
from bot.tg import callbacks as cb
from bot.tg.paging import navigation, paged
from bot.tg.render import keyboard

Rows = list[list[tuple[str, str]]]


_WEEKDAYS = {
    "ru": ("пн", "вт", "ср", "чт", "пт", "сб", "вс"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def when(moment: datetime, tz: ZoneInfo, language: str, now: datetime) -> str:
    """«ср 02.12 11:00»: the weekday, so that a wrong reading of a typed date shows at once,
    and the year when it is not this one («01.01.2099 10:00»)."""
    local = moment.astimezone(tz)
    this_year = now.astimezone(tz).year
    weekday = _WEEKDAYS.get(language, _WEEKDAYS["en"])[local.weekday()]
    if language == "ru":
        day = local.strftime("%d.%m" if local.year == this_year else "%d.%m.%Y")
    else:  # «Wed Dec 2 11:00»: an English reader takes 02.12 for February
        day = f"{_MONTHS_EN[local.month - 1]} {local.day}"
        day += "" if local.year == this_year else f" {local.year}"
    return f"{weekday} {day} {local.strftime('%H:%M')}"


def amount_of(deal: DealView, t: Catalog) -> str | None:
    return t.amount(deal.amount, deal.currency) if deal.amount is not None else None


def stage_name(funnels: FunnelConfig, deal: DealView, t: Catalog, key: str | None = None) -> str:
    funnel = funnels.funnel(deal.funnel)
    stage_key = key or deal.stage
    return funnel.stage(stage_key).name(t.language) if funnel.has_stage(stage_key) else stage_key


def card_text(
    deal: DealView,
    t: Catalog,
    funnels: FunnelConfig,
    now: datetime,
    tz: ZoneInfo,
    viewer: Person,
    offers: Sequence[OfferView] = (),
) -> str:
    lines = [t("deal.card_title", title=deal.title, client=deal.client)]
    contact = " ".join(part for part in (deal.contact, deal.phone) if part)
    if contact:
        lines.append(t("deal.card_contact", contact=contact))
    if deal.amount is not None:
        lines.append(t("deal.card_amount", amount=amount_of(deal, t), probability=deal.probability))
    else:
        lines.append(t("deal.card_no_amount", probability=deal.probability))
    if deal.status == "won":
        lines.append(t("deal.card_status_won"))
    elif deal.status == "lost":
        reason = funnels.lost_reason(deal.lost_reason or "")
        lines.append(t("deal.card_status_lost", reason=reason.name(t.language) if reason else None))
        if deal.lost_comment:
            lines.append(t("deal.card_lost_comment", comment=deal.lost_comment))
    else:
        days = deal.days_in_stage(now)
        name = stage_name(funnels, deal, t)
        lines.append(t("deal.card_stage", stage=name, days=days, stalled=deal.stalled))
        if deal.next_step_due is not None:
            lines.append(
                t(
                    "deal.card_next_step",
                    text=deal.next_step_text or t("next_step.default_text"),
                    due=when(deal.next_step_due, tz, t.language, now),
                    overdue=deal.overdue,
                )
            )
        else:
            lines.append(t("deal.card_no_next_step"))
    if viewer.role is not Role.MANAGER or deal.owner_id != viewer.id:
        lines.append(t("deal.card_owner", owner=deal.owner_name))
    for offer in offers:
        status = t(f"offer.status_{offer.status}")
        total = t.amount(offer.total, offer.currency)
        lines.append(t("offer.card_line", number=offer.number, total=total, status=status))
    if deal.notes:
        lines.append(t("deal.card_notes"))
        for note in deal.notes:
            at = note.at.astimezone(tz).strftime("%d.%m")
            lines.append(t("deal.card_note", text=note.text, at=at, author=note.author))
    return "\n".join(lines)


def card_keyboard(
    deal: DealView,
    t: Catalog,
    funnels: FunnelConfig,
    viewer: Person,
    offers: Sequence[OfferView] = (),
) -> InlineKeyboardMarkup:
    funnel = funnels.funnel(deal.funnel)
    version = deal.version
    rows: Rows = []
    if deal.status == "open":
        following = funnel.next_stage(deal.stage)
        if following is not None and not following.won:
            label = t("deal.button_next", stage=following.name(t.language))
            rows.append([(label, cb.pack(cb.DEAL_NEXT, deal.id, version))])
        rows.append(
            [
                (t("deal.button_stage"), cb.pack(cb.DEAL_PICK, deal.id, version)),
                (t("deal.button_won"), cb.pack(cb.DEAL_WIN, deal.id, version)),
                (t("deal.button_lost"), cb.pack(cb.DEAL_LOSE, deal.id, version)),
            ]
        )
        rows.append(
            [
                (t("deal.button_note"), cb.pack(cb.DEAL_NOTE, deal.id)),
                (t("deal.button_step"), cb.pack(cb.DEAL_STEP, deal.id)),
                (t("offer.button"), cb.pack(cb.OFFER_OPEN, deal.id)),
            ]
        )
    else:
        rows.append(
            [
                (t("deal.reopen"), cb.pack(cb.DEAL_PICK, deal.id, version)),
                (t("deal.button_note"), cb.pack(cb.DEAL_NOTE, deal.id)),
            ]
        )
    issued = [offer for offer in offers if offer.status == "issued" and offer.number]
    for offer in issued[:3]:
        rows.append([(f"⬇ {offer.number}", cb.pack(cb.OFFER_DOWNLOAD, offer.id))])
    for offer in offers:
        if offer.may_decide:  # the reader may approve or reject it: here as in /approvals
            rows.append(decision_row(offer, t))
    if viewer.role is not Role.MANAGER:
        rows.append([(t("deal.button_reassign"), cb.pack(cb.DEAL_REASSIGN, deal.id))])
    return keyboard(rows)


def stage_keyboard(
    deal: DealView, t: Catalog, funnels: FunnelConfig, page: int = 0
) -> InlineKeyboardMarkup:
    """The deal's other stages, two to a row; the page buttons carry the deal's version."""
    funnel = funnels.funnel(deal.funnel)
    rows = paged(
        [stage for stage in funnel.stages if stage.key != deal.stage],
        page,
        lambda stage: (
            stage.name(t.language),
            cb.pack(cb.DEAL_MOVE, deal.id, stage.key, deal.version),
        ),
        lambda n: cb.pack(cb.DEAL_PICK, deal.id, deal.version, n),
        per_row=2,
    )
    rows.append([(t("common.back"), cb.pack(cb.DEAL_VIEW, deal.id))])
    return keyboard(rows)


def stage_choice_keyboard(
    deal: DealView, keys: Sequence[str], t: Catalog, funnels: FunnelConfig
) -> InlineKeyboardMarkup:
    rows: Rows = [
        [(stage_name(funnels, deal, t, key), cb.pack(cb.DEAL_MOVE, deal.id, key, deal.version))]
        for key in keys
    ]
    return keyboard(rows)


def reasons_keyboard(
    deal: DealView, t: Catalog, funnels: FunnelConfig, page: int = 0
) -> InlineKeyboardMarkup:
    rows = paged(
        funnels.lost_reasons,
        page,
        lambda reason: (
            reason.name(t.language),
            cb.pack(cb.DEAL_LOSE_REASON, deal.id, reason.key, deal.version),
        ),
        lambda n: cb.pack(cb.DEAL_LOSE, deal.id, deal.version, n),
        per_row=2,
    )
    rows.append([(t("common.back"), cb.pack(cb.DEAL_VIEW, deal.id))])
    return keyboard(rows)


def next_step_rows(deal_id: int, t: Catalog, marker: str) -> Rows:
    """The quick answers to a next-step question; they carry the question's marker, so once
    the question is left they answer nothing."""

    def quick(label: str, days: int) -> tuple[str, str]:
        return t(label), cb.pack(cb.DEAL_STEP_QUICK, deal_id, days, marker)

    return [
        [quick("next_step.tomorrow", 1), quick("next_step.in_3_days", 3),
         quick("next_step.in_week", 7)],
        [quick("common.skip", 0)],
    ]  # fmt: skip


def next_step_keyboard(deal_id: int, t: Catalog, marker: str) -> InlineKeyboardMarkup:
    return keyboard(next_step_rows(deal_id, t, marker))


def list_text_and_keyboard(
    page: DealPage,
    t: Catalog,
    funnels: FunnelConfig,
    now: datetime,
    viewer: Person,
    owner_id: int,
    owner_name: str | None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    if page.total == 0:
        return t("deal.list_empty"), keyboard([closed_views_row(t)])
    lines = [t("deal.list_header", total=page.total, owner=owner_name)]
    rows: Rows = []
    current_stage = None
    show_owner = viewer.role is not Role.MANAGER and not owner_id
    for deal in page.deals:
        name = stage_name(funnels, deal, t)
        if name != current_stage:
            lines.append("")
            lines.append(t("deal.list_stage", stage=name))
            current_stage = name
        item = t(
            "deal.list_item",
            title=deal.title,
            amount=amount_of(deal, t),
            days=deal.days_in_stage(now),
            warn=deal.stalled or deal.overdue,
            owner=deal.owner_name if show_owner else None,
        )
        lines.append(item)
        label = ("⚠ " if deal.stalled or deal.overdue else "") + deal.title
        rows.append([(label[:60], cb.pack(cb.DEAL_VIEW, deal.id))])
    # The service reads one page (an offset); the buttons keep naming offsets, as before.
    turning = navigation(
        page.offset // PAGE_SIZE,
        -(-page.total // PAGE_SIZE),
        lambda n: cb.pack(cb.DEAL_LIST, n * PAGE_SIZE, owner_id),
    )
    if turning:
        rows.append(turning)
    if viewer.role is not Role.MANAGER:
        rows.append([(t("deal.filter_button"), cb.pack(cb.DEAL_FILTER))])
    rows.append(closed_views_row(t))
    return "\n".join(lines), keyboard(rows)


def closed_views_row(t: Catalog) -> list[tuple[str, str]]:
    """The way from the open deals to the closed ones."""
    return [
        (t("deal.view_won"), cb.pack(cb.DEAL_CLOSED, "won")),
        (t("deal.view_lost"), cb.pack(cb.DEAL_CLOSED, "lost")),
    ]


def closed_text_and_keyboard(
    deals: Sequence[DealView], status: str, t: Catalog, tz: ZoneInfo, viewer: Person
) -> tuple[str, InlineKeyboardMarkup]:
    """Won or lost deals, latest first, each a button to its card."""
    if not deals:
        return t(f"deal.closed_empty_{status}"), keyboard([closed_views_row(t)])
    lines = [t(f"deal.closed_header_{status}", total=len(deals)), ""]
    show_owner = viewer.role is not Role.MANAGER
    rows: Rows = []
    for deal in deals:
        lines.append(
            t(
                "deal.closed_item", title=deal.title, amount=amount_of(deal, t),
                day=deal.stage_changed_at.astimezone(tz).strftime("%d.%m.%Y"),
                owner=deal.owner_name if show_owner else None,
            )
        )  # fmt: skip
        rows.append([(deal.title[:60], cb.pack(cb.DEAL_VIEW, deal.id))])
    rows.append(closed_views_row(t))
    return "\n".join(lines), keyboard(rows)
