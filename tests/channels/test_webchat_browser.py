"""The web-chat page in Debian's Chromium (Playwright): demo login, send, buttons, agent push, no duplicates."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from attachments.models import Attachment
from tests.attachments import samples
from tests.channels.conftest import GREETING_TEXT, NOTICE_TEXT, NOTICES_AT_FIRST_CONTACT, Desk
from tests.channels.test_inapp import agent_says

pytestmark = pytest.mark.browser


@pytest.fixture
async def page(browser: Any) -> Any:
    return await browser.new_page()


async def test_demo_borrower_chats_presses_a_button_and_receives_an_agent_message(desk: Desk, page: Any) -> None:
    await page.goto(desk.url + "/")
    await page.wait_for_selector("#demo-borrower option[value='CUST-0001']", state="attached")
    await page.select_option("#demo-borrower", "CUST-0001")
    await page.click("#demo-form button")
    await page.wait_for_function("document.getElementById('status').textContent === 'Tersambung'")

    await page.fill("#text", "halo min")
    await page.press("#text", "Enter")
    await page.wait_for_selector(f".msg.out:has-text('{GREETING_TEXT}')")
    assert await page.locator(".msg.in").count() == 1
    if NOTICE_TEXT:  # the lender file's privacy notice is shown first
        assert NOTICE_TEXT[:40] in await page.locator(".msg.out").first.inner_text()

    await page.click(".msg.out .buttons button:has-text('Buat pengaduan')")
    await page.wait_for_function(
        f"document.querySelectorAll('.msg.out').length === {2 + NOTICES_AT_FIRST_CONTACT}")
    assert desk.rasa.calls[-1]["message"] == "/complain_payment"
    assert desk.rasa.calls[-1]["metadata"]["customer_id"] == "CUST-0001"

    # The outbox now pushes the two bot replies the page already has: it must not show them again.
    await desk.deliver()
    await agent_says(desk, "CUST-0001", "Halo Kak Budi, saya Rina dari tim CS.")
    await desk.deliver()
    await page.wait_for_selector(".msg.agent:has-text('saya Rina')")
    await page.wait_for_timeout(300)
    assert await page.locator(".msg.out").count() == 3 + NOTICES_AT_FIRST_CONTACT
    assert await page.locator(f".msg.out:has-text('{GREETING_TEXT}')").count() == 2
    assert await page.locator(".msg.failed").count() == 0


async def test_borrower_attaches_a_photo_and_a_wrong_file_is_refused_in_indonesian(desk: Desk, page: Any,
                                                                                  tmp_path: Any) -> None:
    await page.goto(desk.url + "/")
    await page.wait_for_selector("#demo-borrower option[value='CUST-0001']", state="attached")
    await page.select_option("#demo-borrower", "CUST-0001")
    await page.click("#demo-form button")
    await page.wait_for_function("document.getElementById('status').textContent === 'Tersambung'")

    photo = tmp_path / "bukti.png"
    photo.write_bytes(samples.png())
    await page.set_input_files("#file", str(photo))
    await page.wait_for_selector(f".msg.out:has-text('{GREETING_TEXT}')")  # answered like any message
    assert await page.locator(".msg.in:has-text('bukti.png')").count() == 1
    async with desk.db.session() as session:
        [row] = await session.scalars(select(Attachment))
    assert row.source_ref.startswith("upload:") and row.channel == "inapp"

    script = tmp_path / "virus.pdf"
    script.write_bytes(samples.HTML)
    await page.set_input_files("#file", str(script))
    await page.wait_for_selector("#notice:has-text('hanya foto')")
    assert await page.locator(".msg.failed").count() == 1
