"""Protocol cards of the fp paper's claims (filled in by issue 33's work; see :mod:`.cards`)."""
from __future__ import annotations

from .protocol import Card

FAST_PREEMPTION_CARDS: dict[str, Card] = {}
