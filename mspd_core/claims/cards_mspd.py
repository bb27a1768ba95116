"""Protocol cards of the mspd paper's claims (filled in by issue 33's work; see :mod:`.cards`)."""
from __future__ import annotations

from .protocol import Card

MSPD_CARDS: dict[str, Card] = {}
