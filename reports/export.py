"""Write a ``ReportDocument`` as XLSX (openpyxl) or as zipped CSV files (one per table)."""
from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

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


CSV_ENCODING = "utf-8-sig"
ZIP_MIME = "application/zip"


def _csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(as_rows(row))
    # UTF-8 with a BOM so spreadsheet programs read the Indonesian labels correctly.
    return out.getvalue().encode(CSV_ENCODING)


def to_csv_files(document: ReportDocument) -> dict[str, bytes]:
    """The report as CSV files, one per table, each headed by its stable column codes.

    ``00-identitas.csv`` holds the filer block (code, label, value),
    ``NN-<table code>.csv`` one table each (the total row last, first cell
    "Jumlah"), ``kolom.csv`` the dictionary of codes (file, table, code,
    label) and ``definisi.csv`` the definitions.
    """
    files: dict[str, bytes] = {}
    identity: list[list[Any]] = [["kode", "butir", "nilai"]]
    codes = document.header_codes or [f"butir_{i + 1}" for i in range(len(document.header))]
    identity += [[code, label, value] for code, (label, value) in zip(codes, document.header)]
    identity.append(["judul", "Judul", document.title])
    files["00-identitas.csv"] = _csv(identity)
    dictionary: list[list[Any]] = [["berkas", "tabel", "kode", "label"]]
    for i, section in enumerate(document.sections, start=1):
        name = f"{i:02d}-{section.code or f'tabel_{i}'}.csv"
        column_codes = section.column_codes or [f"kolom_{j + 1}" for j in range(len(section.columns))]
        body = [list(column_codes), *section.rows] + ([section.total] if section.total else [])
        files[name] = _csv(body)
        dictionary += [[name, section.title, code, label] for code, label in zip(column_codes, section.columns)]
    files["kolom.csv"] = _csv(dictionary)
    files["definisi.csv"] = _csv([["istilah", "definisi"], *[[t, d] for t, d in document.definitions]])
    return files


def to_csv_zip(document: ReportDocument) -> bytes:
    """``to_csv_files`` in one zip archive (``<stem>-csv.zip``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in to_csv_files(document).items():
            # A fixed timestamp: the same report gives the same archive bytes.
            info = zipfile.ZipInfo(f"{file_stem(document)}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
