"""Commercial offer documents: assemble what a template shows, render PDF (Typst) and DOCX.

Templates never see raw user text as code: the Typst template receives one JSON string
through ``sys.inputs`` and prints its values as text, and docxtpl escapes every value
into the Word XML. A client called ``#set text(fill: red)`` or ``<b>&`` prints as such.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import emoji
import jinja2
import jinja2.nodes
import typst

from bot.common.errors import InvalidFile
from bot.common.lru import LRU
from bot.common.money import CURRENCY_SYMBOLS, amount_in_words, format_decimal, format_money
from bot.offers.input import ClientInfo, ManagerInfo, OfferDraft, parse_offer_document
from bot.offers.pricing import OfferLine, OfferTotals, compute_totals
from bot.offers.requisites import REQUISITES_FILE, Requisites, load_requisites

__all__ = [
    "DOCX_TEMPLATE",
    "TYPST_TEMPLATE",
    "DocumentLine",
    "OfferDocument",
    "OfferRenderError",
    "OfferRenderer",
    "build_offer_document",
    "check_templates",
    "sample_offer_document",
]

TYPST_TEMPLATE = "offer.typ"
DOCX_TEMPLATE = "offer.docx"
FONTS_DIR = "fonts"
"""Optional folder beside the templates for a team's own fonts (the brand font)."""

_DATE_FORMAT = "%d.%m.%Y"


class OfferRenderError(RuntimeError):
    """A template failed to render; the message names the template file and the cause."""

    def __init__(self, template: str, message: str) -> None:
        super().__init__(f"{template}: {message}")
        self.template = template
        self.message = message


@dataclass(frozen=True, slots=True)
class DocumentLine:
    """A table row: the offer line plus its number and computed sum."""

    number: int
    line: OfferLine
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OfferDocument:
    """Everything an offer template shows, already computed; rendering adds no arithmetic."""

    number: str
    date: dt.date
    valid_until: dt.date
    currency: str
    client: ClientInfo
    manager: ManagerInfo
    seller: Requisites
    lines: tuple[DocumentLine, ...]
    totals: OfferTotals
    total_in_words: str
    payment_terms: str
    delivery_terms: str

    @property
    def vat_label(self) -> str:
        """«в т.ч. НДС 22%» when included, «НДС 22%» when on top, «Без НДС» when none."""
        rate = self.totals.vat_percent
        if rate is None:
            return "Без НДС"
        prefix = "в т.ч. " if self.totals.vat_included else ""
        return f"{prefix}НДС {format_decimal(rate)}%"

    def template_data(self) -> dict[str, Any]:
        """The data contract of the templates: JSON-ready, every number already formatted.

        Field list and meaning: templates/offers/README.md. Optional texts are ``""``
        rather than missing, so a template can print them without checks.
        """
        money = self._money
        totals = self.totals
        rows = [{"label": "Итого", "amount": money(totals.subtotal), "strong": False}]
        if totals.discount:
            rows.append(
                {
                    "label": f"Скидка {format_decimal(totals.discount_percent)}%",
                    "amount": money(totals.discount),
                    "strong": False,
                }
            )
        vat_row = {
            "label": self.vat_label,
            "amount": money(totals.vat) if totals.vat_percent is not None else "—",
            "strong": False,
        }
        total_row = {"label": "Всего к оплате", "amount": money(totals.total), "strong": True}
        if totals.vat_percent is not None and totals.vat_included:
            rows += [total_row, vat_row]
        else:
            rows += [vat_row, total_row]
        return {
            "number": self.number,
            "date": self.date.strftime(_DATE_FORMAT),
            "valid_until": self.valid_until.strftime(_DATE_FORMAT),
            "currency": self.currency,
            "currency_symbol": CURRENCY_SYMBOLS.get(self.currency, self.currency),
            "seller": _seller_data(self.seller),
            "client": {
                "name": self.client.name,
                "inn": self.client.inn,
                "kpp": self.client.kpp or "",
                "contact": self.client.contact,
                "phone": self.client.phone or "",
                "email": self.client.email or "",
                "address": self.client.address or "",
            },
            "manager": {
                "name": self.manager.name,
                "position": self.manager.position or "",
                "phone": self.manager.phone or "",
                "email": self.manager.email or "",
            },
            "lines": [
                {
                    "n": row.number,
                    "sku": row.line.sku or "",
                    "name": row.line.name,
                    "unit": row.line.unit,
                    "qty": format_decimal(row.line.qty),
                    "price": format_decimal(row.line.price, 2),
                    "discount": (
                        f"{format_decimal(row.line.discount_percent)}%"
                        if row.line.discount_percent
                        else "—"
                    ),
                    "amount": format_decimal(row.amount, 2),
                }
                for row in self.lines
            ],
            "totals": {
                "subtotal": money(totals.subtotal),
                "discount_percent": format_decimal(totals.discount_percent),
                "discount": money(totals.discount),
                "has_discount": bool(totals.discount),
                "net": money(totals.net),
                "vat_mode": _vat_mode(totals),
                "vat_percent": format_decimal(totals.vat_percent) if totals.vat_percent else "",
                "vat_label": self.vat_label,
                "vat": money(totals.vat),
                "total": money(totals.total),
            },
            "total_rows": rows,
            "total_in_words": self.total_in_words,
            "payment_terms": self.payment_terms,
            "delivery_terms": self.delivery_terms,
        }

    def _money(self, amount: Decimal) -> str:
        return format_money(amount, self.currency)


