"""Report pages, downloads and reminders for supervisors; ``register`` wires the reports part into the app."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, html, json, raw
from sqlalchemy import select

from desk.auth import StaffUser, error, staff_required
from desk.config import REPO_ROOT, Settings
from desk.templating import render
from desk.services import CoreServices
from reports.export import CSV_ENCODING, CSV_MIME, XLSX_MIME, file_stem, to_csv, to_xlsx
from reports.models import ReportReminder
from reports.periods import IsWorkingDay, Period, PeriodError, local_date, parse_period, periods_ended_before
from reports.queries import PeriodReport
from reports.reminders import open_reminders, reminder_json, reminder_loop
from reports.service import ReportService, render_printable
from reports.dashboard import bp as dashboard_bp
from storage.base import utcnow
from storage.db import Database
from tickets.models import CATEGORY_LABELS

SUPERVISORS = ("supervisor", "admin")

bp = Blueprint("reports")


@dataclass
class ReportsPart:
    """What the reports handlers need: built by the root, given to ``install``."""

    service: ReportService
    is_working_day: IsWorkingDay

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, is_working_day: IsWorkingDay) -> ReportsPart:
        """The part's service over ``db``, with the lender's report settings."""
        return cls(service=ReportService.from_settings(db, settings, is_working_day), is_working_day=is_working_day)


def reports_part(app: Sanic) -> ReportsPart:
    """What ``install`` was given; raises if the reports part was not installed."""
    found = getattr(app.ctx, "reports", None)
    if not isinstance(found, ReportsPart):
        raise RuntimeError("the reports part is not installed on this app")
    return found


def part(request: Request) -> ReportsPart:
    return reports_part(request.app)


def _period(text: str) -> Period | HTTPResponse:
    try:
        return parse_period(text)
    except PeriodError as exc:
        return error(400, "bad_period", str(exc))


@bp.get("/reports")
@staff_required(*SUPERVISORS)
async def reports_index(request: Request) -> HTTPResponse:
    """Pick a period; shows the latest finished periods with their due dates and open reminders."""
    p = part(request)
    today = local_date(utcnow())
    recent = [(period, p.service.due(period)) for period in periods_ended_before(today)]
    reminders = await open_reminders(p.service.db)
    return render("reports/index.html", recent=recent, reminders=reminders, today=today)


@bp.get("/reports/<period_text:str>")
@staff_required(*SUPERVISORS)
async def report_page(request: Request, period_text: str) -> HTTPResponse:
    """The printable report for a period."""
    period = _period(period_text)
    if isinstance(period, HTTPResponse):
        return period
    document = await part(request).service.document(period)
    return html(render_printable(document))


@bp.get("/reports/<period_text:str>/<fmt:str>")
@staff_required(*SUPERVISORS)
async def report_download(request: Request, period_text: str, fmt: str) -> HTTPResponse:
    """The report as an XLSX or CSV download."""
    if fmt not in ("xlsx", "csv"):
        return error(404, "not_found", "formats are xlsx and csv")
    period = _period(period_text)
    if isinstance(period, HTTPResponse):
        return period
    document = await part(request).service.document(period)
    name = f"{file_stem(document)}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "xlsx":
        return raw(to_xlsx(document), content_type=XLSX_MIME, headers=headers)
    return raw(to_csv(document).encode(CSV_ENCODING), content_type=CSV_MIME, headers=headers)


def report_json(report: PeriodReport, due: Any) -> dict[str, Any]:
    """The report's figures as JSON (English keys; category labels in Indonesian)."""
    period = report.period
    return {
        "period": period.key, "kind": period.kind.value, "label": period.label,
        "first_day": period.first.isoformat(), "last_day": period.last.isoformat(),
        "due_date": due.isoformat(),
        "totals": report.totals.as_dict(),
        "by_category": [{"category": c, "label": CATEGORY_LABELS.get(c, c), **n.as_dict()}
                        for c, n in report.by_category()],
        "by_product_category": [{"product": p, "category": c, **n.as_dict()}
                                for p, c, n in report.by_product_category()],
        "by_channel": [{"channel": ch, **n.as_dict()} for ch, n in report.by_channel()],
        "by_cause": [{"cause": cause, **n.as_dict()} for cause, n in report.by_cause()],
    }


@bp.get("/api/v1/reports/<period_text:str>")
@staff_required(*SUPERVISORS)
async def report_api(request: Request, period_text: str) -> HTTPResponse:
    """The report's figures as JSON."""
    period = _period(period_text)
    if isinstance(period, HTTPResponse):
        return period
    service = part(request).service
    return json(report_json(await service.report(period), service.due(period)))


@bp.get("/api/v1/report-reminders")
@staff_required(*SUPERVISORS)
async def reminders_api(request: Request) -> HTTPResponse:
    """Reminders not yet acknowledged."""
    rows = await open_reminders(part(request).service.db)
    return json({"reminders": [reminder_json(r) for r in rows]})


@bp.post("/api/v1/report-reminders/<reminder_id:int>/ack")
@staff_required(*SUPERVISORS)
async def acknowledge_reminder(request: Request, reminder_id: int) -> HTTPResponse:
    """Mark a reminder as seen (idempotent: the first acknowledgement is kept)."""
    user: StaffUser = request.ctx.user
    async with part(request).service.db.transaction() as session:
        row = await session.scalar(select(ReportReminder).where(ReportReminder.id == reminder_id))
        if row is None:
            return error(404, "not_found", f"no report reminder {reminder_id}")
        if row.acknowledged_at is None:
            row.acknowledged_at = utcnow()
            row.acknowledged_by = user.username
    return json({"reminder": reminder_json(row)})


def install(app: Sanic, services: CoreServices, reports: ReportsPart) -> None:
    """Add the reports part to ``app``: its service, blueprints, static files, reminder job."""
    app.ctx.reports = reports
    checker = reports.is_working_day
    app.blueprint(bp)
    app.blueprint(dashboard_bp)
    app.static("/static/reports", str(REPO_ROOT / "reports" / "static"), name="reports_static")

    interval = float(getattr(services.settings, "report_reminder_interval_seconds", 0) or 0)
    if interval > 0:
        @app.after_server_start
        async def _start_reminders(app: Sanic) -> None:
            app.ctx.report_reminders = asyncio.create_task(
                reminder_loop(services.db, services.events, checker, interval))

        @app.before_server_stop
        async def _stop_reminders(app: Sanic) -> None:
            task = getattr(app.ctx, "report_reminders", None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
