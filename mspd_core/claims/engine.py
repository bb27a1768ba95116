"""Verdicts on two axes: the registered comparison applied to a notebook's outcomes, and the build's record.

Each claim gets two verdicts, from one interval (the one shown, which also gives p):

*Direction* (``verdict``; SPEC, "Statistical standard for verdicts"):

- **reproduced**: the interval excludes "no effect" on the paper's side (equivalence: the 90%
  interval lies inside the margin, i.e. TOST at 5%; ordering: every part reproduced, an
  intersection-union test);
- **contradicted**: the interval excludes "no effect" on the other side (equivalence: it lies
  wholly outside the margin; ordering: some part significantly reversed after Holm's correction
  across the parts). The sign of a non-significant estimate never decides;
- **inconclusive**: neither; the MDE says what this n detects with 80% power. Two conditions that
  reach the same outcome on every image (no discordant pair) are inconclusive for that reason;
- **not testable here**: with the reason.

*Size* (``size``), against the paper's stated effect, mirroring the direction axis (issue 38, item 7; before
2026-12-06 "consistent" meant only that the interval contained the paper's effect, which a wide interval does by
default): **smaller** / **larger** (the 95% interval excludes the paper's effect below / above; ratios on the log
scale, where inclusion is the same; for "matches" claims the size of the difference, either sign: paper -0.3
against ours -5 is a larger difference), **consistent** (it does not, and it lies wholly inside the registered band
around the paper's effect, :func:`.registry.effect_band`: an equivalence test at the paper's effect, at 2.5% per
side), **undetermined** (neither: the interval contains the paper's effect but is wider than the band; the note
says what width, and about what n, would decide), **not stated** (the paper gives a direction only), for orderings
**mixed** (parts on both sides), and **not testable here**.

A tie is never a win: equal outcomes give p = 1, hence at most "inconclusive".
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..paths import PROJECT_ROOT
from ..profiles import get_profile
from . import stats
from .registry import PAPERS, REGISTRY, ClaimSpec, effect_band, get_spec, paper_of, registered_design

VERDICTS = ("reproduced", "contradicted", "inconclusive", "not testable here")
SIZES = ("consistent", "smaller", "larger", "undetermined", "mixed", "not stated", "not testable here")
CLAIMS_ENV = "MSPD_CLAIMS_DIR"
#: Where a chapter run outside the book build (plain papermill, Colab) records its claims: a folder
#: in the directory it runs in, never the book's record (scripts/run_notebooks.py sets MSPD_CLAIMS_DIR).
LOCAL_CLAIMS_DIR = "mspd-claims"
SEPARABILITY_NOTE = ("these two conditions reach the same outcome on every image (0 discordant pairs): "
                     "the comparison cannot separate them here, whatever n")


@dataclass(frozen=True)
class Outcome(stats.Estimate):
    """One claim as this build measured it: the estimate (effect, CI, p, n, MDE, test), both verdicts
    and everything else the summary shows. ``verdict`` is the direction axis, ``size`` the size axis."""

    key: str
    statement: str
    source: str
    notebook: str
    comparison: str
    paper: str
    paper_effect: float | None
    unit: str
    verdict: str
    size: str
    note: str = ""
    size_note: str = ""
    sample: str = ""
    #: what the operating-characteristics simulation needs to mimic this row (discordance, batches, sd ...)
    design: dict | None = None
    #: the checked settings the chapter actually ran (:func:`.protocol.used_settings`)
    used: dict | None = None
    #: the protocol card as run (:func:`.protocol.protocol_record`; filled by :func:`record`)
    protocol: dict | None = None
    #: earlier verdicts of this claim that a registry change superseded (history.json; filled by :func:`record`)
    superseded: list | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {self.size!r}")


def _null(comparison: str) -> float:
    return 1.0 if comparison == "time_ratio" else 0.0


def direction_verdict(comparison: str, est: stats.Estimate, margin: float | None = None) -> str:
    """reproduced / contradicted / inconclusive from the interval that the row shows (p agrees with it).

    Direction claims: the paper's direction is > 0 (> 1 for ratios). Equivalence: within +/- margin."""
    lo, hi = est.ci_low, est.ci_high
    if comparison == "equivalence":
        if -margin < lo and hi < margin:
            return "reproduced"
        return "contradicted" if lo >= margin or hi <= -margin else "inconclusive"
    null = _null(comparison)
    if lo > null:
        return "reproduced"
    return "contradicted" if hi < null else "inconclusive"


