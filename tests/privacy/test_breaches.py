"""The breach register: admins only, the 72-hour clock from discovery, a draft notice per borrower."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from handoff.models import AuditEntry
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
