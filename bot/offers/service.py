"""Commercial offers on deals: pricing by the company's rules, the discount policy with a
recorded approval, numbering per year, and the PDF and DOCX documents.

Issuing renders before it records. The next number of the year is read, the documents
are rendered and written under temporary names with no transaction open (Typst and
docxtpl take tens of milliseconds, and SQLite has one connection for everybody), and
only then one short transaction records the offer with that number, moves the deal and
puts the files in place. So a render failure records nothing and spends no number, and
a recorded offer always has its files. When another offer took the number meanwhile,
the unique (year, seq) refuses the record: the files are dropped and the offer is
rendered again with the next number, so numbers stay unique and without gaps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.common.clock import Clock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.common.money import MAX_AMOUNT
from bot.db.session import transaction
from bot.deals.service import DealsService, DealView, Via
from bot.offers import store
from bot.offers.catalog import Catalog, CatalogItem
from bot.offers.documents import OfferDocument, OfferRenderer, build_offer_document
from bot.offers.input import MAX_VALID_DAYS, ClientInfo, ManagerInfo, OfferDraft, offer_number
from bot.offers.labels import shorten
from bot.offers.pricing import (
    OfferLine,
    OfferTotals,
    Violation,
    compute_totals,
    discount_violations,
    effective_discount_percent,
    most_line_discount,
    most_order_discount,
)
from bot.offers.requisites import Requisites
from bot.offers.store import Issue, Numbered, NumberTaken, OfferRow, Tx
from bot.people.service import PeopleService, Person, Role

MAX_LINES = 300
MAX_NAME = 300
MAX_UNIT = 20
NAME_IN_TEXT = 60  # of a product name in a refusal: cut at a word
MAX_TERMS = 500
MAX_COMMENT = 1000  # an approver's comment on a decision
NUMBER_ATTEMPTS = 5
"""Tries at the next number when others take it meanwhile, before "busy, try again"."""
RECENT_OFFERS = 5
MAX_QTY = Decimal(1_000_000)
MAX_DRAFTS = 20
"""Drafts kept per person, one per deal; beyond that the longest untouched one goes."""
PENDING_SHOWN = 20
"""Offers /approvals lists at once, oldest first: the ones waiting longest."""

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class DiscountPolicy:
    manager: Decimal
    lead: Decimal
    admin: Decimal

    def limit(self, person: Person) -> Decimal:
        return {Role.MANAGER: self.manager, Role.LEAD: self.lead, Role.ADMIN: self.admin}[
            person.role
        ]


@dataclass(frozen=True, slots=True)
class OfferSpec:
    """What the manager put together in the builder."""

    deal_id: int
    lines: tuple[OfferLine, ...]
    discount_percent: Decimal = Decimal(0)
    vat_percent: Decimal | None = Decimal(22)
    payment_terms: str | None = None
    delivery_terms: str | None = None
    valid_days: int | None = None
    currency: str = "RUB"

    def draft(self, title: str) -> Draft:
        """The builder's draft with this spec's lines, discount and terms: an offer
        rejected or withdrawn goes back to the builder as it was."""
        return Draft(
            self.deal_id, title, self.lines, self.discount_percent,
            self.vat_percent if self.lines else None, self.payment_terms, self.delivery_terms,
            self.valid_days, self.currency,
        )  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(
            {
                "deal_id": self.deal_id,
                "lines": [
                    {
                        "sku": line.sku, "name": line.name, "unit": line.unit,
                        "qty": str(line.qty), "price": str(line.price),
                        "discount_percent": str(line.discount_percent),
                        "max_discount_percent": None if line.max_discount_percent is None
                        else str(line.max_discount_percent),
                    }
                    for line in self.lines
                ],
                "discount_percent": str(self.discount_percent),
                "vat_percent": None if self.vat_percent is None else str(self.vat_percent),
                "payment_terms": self.payment_terms,
                "delivery_terms": self.delivery_terms,
                "valid_days": self.valid_days,
                "currency": self.currency,
            },
            ensure_ascii=False,
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> OfferSpec:
        data = json.loads(text)
        lines = tuple(
            OfferLine(
                sku=line["sku"], name=line["name"], unit=line["unit"], qty=Decimal(line["qty"]),
                price=Decimal(line["price"]), discount_percent=Decimal(line["discount_percent"]),
                max_discount_percent=None if line["max_discount_percent"] is None
                else Decimal(line["max_discount_percent"]),
            )
            for line in data["lines"]
        )  # fmt: skip
        vat = data["vat_percent"]
        return cls(
            deal_id=data["deal_id"], lines=lines,
            discount_percent=Decimal(data["discount_percent"]),
            vat_percent=None if vat is None else Decimal(vat),
            payment_terms=data["payment_terms"], delivery_terms=data["delivery_terms"],
            valid_days=data["valid_days"], currency=data.get("currency", "RUB"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Draft:
    """The offer being put together in the builder; every change makes a new draft.

    ``vat`` is taken from the first line (a catalog item's rate, the default for a free
    line): one offer has one VAT rate. ``None`` there is a VAT-exempt offer («Без НДС»),
    not "no rate chosen yet". ``currency`` is the deal's when the builder opened: every
    price and sum of the offer is in it.
    """

    deal_id: int
    title: str
    lines: tuple[OfferLine, ...] = ()
    discount: Decimal = Decimal(0)
    vat: Decimal | None = None
    payment: str | None = None
    delivery: str | None = None
    valid_days: int | None = None
    currency: str = "RUB"

    def spec(self, default_vat: Decimal) -> OfferSpec:
        return OfferSpec(
            deal_id=self.deal_id, lines=self.lines, discount_percent=self.discount,
            vat_percent=self.vat if self.lines else default_vat,
            payment_terms=self.payment, delivery_terms=self.delivery, valid_days=self.valid_days,
            currency=self.currency,
        )  # fmt: skip


class NotForThisOffer(Invalid):
    """An item this offer cannot take whatever is typed: not a typo to retry."""


class VatMismatch(NotForThisOffer):
    """An item with another VAT rate than the offer's lines."""