def size_verdict(paper_effect: float | None, low: float, high: float, unit: str = "points") -> str:
    """smaller / larger (our 95% interval excludes the paper's effect), consistent (it lies inside the registered
    band around it, :func:`.registry.effect_band`), undetermined (neither), not stated (no paper effect)."""
    if paper_effect is None:
        return "not stated"
    if not (math.isfinite(low) and math.isfinite(high)):
        return "not testable here"
    if high < paper_effect:
        return "smaller"
    if low > paper_effect:
        return "larger"
    band = effect_band(paper_effect, unit)
    return "consistent" if band is not None and band[0] <= low and high <= band[1] else "undetermined"


def undetermined_note(paper_effect: float, low: float, high: float, n: int, unit: str = "points",
                      planned_n: str | None = None) -> str:
    """Why a size is undetermined and what would decide it: the band, our width, and either the claim's registered
    planned n (:mod:`.design`, when there is one) or the n that would narrow the interval to the band's width
    (widths shrink as 1 / sqrt(n); ratios on the log scale; crude with few discordant pairs)."""
    band = effect_band(paper_effect, unit)
    if band is None:
        return "no band can be formed around a paper effect of 0 in this unit"
    log = unit == "x"
    width = math.log(high / low) if log else high - low
    room = math.log(band[1] / band[0]) if log else band[1] - band[0]
    c = "time_ratio" if log else ""
    needed = math.ceil(n * (width / room) ** 2) if n and math.isfinite(width) else None
    text = (f"undetermined: our interval contains the paper's effect but does not lie wholly inside the registered "
            f"band [{_fmt_value(band[0], c)}, {_fmt_value(band[1], c)}] around it ({_fmt_band_width(width, log)} wide, "
            f"the band {_fmt_band_width(room, log)})")
    if planned_n:
        text += f"; its registered power analysis plans n = {planned_n}"
    elif needed and width > room:
        text += (f"; an interval inside the band needs at least the band's width: about n = {needed}"
                 + (" batches per side" if log else "") + " at this spread")
    return text


def _fmt_band_width(width: float, log: bool) -> str:
    return f"a factor {math.exp(width):.3g}" if log else f"{width:.3g}"


def _fmt_value(value: float, comparison: str) -> str:
    return f"{value:.3g}x" if comparison == "time_ratio" else f"{value:+.3g}"


def _size_of(spec: ClaimSpec, est: stats.Estimate, size_ci: tuple[float, float] | None = None) -> tuple[str, str]:
    """The size verdict and its sentence (the interval it used, the pass-count ratio where declared)."""
    lo, hi = size_ci or (est.ci_low, est.ci_high)
    size = size_verdict(spec.paper_effect, lo, hi, spec.unit)
    if size == "not stated":
        return size, "the paper states a direction only"
    c = spec.comparison
    band = effect_band(spec.paper_effect, spec.unit)
    if c == "equivalence" and size in ("smaller", "larger"):
        # "X matches Y": the size is how far apart the two are, either sign (paper -0.3 vs ours -5 is a LARGER gap)
        size = "larger" if abs(est.effect) > abs(spec.paper_effect) else "smaller"
    text = (f"paper {_fmt_value(spec.paper_effect, c)}: {size} (ours {_fmt_value(est.effect, c)}, "
            f"95% CI [{_fmt_value(lo, c)}, {_fmt_value(hi, c)}])")
    if c == "equivalence" and size in ("smaller", "larger"):
        text += f"; a {size} difference between the two than the paper's (judged by its size, either sign)"
    if size == "consistent":
        text += f"; inside the registered band [{_fmt_value(band[0], c)}, {_fmt_value(band[1], c)}] around the paper's effect"
    elif size == "undetermined":
        plan = registered_design(spec.key) or {}
        units = est.n // 2 if c == "time_ratio" else est.n  # a time ratio's n counts both sides' batches
        planned = (f"{plan['planned_n']} {plan.get('unit_of_n', 'images')}"
                   if plan.get("planned_n") and units < plan["planned_n"] else None)
        text += "; " + undetermined_note(spec.paper_effect, lo, hi, units, spec.unit, planned)
    elif band is not None and band[0] <= lo and hi <= band[1]:
        text += (f" (though inside the registered band [{_fmt_value(band[0], c)}, {_fmt_value(band[1], c)}]: "
                 "a difference from the paper's number that the band tolerates)")
    if spec.pass_count_ratio is not None:
        inside = lo <= spec.pass_count_ratio <= hi
        text += f"; the pass counts imply {spec.pass_count_ratio:.3g}x, {'inside' if inside else 'outside'} our CI"
    return size, text


