"""Generate templates/offers/offer.docx, the Word template of a commercial offer.

The template is a binary file; building it from code keeps it reviewable and lets anyone
regenerate it after a change here. The Jinja2 tags it contains are rendered by docxtpl
(bot/offers/documents.py); the data fields are listed in templates/offers/README.md.

Usage: python tools/make_offer_docx_template.py [OUTPUT.docx]
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

import typst
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "offers"
FONT = "Arial"  # has Cyrillic, «», № and ₽ in Word; LibreOffice maps it to Liberation Sans
ACCENT = RGBColor(0x1F, 0x4E, 0x79)
MUTED = RGBColor(0x5F, 0x6B, 0x76)
WHITE = RGBColor(0xFF, 0xFF, 0xFF)
ACCENT_HEX = "1F4E79"
LIGHT_HEX = "EAF1F8"
RULE_HEX = "C9D3DD"
FIXED_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# Lines table: (header, width, field of `line`, alignment)
LINE_COLUMNS = (
    ("№", 8, "n", WD_ALIGN_PARAGRAPH.CENTER),
    ("Наименование", 71, "name", WD_ALIGN_PARAGRAPH.LEFT),
    ("Ед.", 15, "unit", WD_ALIGN_PARAGRAPH.CENTER),
    ("Кол-во", 17, "qty", WD_ALIGN_PARAGRAPH.RIGHT),
    ("Цена, {{ currency_symbol }}", 22, "price", WD_ALIGN_PARAGRAPH.RIGHT),
    ("Скидка", 17, "discount", WD_ALIGN_PARAGRAPH.RIGHT),
    ("Сумма, {{ currency_symbol }}", 26, "amount", WD_ALIGN_PARAGRAPH.RIGHT),
)


def logo_png() -> bytes:
    """The SVG logo rasterised by Typst, since Word templates cannot hold SVG via python-docx."""
    compiler = typst.Compiler(root=TEMPLATES_DIR, ignore_system_fonts=True)
    source = (
        b"#set page(width: auto, height: auto, margin: 0pt, fill: none)\n"
        b'#image("logo.svg", width: 2cm)'
    )
    png = compiler.compile(input=source, format="png", ppi=300)
    if not isinstance(png, bytes):
        raise RuntimeError("Typst did not return a PNG")
    return png


def set_cell_fill(cell: _Cell, hex_color: str) -> None:
    properties = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), hex_color)
    properties.append(shading)


def set_table_borders(table: Table, *, inside_h: str | None, outer: str | None) -> None:
    """Borders as hex colours; None removes the border."""
    properties = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        color = inside_h if edge == "insideH" else outer if edge in ("top", "bottom") else None
        element = OxmlElement(f"w:{edge}")
        if color is None:
            element.set(qn("w:val"), "nil")
        else:
            element.set(qn("w:val"), "single")
            element.set(qn("w:sz"), "4")
            element.set(qn("w:space"), "0")
            element.set(qn("w:color"), color)
        borders.append(element)
    properties.append(borders)


def set_widths(table: Table, widths_mm: tuple[float, ...]) -> None:
    """Fixed column widths: Word and LibreOffice read the grid, not only the cells."""
    table.autofit = False
    for column, width in zip(table.columns, widths_mm, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)


def mark_row(table: Table, index: int, *, header: bool = False) -> None:
    """Keep a row on one page; a header row repeats on every page of a long offer."""
    row_properties = table.rows[index]._tr.get_or_add_trPr()
    row_properties.append(OxmlElement("w:cantSplit"))
    if header:
        row_properties.append(OxmlElement("w:tblHeader"))


def write(
    paragraph: Paragraph,
    text: str,
    *,
    size: float = 10,
    bold: bool = False,
    color: RGBColor | None = None,
) -> Paragraph:
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.bold = bold
    if color is not None:
        run.font.color.rgb = color
    return paragraph


def cell_text(
    cell: _Cell,
    text: str,
    *,
    align: int = WD_ALIGN_PARAGRAPH.LEFT,
    size: float = 9,
    bold: bool = False,
    color: RGBColor | None = None,
) -> Paragraph:
    paragraph = cell.paragraphs[0]
    paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(0)
    return write(paragraph, text, size=size, bold=bold, color=color)


def add_page_number(paragraph: Paragraph) -> None:
    write(paragraph, "Стр. ", size=8, color=MUTED)
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    for tag, value in (("w:color", str(MUTED)), ("w:sz", "16")):  # 16 half-points = 8 pt
        element = OxmlElement(tag)
        element.set(qn("w:val"), value)
        properties.append(element)
    run.append(properties)
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def build() -> bytes:
    document = Document()
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(10)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    style.paragraph_format.space_after = Pt(2)

    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(15), Mm(18)
    section.left_margin, section.right_margin = Mm(18), Mm(16)

    footer = section.footer.paragraphs[0]
    write(footer, "{{ seller.name }} · {{ number }} от {{ date }}    ", size=8, color=MUTED)
    add_page_number(footer)

    # Seller: logo | name and contacts | requisites
    head = document.add_table(rows=1, cols=3)
    set_table_borders(head, inside_h=None, outer=None)
    set_widths(head, (24, 84, 68))
    logo_cell, name_cell, requisites_cell = head.rows[0].cells
    logo_cell.paragraphs[0].add_run().add_picture(io.BytesIO(logo_png()), width=Mm(18))
    cell_text(name_cell, "{{ seller.name }}", size=14, bold=True, color=ACCENT)
    for line in (
        "{{ seller.address }}",
        "{{ seller.phone }}{% if seller.email %} · {{ seller.email }}{% endif %}",
        "{{ seller.site }}",
    ):
        write(name_cell.add_paragraph(), line, size=8, color=MUTED)
    cell_text(
        requisites_cell,
        "{% if seller.kpp %}ИНН / КПП: {{ seller.inn }} / {{ seller.kpp }}"
        "{% else %}ИНН: {{ seller.inn }}{% endif %}",
        size=7.5,
    )
    for line in (
        "{%p if seller.ogrn %}",
        "ОГРН: {{ seller.ogrn }}",
        "{%p endif %}",
        "Р/с: {{ seller.bank.account }}",
        "Банк: {{ seller.bank.name }}",
        "БИК: {{ seller.bank.bik }}",
        "К/с: {{ seller.bank.corr_account }}",
    ):
        write(requisites_cell.add_paragraph(), line, size=7.5, color=MUTED)

    rule = document.add_paragraph()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "12"), ("space", "1"), ("color", ACCENT_HEX)):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    rule._p.get_or_add_pPr().append(borders)

    title = document.add_paragraph()
    title.paragraph_format.space_before = Pt(10)
    write(title, "Коммерческое предложение", size=18, bold=True, color=ACCENT)
    write(document.add_paragraph(), "№ {{ number }} от {{ date }}", size=11)

    # Client | manager
    parties = document.add_table(rows=1, cols=2)
    set_table_borders(parties, inside_h=None, outer=None)
    set_widths(parties, (100, 76))
    client_cell, manager_cell = parties.rows[0].cells
    for cell in (client_cell, manager_cell):
        set_cell_fill(cell, LIGHT_HEX)
    cell_text(client_cell, "ПОКУПАТЕЛЬ", size=7.5, color=MUTED)
    write(client_cell.add_paragraph(), "{{ client.name }}", size=11, bold=True)
    client_cell.add_paragraph("{%p if client.inn or client.kpp %}")  # no empty «ИНН» line
    write(
        client_cell.add_paragraph(),
        "{% if client.inn %}ИНН {{ client.inn }}{% endif %}"
        "{% if client.inn and client.kpp %}, {% endif %}"
        "{% if client.kpp %}КПП {{ client.kpp }}{% endif %}",
        size=8.5,
        color=MUTED,
    )
    client_cell.add_paragraph("{%p endif %}")
    client_cell.add_paragraph("{%p if client.address %}")
    write(client_cell.add_paragraph(), "{{ client.address }}", size=8.5, color=MUTED)
    client_cell.add_paragraph("{%p endif %}")
    client_cell.add_paragraph("{%p if client.contact or client.phone or client.email %}")
    write(
        client_cell.add_paragraph(),
        "{{ [('Контакт: ' ~ client.contact) if client.contact else '', client.phone,"
        " client.email] | select | join(', ') }}",
        size=9,
    )
    client_cell.add_paragraph("{%p endif %}")
    cell_text(manager_cell, "ВАШ МЕНЕДЖЕР", size=7.5, color=MUTED)
    write(manager_cell.add_paragraph(), "{{ manager.name }}", size=11, bold=True)
    for field in ("position", "phone", "email"):
        manager_cell.add_paragraph(f"{{%p if manager.{field} %}}")
        write(manager_cell.add_paragraph(), f"{{{{ manager.{field} }}}}", size=9)
        manager_cell.add_paragraph("{%p endif %}")

    intro = document.add_paragraph()
    intro.paragraph_format.space_before = Pt(8)
    write(intro, "Благодарим за интерес к нашей продукции. Предлагаем поставку на условиях ниже:")

    # Lines: header, loop start, one data row, loop end (docxtpl removes the tag rows)
    table = document.add_table(rows=4, cols=len(LINE_COLUMNS))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    set_table_borders(table, inside_h=RULE_HEX, outer=RULE_HEX)
    for column, (header, _, field, align) in enumerate(LINE_COLUMNS):
        head_cell = table.cell(0, column)
        set_cell_fill(head_cell, ACCENT_HEX)
        cell_text(head_cell, header, align=align, size=8.5, bold=True, color=WHITE)
        data_cell = table.cell(2, column)
        cell_text(data_cell, f"{{{{ line.{field} }}}}", align=align, bold=field == "amount")
        if field == "name":
            data_cell.add_paragraph("{%p if line.sku %}")
            write(data_cell.add_paragraph(), "Арт. {{ line.sku }}", size=7, color=MUTED)
            data_cell.add_paragraph("{%p endif %}")
    set_widths(table, tuple(width for _, width, _, _ in LINE_COLUMNS))
    table.cell(1, 0).paragraphs[0].add_run("{%tr for line in lines %}")
    table.cell(3, 0).paragraphs[0].add_run("{%tr endfor %}")
    mark_row(table, 0, header=True)
    mark_row(table, 2)

    # Totals: label | amount; the strong row (Всего к оплате) in bold
    document.add_paragraph()
    totals = document.add_table(rows=3, cols=2)
    totals.alignment = WD_TABLE_ALIGNMENT.RIGHT
    set_table_borders(totals, inside_h=None, outer=None)
    set_widths(totals, (60, 38))
    totals.cell(0, 0).paragraphs[0].add_run("{%tr for row in total_rows %}")
    for column, field in enumerate(("label", "amount")):
        paragraph = totals.cell(1, column).paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        suffix = ":" if field == "label" else ""
        # `{%r ... %}` tags replace their whole run, so the bold and the plain run exclude
        # each other: no conditional formatting needed in Word.
        paragraph.add_run("{%r if row.strong %}")
        write(paragraph, f"{{{{ row.{field} }}}}{suffix}", size=11, bold=True, color=ACCENT)
        paragraph.add_run("{%r else %}")
        write(paragraph, f"{{{{ row.{field} }}}}{suffix}", size=10)
        paragraph.add_run("{%r endif %}")
    totals.cell(2, 0).paragraphs[0].add_run("{%tr endfor %}")

    words = document.add_paragraph()
    words.paragraph_format.space_before = Pt(8)
    write(words, "Сумма прописью: ")
    write(words, "{{ total_in_words }}", bold=True)
    write(
        words,
        '{% if totals.vat_mode == "none" %}, без НДС.'
        "{% else %}, {{ totals.vat_label }} — {{ totals.vat }}.{% endif %}",
    )

    terms = document.add_paragraph()
    terms.paragraph_format.space_before = Pt(8)
    write(terms, "{% if payment_terms %}Оплата: {% endif %}", bold=True, size=9)
    write(terms, "{{ payment_terms }}", size=9)
    delivery = document.add_paragraph()
    write(delivery, "{% if delivery_terms %}Поставка: {% endif %}", bold=True, size=9)
    write(delivery, "{{ delivery_terms }}", size=9)
    validity = document.add_paragraph()
    write(validity, "Предложение действительно до ", size=9)
    write(validity, "{{ valid_until }}", size=9, bold=True)
    write(validity, ".", size=9)

    signature = document.add_table(rows=1, cols=2)
    set_table_borders(signature, inside_h=None, outer=None)
    set_widths(signature, (100, 76))
    director_cell, manager_sign_cell = signature.rows[0].cells
    cell_text(director_cell, "{{ seller.director_title }}", size=9, color=MUTED)
    director_cell.paragraphs[0].paragraph_format.space_before = Pt(18)
    write(
        director_cell.add_paragraph(),
        "____________________ / {{ seller.director_short }} /",
        size=10,
    )
    write(director_cell.add_paragraph(), "М. П.", size=8, color=MUTED)
    cell_text(manager_sign_cell, "{{ manager.position or 'Менеджер' }}", size=9, color=MUTED)
    manager_sign_cell.paragraphs[0].paragraph_format.space_before = Pt(18)
    write(manager_sign_cell.add_paragraph(), "{{ manager.name }}", bold=True)
    write(
        manager_sign_cell.add_paragraph(),
        "{{ manager.phone }}{% if manager.phone and manager.email %} · {% endif %}"
        "{{ manager.email }}",
        size=8.5,
        color=MUTED,
    )

    properties = document.core_properties
    properties.title = "Коммерческое предложение {{ number }}"
    properties.author = "{{ seller.name }}"
    properties.last_modified_by = "{{ seller.name }}"
    properties.created = properties.modified = FIXED_TIME
    properties.revision = 1
    output = io.BytesIO()
    document.save(output)
    return reproducible_zip(output.getvalue())


def reproducible_zip(data: bytes) -> bytes:
    """Rewrite the .docx zip with fixed timestamps, so regenerating without changes is a no-op."""
    output = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))
    return output.getvalue()


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATES_DIR / "offer.docx"
    target.write_bytes(build())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
