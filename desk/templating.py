"""Server-rendered pages: one Jinja environment over every part's templates folder.

Each part keeps its pages in ``<part>/templates/<part>/…`` and extends
``base.html`` from ``desk/templates``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic.response import HTTPResponse, html

from desk.config import REPO_ROOT

_PARTS = ("desk", "handoff", "tickets", "reports", "connectors", "privacy")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared Jinja environment (autoescaping on: transcripts are borrower input)."""
    dirs = [REPO_ROOT / part / "templates" for part in _PARTS if (REPO_ROOT / part / "templates").is_dir()]
    return Environment(loader=FileSystemLoader([str(d) for d in dirs]),
                       autoescape=select_autoescape(["html"]), enable_async=False)


def render(template: str, *, status: int = 200, **context: Any) -> HTTPResponse:
    """Render ``template`` with ``context`` into an HTML response."""
    return html(environment().get_template(template).render(**context), status=status)


def render_text(template: str, **context: Any) -> str:
    """Render ``template`` to a string (a page saved as a file, e.g. an export)."""
    return environment().get_template(template).render(**context)


def static_dir() -> Path:
    """The folder served at /static."""
    return REPO_ROOT / "desk" / "static"
