"""Free text and identifiers at rest outside messages: one rule for every column that may hold them.

A chronology, a note, a handoff summary or a ticket history entry is typed by
a borrower, the bot or staff, and a phone number or NIK typed there would show
in a database dump. Such a column is declared here once (``seal_column``) and
from then on every ORM write of it is stored the way messages are
(``desk.pii``):

* ``text`` — the column keeps the text with phone numbers, NIK and e-mail
  addresses masked; the original is sealed in ``<column>_enc`` only when
  masking changed something (``desk.pii.seal_text``);
* ``json`` — the same for a JSON value: every string in it masked, the whole
  original sealed as JSON (``desk.pii.seal_json``);
* ``value`` — an identifier (an e-mail address): always sealed whole, the
  column keeps only its masked form (``desk.pii.seal_value``);
* ``hidden`` — a value with no pattern to mask (the address on an identity
  card): always sealed whole, the column keeps an empty string.

Reading the column gives the masked value (what agents see and search finds);
``opened`` gives the original to the views that may show it. Core ``UPDATE``
statements bypass the ORM's events: they use ``values`` to write both columns.
``SEALED_COLUMNS`` lists them all for ``aduan pii-rekey``, anonymisation and
the dump test.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import event

from desk import pii

Mode = Literal["text", "json", "value", "hidden"]


@dataclass(frozen=True)
class SealedColumn:
    """One column stored masked, its original sealed in ``enc``."""

    table: str
    name: str
    mode: Mode

    @property
    def enc(self) -> str:
        """The column holding the sealed original."""
        return f"{self.name}_enc"

    @property
    def kind(self) -> str:
        """The encryption kind (bound to the ciphertext): ``<table>.<column>``."""
        return f"{self.table}.{self.name}"

    def seal(self, value: Any) -> tuple[Any, str | None]:
        """``(what the column stores, what ``enc`` stores)`` for the clear ``value``."""
        if value is None:
            return None, None
        if self.mode == "json":
            return pii.seal_json(value, self.kind)
        if self.mode in ("value", "hidden") and not value:
            return value, None
        if self.mode == "value":
            return pii.seal_value(self.kind, value)
        if self.mode == "hidden":
            return "", pii.keyring().encrypt(self.kind, value)
        return pii.seal_text(value, self.kind)

    def open(self, stored: Any, sealed: str | None) -> Any:
        """The clear value from the two stored ones."""
        if self.mode == "json":
            return pii.open_json(stored, sealed, self.kind)
        return pii.open_text(stored, sealed, self.kind)


SEALED_COLUMNS: list[SealedColumn] = []
_BY_MODEL: dict[tuple[type, str], SealedColumn] = {}


def seal_column(model: type, name: str, mode: Mode = "text") -> None:
    """Declare ``model.name`` sealed: every ORM write of it (constructor or assignment) stores the
    masked value and sets ``<name>_enc`` to the sealed original (or None)."""
    column = SealedColumn(model.__tablename__, name, mode)  # type: ignore[attr-defined]

    def on_set(target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
        stored, sealed = column.seal(value)
        setattr(target, column.enc, sealed)
        return stored

    event.listen(getattr(model, name), "set", on_set, retval=True)
    SEALED_COLUMNS.append(column)
    _BY_MODEL[(model, name)] = column


def sealed(model: type, name: str) -> SealedColumn | None:
    """The sealed column ``model.name``, or None when it is stored as it is."""
    return _BY_MODEL.get((model, name))


def opened(obj: Any, name: str) -> Any:
    """The clear value of the sealed column ``name`` of the loaded row ``obj``. Raises
    ``desk.pii.PiiKeyError`` when the configured keys do not open it."""
    column = _BY_MODEL[(type(obj), name)]
    return column.open(getattr(obj, name), getattr(obj, column.enc))


def values(model: type, name: str, value: Any) -> dict[str, Any]:
    """Both columns of ``model.name`` for a Core ``UPDATE``/``INSERT`` of the clear ``value``."""
    column = _BY_MODEL[(model, name)]
    stored, sealed_value = column.seal(value)
    return {name: stored, column.enc: sealed_value}