STATISTICS: dict[str, Callable[[np.ndarray], float] | None] = {"mean": None, "spearman": stats.spearman}


def _ordering(spec: ClaimSpec, parts: Sequence, labels: Sequence[str], part_effects: Sequence[float | None] | None,
              seed: int, mde: bool) -> tuple[stats.Estimate, str, str, str, str]:
    """Every part judged on both axes; "contradicted" when a part is significantly reversed after Holm
    across the parts; "reproduced" when every part is (intersection-union: no correction needed)."""
    if spec.part_comparison == "paired_accuracy":
        ests = [stats.paired_accuracy(pa, pb, with_mde=mde) for pa, pb in parts]
    else:
        ests = [stats.bootstrap(v, seed=seed + i) for i, v in enumerate(parts)]
    effects = list(part_effects) if part_effects is not None else [None] * len(ests)
    if len(effects) != len(ests):
        raise ValueError(f"{spec.key}: {len(effects)} paper effects for {len(ests)} parts")
    directions = [direction_verdict(spec.part_comparison, e) for e in ests]
    adjusted = stats.holm([e.p for e in ests])
    reversed_ = [d == "contradicted" and q < stats.ALPHA for d, q in zip(directions, adjusted)]
    verdict = ("contradicted" if any(reversed_) else
               "reproduced" if all(d == "reproduced" for d in directions) else "inconclusive")
    if any(e.discordant == (0, 0) for e in ests) and verdict == "inconclusive":
        verdict_reason = "; some parts have no discordant pair: " + SEPARABILITY_NOTE
    else:
        verdict_reason = ""
    # Each part's size against a Bonferroni interval (1 - 0.05 / k): the ordering's size verdict is then wrong with
    # probability <= 5% over all its parts. Bootstrap parts keep their 95% interval (no registered part effects).
    k = len(ests)
    size_cis = [tuple(100 * float(x) for x in stats.tango_interval(*e.discordant, e.n, 1 - stats.ALPHA / k))
                if e.discordant is not None else (e.ci_low, e.ci_high) for e in ests]
    sizes = [size_verdict(pe, lo, hi, "points" if spec.part_comparison == "paired_accuracy" else spec.unit)
             for pe, (lo, hi) in zip(effects, size_cis)]
    stated = [s for s in sizes if s != "not stated"]
    if not stated:
        size = "not stated"
    elif all(s == "consistent" for s in stated):
        size = "consistent"
    elif "smaller" in stated and "larger" in stated:
        size = "mixed"
    elif "smaller" in stated or "larger" in stated:  # decided on the parts the design resolves
        size = "smaller" if "smaller" in stated else "larger"
    else:
        size = "undetermined"
    est = stats.intersection_union(ests)
    note = "; ".join(
        f"{lab}: {e.effect:+.2f} [{e.ci_low:+.2f}, {e.ci_high:+.2f}], p = {format_p(e.p, e.test)}, Holm p = {format_p(q, e.test)} ({d}"
        + (f"; paper {pe:+.3g}: {s}" if pe is not None else "") + ")"
        + (f", discordant {e.discordant[0]}/{e.discordant[1]}" if e.discordant is not None else "")
        for lab, e, d, q, pe, s in zip(labels, ests, directions, adjusted, effects, sizes)) + verdict_reason
    n_stated = len(stated)
    size_note = ("the paper states a direction only" if not stated else
                 f"{sum(s == 'consistent' for s in stated)} of {n_stated} parts consistent with the paper's size "
                 f"(inside the registered band), {stated.count('smaller')} smaller, {stated.count('larger')} larger, "
                 f"{stated.count('undetermined')} undetermined (each part against its "
                 f"{100 * (1 - stats.ALPHA / k):.1f}% CI, Bonferroni over {k} parts)")
    return est, verdict, size, note, size_note


