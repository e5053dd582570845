"""Phone numbers and other identifiers at rest: a keyed hash to find them, a ciphertext to read them.

UU 27/2022 asks for "least exposure": a copy of the database (a dump, a
backup, a replica read by the wrong person) must not reveal who the borrowers
are. So a column that used to hold a phone number in clear holds two values:

* ``…_key`` — HMAC-SHA256 of the *normalised* value (``lookup_key``). Equal
  values give equal keys, so look-ups, uniqueness and joins still work with one
  HMAC per look-up; without the key the hash cannot be reversed (a phone number
  has too few digits to hide behind a plain hash: anyone could hash all of them).
* ``…_enc`` — AES-256-GCM of the value (``encrypt``), prefixed with the id of
  the key that sealed it, for the places that must show or use the clear value
  (sending a reply, a supervisor's full view, the borrower's own export).

One ``Keyring`` holds every key the deployment knows; the first is current: it
seals new values and makes every look-up key. Older keys only open old
ciphertexts until ``aduan pii-rekey`` has moved everything to the current one
(docs/privacy.md, "Keys and rotation"). Each key is 32 random bytes; two
sub-keys are derived from it, one per purpose, so the hash key is never the
encryption key.

Where the keys come from (``load_keyring``): ``PII_KEYS`` (``id=base64,…``),
or a file named by ``PII_KEY_FILE`` (one ``id=base64`` a line). In demo mode,
with neither set, a development key file is created once under ``var/`` —
never in a log, never in git (``var/`` is ignored). Outside demo mode a missing
key stops the desk at start-up.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from desk.config import Settings
from desk.masking import mask_text
from desk.phone import InvalidPhone, normalise_phone

KEY_BYTES = 32
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
# Separates the key id from the sealed bytes; not in the base64url alphabet.
_SEP = "$"
DEV_KEY_FILE = Path(__file__).resolve().parent.parent / "var" / "pii-keys"

# Look-up kinds: one per kind of identifier, so equal digits of two kinds never share a key.
PHONE = "phone"
# The encryption kind of a message text that carried identifiers (``seal_text``).
MESSAGE = "message"
# A rights requester's contact (phone, e-mail or postal address; ``seal_value``).
CONTACT = "contact"
# Cheap first look (one regex pass): could the text hold what ``mask_text`` masks? A phone number has
# at least 9 digits, NIK 16, both with at most two separators between digits; e-mail has "@".
# Two passes, cheapest first: most chat lines have no digit at all (4k instructions against 12k).
_DIGIT_OR_AT = re.compile(r"[\d@]")
_MAYBE_IDENTIFIER = re.compile(r"\d(?:[\s.()-]{0,2}\d){7}|@")


class PiiKeyError(Exception):
    """The keys cannot do what was asked: none configured, an unknown key id, or a key that does not
    open a ciphertext (wrong key material, or the value was altered). The message names the key id,
    never a value."""


@dataclass(frozen=True)
class _Key:
    key_id: str
    aead: AESGCM
    mac_inner: Any  # hashlib sha256 states after K^ipad and K^opad (RFC 2104), copied per use
    mac_outer: Any

    def hmac_hex(self, message: bytes) -> str:
        """HMAC-SHA256 (RFC 2104) from the precomputed pad states: half the instructions of
        ``hmac.digest``, which sets OpenSSL's HMAC up again on every call (once per inbound message)."""
        inner = self.mac_inner.copy()
        inner.update(message)
        outer = self.mac_outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def _pads(key: bytes) -> tuple[Any, Any]:
    block = key.ljust(hashlib.sha256().block_size, b"\0")  # a 32-byte key is shorter than the block
    return (hashlib.sha256(bytes(b ^ 0x36 for b in block)), hashlib.sha256(bytes(b ^ 0x5C for b in block)))


def _derive(material: bytes, purpose: bytes) -> bytes:
    return hmac.new(material, b"aduan-pii/" + purpose, hashlib.sha256).digest()


