"""A tiny stand-in for the desk API, for trying the bot by hand (loopback only).

    .venv/bin/python scripts/fake_desk.py --port 8765
    DESK_API_URL=http://127.0.0.1:8765 make bot-run

Verification succeeds for name "Budi Santoso", phone +6281234567890 and loan
LN-1234567; tickets get numbers DCI-<date>-0001…; office hours are "closed".
"""
from __future__ import annotations

import argparse
import datetime as dt

from aiohttp import web

TICKETS: dict = {}
KEYS: dict = {}


async def verify(request: web.Request) -> web.Response:
    body = await request.json()
    ok = (body.get("full_name", "").lower() == "budi santoso" and body.get("phone") == "+6281234567890"
          and body.get("loan_id") == "LN-1234567")
    return web.json_response({"verified": True, "customer_id": "C-1"} if ok else {"verified": False})


async def account(request: web.Request) -> web.Response:
    return web.json_response({"customer_id": request.match_info["cid"], "full_name": "Budi Santoso", "sample": True,
                              "loans": [{"loan_id": "LN-1234567", "product": "PayLater", "status": "active",
                                         "bill_amount": 1250000, "due_date": "2024-03-25", "late_fee": 0,
                                         "outstanding": 2500000}],
                              "applications": []})


async def create_ticket(request: web.Request) -> web.Response:
    key = request.headers.get("Idempotency-Key", "")
    if key in KEYS:
        return web.json_response(TICKETS[KEYS[key]], status=201)
    number = f"DCI-{dt.date.today():%Y%m%d}-{len(TICKETS) + 1:04d}"
    ticket = {"ticket_number": number, "status": "received", "received_at": dt.datetime.now().isoformat(),
              "first_response_due": None, "resolution_due": None, "cs_contact": "1500-000",
              "receipt_text": f"Tanda bukti terima: aduan Anda tercatat dengan nomor {number}."}
    TICKETS[number] = ticket
    KEYS[key] = number
    return web.json_response(ticket, status=201)


async def get_ticket(request: web.Request) -> web.Response:
    ticket = TICKETS.get(request.match_info["number"])
    if not ticket:
        return web.json_response({"error": "not_found", "message": "no such ticket"}, status=404)
    return web.json_response({**ticket, "status_label": "Diterima", "category": "payment", "last_update": None})


async def office_hours(request: web.Request) -> web.Response:
    return web.json_response({"open": False, "next_open_at": "2030-01-07T09:00:00+07:00", "hours_text": "-"})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    app = web.Application()
    app.add_routes([web.post("/api/v1/customers/verify", verify),
                    web.get("/api/v1/customers/{cid}/account", account),
                    web.post("/api/v1/tickets", create_ticket),
                    web.get("/api/v1/tickets/{number}", get_ticket),
                    web.get("/api/v1/office-hours", office_hours)])
    web.run_app(app, host="127.0.0.1", port=ap.parse_args().port)


if __name__ == "__main__":
    main()