class CurrencyMismatch(NotForThisOffer):
    """A catalog item priced in another currency than the deal's.

    Not converted: the catalog has no price in the deal's currency, and a price made up
    from an exchange rate would be one the company never set.
    """


@dataclass(frozen=True, slots=True)
class Terms:
    """The terms an offer will print: the draft's own, else the seller's defaults."""

    payment: str
    delivery: str
    valid_days: int


@dataclass(frozen=True, slots=True)
class Preview:
    """The sums, and what submitting would do: issue now, or wait for one of `approvers`
    (none while there are violations: nobody can approve it, so it would be refused)."""

    totals: OfferTotals
    violations: tuple[Violation, ...]
    limit: Decimal  # the actor's own discount limit
    terms: Terms
    approvers: tuple[Person, ...] = ()
    currency: str = "RUB"


@dataclass(frozen=True, slots=True)
class OfferView:
    id: int
    deal_id: int
    number: str | None
    status: str
    currency: str
    total: Decimal
    created_by_id: int
    created_at: dt.datetime
    may_decide: bool = False  # the person it was read for may approve or reject it


@dataclass(frozen=True, slots=True)
class PendingOffer:
    """An offer waiting for the reader's decision, as /approvals lists it."""

    offer: OfferView
    deal_title: str
    creator_name: str
    violations: tuple[Violation, ...]  # the lines above the creator's limit


@dataclass(frozen=True, slots=True)
class Opening:
    """What the builder opens on: the deal, and the offer of the actor's on it that still
    waits for a decision (with who may take it now), if any."""

    deal: DealView
    pending: OfferView | None = None
    deciders: tuple[Person, ...] = ()


@dataclass(frozen=True, slots=True)
class Documents:
    number: str
    pdf: bytes
    docx: bytes


@dataclass(frozen=True, slots=True)
class RenderedOffer:
    """An offer rendered from the shell: the document as printed and both files."""

    document: OfferDocument
    pdf: bytes
    docx: bytes


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """Either the documents at once, or the offer waiting for one of `approvers`."""

    offer: OfferView
    deal: DealView  # as it was when submitted
    documents: Documents | None
    violations: tuple[Violation, ...]
    approvers: tuple[Person, ...]
    deal_moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    offer: OfferView
    deal_title: str
    creator: Person
    approved: bool
    comment: str | None
    documents: Documents | None
    deal_moved_to: str | None = None
    withdrawn: bool = False  # not decided: the deal was lost meanwhile, so it was withdrawn


