"""The filed layout of a complaint report: a header block and titled tables.

XLSX, CSV and the printable page all render this one ``ReportDocument`` so the
three never disagree. Headings are in Indonesian: the document goes to OJK.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from desk.config import Settings
from reports.periods import WIB, IsWorkingDay, due_date
from reports.queries import UNKNOWN_CAUSE, Counts, PeriodReport
from tickets import lender as tickets_lender
from tickets.models import CATEGORY_LABELS

Value = str | int | float | None

CHANNEL_LABELS = {"whatsapp": "WhatsApp", "inapp": "Aplikasi (in-app)", "telegram": "Telegram",
                  "email": "E-mail", "phone": "Telepon", "web": "Situs web", "walk_in": "Datang langsung"}

FLOW_COLUMNS = ["Sisa periode lalu", "Diterima", "Selesai", "Tidak selesai", "Dalam proses"]
SLA_COLUMNS = ["Publikasi negatif", "SLA penyelesaian terpenuhi", "SLA penyelesaian terlampaui",
               "Kepatuhan SLA penyelesaian (%)"]

DEFINITIONS = [
    ("Diterima", "Pengaduan dengan waktu terima dalam periode (WIB)."),
    ("Selesai", "Pengaduan berstatus selesai (resolved) yang ditutup dalam periode."),
    ("Tidak selesai", "Pengaduan yang ditutup dalam periode tanpa penyelesaian karena ditolak berdasarkan "
                      "alasan tertulis. Penyelesaian yang ditolak konsumen membuka kembali pengaduan "
                      "(dihitung dalam proses)."),
    ("Dalam proses", "Pengaduan yang diterima sebelum akhir periode dan belum ditutup pada akhir periode."),
    ("Sisa periode lalu", "Pengaduan yang masih dalam proses pada awal periode. "
                          "Sisa + Diterima − Selesai − Tidak selesai = Dalam proses."),
    ("Kepatuhan SLA penyelesaian", "Pengaduan yang ditutup dalam periode paling lambat pada batas waktu "
                                   "penyelesaian, dibanding seluruh yang ditutup ditambah yang masih dalam "
                                   "proses dan sudah melewati batas waktu."),
    ("Publikasi negatif", "Pengaduan yang diterima dalam periode dan ditandai memiliki publikasi negatif."),
]


@dataclass(frozen=True)
class Lender:
    """What the header needs from the lender content file."""

    name: str
    product_names: dict[str, str] = field(default_factory=dict)


def load_lender(path: Path) -> Lender:
    """The lender's name (via ``tickets.lender``) and product names from its content YAML."""
    try:
        name = tickets_lender.load_lender(path).name.strip()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ValueError(f"lender content file not found: {path}") from exc
    if not name:
        raise ValueError(f"lender content {path} has no lender.name")
    products = {str(p["code"]): str(p.get("name") or p["code"]) for p in data.get("products") or []
                if isinstance(p, dict) and p.get("code")}
    return Lender(name=name, product_names=products)


@dataclass(frozen=True)
class Section:
    """One titled table; ``total`` is the bold last row when present."""

    title: str
    columns: list[str]
    rows: list[list[Value]]
    total: list[Value] | None = None
    percent_columns: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ReportDocument:
    title: str
    header: list[tuple[str, str]]
    sections: list[Section]
    definitions: list[tuple[str, str]]
    period_key: str
    due: date
    generated_at: datetime


