"""The daily privacy job: the retention schedule, then erasures whose holds have ended.

Run once per WIB day by the server's privacy loop (``privacy.scheduler``) and
on demand as ``aduan privacy-retention``.
"""
from __future__ import annotations

from datetime import datetime

from privacy.context import PrivacyContext
from privacy.erasure import held_ids, release
from privacy.retention import RetentionReport, run_retention
from storage.db import Database


async def daily(db: Database, ctx: PrivacyContext, now: datetime | None = None) -> RetentionReport:
    """Anonymise what the schedule says is due (skipping records under a supervisor's hold), then release."""
    now = now or ctx.now()
    report = await run_retention(db, ctx.schedule(), now, held=held_ids)
    async with db.transaction() as session:
        report.add("erasure_released", await release(session, ctx, now))
    return report
