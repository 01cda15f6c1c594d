"""`voronka offer render`: an offer document from a JSON file, with the same rules as the bot."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

from bot.common.errors import InvalidFile
from bot.common.logs import configure_logging
from bot.config import Settings
from bot.container import build_core
from bot.offers.documents import OfferRenderError
from bot.offers.input import load_offer_json, parse_offer_document


def add_offer_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    offer = subparsers.add_parser("offer", help="render commercial offers from the shell")
    actions = offer.add_subparsers(dest="offer_command", metavar="ACTION", required=True)
    render = actions.add_parser("render", help="render an offer from a JSON document")
    render.add_argument("--input", type=Path, required=True, help="the offer as JSON")
    render.add_argument("--format", choices=("pdf", "docx"), required=True)
    render.add_argument("--out", type=Path, required=True, help="the file to write")
    render.set_defaults(handler=cmd_offer_render)


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def cmd_offer_render(args: argparse.Namespace, settings: Settings) -> int:
    """Print {number, subtotal, discount, vat, total, total_in_words}; bad input names the field."""
    configure_logging("WARNING")
    try:
        text = args.input.read_bytes()
    except OSError as error:
        print(f"cannot read {args.input}: {error.strerror}", file=sys.stderr)
        return 2

    async def render() -> int:
        core = build_core(settings)
        try:
            try:
                draft = parse_offer_document(load_offer_json(text), core.offers.catalog)
            except InvalidFile as error:  # not the core's files: those stop any command
                for problem in error.problems:
                    print(f"invalid offer: {problem}", file=sys.stderr)
                return 1
            await core.migrate()
            offer = await core.offers.render_for_shell(draft, text.decode("utf-8"))
        finally:
            await core.close()
        document, totals = offer.document, offer.document.totals
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(offer.pdf if args.format == "pdf" else offer.docx)
        summary = {
            "number": document.number,
            "subtotal": _money(totals.subtotal),
            "discount": _money(totals.discount),
            "vat": _money(totals.vat),
            "total": _money(totals.total),
            "total_in_words": document.total_in_words,
        }
        print(json.dumps(summary, ensure_ascii=False))
        return 0

    try:
        return asyncio.run(render())
    except OfferRenderError as error:
        print(f"cannot render: {error}", file=sys.stderr)
        return 1