class Keyring:
    """The deployment's PII keys, current first. Thread-safe (no mutable state)."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        """``keys``: ``(key id, 32 random bytes)`` pairs, the current one first.

        Raises ``PiiKeyError`` for no key, a malformed id, a key of the wrong
        length, or an id given twice.
        """
        if not keys:
            raise PiiKeyError("no PII key configured (PII_KEYS or PII_KEY_FILE)")
        by_id: dict[str, _Key] = {}
        for key_id, material in keys:
            if not _KEY_ID.match(key_id):
                raise PiiKeyError(f"PII key id {key_id!r}: use 1-16 letters, digits, '-' or '_'")
            if len(material) != KEY_BYTES:
                raise PiiKeyError(f"PII key {key_id}: {len(material)} bytes, expected {KEY_BYTES}")
            if key_id in by_id:
                raise PiiKeyError(f"PII key {key_id} is given twice")
            by_id[key_id] = _Key(key_id, AESGCM(_derive(material, b"aes-gcm")),
                                 *_pads(_derive(material, b"lookup-hmac")))
        self._keys = by_id
        self.current_id = keys[0][0]
        self._current = by_id[self.current_id]

    @property
    def key_ids(self) -> list[str]:
        """Every configured key id, current first."""
        return list(self._keys)

    def lookup_key(self, kind: str, normalised: str) -> str:
        """HMAC-SHA256 (hex) of ``kind:normalised`` under the current key. Normalise first: one spelling,
        one key (``phone_key`` does it for phone numbers)."""
        return self._current.hmac_hex(f"{kind}:{normalised}".encode())

    def encrypt(self, kind: str, value: str) -> str:
        """Seal ``value`` with the current key: ``<key id>$<base64url(nonce ‖ ciphertext ‖ tag)>``.

        ``kind`` is bound as associated data: a ciphertext copied into a column
        of another kind does not open."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, value.encode(), kind.encode())
        return self.current_id + _SEP + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def decrypt(self, kind: str, token: str) -> str:
        """Open a value sealed by ``encrypt`` under any configured key.

        Raises ``PiiKeyError`` when its key id is not configured or the key
        does not open it (wrong key material, altered value, other ``kind``).
        """
        key_id, sep, body = token.partition(_SEP)
        if not sep:
            raise PiiKeyError("not an encrypted value (no key id)")
        key = self._keys.get(key_id)
        if key is None:
            raise PiiKeyError(f"value sealed with PII key {key_id}, which is not configured "
                              f"(configured: {', '.join(self._keys)})")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return key.aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], kind.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise PiiKeyError(f"PII key {key_id} does not open this value: wrong key material for {key_id}, "
                              "or the value was altered") from exc

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is sealed with the current key (``aduan pii-rekey`` skips those)."""
        return token.startswith(self.current_id + _SEP)


def key_id_of(token: str) -> str:
    """The id of the key that sealed ``token``."""
    return token.partition(_SEP)[0]


def phone_key(ring: Keyring, phone: str) -> str:
    """The look-up key of a phone number in any spelling (08…, +62…, 62…, spaces, dashes).

    Text that is no Indonesian number is keyed as written (stripped): it still
    matches itself, never a real number."""
    try:
        normalised = normalise_phone(phone)
    except InvalidPhone:
        normalised = phone.strip()
    return ring.lookup_key(PHONE, normalised)


def sender_kind(channel: str) -> str:
    """The look-up and encryption kind of a conversation's channel address.

    A WhatsApp address is a phone number, so its key equals ``phone_key`` of the
    same number: a conversation and a ticket of one borrower match by key."""
    return PHONE if channel == "whatsapp" else f"sender:{channel}"


def sender_key(ring: Keyring, channel: str, sender: str) -> str:
    """The look-up key of ``sender`` on ``channel`` (connectors hand senders over already normalised)."""
    if channel == "whatsapp":
        return phone_key(ring, sender)
    return ring.lookup_key(sender_kind(channel), sender)


def _may_hold_identifier(text: str) -> bool:
    """Cheap first look: False when ``mask_text`` certainly finds nothing to mask in ``text``."""
    return bool(text) and _DIGIT_OR_AT.search(text) is not None and _MAYBE_IDENTIFIER.search(text) is not None


def seal_text(text: str, kind: str = MESSAGE) -> tuple[str, str | None]:
    """What to store of a free text (a message, a chronology, a note): ``(text, None)`` when it holds no
    phone number, NIK or e-mail address, else ``(masked text, sealed original)``. The masked text is
    what agents see and what search finds; ``open_text`` gives the original back to those who may
    read it. ``kind`` names the column (bound to the ciphertext): messages use ``MESSAGE``."""
    # Inline, not ``_may_hold_identifier``: this runs for every message, and a call costs.
    if not text or _DIGIT_OR_AT.search(text) is None or _MAYBE_IDENTIFIER.search(text) is None:
        return text, None
    masked = mask_text(text)
    if masked == text:
        return text, None
    return masked, keyring().encrypt(kind, text)


def _masked_leaves(value: Any) -> Any:
    """``value`` (JSON) with ``mask_text`` applied to every string inside it; keys are kept."""
    if isinstance(value, str):
        return mask_text(value) if _may_hold_identifier(value) else value
    if isinstance(value, dict):
        return {k: _masked_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_leaves(v) for v in value]
    return value


def seal_json(data: Any, kind: str) -> tuple[Any, str | None]:
    """``seal_text`` for a JSON value (a handoff summary, a ticket history entry): ``(data, None)`` when
    no string in it holds an identifier, else ``(data with those strings masked, the whole original
    sealed as JSON)``. Keys, numbers and strings without identifiers stay as they are, so code that
    reads a ticket number or a kind from the stored value needs no key."""
    if not data:
        return data, None
    masked = _masked_leaves(data)
    if masked == data:
        return data, None
    return masked, keyring().encrypt(kind, json.dumps(data, ensure_ascii=False))


def seal_value(kind: str, value: str) -> tuple[str, str]:
    """A free-form identifier (a requester's phone, e-mail or postal address) stored whole sealed:
    ``(what may be shown masked, ciphertext)``. The shown part is the masked value when masking hides
    something, else empty (an address has no pattern to mask, so nothing of it stays in clear)."""
    masked = mask_text(value)
    return (masked if masked != value else ""), keyring().encrypt(kind, value)


def open_text(text: str, sealed: str | None, kind: str = MESSAGE) -> str:
    """A stored free text as written: the sealed original when there is one, else ``text``."""
    return keyring().decrypt(kind, sealed) if sealed else text


def open_json(data: Any, sealed: str | None, kind: str) -> Any:
    """A stored JSON value as written (``seal_json``): the sealed original when there is one, else ``data``."""
    return json.loads(keyring().decrypt(kind, sealed)) if sealed else data


# -- configuration ------------------------------------------------------------------------

def parse_keys(text: str) -> list[tuple[str, bytes]]:
    """``id=base64`` entries separated by commas or new lines (``#`` starts a comment)."""
    keys = []
    entries = [e for line in text.splitlines() for e in line.split("#", 1)[0].split(",")]
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        key_id, sep, b64 = entry.partition("=")
        if not sep:
            raise PiiKeyError("a PII key entry must read <id>=<base64 of 32 bytes>")
        try:
            material = base64.b64decode(b64.strip() + "=" * (-len(b64.strip()) % 4), validate=True)
        except ValueError as exc:
            raise PiiKeyError(f"PII key {key_id.strip()}: not base64") from exc
        keys.append((key_id.strip(), material))
    return keys


def new_key_entry(key_id: str) -> str:
    """A fresh ``id=base64`` entry (``aduan pii-new-key``)."""
    if not _KEY_ID.match(key_id):
        raise PiiKeyError(f"PII key id {key_id!r}: use 1-16 letters, digits, '-' or '_'")
    return f"{key_id}={base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def _dev_key_file(path: Path) -> str:
    """The development key file's text, creating it (mode 0600) with one fresh key the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked into place: two processes starting at once
        # (the desk and a migration) never read a half-written file, and the first link wins.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# Development PII keys, made by the desk because none was configured. Never use in\n"
                      "# production: set PII_KEYS or PII_KEY_FILE (docs/privacy.md).\n")
            out.write(new_key_entry("dev1") + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text()


def load_keyring(keys: str | None, key_file: str | None, *, allow_dev: bool,
                 dev_file: Path = DEV_KEY_FILE) -> Keyring:
    """The keyring from ``PII_KEYS`` or ``PII_KEY_FILE``; else, when ``allow_dev`` (demo mode), the
    development key file under ``var/`` (made on first use). Raises ``PiiKeyError`` otherwise."""
    if keys:
        return Keyring(parse_keys(keys))
    if key_file:
        try:
            return Keyring(parse_keys(Path(key_file).read_text()))
        except OSError as exc:
            raise PiiKeyError(f"PII_KEY_FILE {key_file}: {exc.strerror}") from exc
    if not allow_dev:
        raise PiiKeyError("no PII key configured: set PII_KEYS or PII_KEY_FILE (docs/privacy.md, "
                          "'Keys and rotation'); the development key is only made in demo mode")
    return Keyring(parse_keys(_dev_key_file(dev_file)))


_configured: Keyring | None = None


def configure(ring: Keyring | None) -> None:
    """Make ``ring`` the process's keyring (the app and CLI do it at start-up; tests to switch keys)."""
    global _configured
    _configured = ring


def keyring() -> Keyring:
    """The process's keyring: the configured one, else loaded once from the settings (``Settings``)."""
    global _configured
    if _configured is None:
        settings = Settings()
        _configured = load_keyring(settings.pii_keys, settings.pii_key_file, allow_dev=settings.demo_mode)
    return _configured