def check(key: str, *, a=None, b=None, values=None, statistic=None, slow=None, fast=None,
          parts: Sequence | None = None, part_labels: Sequence[str] | None = None,
          part_paper_effects: Sequence[float | None] | None = None, reason: str | None = None,
          pass_count_ratio: float | None = None, seed: int = 0, mde: bool = True, used: dict | None = None) -> Outcome:
    """Apply claim ``key``'s registered comparison to this build's outcomes and return both verdicts.

    - paired_accuracy / equivalence: ``a``, ``b`` boolean per-image outcomes (a = the condition the
      paper says is better, or the first of the two said to match);
    - bootstrap: ``values`` per-unit paired differences (> 0 = the paper's direction), or units for the
      registered ``statistic`` (e.g. "spearman"); a callable ``statistic`` overrides it;
    - time_ratio: ``slow`` and ``fast`` per-batch seconds per image;
    - ordering: ``parts``, each an (a, b) pair (paired_accuracy) or a values array (bootstrap), with the
      paper's per-part effects where the registry has none (``part_paper_effects``, e.g. from its table);
    - untestable, or any claim that cannot run in this build: ``reason`` says why (the verdict is then
      "not testable here"; for an "untestable" claim it overrides the registered reason).

    ``pass_count_ratio`` overrides the registered one where the profile changes the pass counts
    (e.g. Bi-Level with fewer outer iterations in the smoke profile). ``mde=False`` skips the MDE
    (the operating-characteristics simulation). ``used``: the checked settings the chapter ran
    (:func:`.protocol.used_settings`), compared with the claim's protocol card when recorded.
    """
    out = _check(key, a=a, b=b, values=values, statistic=statistic, slow=slow, fast=fast, parts=parts,
                 part_labels=part_labels, part_paper_effects=part_paper_effects, reason=reason,
                 pass_count_ratio=pass_count_ratio, seed=seed, mde=mde)
    undecided = out.verdict == "inconclusive" or out.size == "undetermined"
    if mde and undecided:  # a row decided on both axes needs no plan; the simulation (mde=False) skips it
        from .design import planned_n_note, units_run  # here, not at import: `python -m mspd_core.claims.design` runs clean

        out = replace(out, note="; ".join(x for x in (out.note, planned_n_note(key, units_run(out.design, out.n))) if x))
    return replace(out, used=used)


def underpowered_note(paper_effect: float | None, est: stats.Estimate) -> str:
    """The row's own warning when the paper's effect is below what this n detects with 80% power (the engine's MDE):
    "inconclusive" is then the likely verdict whatever the truth, by design of the sample, not by the data."""
    if paper_effect is None or not math.isfinite(est.mde) or abs(paper_effect) >= est.mde:
        return ""
    power = ""
    if est.discordant is not None:
        chance = stats.mcnemar_power(est.n, sum(est.discordant) / est.n, paper_effect / 100)
        power = (f" (power at the paper's effect: {100 * chance:.1f}%"
                 + (f", below the {100 * stats.ALPHA / 2:g}% chance of a false 'reproduced' in that direction"
                    if chance < stats.ALPHA / 2 else "") + ")")
    return (f"underpowered by design at n = {est.n}: this comparison has 80% power only for effects of at least "
            f"{est.mde:.1f} points (its MDE), and the paper's effect, {paper_effect:+.3g}, is below that{power}; an "
            "inconclusive direction here is what the sample makes likely, not evidence against the paper")


def equivalence_design_note(margin: float, est: stats.Estimate) -> str:
    """The row's own warning when no result at this n can establish the claim's margin (points): the 90%
    interval of 0 / 0 discordant pairs is already wider, so "reproduced" is impossible by design (issue 38)."""
    widest_possible = 100 * stats.equivalence_smallest_margin(est.n, 0.0)
    if widest_possible < margin:
        return ""
    needed = stats.equivalence_sample_size(margin / 100, sum(est.discordant) / est.n)
    where = (f"n = {needed} would establish it with 80% power at this discordance" if needed is not None else
             f"no n up to {stats.SAMPLE_SIZE_GRID[-1]} would establish it with 80% power at this discordance")
    return (f"decided by design at n = {est.n}: even 0 discordant pairs give a 90% interval of +/-{widest_possible:.1f} "
            f"points, wider than the +/-{margin:g} margin, so this n cannot reproduce the claim; {where}")


