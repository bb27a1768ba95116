"""The paper's claims, checked by the notebooks of the same build and collected by the summary page.

Each table notebook ends with ``record(notebook, [Claim(...), ...])``; the summary notebook
(run last) reads them back with :func:`load_all`. Claims live next to the executed notebooks
(``$MSPD_CLAIMS_DIR``, set by ``scripts/run_notebooks.py``), so the summary can only show
what this build computed.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .paths import PROJECT_ROOT

CLAIMS_ENV = "MSPD_CLAIMS_DIR"
VERDICTS = ("reproduced", "not reproduced", "not testable here")


@dataclass(frozen=True)
class Claim:
    claim: str  # the paper's statement
    paper: str  # the paper's figure, as the paper gives it
    ours: str  # our number(s), with intervals
    evidence: str  # interval / p-value / test used
    verdict: str  # one of VERDICTS
    notebook: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def claims_dir() -> Path:
    return Path(os.environ.get(CLAIMS_ENV) or PROJECT_ROOT / "notebooks" / "_executed" / "claims")


def record(notebook: str, claims: list[Claim], profile: str) -> None:
    """Write this notebook's checked claims (replacing any earlier record of it)."""
    folder = claims_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.json"
    rows = [{**asdict(c), "notebook": notebook} for c in claims]
    path.write_text(json.dumps({"profile": profile, "claims": rows}, indent=2))


def load_all() -> tuple[list[dict], set[str]]:
    """All recorded claims and the set of profiles they were computed with."""
    rows, profiles = [], set()
    folder = claims_dir()
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        blob = json.loads(path.read_text())
        profiles.add(blob["profile"])
        rows += blob["claims"]
    return rows, profiles


def verdict_from_test(better: bool, p_value: float, alpha: float = 0.05) -> str:
    """'reproduced' when the direction holds and a paired test rejects equality at ``alpha``."""
    return "reproduced" if better and p_value < alpha else "not reproduced"
