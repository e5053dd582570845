"""The filed layout of a complaint report: a header block and titled tables.

XLSX, CSV and the printable page all render this one ``ReportDocument`` so the
three never disagree. Headings are in Indonesian: the document goes to OJK.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from desk.config import Settings
from reports.periods import WIB, DueRules, IsWorkingDay, Period, PeriodKind, due_date
from reports.queries import UNKNOWN_CAUSE, Closing, Counts, PeriodReport
from tickets import lender as tickets_lender
from tickets.calendar import working_days_between
from tickets.models import CATEGORY_LABELS, Category
from tickets.sla import PolicyError, load_policy

Value = str | int | float | None

# Plain Indonesian labels: the document goes to OJK and management (no "SLA", "in-app").
CHANNEL_LABELS = {"whatsapp": "WhatsApp", "inapp": "Aplikasi", "telegram": "Telegram",
                  "email": "E-mail", "phone": "Telepon", "web": "Situs web", "walk_in": "Datang langsung",
                  "social": "Media sosial", "ojk_appk": "Portal OJK (APPK)", "laps_sjk": "LAPS SJK"}
FORM_LABELS = {"oral": "Lisan", "written": "Tertulis"}
SOURCE_LABELS = {"direct": "Langsung ke PUJK", "ojk_appk": "Melalui OJK (portal APPK)",
                 "laps_sjk": "Melalui LAPS SJK"}

# Column codes are stable: the CSV files carry them as headers, so a compliance
# system can read the files even when a label is reworded. (code, label).
FLOW = [("sisa_awal", "Sisa periode lalu"), ("diterima", "Diterima"), ("selesai", "Selesai"),
        ("tidak_selesai", "Tidak selesai"), ("dalam_proses", "Dalam proses")]
ON_TIME = [("tepat_waktu", "Selesai tepat waktu"), ("lewat_waktu", "Melewati batas waktu"),
           ("ketepatan_pct", "Ketepatan waktu penyelesaian (%)")]
PUBLICITY = [("publikasi_negatif", "Publikasi negatif")]
DURATION = [("jumlah_ditutup", "Jumlah ditutup"), ("median_hari_kerja", "Median (hari kerja)"),
            ("p90_hari_kerja", "Persentil ke-90 (hari kerja)")]
# Kept for callers that name the flow headings.
FLOW_COLUMNS = [label for _, label in FLOW]

MONTHLY_DUE_SOURCE = ("prosedur layanan pengaduan yang dipublikasikan PUJK ({n} hari kerja bulan berikutnya); "
                      "bukan ketentuan OJK")
QUARTERLY_DUE_SOURCE = "POJK 18/POJK.07/2018: tanggal 10 bulan berikutnya setelah akhir triwulan"
ANNUAL_DUE_SOURCE = ("tidak ditemukan ketentuan khusus; disamakan dengan laporan triwulan IV "
                     "(tanggal 10 Januari tahun berikutnya)")

DEFINITIONS = [
    ("Diterima", "Pengaduan dengan waktu terima dalam periode (WIB)."),
    ("Selesai", "Pengaduan berstatus selesai yang ditutup dalam periode."),
    ("Tidak selesai", "Pengaduan yang ditutup dalam periode tanpa penyelesaian karena ditolak berdasarkan "
                      "alasan tertulis. Penyelesaian yang ditolak konsumen membuka kembali pengaduan "
                      "(dihitung dalam proses)."),
    ("Dalam proses", "Pengaduan yang diterima sebelum akhir periode dan belum ditutup pada akhir periode."),
    ("Sisa periode lalu", "Pengaduan yang masih dalam proses pada awal periode. "
                          "Sisa + Diterima − Selesai − Tidak selesai = Dalam proses."),
    ("Ketepatan waktu penyelesaian", "Pengaduan yang ditutup dalam periode paling lambat pada batas waktu "
                                     "penyelesaian, dibanding seluruh yang ditutup ditambah yang masih dalam "
                                     "proses dan sudah melewati batas waktu. Batas waktu setiap pengaduan "
                                     "mengikuti ketentuan yang berlaku saat pengaduan diterima (tabel "
                                     "Ketepatan Waktu menurut Ketentuan)."),
    ("Lisan / Tertulis", "Pengaduan lisan disampaikan melalui telepon atau datang langsung; pengaduan "
                         "tertulis melalui chat, WhatsApp, e-mail, aplikasi, atau diteruskan OJK/LAPS SJK."),
    ("Sumber", "Langsung ke PUJK, atau diteruskan melalui portal pelindungan konsumen OJK (APPK) atau "
               "LAPS SJK dan dicatat dengan nomor referensinya; batas waktunya dihitung sejak diterima PUJK."),
    ("Lama penyelesaian", "Hari kerja dari hari mulai dihitungnya batas waktu sampai hari pengaduan ditutup "
                          "(selesai atau tidak selesai), untuk pengaduan yang ditutup dalam periode. Median: "
                          "nilai tengah; persentil ke-90: nilai terkecil yang tidak dilampaui 90% pengaduan."),
    ("Penyebab", "Dicatat petugas saat pengaduan diselesaikan atau ditolak, dari daftar penyebab PUJK."),
    ("Publikasi negatif", "Pengaduan yang diterima dalam periode dan dicatat telah dipublikasikan "
                          "(media atau media sosial), dengan tautannya."),
    ("Batas waktu penyampaian", "Laporan bulanan: " + MONTHLY_DUE_SOURCE.format(n="N") + ". Laporan "
                                "triwulanan: " + QUARTERLY_DUE_SOURCE + "."),
    ("Laporan sementara", "Laporan yang dibuat sebelum periodenya berakhir; angkanya masih dapat berubah."),
]


@dataclass(frozen=True)
class Lender:
    """What the header and labels need from the lender content file."""

    name: str
    product_names: dict[str, str] = field(default_factory=dict)
    licence: str = ""
    officer: str = ""
    cause_names: dict[str, str] = field(default_factory=dict)


def load_lender(path: Path) -> Lender:
    """The filer block, product and cause names from the lender content YAML (via ``tickets.lender``)."""
    try:
        content = tickets_lender.load_lender(path)
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ValueError(f"lender content file not found: {path}") from exc
    name = content.name.strip()
    if not name:
        raise ValueError(f"lender content {path} has no lender.name")
    products = {str(p["code"]): str(p.get("name") or p["code"]) for p in data.get("products") or []
                if isinstance(p, dict) and p.get("code")}
    officer = content.complaint_officer
    officer_text = ", ".join(x for x in (officer.name, officer.title) if x) if officer else ""
    return Lender(name=name, product_names=products, licence=content.ojk_licence, officer=officer_text,
                  cause_names=content.cause_labels)


@dataclass(frozen=True)
class Section:
    """One titled table; ``total`` is the bold last row when present.

    ``code`` names the table and ``column_codes`` its columns, stably: the
    CSV export is one file per table with those codes as its header.
    """

    title: str
    columns: list[str]
    rows: list[list[Value]]
    total: list[Value] | None = None
    percent_columns: frozenset[int] = frozenset()
    code: str = ""
    column_codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportDocument:
    title: str
    header: list[tuple[str, str]]
    sections: list[Section]
    definitions: list[tuple[str, str]]
    period_key: str
    due: date
    generated_at: datetime
    provisional: bool = False
    # Stable codes of the header rows, in order (the CSV export's identity file uses them).
    header_codes: list[str] = field(default_factory=list)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def _flow(c: Counts) -> list[Value]:
    return [c.carried_over, c.received, c.resolved, c.not_resolved, c.in_process]


def _on_time(c: Counts) -> list[Value]:
    return [c.resolution_sla_met, c.resolution_sla_breached, _rate(c.resolution_sla_rate)]


def category_label(code: str) -> str:
    return CATEGORY_LABELS.get(code, code)


def cause_label(code: str, names: dict[str, str] | None = None) -> str:
    """The lender file's label of a cause; unknown codes are shown readably."""
    if code == UNKNOWN_CAUSE:
        return "Belum ditentukan"
    if names and code in names:
        return names[code]
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def policy_label(name: str) -> str:
    """The regulation a policy implements, e.g. "POJK 22 Tahun 2023"."""
    try:
        return load_policy(name).title or name
    except PolicyError:
        return name


