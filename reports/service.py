"""Produce a period's report document and write it out: the one use case behind the page, API and CLI."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from desk.config import Settings
from desk.templating import environment
from reports.document import Lender, ReportDocument, as_rows, build_document, due_rules, load_lender
from reports.export import file_stem, to_csv_zip, to_xlsx
from reports.periods import DueRules, IsWorkingDay, Period, due_date
from reports.queries import PeriodReport, period_report
from storage.base import utcnow
from storage.db import Database

FORMATS = ("xlsx", "csv", "html")


@dataclass
class ReportService:
    """Builds report documents from the database for one lender and calendar."""

    db: Database
    lender: Lender
    is_working_day: IsWorkingDay
    rules: DueRules = DueRules()

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, is_working_day: IsWorkingDay) -> ReportService:
        return cls(db=db, lender=load_lender(settings.lender_content), is_working_day=is_working_day,
                   rules=due_rules(settings))

    async def report(self, period: Period) -> PeriodReport:
        """Aggregate the tickets for ``period``."""
        async with self.db.session() as session:
            return await period_report(session, period)

    async def document(self, period: Period, generated_at: datetime | None = None) -> ReportDocument:
        """Aggregate ``period`` and lay it out."""
        report = await self.report(period)
        return build_document(report, self.lender, self.is_working_day, generated_at or utcnow(), self.rules)

    def due(self, period: Period) -> date:
        """When the report for ``period`` must be filed."""
        return due_date(period, self.is_working_day, self.rules)

    async def write(self, period: Period, out_dir: Path, formats: tuple[str, ...] = FORMATS,
                    generated_at: datetime | None = None) -> list[Path]:
        """Write the report for ``period`` into ``out_dir`` in each format; return the paths."""
        unknown = set(formats) - set(FORMATS)
        if unknown:
            raise ValueError(f"unknown report formats: {', '.join(sorted(unknown))}")
        document = await self.document(period, generated_at)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = file_stem(document)
        written: list[Path] = []
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            if fmt == "xlsx":
                path.write_bytes(to_xlsx(document))
            elif fmt == "csv":
                path = out_dir / f"{stem}-csv.zip"
                path.write_bytes(to_csv_zip(document))
            else:
                path.write_text(render_printable(document, standalone=True), encoding="utf-8")
            written.append(path)
        return written


def render_printable(document: ReportDocument, *, standalone: bool = False) -> str:
    """The printable HTML page; ``standalone`` inlines the styles for a file opened off-line."""
    template = environment().get_template("reports/report.html")
    return template.render(doc=document, cells=as_rows, standalone=standalone)
