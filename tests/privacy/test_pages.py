"""The console pages of the privacy part render and drive the same use cases as the API."""
from __future__ import annotations

from datetime import datetime

from tests.privacy.conftest import as_user
from tickets.calendar import WIB

FRIDAY = datetime(2026, 11, 20, 16, 30, tzinfo=WIB)


async def post_and_follow(app, path, headers, data):
    """POST a console form, check it redirects (POST, then redirect), and GET where it points."""
    _, res = await app.asgi_client.post(path, headers=headers, data=data)
    assert res.status == 302, res.text
    return await app.asgi_client.get(res.headers["location"], headers=headers)


async def test_supervisor_records_verifies_exports_and_closes_from_the_console(app, staff, clock) -> None:
    clock.at = FRIDAY
    sup = as_user(staff["supervisor"])
    _, res = await app.asgi_client.get("/console/privacy")
    assert res.status == 302 and res.headers["location"] == "/login"
    _, res = await post_and_follow(app, "/console/privacy", sup, {
        "kind": "access", "source": "phone", "requester_name": "Budi Santoso", "details": "lewat telepon"})
    assert res.status == 200, res.text
    assert "23-11-2026 16:30" in res.text and "not verified" in res.text
    number = res.url.path.rsplit("/", 1)[-1]
    _, res = await post_and_follow(app, f"/console/privacy/{number}/verify", sup, {
        "full_name": "Budi Santoso", "phone": "081234567890", "loan_id": "PJ-2024-000123"})
    assert res.status == 200 and "verified (lending_core)" in res.text
    _, res = await app.asgi_client.get(f"/console/privacy/{number}/export.html", headers=sup)
    assert res.status == 200 and "Salinan data pribadi" in res.text
    _, res = await post_and_follow(app, f"/console/privacy/{number}/close", sup, {
        "status": "completed", "outcome": "Data dikirim."})
    assert res.status == 200 and "in time" in res.text
    _, res = await app.asgi_client.get("/console/privacy", headers=sup)
    assert number in res.text


async def test_admin_breach_pages(app, staff, clock) -> None:
    clock.at = FRIDAY
    admin = as_user(staff["admin"])
    _, res = await app.asgi_client.get("/console/privacy/breaches", headers=as_user(staff["supervisor"]))
    assert res.status == 403
    _, res = await post_and_follow(app, "/console/privacy/breaches", admin, {
        "title": "Laptop hilang", "description": "Laptop petugas berisi ekspor hilang.",
        "data_classes": ["name", "phone"], "discovered_at": "2026-11-20T09:00", "customer_ids": "CUST-0001\nCUST-0002"})
    assert res.status == 200, res.text
    assert "23-11-2026 09:00" in res.text and res.text.count("Yth. Bapak/Ibu") == 2
    _, res = await app.asgi_client.get("/console/privacy/breaches", headers=admin)
    assert "Laptop hilang" in res.text
