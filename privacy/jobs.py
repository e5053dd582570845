"""The daily privacy job: the retention schedule, then erasures whose holds have ended, then the files.

Run once per WIB day by the server's privacy loop (``privacy.scheduler``) and
on demand as ``aduan privacy-retention``. ``destroy_files`` also runs right
after an erasure or a lifted hold (``privacy.api``).
"""
from __future__ import annotations

import logging
from datetime import datetime

from attachments.service import destroy_erased
from privacy.context import PrivacyContext
from privacy.erasure import held_ids, release
from privacy.retention import RetentionReport, run_retention
from storage.db import Database

log = logging.getLogger(__name__)


async def destroy_files(db: Database, ctx: PrivacyContext) -> int:
    """Delete from the file store the files of every attachment anonymising marked erased (after commit).

    Without a file store (a context built without the attachments part) the
    files stay and the omission is logged: the rows remain marked and the
    next run with a store destroys them.
    """
    if ctx.files is None:
        log.warning("no file store configured: erased attachments' files are not destroyed yet")
        return 0
    return await destroy_erased(db, ctx.files)


async def daily(db: Database, ctx: PrivacyContext, now: datetime | None = None) -> RetentionReport:
    """Anonymise what the schedule says is due (skipping records under a supervisor's hold), release
    held erasures whose holds ended, then destroy the files of what was anonymised."""
    now = now or ctx.now()
    report = await run_retention(db, ctx.schedule(), now, held=held_ids)
    async with db.transaction() as session:
        report.add("erasure_released", await release(session, ctx, now))
    report.add("attachment_files", await destroy_files(db, ctx))
    return report
