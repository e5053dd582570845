"""Conversation files for staff: view, retry, mark as identity document, and send one to the borrower.

Every route checks ``handoff.access`` (the transcript rule: whoever may read
the conversation may see its files) and writes an audit entry, the refusals
too. Identity documents (``Attachment.sensitive``) are served only to roles
that see full personal data (``access.sees_full_personal_data``); the others
see that a document exists, not the document.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, raw, redirect
from sanic.response import json as json_response

from attachments import service as attachments
from attachments.files import FileMissing
from attachments.models import Attachment, AttachmentStatus
from attachments.runtime import UploadRefused, attachments_of
from attachments.web import BodyTooLarge, read_upload
from desk.auth import StaffUser, error, staff_required
from desk.services import core_services
from handoff import access, actions
from handoff.audit import record
from handoff.models import Handoff, Role
from handoff.queue import latest_handoff
from handoff.transcripts import conversation_by_public_id
from storage.models import Conversation

log = logging.getLogger(__name__)
bp = Blueprint("handoff_files")
FRONT = (Role.AGENT.value, Role.SPECIALIST.value, Role.SUPERVISOR.value, Role.ADMIN.value)
FILE_OPENED = "attachment.opened"
FILE_DENIED = "attachment.denied"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def conversation_topic(public_id: str) -> str:
    """The console's per-conversation topic (``handoff.console.transcripts_topic``)."""
    return f"conversation:{public_id}"


async def _load(session: Any, attachment_id: int) -> tuple[Attachment, Conversation, Handoff | None] | None:
    row = await session.get(Attachment, attachment_id)
    if row is None:
        return None
    conversation = await session.get(Conversation, row.conversation_id)
    if conversation is None:
        return None
    return row, conversation, await latest_handoff(session, conversation.id)