def _check(key: str, *, a=None, b=None, values=None, statistic=None, slow=None, fast=None,
           parts: Sequence | None = None, part_labels: Sequence[str] | None = None,
           part_paper_effects: Sequence[float | None] | None = None, reason: str | None = None,
           pass_count_ratio: float | None = None, seed: int = 0, mde: bool = True) -> Outcome:
    spec = get_spec(key)
    if pass_count_ratio is not None:
        spec = replace(spec, pass_count_ratio=pass_count_ratio)
    if spec.comparison == "untestable" or reason is not None:
        return _untestable(spec, reason or spec.untestable_reason or "")
    note, size_ci, design = "", None, None
    if spec.comparison == "paired_accuracy":
        est = stats.paired_accuracy(a, b, with_mde=mde)
        verdict = direction_verdict("paired_accuracy", est)
        design = {"discordance": sum(est.discordant) / est.n}
        if est.discordant == (0, 0):
            note = SEPARABILITY_NOTE
        if verdict == "inconclusive":  # a decided direction needs no warning that it was unlikely to be decided
            note = "; ".join(x for x in (note, underpowered_note(spec.paper_effect, est)) if x)
    elif spec.comparison == "equivalence":
        est = stats.equivalence(a, b, spec.margin, with_mde=mde)
        verdict = direction_verdict("equivalence", est, spec.margin)
        n10, n01 = est.discordant
        lo95, hi95 = stats.tango_interval(n10, n01, est.n, 0.95)
        size_ci = (100 * float(lo95), 100 * float(hi95))
        design = {"discordance": (n10 + n01) / est.n}
        note = "decided by the 90% CI (TOST at 5%)"
        if mde:
            note += (f"; smallest margin this n could establish (80% power at the observed discordance, exact): "
                     f"{est.mde:.1f} points")
            if verdict != "contradicted":  # a contradicted "matches" claim is decided by the data, not the design
                note = "; ".join(x for x in (note, equivalence_design_note(spec.margin, est)) if x)
    elif spec.comparison == "bootstrap":
        fn = statistic if statistic is not None else STATISTICS[spec.statistic]
        try:
            est = stats.bootstrap(values, fn, seed=seed)
        except stats.UndefinedStatistic as err:
            return _untestable(spec, str(err), n=len(values))
        v = np.asarray(values, float)
        design = {"sd": float(v.std(ddof=1))} if v.ndim == 1 else None
    elif spec.comparison == "time_ratio":
        est = stats.time_ratio(slow, fast)
        verdict = direction_verdict("time_ratio", est)
        s, f = np.log(np.asarray(slow, float)), np.log(np.asarray(fast, float))  # positive: time_ratio checked
        design = {"batches": [int(s.size), int(f.size)], "cv": float(np.sqrt((s.var(ddof=1) + f.var(ddof=1)) / 2))}
    elif spec.comparison == "ordering":
        if not parts:
            raise ValueError(f"{key}: an ordering claim needs its parts")
        labels = list(part_labels or [f"part {i + 1}" for i in range(len(parts))])
        effects = part_paper_effects if part_paper_effects is not None else spec.part_effects
        est, verdict, size, note, size_note = _ordering(spec, parts, labels, effects, seed, mde)
        if spec.part_comparison == "paired_accuracy":
            units = min(len(np.asarray(pa)) for pa, _ in parts)
            pairs = [stats.discordant_counts(pa, pb) for pa, pb in parts]
            design = {"discordance": float(np.mean([(x + y) / m for x, y, m in pairs]))}
        else:
            units = min(len(np.asarray(v)) for v in parts)
            design = {"sd": float(np.mean([np.std(np.asarray(v, float), ddof=1) for v in parts]))}
        design.update(units=units, parts=len(parts), part_effects=list(effects) if effects is not None else None)
        return _outcome(spec, est, verdict, size, note, size_note, design)
    else:  # pragma: no cover - the registry validates comparisons
        raise ValueError(spec.comparison)
    if spec.comparison == "bootstrap":
        verdict = direction_verdict("bootstrap", est)
    size, size_note = _size_of(spec, est, size_ci)
    return _outcome(spec, est, verdict, size, note, size_note, design)


def _untestable(spec: ClaimSpec, reason: str, n: int = 0) -> Outcome:
    nothing = stats.Estimate(math.nan, math.nan, math.nan, math.nan, n, math.nan, "-", 0.95, None)
    return _outcome(spec, nothing, "not testable here", "not testable here", reason, "", None)


def _outcome(spec: ClaimSpec, est: stats.Estimate, verdict: str, size: str, note: str, size_note: str,
             design: dict | None) -> Outcome:
    return Outcome(**asdict(est), key=spec.key, statement=spec.statement, source=spec.source, notebook=spec.notebook,
                   comparison=spec.comparison, paper=spec.paper_text, paper_effect=spec.paper_effect, unit=spec.unit,
                   verdict=verdict, size=size, note=note, size_note=size_note, sample=spec.sample, design=design)