class OffersService:
    def __init__(
        self,
        db: store.Database,
        deals: DealsService,
        *,
        people: PeopleService | None = None,
        catalog: Catalog,
        renderer: OfferRenderer,
        requisites: Requisites,
        policy: DiscountPolicy,
        clock: Clock,
        tz: ZoneInfo,
        files_dir: Path,
        move_deal: bool,
        vat_percent: Decimal,
        free_lines: bool,
        valid_days: int = 14,
    ) -> None:
        self._db = db
        self._deals = deals
        self._people = people
        self.catalog = catalog
        self._renderer = renderer
        self.requisites = requisites
        self.policy = policy
        self._clock = clock
        self._tz = tz
        self._files = files_dir
        self._move_deal = move_deal
        self.vat_percent = vat_percent
        self.free_lines = free_lines
        self.valid_days = valid_days

    # --- building -------------------------------------------------------------------

    async def open_draft(self, actor: Person, deal_id: int) -> Draft:
        deal = await self._deals.card(actor, deal_id)
        _check_offerable(deal)
        return Draft(deal.id, deal.title, currency=deal.currency)

    async def opening(self, actor: Person, deal_id: int) -> Opening:
        """Before the builder opens (or resumes): a lost deal is refused; the actor's own
        offer on the deal that waits for a decision is told, with who decides it now (the
        active people who may, as `submit` would pick them today)."""
        async with transaction(self._db) as session:
            deal = await self._deals.card_in(session, actor, deal_id)
            _check_offerable(deal)
            for row in await store.of_deal(session, deal_id, RECENT_OFFERS):
                if row.status == "pending" and row.created_by_id == actor.id:
                    spec = OfferSpec.from_json(row.spec)
                    deciders = await self._approvers(session, actor, spec)
                    return Opening(deal, _view(row), tuple(deciders))
        return Opening(deal)

    async def withdraw(self, actor: Person, offer_id: int) -> Draft:
        """The author takes their offer back from approval to change it: it is no longer
        anyone's to decide, and its lines, discount and terms go back to the builder."""
        async with transaction(self._db) as session:
            offer, spec, deal = await self._own_offer(session, actor, offer_id)
            if offer.status != "pending" or not await store.withdraw(session, offer_id):
                raise Invalid("offer.already_decided")
        return spec.draft(deal.title)

    async def reopen(self, actor: Person, offer_id: int) -> Draft:
        """«✏️ Изменить» under a rejection: the rejected (or withdrawn) offer's lines,
        discount and terms in the builder again, so nothing has to be typed anew."""
        async with transaction(self._db) as session:
            offer, spec, deal = await self._own_offer(session, actor, offer_id)
        if offer.status not in ("rejected", "withdrawn"):
            raise Invalid("offer.not_rejected")
        _check_offerable(deal)
        return spec.draft(deal.title)

    async def _own_offer(
        self, session: Tx, actor: Person, offer_id: int
    ) -> tuple[OfferRow, OfferSpec, DealView]:
        """The actor's own offer on a deal they may still see; anyone else's is none."""
        offer = await store.offer(session, offer_id)
        if offer is None or offer.deal_id is None or offer.created_by_id != actor.id:
            raise NotFound("offer.not_found")
        deal = await self._deals.card_in(session, actor, offer.deal_id)
        return offer, OfferSpec.from_json(offer.spec), deal

    def search_items(self, query: str, limit: int) -> list[CatalogItem]:
        return self.catalog.search(query, limit=limit)

    def exact_item(self, text: str) -> CatalogItem | None:
        """The item whose SKU is exactly `text` (ignoring case): picked without a list."""
        return self.catalog.get(text)

    def item(self, sku: str) -> CatalogItem:
        """A catalog item by a button's sku; gone from the catalog means a stale button."""
        item = self.catalog.get(sku)
        if item is None:
            raise Invalid("common.expired_button")
        return item

    def check_item(self, draft: Draft, item: CatalogItem) -> None:
        """Whether this offer can take the item at all: asked before its quantity is."""
        if item.currency != draft.currency:
            raise CurrencyMismatch(
                "offer.currency_mismatch", name=item.name, item_currency=item.currency,
                deal_currency=draft.currency,
            )  # fmt: skip
        if draft.lines and draft.vat != self.vat_of(item):
            raise VatMismatch("offer.vat_mismatch", name=item.name)

    def catalog_line(self, item: CatalogItem, qty: Decimal, discount: Decimal) -> OfferLine:
        _check_percent(discount)
        _check_qty(qty)
        line = OfferLine(
            item.sku, item.name, item.unit, qty, item.price, discount, item.max_discount_percent
        )
        _check_sum(line)
        return line

    def add_item(
        self, actor: Person, draft: Draft, sku: str, qty: Decimal, discount: Decimal
    ) -> Draft:
        """A catalog line in the deal's currency and the offer's VAT rate, its discount
        within what the item and anyone who could approve it allow."""
        item = self.item(sku)
        self.check_item(draft, item)
        line = self.catalog_line(item, qty, discount)
        self._check_line_reach(actor, line, draft.discount)
        return replace(draft, lines=(*draft.lines, line), vat=self.vat_of(item))

    def check_free_lines(self, actor: Person) -> None:
        """Before asking for a free line: refused at once when the company turned them off."""
        if not self.free_lines:
            raise Forbidden("offer.free_lines_off")

    def line_words(self, name: str, unit: str) -> tuple[str, str]:
        """A free line's name and unit, checked before its numbers are read, so that the
        first wrong part is the one named («Rack; 2; шт; 100»: the unit)."""
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise Invalid("offer.bad_line_name", limit=MAX_NAME)
        unit = " ".join(unit.split())
        if len(unit) > MAX_UNIT or (unit and not any(c.isalpha() for c in unit)):
            raise Invalid("offer.bad_line_unit", value=unit[:30], limit=MAX_UNIT)
        return name, unit or "шт"

    def free_line(self, name: str, unit: str, qty: Decimal, price: Decimal) -> OfferLine:
        if not self.free_lines:
            raise Forbidden("offer.free_lines_off")
        name, unit = self.line_words(name, unit)
        _check_qty(qty)
        if price < 0:
            raise Invalid("offer.bad_line")
        line = OfferLine(None, name, unit, qty, price)
        _check_sum(line)
        return line

    def add_free_line(
        self, actor: Person, draft: Draft, name: str, unit: str, qty: Decimal, price: Decimal
    ) -> Draft:
        """A line typed by hand, priced in the deal's currency; as the first line it brings
        the default VAT rate."""
        line = self.free_line(name, unit, qty, price)
        self._check_line_reach(actor, line, draft.discount)
        vat = draft.vat if draft.lines else self.vat_percent
        return replace(draft, lines=(*draft.lines, line), vat=vat)

    def without_line(self, actor: Person, draft: Draft, index: int, count: int) -> Draft:
        """Line `index` (from 0) of a list shown when the draft had `count` lines; a list
        from before another change is refused rather than removing some other line."""
        if count != len(draft.lines) or not 0 <= index < len(draft.lines):
            raise Invalid("offer.lines_changed")
        return replace(draft, lines=draft.lines[:index] + draft.lines[index + 1 :])

    def set_discount(self, actor: Person, draft: Draft, percent: Decimal) -> Draft:
        """The order discount. Above the actor's limit it needs an approval; above an
        item's cap, or above what anyone may approve, it is refused now, with the most
        that is possible, rather than when the offer is submitted."""
        _check_percent(percent)
        ceiling = self.ceiling(actor)
        for line in draft.lines:
            effective = effective_discount_percent(line, percent)
            limit, by_cap = _limit_of(line, ceiling)
            if effective > limit:
                raise Invalid(
                    "offer.order_over_cap", percent=_shown(percent),
                    name=shorten(line.name, NAME_IN_TEXT),
                    effective=_shown(effective), limit=_shown(limit), cap=by_cap,
                    most=_shown(most_order_discount(draft.lines, ceiling)),
                )  # fmt: skip
        return replace(draft, discount=percent)

    def ceiling(self, actor: Person) -> Decimal:
        """The largest discount anyone could allow on the actor's offer: their own limit,
        their lead's (for a manager) or an admin's."""
        limits = [self.policy.limit(actor), self.policy.admin]
        if actor.role is Role.MANAGER:
            limits.append(self.policy.lead)
        return max(limits)

    def _check_line_reach(self, actor: Person, line: OfferLine, order: Decimal) -> None:
        effective = effective_discount_percent(line, order)
        limit, by_cap = _limit_of(line, self.ceiling(actor))
        if effective > limit:
            raise Invalid(
                "offer.line_over_cap", name=shorten(line.name, NAME_IN_TEXT), limit=_shown(limit),
                cap=by_cap,
                order=_shown(order) if order else None, qty=_shown(line.qty),
                most=_shown(most_line_discount(limit, order)),
            )  # fmt: skip

    def set_valid_days(self, actor: Person, draft: Draft, days: int) -> Draft:
        if not 1 <= days <= MAX_VALID_DAYS:
            raise Invalid("offer.bad_valid")
        return replace(draft, valid_days=days)

    def set_payment_terms(self, actor: Person, draft: Draft, text: str) -> Draft:
        return replace(draft, payment=_terms_text(text))

    def set_delivery_terms(self, actor: Person, draft: Draft, text: str) -> Draft:
        return replace(draft, delivery=_terms_text(text))

    def terms(self, draft: Draft) -> Terms:
        return Terms(
            draft.payment or self.requisites.payment_terms,
            draft.delivery or self.requisites.delivery_terms,
            draft.valid_days or self.valid_days,
        )

    def vat_of(self, item: CatalogItem) -> Decimal | None:
        return item.vat_percent if item.vat_percent else None

    async def preview(self, actor: Person, draft: Draft) -> Preview:
        """The sums and what submitting would do, as the actor would submit the draft:
        above their limit, who would be asked (the same people `submit` asks)."""
        spec = draft.spec(self.vat_percent)
        totals, violations = self._priced(actor, spec)
        approvers: list[Person] = []
        if violations:
            async with transaction(self._db) as session:
                approvers = await self._approvers(session, actor, spec)
        return Preview(
            totals, violations, self.policy.limit(actor), self.terms(draft), tuple(approvers),
            draft.currency,
        )  # fmt: skip

    def _priced(self, actor: Person, spec: OfferSpec) -> tuple[OfferTotals, tuple[Violation, ...]]:
        if not spec.lines:
            raise Invalid("offer.no_lines")
        totals = compute_totals(spec.lines, spec.discount_percent, spec.vat_percent, True)
        violations = discount_violations(
            spec.lines, spec.discount_percent, self.policy.limit(actor)
        )
        return totals, tuple(violations)

    # --- submitting and deciding -------------------------------------------------------

    async def submit(self, actor: Person, offer: Draft | OfferSpec) -> SubmitResult:
        """Within the limit: numbered and rendered now. Above it: waits for an approval."""
        spec = offer.spec(self.vat_percent) if isinstance(offer, Draft) else offer
        totals, violations = self._priced(actor, spec)
        deal = await self._deals.card(actor, spec.deal_id)
        _check_offerable(deal)
        if deal.currency != spec.currency:  # the deal's currency changed since the draft began
            raise Invalid(
                "offer.deal_currency_changed", offer_currency=spec.currency,
                deal_currency=deal.currency,
            )  # fmt: skip
        now = self._clock()
        currency = spec.currency
        values: dict[str, Any] = {
            "deal_id": deal.id, "spec": spec.to_json(), "currency": currency,
            "subtotal": totals.subtotal, "discount": totals.discount, "vat": totals.vat,
            "total": totals.total, "created_by_id": actor.id, "created_at": now,
            "max_discount": max((v.effective_percent for v in violations), default=Decimal(0)),
        }  # fmt: skip
        if violations:
            async with transaction(self._db) as session:
                approvers = await self._approvers(session, actor, spec)
                if not approvers:
                    raise Invalid("offer.nobody_to_approve")
                offer_id = await store.add(session, status="pending", **values)
            view = OfferView(
                offer_id, deal.id, None, "pending", currency, totals.total, actor.id, now
            )
            return SubmitResult(view, deal, None, violations, tuple(approvers))

        async def record(session: Tx, issue: Issue) -> tuple[OfferView, str | None]:
            offer_id = await store.add(session, issue=issue, **values)
            moved = await self._move_to_offer_stage(session, actor, deal)
            number = issue.numbered.number
            view = OfferView(
                offer_id, deal.id, number, "issued", currency, totals.total, actor.id, now
            )
            return view, moved

        draft = self._draft_of(spec, deal, await self._manager(actor))
        (view, moved), rendered = await self._issue(draft, totals, record, keep_files=True)
        return SubmitResult(view, deal, _documents(rendered), (), (), moved)

    async def pending(self, actor: Person, offer_id: int) -> OfferView:
        """An offer the actor may still decide on (before asking them why they reject it)."""
        async with transaction(self._db) as session:
            offer, _, _ = await self._decidable(session, actor, offer_id)
        return _view(offer)

    async def decide(
        self, actor: Person, offer_id: int, *, approve: bool, comment: str | None = None
    ) -> Decision:
        """A lead's (or admin's) decision; recorded with who, when and what; once only.

        An approval renders the documents between two short transactions: the first checks
        who may decide, the second claims the offer (once only) and records the decision.
        """
        comment_text = (comment or "").strip() or None
        if comment_text is not None and len(comment_text) > MAX_COMMENT:
            raise Invalid("common.too_long", length=len(comment_text), limit=MAX_COMMENT)
        async with transaction(self._db) as session:
            offer, creator, spec = await self._decidable(session, actor, offer_id)
            assert offer.deal_id is not None
            deal = await self._deals.card_in(session, actor, offer.deal_id)
            if approve and deal.status == "lost":
                # Approving a discount on a deal the team has lost issues nothing: the offer
                # is withdrawn, and its author is told why (and how to change it).
                if not await store.withdraw(session, offer_id):
                    raise Invalid("offer.already_decided")
                view = replace(_view(offer), status="withdrawn")
                return Decision(view, deal.title, creator, False, None, None, withdrawn=True)
            if not approve:
                _, violations = self._priced(creator, spec)
                if not await store.claim(session, offer_id, issue=None):
                    raise Invalid("offer.already_decided")
                await self._record_decision(
                    session, actor, offer_id, False, comment_text, violations
                )
                view = replace(_view(offer), status="rejected")
                return Decision(view, deal.title, creator, False, comment_text, None)
        totals, violations = self._priced(creator, spec)

        async def record(session: Tx, issue: Issue) -> tuple[OfferView, str | None]:
            if not await store.claim(session, offer_id, issue=issue):
                raise Invalid("offer.already_decided")
            await self._record_decision(session, actor, offer_id, True, comment_text, violations)
            moved = await self._move_to_offer_stage(session, creator, deal)
            return replace(_view(offer), status="issued", number=issue.numbered.number), moved

        draft = self._draft_of(spec, deal, await self._manager(creator))
        (view, moved), rendered = await self._issue(draft, totals, record, keep_files=True)
        documents = _documents(rendered)
        return Decision(view, deal.title, creator, True, comment_text, documents, moved)

    async def render_for_shell(self, draft: OfferDraft, source: str) -> RenderedOffer:
        """`voronka offer render`: the bot's issuing path for an offer typed as JSON.

        Without a number of its own the offer takes the next one of the year and is
        recorded (without a deal or files: the shell writes the file it was asked for).
        The shell's operator runs the bot, so no person's access is checked.
        """
        totals = compute_totals(
            draft.lines, draft.discount_percent, draft.vat_percent, draft.vat_included
        )
        if draft.number is not None:
            today = self._clock().astimezone(self._tz).date()
            document = build_offer_document(draft, totals, self.requisites, today)
            pdf, docx = await self._render(document)
            return RenderedOffer(document, pdf, docx)
        now = self._clock()

        async def record(session: Tx, issue: Issue) -> None:
            await store.add(
                session, issue=issue, deal_id=None, spec=source, currency=draft.currency,
                subtotal=totals.subtotal, discount=totals.discount, vat=totals.vat,
                total=totals.total, max_discount=Decimal(0), created_by_id=None, created_at=now,
            )  # fmt: skip

        _, rendered = await self._issue(draft, totals, record, keep_files=False)
        return rendered

    async def documents(self, actor: Person, offer_id: int) -> Documents:
        """Download an issued offer again."""
        async with transaction(self._db) as session:
            offer = await store.offer(session, offer_id)
        if offer is None or offer.deal_id is None or offer.status != "issued" or not offer.number:
            raise NotFound("offer.not_found")
        await self._deals.card(actor, offer.deal_id)  # access: NotFound, as for no offer
        pdf, docx = await asyncio.to_thread(_read_pair, offer.pdf_path or "", offer.docx_path or "")
        return Documents(offer.number, pdf, docx)

    async def for_deal(self, actor: Person, deal_id: int) -> list[OfferView]:
        """The deal's latest offers; a pending one says whether the actor may decide it."""
        await self._deals.card(actor, deal_id)
        async with transaction(self._db) as session:
            views = []
            for row in await store.of_deal(session, deal_id, RECENT_OFFERS):
                view = _view(row)
                if row.status == "pending" and await self._may_decide(session, actor, row):
                    view = replace(view, may_decide=True)
                views.append(view)
            return views

    async def pending_for(self, actor: Person) -> list[PendingOffer]:
        """/approvals: the offers waiting for a decision the actor may take, oldest first."""
        if actor.role is Role.MANAGER:
            raise Forbidden("offer.approvals_forbidden")
        shown: list[PendingOffer] = []
        async with transaction(self._db) as session:
            for row in await store.pending(session):
                creator = await self._creator(session, row)
                if creator is None or not await self._may_decide(session, actor, row, creator):
                    continue
                assert row.deal_id is not None
                try:
                    deal = await self._deals.card_in(session, actor, row.deal_id)
                except NotFound:
                    continue
                spec = OfferSpec.from_json(row.spec)
                _, violations = self._priced(creator, spec)
                view = replace(_view(row), may_decide=True)
                shown.append(PendingOffer(view, deal.title, creator.name, violations))
                if len(shown) == PENDING_SHOWN:
                    break
        return shown

    # --- issuing ------------------------------------------------------------------------

    async def _issue(
        self,
        draft: OfferDraft,
        totals: OfferTotals,
        record: Callable[[Tx, Issue], Awaitable[R]],
        *,
        keep_files: bool,
    ) -> tuple[R, RenderedOffer]:
        """Number, render, then record in one short transaction (see the module's notes).

        `record` writes the offer with the `Issue` it is given; it raises `NumberTaken`
        (from the store) when that number went to another offer meanwhile.
        """
        for _ in range(NUMBER_ATTEMPTS):
            now = self._clock()
            year = now.astimezone(self._tz).year
            async with transaction(self._db) as session:
                seq = await store.next_seq(session, year)
            numbered = Numbered(year, seq, offer_number(year, seq))
            document = build_offer_document(
                replace(draft, number=numbered.number), totals, self.requisites,
                now.astimezone(self._tz).date(),
            )  # fmt: skip
            pdf, docx = await self._render(document)
            staged = (
                await asyncio.to_thread(self._stage, numbered.number, pdf, docx)
                if keep_files
                else None
            )
            issue = Issue(
                numbered, now,
                str(staged.pdf_path) if staged else None, str(staged.docx_path) if staged else None,
            )  # fmt: skip
            try:
                async with transaction(self._db) as session:
                    result = await record(session, issue)
                    if staged is not None:
                        staged.publish()  # renames: the record and its files commit together
            except NumberTaken:
                if staged is not None:
                    staged.discard()
                continue
            except BaseException:
                if staged is not None:
                    staged.discard()
                raise
            return result, RenderedOffer(document, pdf, docx)
        raise Invalid("offer.busy")

    async def _render(self, document: OfferDocument) -> tuple[bytes, bytes]:
        pdf, docx = await asyncio.gather(
            asyncio.to_thread(self._renderer.render_pdf, document),
            asyncio.to_thread(self._renderer.render_docx, document),
        )
        return pdf, docx

    def _stage(self, number: str, pdf: bytes, docx: bytes) -> _Staged:
        self._files.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        part = self._files / f".{number}.{token}"
        staged = _Staged(
            self._files / f"{number}.pdf", self._files / f"{number}.docx",
            part.with_name(f"{part.name}.pdf.part"), part.with_name(f"{part.name}.docx.part"),
        )  # fmt: skip
        staged.write(pdf, docx)
        return staged

    async def _manager(self, creator: Person) -> ManagerInfo:
        """The manager block of the documents: the creator's /me profile, their name in the
        bot while they have set none."""
        if self._people is None:
            return ManagerInfo(creator.name)
        async with transaction(self._db) as session:
            profile = await self._people.profile_in(session, creator.id)
        return ManagerInfo(profile.printed_name, profile.phone, profile.email, profile.position)

    def _draft_of(self, spec: OfferSpec, deal: DealView, manager: ManagerInfo) -> OfferDraft:
        """What the documents print for an offer built in the bot."""
        return OfferDraft(
            client=ClientInfo(
                name=deal.client or deal.title, inn="", contact=deal.contact or "",
                phone=deal.phone,
            ),
            lines=spec.lines,
            manager=manager,
            discount_percent=spec.discount_percent,
            vat_percent=spec.vat_percent,
            date=self._clock().astimezone(self._tz).date(),
            valid_days=spec.valid_days or self.valid_days,
            payment_terms=spec.payment_terms,
            delivery_terms=spec.delivery_terms,
            currency=spec.currency,
        )  # fmt: skip

    async def _move_to_offer_stage(
        self, session: Tx, creator: Person, deal: DealView
    ) -> str | None:
        if not self._move_deal or deal.status != "open":
            return None
        funnel = self._deals.funnels.funnel(deal.funnel)
        if not funnel.has_stage("offer"):
            return None
        target = funnel.stage("offer")
        if funnel.stage(deal.stage).order >= target.order:
            return None
        try:
            await self._deals.move_in(session, creator, deal.id, target.key, via=Via.OFFER)
        except NotFound:  # the deal went to someone else meanwhile: leave it where it is
            return None
        return target.key

    # --- approvals ----------------------------------------------------------------------

    async def _creator(self, session: Tx, offer: OfferRow) -> Person | None:
        if offer.created_by_id is None:
            return None
        return await store.person(session, offer.created_by_id)

    async def _may_decide(
        self, session: Tx, actor: Person, offer: OfferRow, creator: Person | None = None
    ) -> bool:
        """What `_decidable` checks, as a yes or no: for the buttons a reader is shown."""
        if actor.role is Role.MANAGER or offer.status != "pending" or offer.deal_id is None:
            return False
        creator = creator or await self._creator(session, offer)
        if creator is None or actor.id == creator.id or not self._may_see(actor, creator):
            return False
        return self._may_allow(actor, OfferSpec.from_json(offer.spec))

    async def _decidable(
        self, session: Tx, actor: Person, offer_id: int
    ) -> tuple[OfferRow, Person, OfferSpec]:
        """The pending offer, its creator and lines, once the actor may decide on it."""
        if actor.role is Role.MANAGER:
            raise Forbidden("offer.cannot_approve")  # before the look-up: the same for any id
        offer = await store.offer(session, offer_id)
        creator = None
        if offer is not None and offer.created_by_id is not None:
            creator = await store.person(session, offer.created_by_id)
        if (
            offer is None
            or offer.deal_id is None
            or creator is None
            or not self._may_see(actor, creator)
        ):
            raise NotFound("offer.not_found")  # another team's offer is as good as none
        if actor.id == creator.id:
            raise Forbidden("offer.cannot_approve")
        spec = OfferSpec.from_json(offer.spec)
        if not self._may_allow(actor, spec):
            raise Forbidden("offer.above_your_limit")
        if offer.status == "withdrawn":
            raise Invalid("offer.withdrawn_already", name=creator.name)
        if offer.status != "pending":
            raise Invalid("offer.already_decided")
        return offer, creator, spec

    async def _record_decision(
        self,
        session: Tx,
        actor: Person,
        offer_id: int,
        approved: bool,
        comment: str | None,
        violations: tuple[Violation, ...],
    ) -> None:
        await store.add_approval(
            session, offer_id=offer_id, decided_by_id=actor.id, decided_at=self._clock(),
            approved=approved, comment=comment, what=_describe(violations),
        )  # fmt: skip

    def _may_allow(self, approver: Person, spec: OfferSpec) -> bool:
        """An approver's own limit (and each item's cap) applies to what they may allow."""
        limit = self.policy.limit(approver)
        return not discount_violations(spec.lines, spec.discount_percent, limit)

    async def _approvers(self, session: Tx, creator: Person, spec: OfferSpec) -> list[Person]:
        """The creator's team leads when within a lead's limit, else the admins, else nobody."""
        people: list[Person] = []
        if creator.role is Role.MANAGER and creator.team_id is not None:
            leads = await store.active_people(
                session, Role.LEAD, team_id=creator.team_id, besides=creator.id
            )
            people = [p for p in leads if self._may_allow(p, spec)]
        if not people:
            admins = await store.active_people(session, Role.ADMIN, besides=creator.id)
            people = [p for p in admins if self._may_allow(p, spec)]
        return people

    @staticmethod
    def _may_see(actor: Person, creator: Person) -> bool:
        """Whose offers an approver may know of: a lead their own team's managers', an
        admin everyone's (their own too, to be told they cannot approve it)."""
        if actor.is_admin:
            return True
        return actor.id == creator.id or (
            actor.role is Role.LEAD
            and creator.role is Role.MANAGER
            and creator.team_id == actor.team_id
        )


