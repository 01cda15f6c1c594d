"""Cells of the spreadsheets Voronka writes (XLSX and CSV): text from people stays text.

Names, titles, reasons and steps are typed by people, and the files are opened in Excel or
LibreOffice by someone else. A manager named `=HYPERLINK("http://…","Открыть")` must not
become a live link in the lead's report, nor a title `=1+1` a formula (CSV or formula
injection). Every writer of a CSV or XLSX file goes through this module, so the rule holds in
one place:

- CSV: a text field that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
  leading apostrophe, and every text field is quoted, as OWASP recommends. The quotes matter
  where a spreadsheet splits on `;` (Russian Excel does): `"x;=1+1"` stays one field instead
  of leaving `=1+1` at the start of the next one.
- XLSX: a cell has a type, so text is written as a string cell (openpyxl would make `=…` a
  formula and `#N/A` an error) and, where it begins like a formula, with the quote prefix
  that keeps it text when someone edits the cell. Characters XML cannot carry (the control
  characters) become U+FFFD: openpyxl refuses them, and one `\\x07` in a title failed the
  whole file.

Only text is touched: numbers, dates and empty cells are written as they are, so a negative
amount stays a number. A number kept as text (`"-5.00"`) would be escaped, so writers pass
numbers as numbers. JSON exports are not spreadsheets and stay lossless.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

__all__ = ["FORMULA_START", "CsvWriter", "append_row", "csv_field", "xlsx_text"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP's list)."""

# Everything XML 1.0 forbids: C0 controls but tab, newline and CR; lone surrogates; U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XLSX_CELL_LIMIT = 32767


def csv_field(value: object) -> object:
    """The value as a CSV field: text that a spreadsheet would run gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class CsvWriter:
    """`csv.writer` whose text fields cannot become formulas; numbers are written unquoted."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow(["" if v is None else csv_field(v) for v in values])


def xlsx_text(value: str) -> str:
    """Text an XLSX cell can hold: what XML forbids replaced, cut at Excel's cell limit."""
    return _NOT_XML.sub("\ufffd", value)[:_XLSX_CELL_LIMIT]


def append_row(sheet: Any, values: Iterable[object]) -> None:
    """Append a row to an openpyxl worksheet with every text value written as text."""
    from openpyxl.cell import WriteOnlyCell  # here: openpyxl is slow to import at start

    sheet.append([_xlsx_cell(sheet, value, WriteOnlyCell) for value in values])


def _xlsx_cell(sheet: Any, value: object, cell_type: Any) -> object:
    if not isinstance(value, str):
        return value
    cell = cell_type(sheet, value=xlsx_text(value))
    cell.data_type = "s"  # not "f" for `=…`, not "e" for `#N/A`
    if value.startswith(FORMULA_START):
        cell.quotePrefix = True
    return cell
