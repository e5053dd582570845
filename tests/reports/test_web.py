"""Report pages, downloads, the dashboard and its JSON, through the app."""
from __future__ import annotations

import csv
import zipfile
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sanic import Sanic

from desk.handoff_request import BOT_FAILED, BOT_UNAVAILABLE
from handoff.models import Handoff, User
from storage.base import utcnow
from storage.db import Database
from storage.models import Conversation
from tests.reports.conftest import ticket

SUPERVISOR = {"x-test-role": "supervisor"}


@pytest.mark.parametrize("path", ["/dashboard", "/api/v1/dashboard", "/reports", "/reports/2026-10",
                                  "/reports/2026-10/xlsx", "/api/v1/reports/2026-10", "/api/v1/report-reminders"])
async def test_supervisor_pages_need_a_supervisor(app: Sanic, path: str) -> None:
    _, anonymous = await app.asgi_client.get(path)
    assert anonymous.status == 401 and anonymous.json["error"] == "login_required"
    _, agent = await app.asgi_client.get(path, headers={"x-test-role": "agent"})
    assert agent.status == 403 and agent.json["error"] == "forbidden"
    _, admin = await app.asgi_client.get(path, headers={"x-test-role": "admin"})
    assert admin.status == 200


@pytest.mark.parametrize("path", ["/reports/2026-13", "/reports/oktober/csv", "/api/v1/reports/26-Q1"])
async def test_bad_periods_get_a_clear_400(app: Sanic, path: str) -> None:
    _, response = await app.asgi_client.get(path, headers=SUPERVISOR)
    assert response.status == 400
    assert response.json["error"] == "bad_period" and "period" in response.json["message"]


async def test_unknown_download_format_is_404(app: Sanic) -> None:
    _, response = await app.asgi_client.get("/reports/2026-10/pdf", headers=SUPERVISOR)
    assert response.status == 404


async def seed_october(database: Database) -> None:
    from tests.reports.test_queries import october_tickets

    async with database.transaction() as session:
        session.add_all(october_tickets().values())


async def test_printable_page_and_downloads_agree(app: Sanic, database: Database) -> None:
    await seed_october(database)
    _, page = await app.asgi_client.get("/reports/2026-10", headers=SUPERVISOR)
    assert page.status == 200
    assert "Laporan Pengaduan Konsumen — Oktober 2026" in page.text
    assert "PT Dana Contoh Indonesia" in page.text and "13-11-2026" in page.text  # due date
    assert "Penipuan" in page.text and "@media print" in page.text

    _, xlsx = await app.asgi_client.get("/reports/2026-10/xlsx", headers=SUPERVISOR)
    assert xlsx.status == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    assert 'filename="laporan-pengaduan-2026-10.xlsx"' in xlsx.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(xlsx.body))["Laporan"].iter_rows(values_only=True))
    total = next(r for r in rows if r[0] == "Jumlah")
    assert total[1:6] == (4, 5, 3, 1, 5)

    _, csv_response = await app.asgi_client.get("/reports/2026-10/csv", headers=SUPERVISOR)
    assert csv_response.headers["content-type"] == "application/zip"
    assert 'filename="laporan-pengaduan-2026-10-csv.zip"' in csv_response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(csv_response.body))
    data = archive.read("laporan-pengaduan-2026-10/01-kategori.csv")
    assert data.startswith("\ufeff".encode())  # BOM: spreadsheet programs read UTF-8
    csv_rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert next(r for r in csv_rows if r and r[0] == "Jumlah")[1:6] == ["4", "5", "3", "1", "5"]


