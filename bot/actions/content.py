"""Per-lender content (products, FAQ answers, office hours, CS contacts).

Read from ``LENDER_CONTENT`` or, by default, the repository's
``lender/demo.yml`` (resolved relative to ``bot/``). Customer-facing text
lives in that file, never in code.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

BOT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONTENT = BOT_DIR.parent / "lender" / "demo.yml"

# The desk's tickets package owns the category list (codes counted in the
# reports to OJK); the bot reads the same file so the two never drift.
DEFAULT_CATEGORIES = BOT_DIR.parent / "tickets" / "categories.yml"


def _load_category_labels() -> Dict[str, str]:
    path = Path(os.environ.get("COMPLAINT_CATEGORIES") or DEFAULT_CATEGORIES)
    with open(path, encoding="utf-8") as fh:
        return {str(k): str(v) for k, v in (yaml.safe_load(fh) or {}).items()}


CATEGORY_LABELS: Dict[str, str] = _load_category_labels()


def content_path() -> Path:
    """Path of the lender content file in use."""
    return Path(os.environ.get("LENDER_CONTENT") or DEFAULT_CONTENT)


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def load_content() -> Dict[str, Any]:
    """Return the parsed content; re-read when the file changes."""
    path = content_path()
    return _load(str(path), path.stat().st_mtime)


def faq(key: str, product_code: Optional[str] = None) -> Optional[str]:
    """FAQ answer text for ``key``; per-product text wins when present."""
    entry = (load_content().get("faq") or {}).get(key)
    if isinstance(entry, dict):
        if product_code and product_code in (entry.get("by_product") or {}):
            return entry["by_product"][product_code]
        return entry.get("text")
    return entry


def products() -> List[Dict[str, Any]]:
    """The lender's products with code, name and synonyms."""
    return list(load_content().get("products") or [])


def product_name(code: Optional[str]) -> str:
    """The display name of a product code ("pinjaman_tunai" → "Pinjaman Tunai"); the code if unknown."""
    for product in products():
        if product.get("code") == code:
            return str(product.get("name") or code)
    return str(code or "-")


def match_product(text: str) -> Optional[Dict[str, Any]]:
    """Find the product named in ``text`` by code, name or synonym."""
    if not text:
        return None
    low = re.sub(r"[\s_]+", " ", text.lower()).strip()
    best: Optional[Dict[str, Any]] = None
    best_len = 0
    for product in products():
        names = [product.get("code", "").replace("_", " "), product.get("name", "")]
        names += product.get("synonyms") or []
        for name in names:
            name_low = name.lower().strip()
            if name_low and re.search(rf"\b{re.escape(name_low)}\b", low) and len(name_low) > best_len:
                best, best_len = product, len(name_low)
    return best


def ticket_prefix() -> str:
    """The lender's ticket number prefix (``lender.ticket_prefix``, as the desk issues numbers)."""
    return str((load_content().get("lender") or {}).get("ticket_prefix") or "ADU").strip().upper()


def cs_contacts() -> Dict[str, str]:
    """CS contacts (whatsapp, email, phone, address)."""
    return dict(load_content().get("cs_contacts") or {})


def lender_brand() -> str:
    """The lender's brand name for greetings."""
    lender = load_content().get("lender") or {}
    return lender.get("brand") or lender.get("name") or ""


DAY_NAMES = {"mon": "Senin", "tue": "Selasa", "wed": "Rabu", "thu": "Kamis",
             "fri": "Jumat", "sat": "Sabtu", "sun": "Minggu"}
CHANNEL_NAMES = {"default": "Telepon & e-mail", "whatsapp": "WhatsApp",
                 "telegram": "Telegram", "inapp": "Chat di aplikasi"}


def _days_text(days: List[str]) -> str:
    order = list(DAY_NAMES)
    idx = sorted(order.index(d) for d in days if d in DAY_NAMES)
    if idx and idx == list(range(idx[0], idx[-1] + 1)) and len(idx) > 2:
        if len(idx) == 7:
            return "Setiap hari"
        return f"{DAY_NAMES[order[idx[0]]]}–{DAY_NAMES[order[idx[-1]]]}"
    return ", ".join(DAY_NAMES[order[i]] for i in idx)


def office_hours_text() -> str:
    """Office hours per channel as Indonesian bullet lines, from the content file."""
    lines = []
    for channel, spec in (load_content().get("office_hours") or {}).items():
        label = CHANNEL_NAMES.get(channel, channel)
        holiday = " (libur nasional tutup)" if spec.get("closed_on_holidays") else ""
        lines.append(f"• {label}: {_days_text(spec.get('days') or [])}, "
                     f"{spec.get('open')}–{spec.get('close')} WIB{holiday}")
    return "\n".join(lines)


def contacts_text() -> str:
    """How to reach CS, one line per contact."""
    c = cs_contacts()
    parts = []
    if c.get("whatsapp"):
        parts.append(f"WhatsApp {c['whatsapp']}")
    if c.get("phone"):
        parts.append(f"telepon {c['phone']}")
    if c.get("email"):
        parts.append(f"e-mail {c['email']}")
    return ", ".join(parts)


def prompt(key: str) -> str:
    """A prompt text from the content file's ``prompts`` section."""
    return str((load_content().get("prompts") or {}).get(key) or "")


def dispute_next_step() -> str:
    """Where a borrower who does not agree can go next (``disputes.next_step``: LAPS SJK, OJK's portal)."""
    return str((load_content().get("disputes") or {}).get("next_step") or "").strip()