def _rate(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def _flow(c: Counts) -> list[Value]:
    return [c.carried_over, c.received, c.resolved, c.not_resolved, c.in_process]


def _sla(c: Counts) -> list[Value]:
    return [c.negative_publicity, c.resolution_sla_met, c.resolution_sla_breached, _rate(c.resolution_sla_rate)]


def category_label(code: str) -> str:
    return CATEGORY_LABELS.get(code, code)


def cause_label(code: str) -> str:
    if code == UNKNOWN_CAUSE:
        return "Belum ditentukan"
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def build_document(report: PeriodReport, lender: Lender, is_working_day: IsWorkingDay,
                   generated_at: datetime) -> ReportDocument:
    """Lay ``report`` out as the document a compliance officer files."""
    period = report.period
    due = due_date(period, is_working_day)
    local = generated_at.astimezone(WIB)
    header = [
        ("Nama PUJK", lender.name),
        ("Jenis laporan", f"Laporan Pengaduan Konsumen {period.kind_label}"),
        ("Periode", f"{period.label} ({period.first:%d-%m-%Y} s.d. {period.last:%d-%m-%Y})"),
        ("Batas waktu penyampaian", f"{due:%d-%m-%Y}"),
        ("Dibuat pada", f"{local:%d-%m-%Y %H:%M} WIB"),
    ]
    n_flow = len(FLOW_COLUMNS)
    pct_main = frozenset({1 + n_flow + 3})
    product_name = lambda code: lender.product_names.get(code, code)  # noqa: E731
    t = report.totals
    sections = [
        Section(
            title="Pengaduan per Kategori",
            columns=["Kategori", *FLOW_COLUMNS, *SLA_COLUMNS],
            rows=[[category_label(cat), *_flow(c), *_sla(c)] for cat, c in report.by_category()],
            total=["Jumlah", *_flow(t), *_sla(t)],
            percent_columns=pct_main,
        ),
        Section(
            title="Pengaduan per Produk dan Kategori",
            columns=["Produk", "Kategori", *FLOW_COLUMNS, *SLA_COLUMNS],
            rows=[[product_name(p), category_label(cat), *_flow(c), *_sla(c)]
                  for p, cat, c in report.by_product_category()],
            total=["Jumlah", "", *_flow(t), *_sla(t)],
            percent_columns=frozenset({2 + n_flow + 3}),
        ),
        Section(
            title="Penyebab Pengaduan",
            columns=["Penyebab", *FLOW_COLUMNS],
            rows=[[cause_label(cause), *_flow(c)] for cause, c in report.by_cause()],
            total=["Jumlah", *_flow(t)],
        ),
        Section(
            title="Pengaduan per Kanal",
            columns=["Kanal", *FLOW_COLUMNS, "Tanggapan pertama tepat waktu (%)",
                     "Kepatuhan SLA penyelesaian (%)"],
            rows=[[CHANNEL_LABELS.get(ch, ch), *_flow(c), _rate(c.first_response_rate), _rate(c.resolution_sla_rate)]
                  for ch, c in report.by_channel()],
            total=["Jumlah", *_flow(t), _rate(t.first_response_rate), _rate(t.resolution_sla_rate)],
            percent_columns=frozenset({1 + n_flow, 2 + n_flow}),
        ),
        Section(
            title="Kepatuhan Batas Waktu (SLA)",
            columns=["Batas waktu", "Terpenuhi", "Terlampaui", "Kepatuhan (%)"],
            rows=[
                ["Tanggapan pertama", t.first_response_met, t.first_response_breached, _rate(t.first_response_rate)],
                ["Penyelesaian", t.resolution_sla_met, t.resolution_sla_breached, _rate(t.resolution_sla_rate)],
            ],
            percent_columns=frozenset({3}),
        ),
    ]
    return ReportDocument(
        title=f"Laporan Pengaduan Konsumen — {period.label}",
        header=header, sections=sections, definitions=DEFINITIONS,
        period_key=period.key, due=due, generated_at=generated_at,
    )


def document_for(report: PeriodReport, settings: Settings, is_working_day: IsWorkingDay,
                 generated_at: datetime) -> ReportDocument:
    """``build_document`` with the lender read from the configured content file."""
    return build_document(report, load_lender(settings.lender_content), is_working_day, generated_at)


def as_rows(values: list[Any]) -> list[Any]:
    """Cells with None shown as an empty string (CSV and HTML)."""
    return ["" if v is None else v for v in values]
