"""The web-chat page at ``/``: the demo's borrower view and a page lender apps can open in a WebView.

Plain HTML and JavaScript, no build step. It talks only to the in-app API
(``connectors.inapp``); in demo mode it offers the sample borrowers and mints
their tokens, otherwise the app passes the token in the URL fragment
(``/#token=<JWT>``), which never reaches server logs.
"""
from __future__ import annotations

from pathlib import Path

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from desk.templating import render
from desk.services import core_services

STATIC_DIR = Path(__file__).resolve().parent / "static"

bp = Blueprint("webchat")
bp.static("/chat/static", str(STATIC_DIR), name="webchat_static")


@bp.get("/")
async def webchat_page(request: Request) -> HTTPResponse:
    """The borrower's chat page."""
    settings = core_services(request.app).settings
    return render("connectors/webchat.html", demo_mode=settings.demo_mode,
                  max_message_chars=settings.max_message_chars)
