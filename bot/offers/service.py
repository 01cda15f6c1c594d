"""Commercial offers on deals: pricing by the company's rules, the discount policy with a
recorded approval, numbering per year, and the PDF and DOCX documents."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.common.clock import Clock
from bot.common.errors import Forbidden, Invalid, NotFound
from bot.db.models import Offer, OfferApproval, User
from bot.db.session import transaction
from bot.deals.service import DealsService, DealView, Via
from bot.offers.catalog import Catalog, CatalogItem
from bot.offers.documents import (
    OfferDocument,
    OfferRenderer,
    Requisites,
    build_offer_document,
)
from bot.offers.input import ClientInfo, ManagerInfo, OfferDraft, offer_number
from bot.offers.pricing import (
    OfferLine,
    OfferTotals,
    Violation,
    compute_totals,
    discount_violations,
)
from bot.people.service import Person, Role, person_of

MAX_LINES = 300
MAX_NAME = 300


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
            valid_days=data["valid_days"],
        )  # fmt: skip


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


@dataclass(frozen=True, slots=True)
class Documents:
    number: str
    pdf: bytes
    docx: bytes


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """Either the documents at once, or the offer waiting for one of `approvers`."""

    offer: OfferView
    documents: Documents | None
    violations: tuple[Violation, ...]
    approvers: tuple[Person, ...]
    deal_moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    offer: OfferView
    creator: Person
    approved: bool
    comment: str | None
    documents: Documents | None
    deal_moved_to: str | None = None


class OffersService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        deals: DealsService,
        *,
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

    def catalog_line(self, item: CatalogItem, qty: Decimal, discount: Decimal) -> OfferLine:
        _check_qty(qty)
        _check_percent(discount)
        return OfferLine(
            item.sku, item.name, item.unit, qty, item.price, discount, item.max_discount_percent
        )

    def free_line(self, name: str, unit: str, qty: Decimal, price: Decimal) -> OfferLine:
        if not self.free_lines:
            raise Forbidden("offer.free_lines_off")
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise Invalid("offer.bad_line")
        _check_qty(qty)
        if price < 0:
            raise Invalid("offer.bad_line")
        return OfferLine(None, name, " ".join(unit.split())[:20] or "шт", qty, price)

    def vat_of(self, item: CatalogItem) -> Decimal | None:
        return item.vat_percent if item.vat_percent else None

    def preview(self, actor: Person, spec: OfferSpec) -> tuple[OfferTotals, list[Violation]]:
        if not spec.lines:
            raise Invalid("offer.no_lines")
        totals = compute_totals(spec.lines, spec.discount_percent, spec.vat_percent, True)
        violations = discount_violations(
            spec.lines, spec.discount_percent, self.policy.limit(actor)
        )
        return totals, violations

    # --- submitting and deciding -------------------------------------------------------

    async def submit(self, actor: Person, spec: OfferSpec) -> SubmitResult:
        """Within the limit: numbered and rendered now. Above it: waits for an approval."""
        totals, violations = self.preview(actor, spec)
        deal = await self._deals.card(actor, spec.deal_id)
        async with transaction(self._db) as session:
            offer = Offer(
                deal_id=deal.id, status="pending" if violations else "issuing",
                spec=spec.to_json(), currency="RUB", subtotal=totals.subtotal,
                discount=totals.discount, vat=totals.vat, total=totals.total,
                max_discount=max((v.effective_percent for v in violations), default=Decimal(0)),
                created_by_id=actor.id, created_at=self._clock(),
            )  # fmt: skip
            session.add(offer)
            await session.flush()
            if violations:
                approvers = await self._approvers(session, actor, spec)
                if not approvers:
                    raise Invalid("offer.nobody_to_approve")
                return SubmitResult(_view(offer), None, tuple(violations), tuple(approvers))
            documents, moved = await self._issue(session, offer, spec, actor, deal)
            return SubmitResult(_view(offer), documents, (), (), moved)

    async def decide(
        self, actor: Person, offer_id: int, *, approve: bool, comment: str | None = None
    ) -> Decision:
        """A lead's (or admin's) decision; recorded with who, when and what; once only."""
        async with transaction(self._db) as session:
            offer = await session.get(Offer, offer_id)
            if offer is None or offer.deal_id is None:
                raise NotFound("offer.not_found")
            creator_row = await session.get(User, offer.created_by_id)
            assert creator_row is not None
            creator = person_of(creator_row)
            self._check_approver(actor, creator)
            spec = OfferSpec.from_json(offer.spec)
            _, violations = self.preview(creator, spec)
            if not self._may_allow(actor, spec):
                raise Forbidden("offer.above_your_limit")
            claimed = await session.execute(
                update(Offer)
                .where(Offer.id == offer.id, Offer.status == "pending")
                .values(status="issuing" if approve else "rejected")
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise Invalid("offer.already_decided")
            await session.refresh(offer)
            session.add(
                OfferApproval(
                    offer_id=offer.id, decided_by_id=actor.id, decided_at=self._clock(),
                    approved=approve, comment=(comment or "").strip()[:1000] or None,
                    what=_describe(violations),
                )
            )  # fmt: skip
            if not approve:
                return Decision(_view(offer), creator, False, comment, None)
            deal = await self._deals.card_in(session, actor, offer.deal_id)
            documents, moved = await self._issue(session, offer, spec, creator, deal)
            return Decision(_view(offer), creator, True, comment, documents, moved)

    async def number_for_shell(self, spec_json: str, totals: OfferTotals) -> str:
        """A number for an offer rendered from the shell, from the same yearly sequence."""
        async with transaction(self._db) as session:
            offer = Offer(
                deal_id=None, status="issued", spec=spec_json, currency="RUB",
                subtotal=totals.subtotal, discount=totals.discount, vat=totals.vat,
                total=totals.total, max_discount=Decimal(0), created_by_id=None,
                created_at=self._clock(), issued_at=self._clock(),
            )  # fmt: skip
            session.add(offer)
            await self._assign_number(session, offer)
            assert offer.number is not None
            return offer.number

    def render(self, document: OfferDocument) -> tuple[bytes, bytes]:
        return self._renderer.render_pdf(document), self._renderer.render_docx(document)

    async def documents(self, actor: Person, offer_id: int) -> Documents:
        """Download an issued offer again."""
        async with transaction(self._db) as session:
            offer = await session.get(Offer, offer_id)
        if offer is None or offer.deal_id is None or offer.status != "issued" or not offer.number:
            raise NotFound("offer.not_found")
        await self._deals.card(actor, offer.deal_id)  # access check
        pdf, docx = await asyncio.to_thread(_read_pair, offer.pdf_path or "", offer.docx_path or "")
        return Documents(offer.number, pdf, docx)

    async def for_deal(self, actor: Person, deal_id: int) -> list[OfferView]:
        await self._deals.card(actor, deal_id)
        async with transaction(self._db) as session:
            rows = await session.scalars(
                select(Offer).where(Offer.deal_id == deal_id).order_by(Offer.id.desc()).limit(5)
            )
            return [_view(row) for row in rows]

    async def pending_view(self, offer_id: int) -> tuple[OfferView, OfferSpec]:
        async with transaction(self._db) as session:
            offer = await session.get(Offer, offer_id)
            if offer is None:
                raise NotFound("offer.not_found")
            return _view(offer), OfferSpec.from_json(offer.spec)

    # --- helpers ------------------------------------------------------------------------

    async def _issue(
        self, session: AsyncSession, offer: Offer, spec: OfferSpec, creator: Person, deal: DealView
    ) -> tuple[Documents, str | None]:
        now = self._clock()
        await self._assign_number(session, offer)
        assert offer.number is not None
        draft = OfferDraft(
            client=ClientInfo(
                name=deal.client or deal.title, inn="", contact=deal.contact or "",
                phone=deal.phone,
            ),
            lines=spec.lines,
            manager=ManagerInfo(creator.name),
            discount_percent=spec.discount_percent,
            vat_percent=spec.vat_percent,
            number=offer.number,
            date=now.astimezone(self._tz).date(),
            valid_days=spec.valid_days or self.valid_days,
            payment_terms=spec.payment_terms,
            delivery_terms=spec.delivery_terms,
        )  # fmt: skip
        totals = compute_totals(spec.lines, spec.discount_percent, spec.vat_percent, True)
        document = build_offer_document(draft, totals, self.requisites, draft.date or now.date())
        pdf, docx = await asyncio.gather(
            asyncio.to_thread(self._renderer.render_pdf, document),
            asyncio.to_thread(self._renderer.render_docx, document),
        )
        pdf_path, docx_path = await asyncio.to_thread(self._save, offer.number, pdf, docx)
        offer.status, offer.issued_at = "issued", now
        offer.pdf_path, offer.docx_path = str(pdf_path), str(docx_path)
        moved = await self._move_to_offer_stage(session, creator, deal)
        return Documents(offer.number, pdf, docx), moved

    async def _assign_number(self, session: AsyncSession, offer: Offer) -> None:
        """Next number of the year (КП-2026-0042); the unique (year, seq) guards races."""
        year = self._clock().astimezone(self._tz).year
        seq = (await session.scalar(select(func.max(Offer.seq)).where(Offer.year == year)) or 0) + 1
        offer.year, offer.seq, offer.number = year, seq, offer_number(year, seq)
        try:
            await session.flush()
        except IntegrityError:
            raise Invalid("offer.busy") from None

    async def _move_to_offer_stage(
        self, session: AsyncSession, creator: Person, deal: DealView
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
        except Forbidden:  # the deal went to someone else meanwhile: leave it where it is
            return None
        return target.key

    def _save(self, number: str, pdf: bytes, docx: bytes) -> tuple[Path, Path]:
        self._files.mkdir(parents=True, exist_ok=True)
        pdf_path, docx_path = self._files / f"{number}.pdf", self._files / f"{number}.docx"
        pdf_path.write_bytes(pdf)
        docx_path.write_bytes(docx)
        return pdf_path, docx_path

    def _may_allow(self, approver: Person, spec: OfferSpec) -> bool:
        """An approver's own limit (and each item's cap) applies to what they may allow."""
        limit = self.policy.limit(approver)
        return not discount_violations(spec.lines, spec.discount_percent, limit)

    async def _approvers(
        self, session: AsyncSession, creator: Person, spec: OfferSpec
    ) -> list[Person]:
        """The creator's team leads when within a lead's limit, else the admins, else nobody."""
        query = select(User).where(User.active.is_(True), User.id != creator.id)
        rows: list[User] = []
        if creator.role is Role.MANAGER and creator.team_id is not None:
            rows = list(
                await session.scalars(
                    query.where(User.role == Role.LEAD.value, User.team_id == creator.team_id)
                )
            )
        people = [p for p in map(person_of, rows) if self._may_allow(p, spec)]
        if not people:
            admins = await session.scalars(query.where(User.role == Role.ADMIN.value))
            people = [p for p in map(person_of, admins) if self._may_allow(p, spec)]
        return people

    def _check_approver(self, actor: Person, creator: Person) -> None:
        if actor.id == creator.id or actor.role is Role.MANAGER:
            raise Forbidden("offer.cannot_approve")
        if actor.role is Role.LEAD and (
            creator.role is not Role.MANAGER or creator.team_id != actor.team_id
        ):
            raise Forbidden("offer.cannot_approve")


def _check_qty(qty: Decimal) -> None:
    if not qty.is_finite() or qty <= 0 or qty > Decimal(1_000_000):
        raise Invalid("offer.bad_qty")


def _check_percent(value: Decimal) -> None:
    if not value.is_finite() or not 0 <= value <= 100:
        raise Invalid("offer.bad_discount")


def _describe(violations: list[Violation]) -> str:
    return "; ".join(
        f"{v.name}: {v.effective_percent.normalize()}% > {v.limit_percent.normalize()}%"
        for v in violations
    )


def _read_pair(pdf: str, docx: str) -> tuple[bytes, bytes]:
    try:
        return Path(pdf).read_bytes(), Path(docx).read_bytes()
    except OSError:
        raise NotFound("offer.files_gone") from None


def _view(offer: Offer) -> OfferView:
    assert offer.deal_id is not None and offer.created_by_id is not None
    return OfferView(
        offer.id, offer.deal_id, offer.number, offer.status, offer.currency, offer.total,
        offer.created_by_id, offer.created_at,
    )  # fmt: skip