def _vat_mode(totals: OfferTotals) -> str:
    if totals.vat_percent is None:
        return "none"
    return "included" if totals.vat_included else "on_top"


def _seller_data(seller: Requisites) -> dict[str, Any]:
    return {
        "name": seller.name,
        "full_name": seller.full_name or seller.name,
        "inn": seller.inn,
        "kpp": seller.kpp,
        "ogrn": seller.ogrn,
        "address": seller.address,
        "phone": seller.phone,
        "email": seller.email,
        "site": seller.site,
        "director": seller.director,
        "director_short": _short_name(seller.director),
        "director_title": seller.director_title,
        "bank": {
            "name": seller.bank.name,
            "account": seller.bank.account,
            "bik": seller.bank.bik,
            "corr_account": seller.bank.corr_account,
        },
    }


def _short_name(full_name: str) -> str:
    """«Соколов Андрей Викторович» → «Соколов А. В.», the way a signature line reads."""
    surname, *given = full_name.split()
    return " ".join([surname, *(f"{part[0]}." for part in given)]) if given else surname


def build_offer_document(
    draft: OfferDraft, totals: OfferTotals, requisites: Requisites, today: dt.date
) -> OfferDocument:
    """Fill the gaps of a draft (date, validity, terms) from the seller's defaults.

    The number must already be assigned (``offer_number``): numbering needs the
    database's sequence, which this pure module does not own.
    """
    if draft.number is None:
        raise ValueError("the offer has no number yet; assign one with offer_number()")
    if len(totals.line_sums) != len(draft.lines):
        raise ValueError("totals were computed for other lines than the draft has")
    offer_date = draft.date or today
    valid_days = draft.valid_days or requisites.valid_days
    return OfferDocument(
        number=draft.number,
        date=offer_date,
        valid_until=offer_date + dt.timedelta(days=valid_days),
        currency=draft.currency,
        client=draft.client,
        manager=draft.manager,
        seller=requisites,
        lines=tuple(
            DocumentLine(number=index, line=line, amount=amount)
            for index, (line, amount) in enumerate(
                zip(draft.lines, totals.line_sums, strict=True), start=1
            )
        ),
        totals=totals,
        total_in_words=amount_in_words(totals.total, draft.currency),
        payment_terms=draft.payment_terms or requisites.payment_terms,
        delivery_terms=draft.delivery_terms or requisites.delivery_terms,
    )


class _CachingEnvironment(jinja2.Environment):
    """Compiles each XML part of the Word template once instead of on every render.

    docxtpl calls ``from_string`` for the body, headers, footers and properties on each
    render, and compiling them took half of the DOCX render time. A part is keyed by its
    source text, so a changed template can never get an old compile; the least recently
    used parts go first beyond the bound, and ``forget`` empties the cache when the
    templates are read again. DOCX renders run in threads side by side, hence the lock.
    """

    _MAX_CACHED = 64

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=True)
        self._compiled: LRU[str, jinja2.Template] = LRU(self._MAX_CACHED)
        self._compiled_lock = threading.Lock()

    def from_string(
        self,
        source: str | jinja2.nodes.Template,
        globals: MutableMapping[str, Any] | None = None,
        template_class: type[jinja2.Template] | None = None,
    ) -> jinja2.Template:
        if not isinstance(source, str) or globals or template_class:
            return super().from_string(source, globals, template_class)
        with self._compiled_lock:
            template: jinja2.Template | None = self._compiled.get(source, None)
        if template is not None:
            return template
        template = super().from_string(source)
        with self._compiled_lock:
            self._compiled.put(source, template)
        return template

    def forget(self) -> None:
        with self._compiled_lock:
            self._compiled.clear()


