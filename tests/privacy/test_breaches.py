"""The breach register: admins only, the 72-hour clock from discovery, a draft notice per borrower."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from handoff.models import AuditEntry
from privacy import scheduler
from privacy.context import privacy_context
from privacy.models import Breach, BreachAlert
from tests.privacy.conftest import as_user
from tickets.calendar import WIB
from tickets.models import Ticket

# Discovered on a Saturday evening: the clock runs through Sunday.
SATURDAY = datetime(2026, 11, 21, 19, 0, tzinfo=WIB)


async def test_breach_clock_notices_and_notification(app, database, staff, clock) -> None:
    clock.at = SATURDAY + timedelta(hours=1)
    admin = as_user(staff["admin"])
    async with database.transaction() as s:
        s.add(Ticket(number="DCI-9", category="payment", channel="whatsapp", customer_id="CUST-0001",
                     full_name="Budi Santoso", product="pinjaman_tunai", chronology="x"))
    body = {"title": "Ekspor transkrip terkirim ke alamat salah", "data_classes": ["name", "phone", "transcripts"],
            "description": "Satu berkas ekspor transkrip terkirim ke alamat e-mail mitra yang salah.",
            "remediation": "Berkas sudah dihapus oleh penerima dan akses ekspor dibatasi.",
            "discovered_at": SATURDAY.isoformat(), "occurred_at": (SATURDAY - timedelta(hours=3)).isoformat()}
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/breaches", headers=as_user(staff["supervisor"]),
                                        json=body)
    assert res.status == 403
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/breaches", headers=admin,
                                        json={**body, "data_classes": ["shoe_size"]})
    assert res.status == 422
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/breaches", headers=admin, json=body)
    assert res.status == 201, res.text
    number = res.json["number"]
    assert res.json["notify_due"] == "2026-11-24T19:00:00+07:00"  # 72 clock hours, weekend included

    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/breaches/{number}/subjects", headers=admin,
                                        json={"customer_ids": ["CUST-0001", "CUST-0002", "CUST-0001"]})
    assert res.json["subjects"] == 2

    _, res = await app.asgi_client.get(f"/api/v1/staff/privacy/breaches/{number}/notices", headers=admin)
    notices = {n["customer_id"]: n["text"] for n in res.json["notices"]}
    budi = notices["CUST-0001"]
    assert budi.startswith("Yth. Bapak/Ibu Budi Santoso,")
    assert "nama, nomor telepon, isi percakapan" in budi  # the data exposed (Pasal 46(2)(a))
    assert "alamat e-mail mitra yang salah" in budi and "21-11-2026 pukul 19.00 WIB" in budi  # when and how
    assert "akses ekspor dibatasi" in budi  # handling and recovery
    assert notices["CUST-0002"].startswith("Yth. Bapak/Ibu nasabah,")

    clock.at = SATURDAY + timedelta(hours=71)
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/breaches/{number}/notified", headers=admin, json={})
    assert res.json["status"] == "notified" and res.json["notified"] == 2
    async with database.session() as s:
        actions = [a.action for a in await s.scalars(select(AuditEntry).where(AuditEntry.object_id == number)
                                                     .order_by(AuditEntry.id))]
    assert actions == ["privacy.breach_recorded", "privacy.breach_subjects_added", "privacy.breach_notices_drafted",
                       "privacy.breach_notified"]


async def _record_breach(app, staff, discovered: datetime) -> str:
    body = {"title": "Laptop petugas hilang", "data_classes": ["name", "phone"],
            "description": "Laptop berisi ekspor transkrip hilang di kereta.", "discovered_at": discovered.isoformat()}
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/breaches", headers=as_user(staff["admin"]), json=body)
    assert res.status == 201, res.text
    return res.json["number"]


async def test_breach_clock_alerts_across_a_weekend_once_each(app, database, staff, clock, event_bus) -> None:
    # Discovered Friday 20:00 WIB: 72 clock hours end Monday 20:00, the alert comes 24 hours
    # before, on Sunday evening — not on a working day, as the complaint clocks would say.
    friday = datetime(2026, 11, 20, 20, 0, tzinfo=WIB)
    clock.at = friday
    number = await _record_breach(app, staff, friday)
    ctx = privacy_context(app)
    assert (await scheduler.tick(database, ctx, datetime(2026, 11, 22, 19, 59, tzinfo=WIB))).total == 0
    sunday = datetime(2026, 11, 22, 20, 1, tzinfo=WIB)
    assert (await scheduler.tick(database, ctx, sunday)).raised == {"breach_due_soon": 1}
    assert (await scheduler.tick(database, ctx, sunday)).total == 0  # once only
    monday = datetime(2026, 11, 23, 20, 1, tzinfo=WIB)
    assert (await scheduler.tick(database, ctx, monday)).raised == {"breach_overdue": 1}
    assert (await scheduler.tick(database, ctx, monday + timedelta(hours=5))).total == 0

    async with database.session() as s:
        breach = await s.scalar(select(Breach).where(Breach.number == number))
        keys = sorted(a.key for a in await s.scalars(select(BreachAlert).where(BreachAlert.breach_id == breach.id)))
        assert keys == ["breach_due_soon", "breach_overdue"]
        # Visible to supervisors and admins (the tickets part's rule), not to agents.
        assert [a.kind for a in await scheduler.alerts_for(s, staff["supervisor"])] == ["breach_overdue",
                                                                                    "breach_due_soon"]
        assert await scheduler.alerts_for(s, staff["admin"])
        assert not await scheduler.alerts_for(s, staff["agent"])

    # In the console: the supervisor's privacy page, the admin's breach register.
    _, res = await app.asgi_client.get("/console/privacy", headers=as_user(staff["supervisor"]))
    assert res.status == 200 and 'data-testid="breach-alert"' in res.text and number in res.text
    _, res = await app.asgi_client.get("/console/privacy", headers=as_user(staff["agent"]))
    assert 'data-testid="breach-alert"' not in res.text
    _, res = await app.asgi_client.get("/console/privacy/breaches", headers=as_user(staff["admin"]))
    assert 'data-kind="breach_overdue"' in res.text and f"/console/privacy/breaches/{number}" in res.text


async def test_no_breach_alert_once_everyone_is_notified(app, database, staff, clock) -> None:
    friday = datetime(2026, 11, 20, 20, 0, tzinfo=WIB)
    clock.at = friday
    number = await _record_breach(app, staff, friday)
    admin = as_user(staff["admin"])
    await app.asgi_client.post(f"/api/v1/staff/privacy/breaches/{number}/subjects", headers=admin,
                               json={"customer_ids": ["CUST-0001"]})
    clock.at = friday + timedelta(hours=30)
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/breaches/{number}/notified", headers=admin, json={})
    assert res.json["status"] == "notified"
    ctx = privacy_context(app)
    assert (await scheduler.tick(database, ctx, friday + timedelta(hours=60))).total == 0
    assert (await scheduler.tick(database, ctx, friday + timedelta(hours=80))).total == 0
