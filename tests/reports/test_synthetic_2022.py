"""Proof on real figures: the annual report over the synthetic 2022 year reproduces the published table."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, timezone

import pytest
from openpyxl import load_workbook

from reports.document import Lender, build_document
from reports.export import to_csv_files, to_csv_zip, to_xlsx
from reports.periods import parse_period
from reports.queries import period_report
from reports.synthetic import PUBLISHED_2022, load_year
from storage.db import Database
from tests.reports.conftest import fixed_working_day
from tickets.models import CATEGORY_LABELS

# The lender's published 2022 table, by the Indonesian labels the report prints.
PUBLISHED_TABLE = {
    "Pembayaran": 2198,
    "Penipuan": 391,
    "Penagihan Tidak Beretika": 1042,
    "Keringanan": 2444,
    "Perubahan Nomor Ponsel": 1087,
    "Aplikasi": 416,
}
GENERATED = datetime(2023, 1, 3, 2, 30, tzinfo=timezone.utc)


@pytest.fixture
async def year_2022(database: Database) -> Database:
    async with database.transaction() as session:
        assert await load_year(session, 2022) == 7578
    return database


async def annual_document(db: Database):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        report = await period_report(session, parse_period("2022"))
    return report, build_document(report, Lender("PT Dana Contoh Indonesia"), fixed_working_day, GENERATED)


def test_the_published_table_adds_up() -> None:
    assert sum(PUBLISHED_2022.values()) == 7578
    assert {CATEGORY_LABELS[k]: v for k, v in PUBLISHED_2022.items()} == PUBLISHED_TABLE


async def test_annual_report_reproduces_the_published_table(year_2022: Database) -> None:
    report, _ = await annual_document(year_2022)
    by_category = dict(report.by_category())
    for category, count in PUBLISHED_2022.items():
        c = by_category[category]
        assert (c.received, c.resolved, c.not_resolved, c.in_process, c.carried_over) == (count, count, 0, 0, 0)
    assert by_category["other"].received == 0
    assert report.totals.received == report.totals.resolved == 7578
    # Every quarter's and month's figures add up to the year.
    async with year_2022.session() as session:
        quarters = [await period_report(session, parse_period(f"2022-Q{q}")) for q in range(1, 5)]
    assert sum(q.totals.received for q in quarters) == 7578
    assert sum(q.totals.resolved for q in quarters) == 7578
    assert quarters[-1].totals.in_process == 0


async def test_loading_again_replaces_instead_of_doubling(year_2022: Database) -> None:
    async with year_2022.transaction() as session:
        await load_year(session, 2022)
    report, _ = await annual_document(year_2022)
    assert report.totals.received == 7578


async def test_xlsx_holds_header_and_published_table(year_2022: Database) -> None:
    _, document = await annual_document(year_2022)
    wb = load_workbook(io.BytesIO(to_xlsx(document)))
    ws = wb["Laporan"]
    rows = [[c for c in row] for row in ws.iter_rows(values_only=True)]
    header: dict[str, str] = {}
    for r in rows[1:]:
        if r[0] is None:
            break
        header[r[0]] = r[1]
    assert header["Nama PUJK"] == "PT Dana Contoh Indonesia"
    assert header["Periode"] == "Tahun 2022 (01-01-2022 s.d. 31-12-2022)"
    assert header["Batas waktu penyampaian"] == "10-01-2023"
    assert header["Dibuat pada"] == "03-01-2023 09:30 WIB"
    start = next(i for i, r in enumerate(rows) if r[0] == "Pengaduan per Kategori")
    columns = rows[start + 1]
    received, resolved, in_process = (columns.index(n) for n in ("Diterima", "Selesai", "Dalam proses"))
    table = {r[0]: r for r in rows[start + 2:start + 2 + 8]}
    for label, count in PUBLISHED_TABLE.items():
        assert (table[label][received], table[label][resolved], table[label][in_process]) == (count, count, 0)
    assert table["Jumlah"][received] == 7578 and table["Jumlah"][resolved] == 7578
    assert "Definisi" in wb.sheetnames


async def test_csv_holds_header_and_published_table(year_2022: Database) -> None:
    _, document = await annual_document(year_2022)
    archive = zipfile.ZipFile(io.BytesIO(to_csv_zip(document)))
    files = {name.split("/", 1)[1]: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}
    assert files == {k: v.decode("utf-8-sig") for k, v in to_csv_files(document).items()}
    identity = list(csv.reader(io.StringIO(files["00-identitas.csv"])))
    assert ["nama_pujk", "Nama PUJK", "PT Dana Contoh Indonesia"] in identity
    assert ["batas_waktu", "Batas waktu penyampaian", "10-01-2023"] in identity
    assert ["status_laporan", "Status laporan", "Final"] in identity
    rows = list(csv.reader(io.StringIO(files["01-kategori.csv"])))
    columns = rows[0]
    assert columns[:6] == ["kategori", "sisa_awal", "diterima", "selesai", "tidak_selesai", "dalam_proses"]
    table = {r[0]: r for r in rows[1:]}
    assert len(table) == 8  # seven categories and the total
    for label, count in {**PUBLISHED_TABLE, "Jumlah": 7578}.items():
        assert table[label][columns.index("diterima")] == str(count)
        assert table[label][columns.index("selesai")] == str(count)
        assert table[label][columns.index("tidak_selesai")] == "0"
        assert table[label][columns.index("dalam_proses")] == "0"
    # Every table is its own file, and the dictionary names each column code.
    tables = sorted(n for n in files if n[:2].isdigit() and n != "00-identitas.csv")
    assert len(tables) == len(document.sections)
    dictionary = list(csv.reader(io.StringIO(files["kolom.csv"])))
    assert ["01-kategori.csv", "Pengaduan per Kategori", "diterima", "Diterima"] in dictionary