async def test_report_json(app: Sanic, database: Database) -> None:
    await seed_october(database)
    _, response = await app.asgi_client.get("/api/v1/reports/2026-10", headers=SUPERVISOR)
    body = response.json
    assert body["due_date"] == "2026-11-13" and body["label"] == "Oktober 2026"
    assert body["totals"]["received"] == 5 and body["totals"]["in_process"] == 5
    fraud = next(c for c in body["by_category"] if c["category"] == "fraud")
    assert fraud["label"] == "Penipuan" and fraud["negative_publicity"] == 1
    # The new dimensions: oral/written, source, policy, and resolution times of what closed.
    assert sum(f["received"] for f in body["by_form"]) == body["totals"]["received"]
    assert [s["source"] for s in body["by_source"]] == ["direct", "ojk_appk", "laps_sjk"]
    assert sum(p["received"] for p in body["by_policy"]) == body["totals"]["received"]
    times = body["resolution_times"]
    closed = body["totals"]["resolved"] + body["totals"]["not_resolved"]
    assert times["total"]["closed"] == closed == sum(c["closed"] for c in times["by_category"])
    assert sum(p["closed"] for p in times["by_product"]) == closed


async def test_dashboard_page_has_charts_and_polls(app: Sanic) -> None:
    _, page = await app.asgi_client.get("/dashboard?days=7", headers=SUPERVISOR)
    assert page.status == 200
    assert 'data-endpoint="/api/v1/dashboard?days=7&amp;bucket=day"' in page.text
    assert 'data-refresh="30"' in page.text and "/static/reports/dashboard.js" in page.text
    assert '<link rel="stylesheet" href="/static/aduan.css">' in page.text  # extends base.html
    _, script = await app.asgi_client.get("/static/reports/dashboard.js")
    assert script.status == 200 and "setTimeout(load, refresh)" in script.text
    _, charts = await app.asgi_client.get("/static/reports/charts.js")
    assert charts.status == 200 and "createElementNS" in charts.text


@pytest.mark.parametrize("query", ["days=0", "days=400", "days=abc", "bucket=hour"])
async def test_dashboard_rejects_bad_windows(app: Sanic, query: str) -> None:
    _, response = await app.asgi_client.get(f"/api/v1/dashboard?{query}", headers=SUPERVISOR)
    assert response.status == 400


