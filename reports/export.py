"""Write a ``ReportDocument`` as XLSX (openpyxl) or CSV, in the same filed layout."""
from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from reports.document import ReportDocument, as_rows

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEAD_FILL = PatternFill("solid", fgColor="DDE7EE")
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"


def file_stem(document: ReportDocument) -> str:
    """``laporan-pengaduan-2026-10``: the name the exported files share."""
    return f"laporan-pengaduan-{document.period_key}"


def to_xlsx(document: ReportDocument) -> bytes:
    """The report as an .xlsx workbook: sheet "Laporan" (header and tables) and "Definisi"."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Laporan"
    ws.append([document.title])
    ws.cell(row=1, column=1).font = _TITLE
    for label, value in document.header:
        ws.append([label, value])
        ws.cell(row=ws.max_row, column=1).font = _BOLD
    widths: dict[int, int] = {1: 26}
    for section in document.sections:
        ws.append([])
        ws.append([section.title])
        ws.cell(row=ws.max_row, column=1).font = _BOLD
        ws.append(section.columns)
        head_row = ws.max_row
        for col, name in enumerate(section.columns, start=1):
            cell = ws.cell(row=head_row, column=col)
            cell.font, cell.fill, cell.border = _BOLD, _HEAD_FILL, _BOX
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            widths[col] = max(widths.get(col, 10), min(len(name), 18) + 2)
        body = list(section.rows) + ([section.total] if section.total else [])
        for i, values in enumerate(body):
            ws.append(list(values))
            row = ws.max_row
            for col in range(1, len(values) + 1):
                cell = ws.cell(row=row, column=col)
                cell.border = _BOX
                if section.total is not None and i == len(body) - 1:
                    cell.font = _BOLD
                if col - 1 in section.percent_columns:
                    cell.number_format = "0.0"
                if isinstance(values[col - 1], str):
                    widths[col] = max(widths.get(col, 10), min(len(values[col - 1]), 40) + 2)
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToHeight = 0

    defs = wb.create_sheet("Definisi")
    defs.append(["Istilah", "Definisi"])
    for cell in defs[1]:
        cell.font = _BOLD
    for term, meaning in document.definitions:
        defs.append([term, meaning])
    defs.column_dimensions["A"].width = 30
    defs.column_dimensions["B"].width = 110

    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def to_csv(document: ReportDocument) -> str:
    """The report as CSV: header block, then each table after a title row and a blank line.

    Callers write it as UTF-8 with a BOM (``CSV_ENCODING``) so spreadsheet
    programs read the Indonesian labels correctly.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([document.title])
    for label, value in document.header:
        writer.writerow([label, value])
    for section in document.sections:
        writer.writerow([])
        writer.writerow([section.title])
        writer.writerow(section.columns)
        for values in section.rows:
            writer.writerow(as_rows(values))
        if section.total:
            writer.writerow(as_rows(section.total))
    writer.writerow([])
    writer.writerow(["Definisi"])
    for term, meaning in document.definitions:
        writer.writerow([term, meaning])
    return out.getvalue()


CSV_ENCODING = "utf-8-sig"
