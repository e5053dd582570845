"""The supervisor dashboard: a page of charts and the JSON endpoint it polls."""
from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from desk.auth import error, staff_required
from desk.config import REPO_ROOT
from desk.templating import render
from desk.services import core_services
from reports.metrics import Window, dashboard_data
from reports.reminders import open_reminders, reminder_json
from reports.sql import Bucket
from storage.base import utcnow
from tickets.context import ticket_context
from tickets.coverage import CalendarGap, calendar_gaps

SUPERVISORS = ("supervisor", "admin")
REFRESH_SECONDS = 30
MIN_REFRESH, MAX_REFRESH = 5, 600
MAX_DAYS = 366

bp = Blueprint("reports_dashboard")


async def _calendar_warnings(request: Request) -> list[CalendarGap]:
    """Years the working-day calendar lacks that deadlines need (shown on the page, not only logged)."""
    services = core_services(request.app)
    path = services.settings.calendar_file
    try:
        shown = str(path.relative_to(REPO_ROOT))
    except ValueError:
        shown = str(path)
    async with services.db.session() as session:
        return await calendar_gaps(session, ticket_context(request.app), calendar_file=shown)


def _window(request: Request) -> Window | HTTPResponse:
    try:
        days = int(request.args.get("days", "30"))
    except ValueError:
        return error(400, "bad_days", "days must be a whole number")
    if not 1 <= days <= MAX_DAYS:
        return error(400, "bad_days", f"days must be between 1 and {MAX_DAYS}")
    try:
        bucket = Bucket(request.args.get("bucket", "day" if days <= 62 else "week"))
    except ValueError:
        return error(400, "bad_bucket", "bucket must be day, week or month")
    return Window(now=utcnow(), days=days, bucket=bucket)


@bp.get("/dashboard")
@staff_required(*SUPERVISORS)
async def dashboard_page(request: Request) -> HTTPResponse:
    """The dashboard shell; the charts are drawn by /static/reports/dashboard.js from the JSON endpoint."""
    window = _window(request)
    if isinstance(window, HTTPResponse):
        return window
    try:
        refresh = int(request.args.get("refresh", str(REFRESH_SECONDS)))
    except ValueError:
        return error(400, "bad_refresh", "refresh must be a whole number of seconds")
    if not MIN_REFRESH <= refresh <= MAX_REFRESH:
        return error(400, "bad_refresh", f"refresh must be between {MIN_REFRESH} and {MAX_REFRESH} seconds")
    return render("reports/dashboard.html", days=window.days, bucket=window.bucket.value,
                  refresh_seconds=refresh, calendar_warnings=await _calendar_warnings(request))


@bp.get("/api/v1/dashboard")
@staff_required(*SUPERVISORS)
async def dashboard_json(request: Request) -> HTTPResponse:
    """Every dashboard figure for the last ``days`` days (default 30), bucketed by ``bucket``."""
    window = _window(request)
    if isinstance(window, HTTPResponse):
        return window
    db = core_services(request.app).db
    async with db.session() as session:
        data = await dashboard_data(session, window)
    data["report_reminders"] = [reminder_json(r) for r in await open_reminders(db)]
    data["calendar_warnings"] = [{"year": g.year, "reason": g.reason, "provisional": g.provisional,
                                  "message": g.message()}
                                 for g in await _calendar_warnings(request)]
    return json(data, headers={"Cache-Control": "no-store"})
