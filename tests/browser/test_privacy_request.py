"""In a real browser: a supervisor records a borrower's access request, verifies the identity,
downloads the export and closes the request within its 72 hours."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from handoff.models import AuditEntry
from privacy.models import RightsRequest
from tests.browser.conftest import login

pytestmark = pytest.mark.browser


async def test_supervisor_opens_exports_and_closes_a_rights_request_in_time(desk, browser, staff, shots,
                                                                          database) -> None:
    await staff("sri", "supervisor", "Sri Supervisor")
    page = await login(browser, desk.base_url, "sri")
    await page.goto("/console/privacy")
    await page.select_option("[data-testid=rights-kind]", "access")
    await page.fill("[data-testid=rights-name]", "Budi Santoso")
    await page.click("[data-testid=rights-record]")
    await page.locator("[data-testid=rights-number]").wait_for()
    number = (await page.locator("[data-testid=rights-number]").inner_text()).strip()
    assert "not verified" in await page.content()
    await shots(page, "request-recorded")

    await page.fill("[data-testid=verify-name]", "Budi Santoso")
    await page.fill("[data-testid=verify-phone]", "081234567890")
    await page.fill("[data-testid=verify-loan]", "PJ-2024-000123")
    await page.click("[data-testid=verify-submit]")
    await page.locator("[data-testid=export-json]").wait_for()
    await shots(page, "identity-verified")

    async with page.expect_download() as info:
        await page.click("[data-testid=export-json]")
    download = await info.value
    exported = json.loads(open(await download.path(), encoding="utf-8").read())
    assert exported["customer_id"] == "CUST-0001"
    assert exported["tables"]["rights_requests"][0]["number"] == number

    await page.fill("[data-testid=close-outcome]", "Salinan data dikirim ke e-mail terdaftar.")
    await page.click("[data-testid=close-submit]")
    await page.get_by_text("in time").wait_for()
    assert (await page.locator("[data-testid=rights-status]").inner_text()).strip() == "completed"
    await shots(page, "request-closed-in-time")

    async with database.session() as session:
        r = await session.scalar(select(RightsRequest).where(RightsRequest.number == number))
        assert r.answered_in_time is True and r.closed_at < r.due_at
        actions = [a.action for a in await session.scalars(
            select(AuditEntry).where(AuditEntry.object_id == number).order_by(AuditEntry.id))]
    assert actions.index("privacy.identity_verified") < actions.index("privacy.exported") \
        < actions.index("privacy.request_completed")