class OfferRenderer:
    """Renders offers from one templates folder; build once and reuse.

    The Typst compiler is created once: it keeps the template, the fonts and the logo
    loaded, which makes a one-page PDF several times faster than a fresh compile. It is
    not safe to share between threads, hence the lock (renders from
    ``asyncio.to_thread`` run one at a time). The DOCX template bytes are read once;
    docxtpl needs a fresh template object per render since rendering mutates it.
    Templates changed on disk are picked up after ``forget()``.
    """

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._lock = threading.Lock()
        self._compiler: typst.Compiler | None = None
        self._docx_bytes: bytes | None = None
        self._jinja = _CachingEnvironment()

    def forget(self) -> None:
        """Drop what was read from the templates folder; the next render reads it again."""
        with self._lock:
            self._compiler = None
            self._docx_bytes = None
            self._jinja.forget()

    def render_pdf(self, doc: OfferDocument) -> bytes:
        return self._render_pdf_data(doc.template_data(), doc.date)

    def render_docx(self, doc: OfferDocument) -> bytes:
        return self._render_docx_data(doc.template_data())

    def _typst(self) -> typst.Compiler:
        if self._compiler is None:
            template = self.templates_dir / TYPST_TEMPLATE
            if not template.is_file():
                raise OfferRenderError(TYPST_TEMPLATE, f"not found in {self.templates_dir}")
            fonts = self.templates_dir / FONTS_DIR
            # System fonts are ignored so an offer looks the same on every server.
            self._compiler = typst.Compiler(
                template,
                root=self.templates_dir,
                font_paths=[fonts] if fonts.is_dir() else [],
                ignore_system_fonts=True,
            )
        return self._compiler

    def _render_pdf_data(
        self, data: Mapping[str, Any], created: dt.date, warnings: list[str] | None = None
    ) -> bytes:
        payload = json.dumps(printable(data), ensure_ascii=False)
        timestamp = dt.datetime.combine(created, dt.time(9), tzinfo=dt.UTC)
        with self._lock:
            compiler = self._typst()
            try:
                result, found = compiler.compile_with_warnings(
                    format="pdf",
                    sys_inputs={"data": payload},
                    timestamp=timestamp,
                )
            except typst.TypstError as error:
                raise OfferRenderError(TYPST_TEMPLATE, _typst_error_text(error)) from error
        if warnings is not None:
            warnings.extend(_typst_error_text(warning) for warning in found)
        if not isinstance(result, bytes):
            raise OfferRenderError(TYPST_TEMPLATE, "Typst returned no PDF")
        return result

    def _render_docx_data(self, data: Mapping[str, Any]) -> bytes:
        source = self._docx_bytes  # once: forget() may drop it meanwhile
        if source is None:
            try:
                source = self._docx_bytes = (self.templates_dir / DOCX_TEMPLATE).read_bytes()
            except OSError as error:
                raise OfferRenderError(DOCX_TEMPLATE, f"cannot read: {error}") from error
        from docxtpl import DocxTemplate  # here: it loads python-docx and lxml, slow at start

        try:
            template = DocxTemplate(io.BytesIO(source))
            template.render(dict(data), jinja_env=self._jinja, autoescape=True)
            output = io.BytesIO()
            template.save(output)
        except jinja2.TemplateError as error:
            raise OfferRenderError(DOCX_TEMPLATE, _jinja_error_text(error)) from error
        except Exception as error:  # a broken .docx surfaces as zipfile/lxml/KeyError
            raise OfferRenderError(DOCX_TEMPLATE, f"{type(error).__name__}: {error}") from error
        return output.getvalue()


# Emoji the fonts built into Typst (Libertinus Serif, New Computer Modern and their fallbacks)
# draw: every single-character emoji of the BMP but these, measured by rendering each one
# (tests/test_offer_documents.py renders them again). Colour emoji (U+1F000 and up), their
# sequences and skin tones have no glyph there at all.
_NO_GLYPH = frozenset("⚰⚱⚽⚾⛄⛅⛈⛎⛏⛑⛓⛔⛩⛪⛰⛱⛲⛳⛴⛵⛷⛸⛹⛺⛽✅✊✋✖✨❌❎❓❔❕❗➕➖➗➰〽㊗㊙")
_PRESENTATION = re.compile("[\ufe0e\ufe0f]")
_SPACES = re.compile(" {2,}")


def _drawable(found: str, _data: Mapping[str, Any]) -> str:
    """What of one emoji the PDF can show: a keycap's digit, a symbol the fonts have, or
    nothing, never the empty box of a missing glyph."""
    bare = _PRESENTATION.sub("", found)
    if bare.endswith("\u20e3"):  # «1️⃣» reads as 1
        return bare[0]
    if len(bare) == 1 and ord(bare) < 0x10000 and bare not in _NO_GLYPH:
        return bare
    return ""