def safe_filename(name: str | None, content_type: str) -> str:
    """A download name without path parts or header-breaking characters."""
    base = _SAFE_NAME.sub("_", (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(" .")[:80]
    if not base:
        base = "berkas"
    ext = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf"}[content_type]
    return base if base.lower().endswith(ext) else base + ext


@bp.get("/console/files/<attachment_id:int>")
@staff_required(*FRONT)
async def open_file(request: Request, attachment_id: int) -> HTTPResponse:
    """The file's bytes for staff who may read the conversation; every opening (and refusal) audited."""
    user: StaffUser = request.ctx.user
    services = core_services(request.app)
    async with services.db.transaction() as session:
        loaded = await _load(session, attachment_id)
        if loaded is None:
            return error(404, "not_found", "no such file")
        row, conversation, handoff = loaded
        if not access.can_read(user, handoff):
            await record(session, user.id, FILE_DENIED, "attachment", row.id, conversation=conversation.public_id,
                         why="transcript")
            return error(403, "forbidden", "you may not read this conversation")
        if row.sensitive and not access.sees_full_personal_data(user):
            await record(session, user.id, FILE_DENIED, "attachment", row.id, conversation=conversation.public_id,
                         why="sensitive")
            return error(403, "sensitive", "identity documents are shown only to specialists and supervisors")
        if row.status != AttachmentStatus.STORED.value or not row.storage_key or not row.content_type:
            return error(404, "not_retrieved", "the file was not retrieved")
        await record(session, user.id, FILE_OPENED, "attachment", row.id, conversation=conversation.public_id,
                     sensitive=row.sensitive)
        key, content_type, filename = row.storage_key, row.content_type, row.filename
    try:
        data = await attachments_of(request.app).files.get(key)
    except FileMissing:
        log.error("attachment %s is recorded as stored but missing from the file store", attachment_id)
        return error(404, "file_missing", "the stored file is missing")
    disposition = "inline" if content_type.startswith("image/") or request.args.get("download") is None \
        else "attachment"
    return raw(data, content_type=content_type, headers={
        "Content-Disposition": f'{disposition}; filename="{safe_filename(filename, content_type)}"',
        # Borrowers' documents: never kept by a shared cache or the browser's disk cache.
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


async def _change(request: Request, attachment_id: int, change: str) -> HTTPResponse:
    user: StaffUser = request.ctx.user
    services = core_services(request.app)
    async with services.db.transaction() as session:
        loaded = await _load(session, attachment_id)
        if loaded is None:
            return error(404, "not_found", "no such file")
        row, conversation, handoff = loaded
        if not access.can_read(user, handoff) or not (access.can_act(user, handoff) or access.supervises(user)):
            await record(session, user.id, FILE_DENIED, "attachment", row.id, conversation=conversation.public_id,
                         why=change)
            return error(403, "not_yours", "only the agent who holds this conversation or a supervisor")
        if change == "retry":
            if row.status != AttachmentStatus.FAILED.value:
                return error(409, "not_failed", "only a file that was not retrieved can be fetched again")
            await attachments.retry(session, row)
            await record(session, user.id, "attachment.retry", "attachment", row.id,
                         conversation=conversation.public_id)
        else:
            label = (request.form.get("label") or "").strip() or None
            try:
                await attachments.mark_sensitive(session, row, label=label, user_id=user.id)
            except ValueError as exc:
                return error(400, "bad_label", str(exc))
            await record(session, user.id, "attachment.labelled", "attachment", row.id,
                         conversation=conversation.public_id, label=label)
        public_id = conversation.public_id
    if change == "retry":
        attachments_of(request.app).worker.nudge()
    await _publish(request.app, public_id, attachment_id)
    if request.headers.get("x-requested-with") == "fetch":
        return json_response({"ok": True, "conversation_id": public_id})
    return redirect(f"/console/c/{public_id}")


@bp.post("/console/files/<attachment_id:int>/retry")
@staff_required(*FRONT)
async def retry_file(request: Request, attachment_id: int) -> HTTPResponse:
    """Fetch a not-retrieved file again."""
    return await _change(request, attachment_id, "retry")


@bp.post("/console/files/<attachment_id:int>/label")
@staff_required(*FRONT)
async def label_file(request: Request, attachment_id: int) -> HTTPResponse:
    """Mark a file as an identity document (``label`` = ktp | power_of_attorney | identity_other), or clear it."""
    return await _change(request, attachment_id, "label")


@bp.post("/console/c/<public_id:str>/file", stream=True)
@staff_required(*FRONT)
async def send_file(request: Request, public_id: str) -> HTTPResponse:
    """An agent sends an image or PDF (multipart ``file`` and optional ``text``; CSRF in the header).

    Streamed, so files up to ``ATTACHMENTS_MAX_BYTES`` pass the desk's 2 MB body
    limit; the form's CSRF token must come as ``X-CSRF-Token`` (the console's
    scripts send it), since the body is read after the staff middleware ran.
    """
    user: StaffUser = request.ctx.user
    services = core_services(request.app)
    runtime = attachments_of(request.app)
    try:
        await read_upload(request, runtime.settings.attachments_max_bytes)
    except BodyTooLarge:
        return error(413, "file_too_large", f"files may be at most {runtime.settings.attachments_max_bytes} bytes")
    upload = request.files.get("file") if request.files else None
    if upload is None or not upload.body:
        return error(400, "file_missing", "choose a file first")
    try:
        stored = await runtime.store_upload(bytes(upload.body))
    except UploadRefused as exc:
        return error(exc.status, exc.code, str(exc))
    caption = (request.form.get("text") if request.form else "") or ""
    try:
        async with services.db.transaction() as session:
            conversation = await conversation_by_public_id(session, public_id)
            if conversation is None:
                raise actions.ActionRefused("not_found", "no such conversation", 404)
            handoff = await latest_handoff(session, conversation.id)
            message = await actions.send_file(session, user, conversation, handoff, upload=stored,
                                              filename=upload.name, caption=caption)
    except actions.ActionRefused as exc:
        # Rolled back: the stored bytes belong to nothing, so they go too.
        await runtime.files.delete(stored.key)
        return error(exc.status, exc.code, str(exc))
    event = {"type": "message", "conversation_id": public_id, "seq": message.seq, "message_id": message.id,
             "author": "agent"}
    await services.events.publish(conversation_topic(public_id), event)
    if request.headers.get("x-requested-with") == "fetch":
        return json_response({"ok": True, "conversation_id": public_id})
    return redirect(f"/console/c/{public_id}")


async def _publish(app: Sanic, public_id: str, attachment_id: int) -> None:
    try:
        await core_services(app).events.publish(conversation_topic(public_id), {
            "type": "attachment", "conversation_id": public_id, "attachment_id": attachment_id})
    except Exception:  # noqa: BLE001 - committed; an open console can reload
        log.exception("attachment event publish failed")


def install(app: Sanic) -> None:
    """Register the file routes and tell open consoles when a file's fetch finished."""
    app.blueprint(bp)
    services = core_services(app)

    async def fetched(row: Attachment, outcome: str) -> None:
        if outcome == "retry":
            return
        async with services.db.session() as session:
            conversation = await session.get(Conversation, row.conversation_id)
        if conversation is not None:
            await _publish(app, conversation.public_id, row.id)

    attachments_of(app).worker.listeners.append(fetched)