def percentile(values: list[int], q: float) -> int | None:
    """Nearest-rank percentile (the smallest value not exceeded by ``q`` of the values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def _section(code: str, title: str, head: list[tuple[str, str]], rows: list[list[Value]],
             total: list[Value] | None = None, percent_codes: frozenset[str] = frozenset()) -> Section:
    codes = [c for c, _ in head]
    return Section(title=title, columns=[label for _, label in head], rows=rows, total=total,
                   percent_columns=frozenset(i for i, c in enumerate(codes) if c in percent_codes),
                   code=code, column_codes=codes)


def resolution_days(report: PeriodReport, is_working_day: IsWorkingDay) -> list[tuple[Closing, list[int]]]:
    """Each closing group with its complaints' working days from clock start to closing.

    Counted by ``tickets.calendar.working_days_between``, the desk's one count.
    """
    cached = lru_cache(maxsize=None)(is_working_day)
    return [(c, [working_days_between(cached, c.start_day, c.closed_day)] * c.count) for c in report.closings]


def _duration_rows(days: list[tuple[Closing, list[int]]], key, order: list[str], label) -> list[list[Value]]:  # type: ignore[no-untyped-def]
    groups: dict[str, list[int]] = {}
    for closing, values in days:
        groups.setdefault(key(closing), []).extend(values)
    keys = [k for k in order if k in groups] + sorted(k for k in groups if k not in order)
    return [[label(k), len(groups[k]), median(groups[k]), percentile(groups[k], 0.9)] for k in keys]


def _all_days(days: list[tuple[Closing, list[int]]]) -> list[int]:
    return [n for _, values in days for n in values]


def due_source(period: Period, rules: DueRules) -> str:
    """Where the due date of ``period``'s report comes from, in the report's words."""
    if period.kind is PeriodKind.MONTH:
        return MONTHLY_DUE_SOURCE.format(n=rules.monthly_working_days)
    text = QUARTERLY_DUE_SOURCE if period.kind is PeriodKind.QUARTER else ANNUAL_DUE_SOURCE
    if rules.quarterly_moves_to_working_day:
        text += "; dimajukan ke hari kerja berikutnya bila jatuh pada hari libur"
    return text


HEADER_CODES = ("nama_pujk", "nomor_izin", "penanggung_jawab", "jenis_laporan", "periode", "status_laporan",
                "batas_waktu", "dasar_batas_waktu", "ketentuan_batas_waktu", "dibuat_pada")


def build_document(report: PeriodReport, lender: Lender, is_working_day: IsWorkingDay,
                   generated_at: datetime, rules: DueRules = DueRules()) -> ReportDocument:
    """Lay ``report`` out as the document a compliance officer files."""
    period = report.period
    due = due_date(period, is_working_day, rules)
    local = generated_at.astimezone(WIB)
    provisional = generated_at < period.end_utc
    t = report.totals
    policies = report.by_policy()
    header = [
        ("Nama PUJK", lender.name),
        ("Nomor izin usaha OJK", lender.licence or "—"),
        ("Penanggung jawab layanan pengaduan", lender.officer or "—"),
        ("Jenis laporan", f"Laporan Pengaduan Konsumen {period.kind_label}"),
        ("Periode", f"{period.label} ({period.first:%d-%m-%Y} s.d. {period.last:%d-%m-%Y})"),
        ("Status laporan", "SEMENTARA — dibuat sebelum periode berakhir; angka masih dapat berubah"
         if provisional else "Final"),
        ("Batas waktu penyampaian", f"{due:%d-%m-%Y}"),
        ("Dasar batas waktu", due_source(period, rules)),
        ("Ketentuan batas waktu penanganan", "; ".join(
            f"{policy_label(name)} ({c.received + c.carried_over} pengaduan)" for name, c in policies) or "—"),
        ("Dibuat pada", f"{local:%d-%m-%Y %H:%M} WIB"),
    ]
    product_name = lambda code: lender.product_names.get(code, code)  # noqa: E731
    days = resolution_days(report, is_working_day)
    every = _all_days(days)
    categories = [c.value for c in Category]
    main = [("kategori", "Kategori"), *FLOW, *PUBLICITY, *ON_TIME]
    sections = [
        _section("kategori", "Pengaduan per Kategori", main,
                 [[category_label(cat), *_flow(c), c.negative_publicity, *_on_time(c)]
                  for cat, c in report.by_category()],
                 ["Jumlah", *_flow(t), t.negative_publicity, *_on_time(t)], frozenset({"ketepatan_pct"})),
        _section("produk_kategori", "Pengaduan per Produk dan Kategori",
                 [("produk", "Produk"), *main],
                 [[product_name(p), category_label(cat), *_flow(c), c.negative_publicity, *_on_time(c)]
                  for p, cat, c in report.by_product_category()],
                 ["Jumlah", "", *_flow(t), t.negative_publicity, *_on_time(t)], frozenset({"ketepatan_pct"})),
        _section("bentuk", "Pengaduan Lisan dan Tertulis", [("bentuk", "Bentuk pengaduan"), *FLOW, *ON_TIME],
                 [[FORM_LABELS.get(f, f), *_flow(c), *_on_time(c)] for f, c in report.by_form()],
                 ["Jumlah", *_flow(t), *_on_time(t)], frozenset({"ketepatan_pct"})),
        _section("sumber", "Pengaduan per Sumber", [("sumber", "Sumber pengaduan"), *FLOW, *ON_TIME],
                 [[SOURCE_LABELS.get(src, src), *_flow(c), *_on_time(c)] for src, c in report.by_source()],
                 ["Jumlah", *_flow(t), *_on_time(t)], frozenset({"ketepatan_pct"})),
        _section("penyebab", "Penyebab Pengaduan", [("penyebab", "Penyebab"), *FLOW],
                 [[cause_label(cause, lender.cause_names), *_flow(c)] for cause, c in report.by_cause()],
                 ["Jumlah", *_flow(t)]),
        _section("kanal", "Pengaduan per Kanal",
                 [("kanal", "Kanal"), *FLOW, ("tanggapan_tepat_pct", "Tanggapan pertama tepat waktu (%)"),
                  ("ketepatan_pct", "Ketepatan waktu penyelesaian (%)")],
                 [[CHANNEL_LABELS.get(ch, ch), *_flow(c), _rate(c.first_response_rate),
                   _rate(c.resolution_sla_rate)] for ch, c in report.by_channel()],
                 ["Jumlah", *_flow(t), _rate(t.first_response_rate), _rate(t.resolution_sla_rate)],
                 frozenset({"tanggapan_tepat_pct", "ketepatan_pct"})),
        _section("lama_kategori", "Lama Penyelesaian per Kategori", [("kategori", "Kategori"), *DURATION],
                 _duration_rows(days, lambda c: c.category, categories, category_label),
                 ["Jumlah", len(every), median(every), percentile(every, 0.9)]),
        _section("lama_produk", "Lama Penyelesaian per Produk", [("produk", "Produk"), *DURATION],
                 _duration_rows(days, lambda c: c.product, [], product_name),
                 ["Jumlah", len(every), median(every), percentile(every, 0.9)]),
        _section("ketepatan", "Ketepatan Waktu",
                 [("batas_waktu", "Batas waktu"), ("tepat_waktu", "Tepat waktu"),
                  ("lewat_waktu", "Melewati batas waktu"), ("ketepatan_pct", "Ketepatan (%)")],
                 [["Tanggapan pertama", t.first_response_met, t.first_response_breached,
                   _rate(t.first_response_rate)],
                  ["Penyelesaian", t.resolution_sla_met, t.resolution_sla_breached, _rate(t.resolution_sla_rate)]],
                 percent_codes=frozenset({"ketepatan_pct"})),
        _section("ketentuan", "Ketepatan Waktu menurut Ketentuan",
                 [("ketentuan", "Ketentuan batas waktu"), *FLOW, *ON_TIME],
                 [[policy_label(name), *_flow(c), *_on_time(c)] for name, c in policies],
                 ["Jumlah", *_flow(t), *_on_time(t)], frozenset({"ketepatan_pct"})),
    ]
    title = f"Laporan Pengaduan Konsumen — {period.label}" + (" (SEMENTARA)" if provisional else "")
    definitions = [(term, text.replace("(N hari kerja", f"({rules.monthly_working_days} hari kerja"))
                   for term, text in DEFINITIONS]
    return ReportDocument(
        title=title, header=header, sections=sections, definitions=definitions,
        period_key=period.key, due=due, generated_at=generated_at, provisional=provisional,
        header_codes=list(HEADER_CODES),
    )


def document_for(report: PeriodReport, settings: Settings, is_working_day: IsWorkingDay,
                 generated_at: datetime) -> ReportDocument:
    """``build_document`` with the lender and due-date rules read from ``settings``."""
    return build_document(report, load_lender(settings.lender_content), is_working_day, generated_at,
                          due_rules(settings))


def due_rules(settings: Settings) -> DueRules:
    """The due-date rules configured for this deployment."""
    return DueRules(monthly_working_days=settings.report_monthly_due_working_days,
                    quarterly_moves_to_working_day=settings.report_quarterly_due_moves_to_working_day)


def as_rows(values: list[Any]) -> list[Any]:
    """Cells with None shown as an empty string (CSV and HTML)."""
    return ["" if v is None else v for v in values]
