"""The dashboard in Debian's Chromium: charts are drawn as SVG and refresh without a reload."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from storage.base import utcnow
from storage.db import Database
from tests.channels.support import serve
from tests.reports.conftest import ticket

pytestmark = pytest.mark.browser


@pytest.fixture
async def page(browser: Any) -> Any:
    page = await browser.new_page(viewport={"width": 1300, "height": 1800})
    await page.set_extra_http_headers({"x-test-role": "supervisor"})
    return page


async def add_tickets(database: Database, count: int, **overrides: Any) -> None:
    now = utcnow()
    async with database.transaction() as session:
        session.add_all(ticket(received_at=now - timedelta(days=i % 9, hours=1), **overrides) for i in range(count))


async def test_dashboard_draws_charts_and_updates_itself(app: Sanic, database: Database, page: Any,
                                                         tmp_path: Path) -> None:
    await add_tickets(database, 6, category="relief", channel="inapp")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    async with serve(app) as url:
        await page.goto(url + "/dashboard?days=30&refresh=5")
        await page.wait_for_function("document.querySelector('[data-kpi=open]').textContent === '6'")
        assert await page.locator("[data-chart=volume_by_category] svg rect").count() >= 1
        assert await page.locator("[data-chart=open_by_age] svg rect").count() >= 1
        assert "Keringanan" in await page.locator("[data-chart=volume_by_category] .legend").inner_text()
        await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        await add_tickets(database, 3, category="fraud")
        await page.wait_for_function("document.querySelector('[data-kpi=open]').textContent === '9'",
                                     timeout=15_000)
        assert "Penipuan" in await page.locator("[data-chart=volume_by_category] .legend").inner_text()
    assert errors == []