@dataclass(frozen=True, slots=True)
class _Staged:
    """An offer's files under temporary names until the offer they belong to is recorded.

    They are renamed into place inside the recording transaction, after its statements
    went through: a crash before the commit leaves at most files without a record (the
    next offer of that number overwrites them), never a record without files.
    """

    pdf_path: Path
    docx_path: Path
    pdf_part: Path
    docx_part: Path

    def write(self, pdf: bytes, docx: bytes) -> None:
        try:
            self.pdf_part.write_bytes(pdf)
            self.docx_part.write_bytes(docx)
        except BaseException:
            self.discard()
            raise

    def publish(self) -> None:
        os.replace(self.pdf_part, self.pdf_path)
        os.replace(self.docx_part, self.docx_path)

    def discard(self) -> None:
        self.pdf_part.unlink(missing_ok=True)
        self.docx_part.unlink(missing_ok=True)


def _check_offerable(deal: DealView) -> None:
    """An offer is built and issued for a deal that is not lost. A won deal may still want
    its documents (the client's accounting asks for the final offer), so it keeps them;
    a lost one is refused, with how to bring it back into work."""
    if deal.status == "lost":
        raise Invalid("offer.deal_lost", title=deal.title)


def _documents(rendered: RenderedOffer) -> Documents:
    return Documents(rendered.document.number, rendered.pdf, rendered.docx)


