"""Indonesian phone numbers: normalise and mask.

The format itself lives with the other identifiers in ``actions/identifiers.py``
(the one place); this module keeps the names the actions have always imported.
"""
from __future__ import annotations

from actions.identifiers import mask_phone, normalise_phone

__all__ = ["mask_phone", "normalise_phone"]