def printable(value: Any) -> Any:
    """The template's data with every emoji the PDF's fonts cannot draw dropped (the DOCX
    keeps them: Word has an emoji font). Strings anywhere in the data, the rest as it is."""
    if isinstance(value, str):
        if emoji.emoji_count(value) == 0:
            return value
        return _SPACES.sub(" ", emoji.replace_emoji(value, replace=_drawable)).strip()
    if isinstance(value, Mapping):
        return {key: printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [printable(item) for item in value]
    return value


def _typst_error_text(error: Any) -> str:
    """Typst's diagnostic (message, file, line and the source excerpt), else its message."""
    diagnostic = str(getattr(error, "diagnostic", "") or "").strip()
    parts = [diagnostic or str(getattr(error, "message", "") or error)]
    parts += [f"hint: {hint}" for hint in getattr(error, "hints", None) or []]
    return "\n".join(parts)


def _jinja_error_text(error: jinja2.TemplateError) -> str:
    text = f"{type(error).__name__}: {error.message or error}"
    context = getattr(error, "docx_context", None)
    if context:
        snippet = " ".join(" ".join(context).split())
        text += f" (near: {snippet[:160]})"
    return text


_SAMPLE_OFFER: dict[str, Any] = {
    "client": {
        "name": "ООО «Ромашка & Партнёры» <опт>",
        "inn": "7701234567",
        "kpp": "770101001",
        "contact": "Иван Петров",
        "phone": "+7 495 000-00-00",
        "email": "petrov@example.com",
        "address": "г. Москва, ул. Складская, д. 1",
    },
    "items": [
        {
            "sku": "VS-PR-2700",
            "name": "Стеллаж паллетный фронтальный, секция 2700 мм",
            "unit": "секция",
            "qty": 12,
            "price": "38900.00",
            "discount_percent": 5,
        },
        {
            "sku": "VS-BM-1800",
            "name": "Балка Z-образная 1800 мм, пара",
            "unit": "пара",
            "qty": 36,
            "price": "2450.50",
        },
        {
            "sku": None,
            "name": "Монтаж стеллажей № 1 — «под ключ»",
            "unit": "усл.",
            "qty": 1,
            "price": "45000",
        },
    ],
    "discount_percent": 3,
    "vat_percent": 22,
    "vat_included": True,
    "currency": "RUB",
    "manager": {
        "name": "Анна Смирнова",
        "position": "Менеджер по продажам",
        "phone": "+7 999 000-00-00",
        "email": "anna@example.com",
    },
    "number": "КП-2026-0042",
    "date": "2026-11-29",
}


def sample_offer_document(requisites: Requisites, line_count: int = 3) -> OfferDocument:
    """A realistic offer for template checks, previews and benchmarks.

    Its texts carry the characters templates get wrong (``«» & < № —``); with
    ``line_count`` above 3 the sample lines repeat to make long, multi-page offers.
    """
    base: list[dict[str, Any]] = _SAMPLE_OFFER["items"]
    items = []
    for index in range(line_count):
        item = dict(base[index % len(base)])
        if line_count > len(base):
            item["name"] = f"{item['name']} (поз. {index + 1})"
        items.append(item)
    data = {**_SAMPLE_OFFER, "items": items}
    draft = parse_offer_document(data, None)
    totals = compute_totals(
        draft.lines, draft.discount_percent, draft.vat_percent, draft.vat_included
    )
    return build_offer_document(draft, totals, requisites, dt.date(2026, 11, 29))


def check_templates(templates_dir: Path) -> list[str]:
    """Render each template once with sample data; list what broke, per file. Empty = usable."""
    problems: list[str] = []
    if not templates_dir.is_dir():
        return [f"{templates_dir}: templates folder not found"]
    for name in (TYPST_TEMPLATE, DOCX_TEMPLATE, REQUISITES_FILE):
        if not (templates_dir / name).is_file():
            problems.append(f"{name}: not found in {templates_dir}")
    try:
        requisites = load_requisites(templates_dir / REQUISITES_FILE)
    except InvalidFile as error:
        problems += [f"{REQUISITES_FILE}: {problem}" for problem in error.problems]
        return problems
    doc = sample_offer_document(requisites)
    data = doc.template_data()
    renderer = OfferRenderer(templates_dir)
    if (templates_dir / TYPST_TEMPLATE).is_file():
        warnings: list[str] = []
        try:
            pdf = renderer._render_pdf_data(data, doc.date, warnings)
        except OfferRenderError as error:
            problems.append(str(error))
        else:
            if not pdf.startswith(b"%PDF"):
                problems.append(f"{TYPST_TEMPLATE}: output is not a PDF")
            problems += [
                f"{TYPST_TEMPLATE}: "
                + (warning if warning.startswith("warning") else f"warning: {warning}")
                for warning in warnings
            ]
    if (templates_dir / DOCX_TEMPLATE).is_file():
        try:
            renderer._render_docx_data(data)
        except OfferRenderError as error:
            problems.append(str(error))
    return problems