def _terms_text(text: str) -> str:
    return " ".join(text.split())[:MAX_TERMS]


def _check_qty(qty: Decimal) -> None:
    if not qty.is_finite() or qty <= 0:
        raise Invalid("offer.bad_qty")
    if qty > MAX_QTY:
        raise Invalid("offer.qty_too_large", most=_shown(MAX_QTY))


def _check_sum(line: OfferLine) -> None:
    """A line that alone is above the largest amount there is: a typo, said as such."""
    if line.qty * line.price > MAX_AMOUNT:
        raise Invalid("offer.line_too_large", qty=_shown(line.qty))


def _limit_of(line: OfferLine, ceiling: Decimal) -> tuple[Decimal, bool]:
    """The most a line may get, and whether the item's own cap (not a role) sets it."""
    cap = line.max_discount_percent
    if cap is not None and cap <= ceiling:
        return cap, True
    return ceiling, False


def _shown(value: Decimal) -> str:
    """«12», «16,4», «1 000 000»: a percent or quantity as a message prints it."""
    whole, _, fraction = format(value.normalize(), "f").partition(".")
    grouped = f"{int(whole):,}".replace(",", "\u00a0")
    return f"{grouped},{fraction}" if fraction else grouped


def _check_percent(value: Decimal) -> None:
    if not value.is_finite() or not 0 <= value <= 100:
        raise Invalid("offer.bad_discount")


def _describe(violations: tuple[Violation, ...]) -> str:
    return "; ".join(
        f"{v.name}: {_shown(v.effective_percent)}% > {_shown(v.limit_percent)}%" for v in violations
    )


def _read_pair(pdf: str, docx: str) -> tuple[bytes, bytes]:
    try:
        return Path(pdf).read_bytes(), Path(docx).read_bytes()
    except OSError:
        # Said as is: the offer is one the person may see (NotFound would read as a stale button)
        raise Invalid("offer.files_gone") from None


def _view(offer: OfferRow) -> OfferView:
    assert offer.deal_id is not None and offer.created_by_id is not None
    return OfferView(
        offer.id, offer.deal_id, offer.number, offer.status, offer.currency, offer.total,
        offer.created_by_id, offer.created_at,
    )  # fmt: skip
