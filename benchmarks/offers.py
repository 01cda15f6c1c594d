"""How fast commercial offers are produced: PDF (Typst) and DOCX (docxtpl), 1 and 200 lines.

Each measured document goes the whole way a bot request goes: parse the JSON document,
compute totals, build the document and render it. Every document in the run (across all
cases) has its own number and client, so Typst's process-wide memoisation cannot replay
an earlier identical compile.

Usage: python benchmarks/offers.py [--iterations N]
Prints a Markdown table. The target is at most 50 ms for a one-page PDF.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.offers.documents import (
    OfferDocument,
    OfferRenderer,
    build_offer_document,
    load_requisites,
)
from bot.offers.input import parse_offer_document
from bot.offers.pricing import compute_totals

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates" / "offers"
TODAY = dt.date(2026, 11, 29)


def offer_json(lines: int, iteration: int) -> dict[str, Any]:
    return {
        "client": {
            "name": f"ООО «Клиент {iteration}»",
            "inn": "7701234567",
            "contact": "Иван Петров",
        },
        "items": [
            {
                "sku": f"VS-{index:04d}",
                "name": f"Стеллаж паллетный фронтальный, секция 2700 мм, позиция {index}",
                "unit": "секция",
                "qty": index % 9 + 1,
                "price": f"{38900 + index}.50",
                "discount_percent": index % 4,
            }
            for index in range(1, lines + 1)
        ],
        "discount_percent": 3,
        "vat_percent": 22,
        "vat_included": True,
        "manager": {"name": "Анна Смирнова", "phone": "+7 999 000-00-00"},
        "number": f"КП-2026-{iteration:04d}",
        "date": None,
    }


def assemble(lines: int, iteration: int) -> OfferDocument:
    draft = parse_offer_document(offer_json(lines, iteration), None)
    totals = compute_totals(
        draft.lines, draft.discount_percent, draft.vat_percent, draft.vat_included
    )
    return build_offer_document(draft, totals, REQUISITES, TODAY)


REQUISITES = load_requisites(TEMPLATES / "requisites.yaml")
_SERIAL = itertools.count(1)


def measure(render: Callable[[OfferDocument], bytes], lines: int, iterations: int) -> list[float]:
    render(assemble(lines, next(_SERIAL)))  # warm-up: template parse, fonts, first compile
    timings = []
    for _ in range(iterations):
        serial = next(_SERIAL)
        started = time.perf_counter()
        output = render(assemble(lines, serial))
        timings.append(time.perf_counter() - started)
        if not output:
            raise SystemExit("renderer returned an empty document")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=40, help="documents per case")
    args = parser.parse_args()
    renderer = OfferRenderer(TEMPLATES)

    def fresh_pdf(doc: OfferDocument) -> bytes:
        return OfferRenderer(TEMPLATES).render_pdf(doc)

    cases: list[tuple[str, Callable[[OfferDocument], bytes], int, int]] = [
        ("PDF", renderer.render_pdf, 1, args.iterations),
        ("PDF", renderer.render_pdf, 200, max(args.iterations // 4, 3)),
        ("DOCX", renderer.render_docx, 1, args.iterations),
        ("DOCX", renderer.render_docx, 200, max(args.iterations // 4, 3)),
        ("PDF, new compiler per document", fresh_pdf, 1, max(args.iterations // 4, 3)),
    ]
    print("| format | lines | documents/s | ms/document (median) | ms (p95) | runs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, render, lines, iterations in cases:
        timings = sorted(measure(render, lines, iterations))
        median = statistics.median(timings)
        p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
        print(
            f"| {name} | {lines} | {1 / median:.1f} | {median * 1000:.1f} | "
            f"{p95 * 1000:.1f} | {iterations} |"
        )


if __name__ == "__main__":
    main()
