"""Verdicts: the registered comparison applied to a notebook's outcomes, and the build's record of them.

Verdicts (SPEC, "Statistical standard for verdicts"):

- **reproduced**: the paper's direction, and the test rejects at 5% (equivalence: TOST rejects
  non-equivalence at 5%; ordering: every part reproduced);
- **contradicted**: significant the other way, or our 95% interval excludes the paper's effect
  while our estimate has the opposite sign (equivalence: the interval lies outside the margin;
  ordering: a part contradicted);
- **inconclusive**: neither: the page shows the minimum detectable effect (MDE) at 80% power;
- **not testable here**: with the reason.

A tie is never a win: equal outcomes give p = 1, hence at most "inconclusive".
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..paths import PROJECT_ROOT
from ..profiles import get_profile
from . import stats
from .registry import ClaimSpec, get_spec

VERDICTS = ("reproduced", "contradicted", "inconclusive", "not testable here")
CLAIMS_ENV = "MSPD_CLAIMS_DIR"


@dataclass(frozen=True)
class Outcome(stats.Estimate):
    """One claim as this build measured it: the estimate (effect, 95% CI, p, n, MDE, test) and
    everything else the summary shows."""

    key: str
    statement: str
    source: str
    notebook: str
    comparison: str
    paper: str
    paper_effect: float | None
    unit: str
    verdict: str
    note: str = ""
    sample: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def _direction_scale(spec: ClaimSpec, value: float) -> float:
    """Effects on the scale where 0 = no effect and > 0 = the paper's direction (log for ratios)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return float("nan")
    if spec.comparison == "time_ratio":
        return math.log(value) if value > 0 else float("-inf")
    return value


def directional_verdict(spec: ClaimSpec, est: stats.Estimate, alpha: float = stats.ALPHA) -> str:
    """reproduced / contradicted / inconclusive for a claim of direction (> 0 is the paper's)."""
    eff = _direction_scale(spec, est.effect)
    if est.p < alpha and eff > 0:
        return "reproduced"
    if est.p < alpha and eff < 0:
        return "contradicted"
    paper = spec.paper_effect
    if paper is not None and eff < 0:
        lo, hi = est.ci_low, est.ci_high
        if (paper > _null(spec) and hi < paper) or (paper < _null(spec) and lo > paper):
            return "contradicted"
    return "inconclusive"


def _null(spec: ClaimSpec) -> float:
    return 1.0 if spec.comparison == "time_ratio" else 0.0


def equivalence_verdict(spec: ClaimSpec, est: stats.Estimate, alpha: float = stats.ALPHA) -> str:
    m = spec.margin
    if est.p < alpha:
        return "reproduced"
    if est.ci_low > m or est.ci_high < -m:
        return "contradicted"
    return "inconclusive"


def _ratio_note(spec: ClaimSpec, est: stats.Estimate) -> str:
    parts = []
    for label, ref in (("the pass-count ratio", spec.pass_count_ratio), ("the paper's ratio", spec.paper_effect)):
        if ref is None:
            continue
        inside = est.ci_low <= ref <= est.ci_high
        parts.append((abs(math.log(est.effect / ref)), label, ref, inside))
    if not parts:
        return ""
    text = "; ".join(f"{label} {ref:.0f}x is {'inside' if inside else 'outside'} our 95% CI" for _, label, ref, inside in parts)
    closest = min(parts)[1]
    return f"ours {est.effect:.1f}x [{est.ci_low:.1f}, {est.ci_high:.1f}] is closer to {closest}; {text}"


def check(key: str, *, a=None, b=None, values=None, statistic=None, slow=None, fast=None,
          parts: Sequence | None = None, part_labels: Sequence[str] | None = None, reason: str | None = None,
          pass_count_ratio: float | None = None, seed: int = 0) -> Outcome:
    """Apply claim ``key``'s registered comparison to this build's outcomes and return its verdict.

    - paired_accuracy / equivalence: ``a``, ``b`` boolean per-image outcomes (a = the condition the
      paper says is better, or the first of the two said to match);
    - bootstrap: ``values`` per-unit paired differences (> 0 = the paper's direction), or units and a
      ``statistic``;
    - time_ratio: ``slow`` and ``fast`` per-batch seconds per image;
    - ordering: ``parts``, each an (a, b) pair (paired_accuracy) or a values array (bootstrap);
    - untestable, or any claim that cannot run in this build: ``reason`` says why (the verdict is then
      "not testable here"; for an "untestable" claim it overrides the registered reason).

    ``pass_count_ratio`` overrides the registered one where the profile changes the pass counts
    (e.g. Bi-Level with fewer outer iterations in the smoke profile).
    """
    spec = get_spec(key)
    if pass_count_ratio is not None:
        spec = replace(spec, pass_count_ratio=pass_count_ratio)
    note = ""
    if spec.comparison == "untestable" or reason is not None:
        nothing = stats.Estimate(math.nan, math.nan, math.nan, math.nan, 0, math.nan, "-")
        return _outcome(spec, nothing, "not testable here", reason or spec.untestable_reason or "")
    if spec.comparison == "paired_accuracy":
        est = stats.paired_accuracy(a, b)
        verdict = directional_verdict(spec, est)
    elif spec.comparison == "equivalence":
        est = stats.equivalence(a, b, spec.margin)
        verdict = equivalence_verdict(spec, est)
        note = f"smallest margin this n could establish: {est.mde:.1f} points"
    elif spec.comparison == "bootstrap":
        try:
            est = stats.bootstrap(values, statistic, seed=seed)
        except stats.UndefinedStatistic as err:
            nothing = stats.Estimate(math.nan, math.nan, math.nan, math.nan, len(values), math.nan, "-")
            return _outcome(spec, nothing, "not testable here", str(err))
        verdict = directional_verdict(spec, est)
    elif spec.comparison == "time_ratio":
        est = stats.time_ratio(slow, fast)
        verdict = directional_verdict(spec, est)
        note = _ratio_note(spec, est)
    elif spec.comparison == "ordering":
        if not parts:
            raise ValueError(f"{key}: an ordering claim needs its parts")
        if spec.part_comparison == "paired_accuracy":
            ests = [stats.paired_accuracy(pa, pb) for pa, pb in parts]
        else:
            ests = [stats.bootstrap(v, seed=seed + i) for i, v in enumerate(parts)]
        verdicts = [directional_verdict(ClaimSpec(f"{key}[{i}]", "", "", "", spec.part_comparison, "", None), e)
                    for i, e in enumerate(ests)]
        est = stats.intersection_union(ests)
        verdict = ("contradicted" if "contradicted" in verdicts else
                   "reproduced" if all(v == "reproduced" for v in verdicts) else "inconclusive")
        labels = list(part_labels or [f"part {i + 1}" for i in range(len(ests))])
        note = "; ".join(f"{lab}: {e.effect:+.2f} [{e.ci_low:+.2f}, {e.ci_high:+.2f}], p = {e.p:.2g} ({v})"
                         for lab, e, v in zip(labels, ests, verdicts))
    else:  # pragma: no cover - the registry validates comparisons
        raise ValueError(spec.comparison)
    return _outcome(spec, est, verdict, note)


