"""Registers as files: XLSX (openpyxl) and CSV, the same columns for both.

CSV is UTF-8 with a byte-order mark so that spreadsheet programs read the Indonesian text
right; a cell that starts like a formula is prefixed with an apostrophe (no formula injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
FORMATS = {"xlsx": XLSX, "csv": CSV}


def _safe(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def table(fmt: str, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The rows as an XLSX workbook (one sheet, bold header, printed on A4) or as CSV."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([_safe(v) for v in row])
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    from openpyxl import Workbook  # imported when a sheet is asked for: not in every worker's memory
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_safe(v) for v in row])
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, width + 2))
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape"
    sheet.print_title_rows = "1:1"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