# ---- the build's record -------------------------------------------------------------------------

def claims_dir() -> Path:
    """Where claims are recorded: ``$MSPD_CLAIMS_DIR`` (the book build sets it to the book's record),
    else ``./mspd-claims`` in the directory the chapter runs in: a plain papermill run, Colab or a
    notebook server never writes into the book's record."""
    return Path(os.environ.get(CLAIMS_ENV) or Path.cwd() / LOCAL_CLAIMS_DIR)


def record(notebook: str, outcomes: Sequence[Outcome], profile: str) -> list[Outcome]:
    """Write this notebook's outcomes (replacing any earlier record of it) and return them as recorded.
    Only registered claims of this notebook are accepted. Under a profile whose models have random
    weights (``paper-dry``) every verdict is withheld: "not testable here", with the statistic that ran."""
    for o in outcomes:
        if get_spec(o.key).notebook != notebook:
            raise ValueError(f"claim {o.key!r} belongs to {get_spec(o.key).notebook}, not {notebook}")
    if get_profile(profile).random_weights:
        outcomes = [replace(o, verdict="not testable here", size="not testable here", note=(
            f"{profile}: random-weight models; the comparison ran (effect {o.effect:.3g}, n = {o.n}) to check the "
            "code path, and measures nothing") if o.verdict != "not testable here" else o.note) for o in outcomes]
    from .cards import CARDS
    from .history import superseded_for
    from .protocol import protocol_record

    prof = get_profile(profile)
    outcomes = [replace(o, protocol=protocol_record(CARDS.get(o.key), prof, o.used, o.n, measured=bool(o.n)),
                        superseded=superseded_for(o.key)) for o in outcomes]
    folder = claims_dir()
    folder.mkdir(parents=True, exist_ok=True)
    rows = [_jsonable(asdict(o)) for o in outcomes]
    (folder / f"{notebook}.json").write_text(json.dumps({"profile": profile, "claims": rows}, indent=2))
    if not os.environ.get(CLAIMS_ENV):
        print(f"claims recorded in {folder / f'{notebook}.json'} (outside the book's record)")
    return list(outcomes)


def _jsonable(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else list(v) if isinstance(v, tuple) else v)
            for k, v in row.items()}


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
    """Outcomes as a display table: the two verdicts first, then claim, paper, ours with its CI, p, n, MDE."""
    import pandas as pd

    rows = []
    for o in outcomes:
        d = asdict(o) if isinstance(o, Outcome) else dict(o)
        rows.append({"direction": d["verdict"], "size": d.get("size", "-"), "claim": d["statement"], "source": d["source"],
                     "paper": d["paper"], "ours (CI)": format_effect(d), "p": format_p(d.get("p"), d.get("test", "")),
                     "n": d.get("n") or "-", "MDE (80% power)": _fmt(d.get("mde"), "{:.2f}"),
                     "discordant": _discordant(d), "note": "; ".join(x for x in (d.get("size_note"), d.get("note")) if x),
                     "protocol": _protocol_label(d)})
    return pd.DataFrame(rows)


def protocol_counts_text(rows: Sequence[dict]) -> str:
    """The summary's protocol line: measured claims tested as the paper, with deviations (how many), and any without
    a card or with an unexplained deviation."""
    from .protocol import protocol_label

    measured = [r for r in rows if r["verdict"] != "not testable here"]
    labels = [protocol_label(r.get("protocol")) for r in measured]
    as_paper = labels.count("as the paper")
    counts: dict[int, int] = {}
    for r in measured:
        p = r.get("protocol") or {}
        if not p.get("missing") and p.get("deviations"):
            counts[p["deviations"]] = counts.get(p["deviations"], 0) + 1
    spread = ", ".join(f"{k} with {d} deviation{'s' * (d != 1)}" for d, k in sorted(counts.items()))
    missing = sum(lab == "no card" for lab in labels)
    unexplained = sum(lab.endswith("unexplained") for lab in labels)
    return (f"**Protocol** (each claim's card: the paper's setting beside ours): of {len(measured)} measured claims, "
            f"**{as_paper}** tested as the paper, **{len(measured) - as_paper}** with named deviations ({spread or 'none'})"
            + (f"; **{missing} without a card**" if missing else "")
            + (f"; **{unexplained} with an unexplained deviation**" if unexplained else "") + ".")


