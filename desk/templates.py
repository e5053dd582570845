"""The lender's approved WhatsApp templates (Twilio Content API), read from the lender content file.

WhatsApp lets a business write free text to a borrower only inside the
customer-care window (24 hours since the borrower's last message). Outside it,
only a template Meta approved may be sent: at Twilio, a *content SID*
(``HX…``) and its numbered variables (``{{1}}``, ``{{2}}``).

Every message the desk sends on its own names the template it would need
(``OutboundMessage.template``: a key and named variables); the lender file's
``whatsapp_templates:`` section maps each key to its content SID and says
which named variable fills which number. The outbox resolves the key at send
time (``desk.window.choose_form``), so a deployment that registers a new
template only edits its lender file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

# The messages the desk sends without a borrower's message to answer: each may fall outside the window.
TEMPLATE_KEYS = ("receipt", "status_update", "extension_notice", "resolution", "rejection",
                 "rating_request", "agent_replied")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# WhatsApp refuses template variables with newlines, tabs or more than four spaces in a row,
# and a body over 1024 characters; variables are cut well below that.
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
MAX_VARIABLE_CHARS = 600


class TemplateConfigError(ValueError):
    """The lender file's ``whatsapp_templates`` section is not usable (raised at start-up)."""


@dataclass(frozen=True, slots=True)
class ContentTemplate:
    """One approved template: its content SID, what fills ``{{1}}…{{n}}``, and how staff see it."""

    key: str
    content_sid: str
    variables: tuple[str, ...]
    """Named variables in placeholder order: ``variables[0]`` fills ``{{1}}``."""
    label: str
    text: str
    """The approved body with ``{{n}}`` placeholders (shown to staff, stored in the transcript)."""
    agent_may_use: bool = False

    def content_variables(self, values: dict[str, str]) -> dict[str, str]:
        """``{"1": …, "2": …}`` for ``ContentVariables``; raises ``KeyError`` naming a missing variable."""
        return {str(i): clean_variable(values[name]) for i, name in enumerate(self.variables, start=1)}

    def render(self, values: dict[str, str]) -> str:
        """The body as the borrower reads it (placeholders filled; unknown ones left as they are)."""
        filled = self.content_variables({k: values.get(k, "") for k in self.variables})
        return _PLACEHOLDER.sub(lambda m: filled.get(m.group(1), m.group(0)), self.text)


@dataclass(frozen=True, slots=True)
class TemplateBook:
    """The templates of one lender, by key."""

    templates: dict[str, ContentTemplate]

    def get(self, key: str | None) -> ContentTemplate | None:
        """The template registered for ``key``, or None."""
        return self.templates.get(key) if key else None

    def for_agents(self) -> list[ContentTemplate]:
        """The templates an agent may send by hand from the console, in file order."""
        return [t for t in self.templates.values() if t.agent_may_use]


def clean_variable(value: str) -> str:
    """A value WhatsApp accepts in a template variable: one line, no runs of spaces, not empty, cut."""
    flat = _SPACES.sub(" ", str(value)).strip()
    if len(flat) > MAX_VARIABLE_CHARS:
        flat = flat[:MAX_VARIABLE_CHARS - 1].rstrip() + "…"
    return flat or "-"


def parse_templates(raw: dict[str, Any] | None) -> TemplateBook:
    """Build the book from the parsed ``whatsapp_templates`` section; ``TemplateConfigError`` when wrong."""
    templates: dict[str, ContentTemplate] = {}
    for key, spec in (raw or {}).items():
        if key not in TEMPLATE_KEYS:
            raise TemplateConfigError(f"whatsapp_templates.{key}: unknown key (one of {', '.join(TEMPLATE_KEYS)})")
        if not isinstance(spec, dict):
            raise TemplateConfigError(f"whatsapp_templates.{key}: expected a mapping")
        sid = str(spec.get("content_sid") or "")
        if not _CONTENT_SID.match(sid):
            raise TemplateConfigError(f"whatsapp_templates.{key}.content_sid: expected HX followed by 32 hex digits")
        variables = tuple(str(v) for v in (spec.get("variables") or ()))
        text = str(spec.get("text") or "")
        numbers = sorted({int(n) for n in _PLACEHOLDER.findall(text)})
        if numbers != list(range(1, len(variables) + 1)):
            raise TemplateConfigError(f"whatsapp_templates.{key}: text has placeholders {numbers} "
                                      f"but {len(variables)} variable(s) are named")
        templates[key] = ContentTemplate(key=key, content_sid=sid, variables=variables,
                                         label=str(spec.get("label") or key), text=text,
                                         agent_may_use=bool(spec.get("agent_may_use", False)))
    return TemplateBook(templates)


@lru_cache(maxsize=8)
def load_templates(path: Path) -> TemplateBook:
    """Read the ``whatsapp_templates`` section of a lender content file (cached per path)."""
    with Path(path).open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return parse_templates(raw.get("whatsapp_templates"))
