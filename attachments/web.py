"""The public, signed file route providers fetch agents' files from, and the part's install hook."""
from __future__ import annotations

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, raw

from attachments.files import FileMissing
from attachments.models import Attachment, AttachmentStatus
from attachments.runtime import Attachments, attachments_of
from attachments.signing import PATH_PREFIX, valid
from desk.auth import error
from desk.services import core_services

bp = Blueprint("attachments_public")


@bp.get(PATH_PREFIX + "/<attachment_id:int>/<expires:int>/<sig:str>")
async def signed_file(request: Request, attachment_id: int, expires: int, sig: str) -> HTTPResponse:
    """An agent's file by signed link: 404 for a bad or expired link and for anything a borrower sent."""
    services = core_services(request.app)
    runtime = attachments_of(request.app)
    if not valid(runtime.link_secret, attachment_id, expires, sig):
        return error(404, "not_found", "no such file")
    async with services.db.session() as session:
        row = await session.get(Attachment, attachment_id)
    if row is None or row.direction != "out" or row.status != AttachmentStatus.STORED.value or not row.storage_key:
        return error(404, "not_found", "no such file")
    try:
        data = await runtime.files.get(row.storage_key)
    except FileMissing:
        return error(404, "not_found", "no such file")
    return raw(data, content_type=row.content_type or "application/octet-stream",
               headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"})


def install(app: Sanic, runtime: Attachments, *, run_worker: bool = True) -> None:
    """Register the signed route and run the fetch worker with the server.

    ``run_worker=False`` leaves the worker stopped (tests drive ``run_once`` by hand).
    """
    app.ctx.attachments = runtime
    app.blueprint(bp)

    @app.after_server_start
    async def _start(app: Sanic) -> None:
        if run_worker:
            runtime.worker.start()

    @app.before_server_stop
    async def _stop(app: Sanic) -> None:
        await runtime.worker.stop()


# Multipart framing around one file and a few short fields.
MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(Exception):
    """The upload body is larger than the file limit allows."""


async def read_upload(request: Request, max_file_bytes: int) -> None:
    """Read a streamed multipart body into ``request.body`` (for ``request.files``/``form``), refusing
    more than ``max_file_bytes`` plus framing with ``BodyTooLarge`` as soon as it is exceeded.

    Upload routes are streamed so the desk's 2 MB body limit (desk.http_errors) does not
    apply to them; this is their limit instead.
    """
    limit = max_file_bytes + MULTIPART_OVERHEAD
    received = bytearray()
    while True:
        chunk = await request.stream.read() if request.stream is not None else None
        if chunk is None:
            break
        received += chunk
        if len(received) > limit:
            raise BodyTooLarge()
    request.body = bytes(received)