def superseded_text(entry: dict) -> str:
    """One superseded verdict as a sentence: "superseded: contradicted (size smaller) at n = 250 on 2026-12-02, -2.0
    [-4.9, -0.1] points; because ..."."""
    ours = format_effect(entry) if entry.get("effect") is not None else "estimate not recorded"
    n = f"n = {entry['n']}" if entry.get("n") else "n not recorded"
    size = f" (size {entry['size']})" if entry.get("size") else ""
    disc = f", discordant {entry['discordant'][0]} / {entry['discordant'][1]}" if entry.get("discordant") else ""
    return (f"superseded: {entry.get('verdict', 'verdict not recorded')}{size} at {n} ({entry.get('profile', '?')} "
            f"profile, {entry.get('sample', '?')}) measured {entry.get('measured', '?')}: {ours}{disc}; superseded on "
            f"{entry['superseded_on']} because {entry['reason']}")


class ClaimsView:
    """A chapter's claims as the page shows them: the table, then per claim its protocol card (a "protocol"
    dropdown) and any superseded verdict of it (history.json), so that no published verdict disappears."""

    def __init__(self, outcomes: Sequence[Outcome | dict]) -> None:
        self.rows = [asdict(o) if isinstance(o, Outcome) else dict(o) for o in outcomes]
        self.frame = table(outcomes)

    def _repr_html_(self) -> str:
        from html import escape

        from .protocol import card_html

        parts = [self.frame.to_html(index=False, classes="chapter-claims", escape=True)]
        for r in self.rows:
            label = _protocol_label(r)
            if label == "-":
                continue
            parts.append(f"<details><summary>protocol of <code>{escape(r['key'])}</code>: {escape(label)}</summary>"
                         f"{card_html(r.get('protocol'))}</details>")
        for r in self.rows:
            for entry in r.get("superseded") or []:
                parts.append(f'<p style="font-size:90%"><b>{escape(r["key"])}</b>: {escape(superseded_text(entry))}</p>')
        return "\n".join(parts)

    def __repr__(self) -> str:
        return self.frame.to_string()


def show(outcomes: Sequence[Outcome | dict]) -> ClaimsView:
    """What a chapter displays under "What this shows": :class:`ClaimsView`."""
    return ClaimsView(outcomes)


def _protocol_label(d: dict) -> str:
    from .protocol import protocol_label

    if d.get("verdict") == "not testable here" and (d.get("protocol") or {}).get("missing", True):
        return "-"
    return protocol_label(d.get("protocol"))


def _discordant(d: dict) -> str:
    pair = d.get("discordant")
    return "-" if not pair else f"{pair[0]} / {pair[1]}"


def _fmt(v, pattern: str) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else pattern.format(v)


def format_p(p: float | None, test: str = "") -> str:
    """A p-value as shown. A bootstrap p is twice the share of resamples across 0, so a p of 0 (no resample crossed
    0) means p < 2/B for the B resamples that were defined: shown so, never as 0."""
    resamples = re.search(r"bootstrap \((\d+) resamples\)", test or "")
    if p == 0 and resamples:
        dropped = re.search(r"(\d+) undefined resamples left out", test)
        defined = int(resamples.group(1)) - (int(dropped.group(1)) if dropped else 0)
        return f"< {2 / defined:.2g}"
    return _fmt(p, "{:.2g}")


def format_effect(d: dict) -> str:
    """Our effect with the interval that decides the direction (its confidence named when not 95%)."""
    e, lo, hi = d.get("effect"), d.get("ci_low"), d.get("ci_high")
    if e is None or (isinstance(e, float) and not math.isfinite(e)):
        return "-"
    level = d.get("confidence") or 0.95
    tag = "" if abs(level - 0.95) < 1e-9 else f" ({100 * level:.0f}% CI)"
    if lo is None or hi is None:  # an older verdict whose interval was not kept (history.json says so)
        value = f"{e:.2f}x" if d.get("comparison") == "time_ratio" else f"{e:+.1f} {d.get('unit', '')}".strip()
        return f"{value} (interval not recorded)"
    if d.get("comparison") == "time_ratio":
        return f"{e:.1f}x [{lo:.1f}, {hi:.1f}]{tag}"
    unit = d.get("unit", "")
    digits = 1 if unit == "points" else 3
    return f"{e:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}] {unit}".strip() + tag