def _outcome(spec: ClaimSpec, est: stats.Estimate, verdict: str, note: str) -> Outcome:
    return Outcome(**asdict(est), key=spec.key, statement=spec.statement, source=spec.source, notebook=spec.notebook,
                   comparison=spec.comparison, paper=spec.paper_text, paper_effect=spec.paper_effect, unit=spec.unit,
                   verdict=verdict, note=note, sample=spec.sample)


# ---- the build's record -------------------------------------------------------------------------

def claims_dir() -> Path:
    return Path(os.environ.get(CLAIMS_ENV) or PROJECT_ROOT / "notebooks" / "_executed" / "claims")


def record(notebook: str, outcomes: Sequence[Outcome], profile: str) -> list[Outcome]:
    """Write this notebook's outcomes (replacing any earlier record of it) and return them as recorded.
    Only registered claims of this notebook are accepted. Under a profile whose models have random
    weights (``paper-dry``) every verdict is withheld: "not testable here", with the statistic that ran."""
    for o in outcomes:
        if get_spec(o.key).notebook != notebook:
            raise ValueError(f"claim {o.key!r} belongs to {get_spec(o.key).notebook}, not {notebook}")
    if get_profile(profile).random_weights:
        outcomes = [replace(o, verdict="not testable here", note=(
            f"{profile}: random-weight models; the comparison ran (effect {o.effect:.3g}, n = {o.n}) to check the "
            "code path, and measures nothing") if o.verdict != "not testable here" else o.note) for o in outcomes]
    folder = claims_dir()
    folder.mkdir(parents=True, exist_ok=True)
    rows = [_jsonable(asdict(o)) for o in outcomes]
    (folder / f"{notebook}.json").write_text(json.dumps({"profile": profile, "claims": rows}, indent=2))
    return list(outcomes)


def _jsonable(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def load_all() -> tuple[list[dict], set[str]]:
    """All recorded outcomes and the set of profiles they were computed with."""
    rows, profiles = [], set()
    folder = claims_dir()
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        blob = json.loads(path.read_text())
        profiles.add(blob["profile"])
        rows += blob["claims"]
    return rows, profiles


def table(outcomes: Sequence[Outcome | dict]):
    """Outcomes as a display table: statement, paper, ours with 95% CI, p, n, MDE, verdict."""
    import pandas as pd

    rows = []
    for o in outcomes:
        d = asdict(o) if isinstance(o, Outcome) else dict(o)
        rows.append({"claim": d["statement"], "source": d["source"], "paper": d["paper"],
                     "ours (95% CI)": format_effect(d), "p": _fmt(d.get("p"), "{:.2g}"), "n": d.get("n") or "-",
                     "MDE (80% power)": _fmt(d.get("mde"), "{:.2f}"), "verdict": d["verdict"], "note": d.get("note", "")})
    return pd.DataFrame(rows)


def _fmt(v, pattern: str) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else pattern.format(v)


def format_effect(d: dict) -> str:
    e, lo, hi = d.get("effect"), d.get("ci_low"), d.get("ci_high")
    if e is None or (isinstance(e, float) and not math.isfinite(e)):
        return "-"
    if d.get("comparison") == "time_ratio":
        return f"{e:.1f}x [{lo:.1f}, {hi:.1f}]"
    unit = d.get("unit", "")
    digits = 1 if unit == "points" else 3
    return f"{e:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}] {unit}".strip()


def summary_counts(rows: Sequence[dict]) -> dict[str, int]:
    counts = {v: 0 for v in VERDICTS}
    for r in rows:
        counts[r["verdict"]] += 1
    return counts


def paired_values(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-unit a - b for a bootstrap claim (checks they are paired)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired measurements must have the same shape, got {a.shape} and {b.shape}")
    return a - b