async def test_dashboard_json_figures(app: Sanic, database: Database) -> None:
    now = utcnow()
    async with database.transaction() as session:
        agent = User(username="sari", display_name="Sari", password_hash="x", role="agent", available=True,
                     capacity=4)
        idle = User(username="budi", display_name="Budi", password_hash="x", role="agent")
        session.add_all([agent, idle])
        await session.flush()
        conv = Conversation(channel="whatsapp", sender="+6281200000001")
        session.add(conv)
        await session.flush()
        session.add_all([
            # Open, 3 days old, overdue on both clocks, assigned to Sari.
            ticket(received_at=now - timedelta(days=3), first_response_due=now - timedelta(days=1),
                   resolution_due=now - timedelta(hours=1), assignee_id=agent.id, category="fraud"),
            # Open, fresh, answered.
            ticket(received_at=now - timedelta(hours=5), first_responded_at=now - timedelta(hours=4),
                   channel="telegram", assignee_id=agent.id),
            # Open, 30 days old.
            ticket(received_at=now - timedelta(days=30), first_responded_at=now - timedelta(days=29),
                   resolution_due=now + timedelta(days=1)),
            # Resolved in 2 days, answered after 2 hours, on time.
            ticket(received_at=now - timedelta(days=4), first_responded_at=now - timedelta(days=4) + timedelta(hours=2),
                   status="resolved", closed_at=now - timedelta(days=2)),
            # Rejected late.
            ticket(received_at=now - timedelta(days=10), first_responded_at=now - timedelta(days=10) + timedelta(hours=6),
                   resolution_due=now - timedelta(days=6), status="rejected", closed_at=now - timedelta(days=5)),
        ])
        session.add_all([
            Handoff(conversation_id=conv.id, reason="request_human", status="assigned", assigned_to=agent.id),
            Handoff(conversation_id=conv.id, reason="fraud", status="closed", closed_at=now - timedelta(days=1),
                    rating=5),
            Handoff(conversation_id=conv.id, reason="fraud", status="closed", closed_at=now - timedelta(days=1),
                    rating=2),
            Handoff(conversation_id=conv.id, reason="fraud", status="closed", closed_at=now - timedelta(days=90),
                    rating=1),  # outside the window
        ])
    _, response = await app.asgi_client.get("/api/v1/dashboard?days=30", headers=SUPERVISOR)
    assert response.status == 200
    data = response.json
    sla = data["sla"]
    assert sla["open"] == 3
    assert sla["resolution_overdue"] == 1 and sla["first_response_overdue"] == 1
    assert (sum(sla["met"]), sum(sla["breached"])) == (1, 1) and sla["compliance_rate"] == 0.5
    assert sla["overdue_by_category"] == [{"key": "fraud", "label": "Penipuan", "count": 1}]
    assert [b["count"] for b in data["open_by_age"]] == [1, 1, 0, 0, 1]
    category = {s["key"]: sum(s["values"]) for s in data["volume_by_category"]["series"]}
    assert category == {"fraud": 1, "payment": 3}  # the 30-day-old ticket is just outside
    assert len(data["volume_by_category"]["buckets"]) == 31  # every WIB day of the window, quiet ones as 0
    assert len(data["sla"]["met"]) == len(data["response_times"]["first_response_hours"]) == 31
    channel = {s["key"]: sum(s["values"]) for s in data["volume_by_channel"]["series"]}
    assert channel == {"telegram": 1, "whatsapp": 3}
    assert {s["label"] for s in data["volume_by_channel"]["series"]} == {"Telegram", "WhatsApp"}
    times = data["response_times"]
    firsts = [v for v in times["first_response_hours"] if v is not None]
    assert sorted(firsts) == [1.0, 2.0, 6.0]
    assert sorted(v for v in times["resolution_hours"] if v is not None) == [48.0, 120.0]
    assert data["csat"]["responses"] == 2 and data["csat"]["average"] == 3.5
    assert [d["count"] for d in data["csat"]["distribution"]] == [0, 1, 0, 0, 1]
    load = {a["name"]: a for a in data["agent_load"]}
    assert (load["Sari"]["open_tickets"], load["Sari"]["live_chats"], load["Sari"]["capacity"]) == (2, 1, 4)
    assert (load["Budi"]["open_tickets"], load["Budi"]["live_chats"]) == (0, 0)
    assert data["report_reminders"] == []


async def test_dashboard_counts_bot_failures_in_the_window(app: Sanic, database: Database) -> None:
    now = utcnow()
    async with database.transaction() as session:
        conv = Conversation(channel="telegram", sender="4242")
        session.add(conv)
        await session.flush()
        session.add_all([
            Handoff(conversation_id=conv.id, reason=BOT_FAILED, status="closed", requested_at=now - timedelta(days=1)),
            Handoff(conversation_id=conv.id, reason=BOT_FAILED, status="closed", requested_at=now - timedelta(days=6)),
            Handoff(conversation_id=conv.id, reason=BOT_UNAVAILABLE, status="waiting",
                    requested_at=now - timedelta(hours=2)),
            # Outside the 7-day window, and a handoff the borrower asked for: neither counts.
            Handoff(conversation_id=conv.id, reason=BOT_FAILED, status="closed", requested_at=now - timedelta(days=9)),
            Handoff(conversation_id=conv.id, reason="request_human", status="closed",
                    requested_at=now - timedelta(days=1)),
        ])
    _, response = await app.asgi_client.get("/api/v1/dashboard?days=7", headers=SUPERVISOR)
    assert response.status == 200
    assert response.json["bot_failures"] == {"total": 3, "by_reason": {BOT_FAILED: 2, BOT_UNAVAILABLE: 1}}
    _, page = await app.asgi_client.get("/dashboard?days=7", headers=SUPERVISOR)
    assert 'data-kpi="bot_failures"' in page.text
    _, script = await app.asgi_client.get("/static/reports/dashboard.js")
    assert 'kpi("bot_failures", data.bot_failures.total)' in script.text