def by_paper(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """Recorded outcomes grouped by the paper that makes the claim (:data:`registry.PAPERS` order), each group in
    registry order; papers with no recorded claim are left out."""
    order = {k: i for i, k in enumerate(REGISTRY)}
    groups: dict[str, list[dict]] = {p: [] for p in PAPERS}
    for r in sorted(rows, key=lambda r: order.get(r["key"], len(order))):
        groups[paper_of(r["source"])].append(r)
    return {p: g for p, g in groups.items() if g}


def summary_counts(rows: Sequence[dict], axis: str = "verdict") -> dict[str, int]:
    """How many recorded claims got each verdict on one axis (``"verdict"`` = direction, ``"size"``)."""
    labels = VERDICTS if axis == "verdict" else SIZES
    counts = {v: 0 for v in labels}
    for r in rows:
        counts[r.get(axis, "not testable here")] += 1
    return counts if axis == "verdict" else {k: v for k, v in counts.items() if v or k != "mixed"}


def undecided_on_both(rows: Sequence[dict]) -> list[str]:
    """The testable claims decided on neither axis: direction inconclusive and size undetermined (the count issue 38's
    goal is about; an inconclusive claim whose paper states a direction only has no size to decide, and is not here)."""
    return [r["key"] for r in rows if r["verdict"] == "inconclusive" and r.get("size") == "undetermined"]


def multiplicity(rows: Sequence[dict], alpha: float = stats.ALPHA) -> dict[str, int]:
    """How many "reproduced" survive a Holm and a Benjamini-Hochberg correction across every testable claim.

    Each claim's alpha is 5% on its own; this counts the family of all testable claims, using each
    claim's p (two-sided direction p; TOST p for equivalences; the largest part p for orderings)."""
    testable = [r for r in rows if r["verdict"] != "not testable here" and r.get("p") is not None]
    ps = [r["p"] for r in testable]
    holm, bh = (stats.holm(ps), stats.benjamini_hochberg(ps)) if ps else ([], [])
    reproduced = [r["verdict"] == "reproduced" for r in testable]
    return {"testable": len(testable), "reproduced": sum(reproduced),
            "holm": sum(ok and q < alpha for ok, q in zip(reproduced, holm)),
            "bh": sum(ok and q < alpha for ok, q in zip(reproduced, bh))}


#: The book's record (scripts/run_notebooks.py points MSPD_CLAIMS_DIR here) and the front page's generated summary.
BOOK_CLAIMS_DIR = PROJECT_ROOT / "notebooks" / "_executed" / "claims"
FRONT_PAGE_DIR = PROJECT_ROOT / "book" / "_generated"


def write_front_page(rows: Sequence[dict], figure, profile: str) -> Path | None:
    """The landing page's answer first: verdict counts on both axes and the forest plot, written to
    ``book/_generated/`` (included by book/index.md) when this is the book's own record; else nothing."""
    if claims_dir().resolve() != BOOK_CLAIMS_DIR.resolve():
        return None
    FRONT_PAGE_DIR.mkdir(parents=True, exist_ok=True)
    figure.savefig(FRONT_PAGE_DIR / "forest.png", dpi=110, bbox_inches="tight")
    direction, size, multi = summary_counts(rows), summary_counts(rows, "size"), multiplicity(rows)
    text = (f"**What this build found** (profile `{profile}`, {len(rows)} claims of the three papers):\n\n"
            + "- direction: " + ", ".join(f"{k} {v}" for v, k in direction.items()) + "\n"
            + "- size against the paper's own effect: " + ", ".join(f"{k} {v}" for v, k in size.items()) + "\n"
            + f"- undecided on both axes (inconclusive direction, undetermined size): {len(undecided_on_both(rows))} of "
            f"{multi['testable']} testable claims; each claim's planned n is on the summary\n"
            + f"- {multi['holm']} of {multi['reproduced']} reproduced claims survive Holm's correction across all "
            f"{multi['testable']} testable claims\n"
            + "- " + protocol_counts_text(rows) + "\n\n"
            "Every claim, its interval and both verdicts: [the summary](../notebooks/_executed/summary.ipynb).\n\n"
            "![Forest plot of every testable claim: our effect and interval, the paper's effect](_generated/forest.png)\n")
    path = FRONT_PAGE_DIR / "verdicts.md"
    path.write_text(text)
    return path


def paired_values(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-unit a - b for a bootstrap claim (checks they are paired)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired measurements must have the same shape, got {a.shape} and {b.shape}")
    return a - b
