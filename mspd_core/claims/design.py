"""The registered power analyses as the book shows them: planned-n notes on rows, the summary's table, the CLI.

    python -m mspd_core.claims.design            # the registered designs, one line each

:mod:`.planning` computes and registers them (its docstring: the assumption, the criterion, the grid);
:mod:`.registry` reads ``design.json`` (part of each claim's fingerprint). This module imports neither the
simulation nor the engine, so that the engine can use it.
"""
from __future__ import annotations

import argparse

from . import registry as _registry

#: The sample sizes a plan may choose (images, or units for bootstrap claims); the issue's grid.
GRID = (50, 100, 250, 500, 1000)
#: Batches per side for speed claims.
BATCH_GRID = (2, 4, 8, 16, 32)
THRESHOLD = 0.80
#: Simulated repetitions per (n, effect): Monte Carlo error up to +/-0.04 at a rate of 0.8.
PLAN_REPS = 400
CRITERIA = ("both", "direction", "size", "none")
#: Set by scripts/run_notebooks.py: this build's calibration unit (seconds), for "about Y minutes on this CPU".
CALIBRATION_ENV = "MSPD_CALIBRATION_SECONDS"

#: The size verdicts that decide (the rest: undetermined, not stated, not testable here).
DECIDED_SIZES = ("consistent", "smaller", "larger", "mixed")


def decided_rate(size_rates: dict) -> float:
    """P(a decided size) from one simulation's size rates (:data:`DECIDED_SIZES`)."""
    return sum(size_rates.get(v, 0.0) for v in DECIDED_SIZES)


def size_null(spec) -> float:
    """"No effect" for the size rate: 0 (ratio 1), the margin for a "matches" claim, every part at 0 for an ordering
    (the least favourable configuration of the direction's false-"reproduced" rate sets the other parts to strong
    effects, which would make their sizes trivially decided)."""
    return {"time_ratio": 1.0, "equivalence": spec.margin}.get(spec.comparison, 0.0)


def units_run(design: dict | None, n: int | None) -> int | None:
    """The n a recorded row's plan compares with: batches per side for a time ratio, units for an ordering, else n."""
    design = design or {}
    return min(design["batches"]) if design.get("batches") else design.get("units", n)


def planned_n_note(key: str, n: int, calibration_seconds: float | None = None) -> str:
    """The row's note when this build ran claim ``key`` below its registered planned n: what it needs and about how
    long that takes on this CPU (the named build's per-image cost in calibration units, times this build's unit)."""
    import os

    design = _registry.registered_design(key)
    if not design or not n:
        return ""
    planned, unit_of_n = design.get("planned_n"), design.get("unit_of_n", "images")
    if design.get("criterion") == "none":
        top = BATCH_GRID[-1] if unit_of_n == "batches per side" else GRID[-1]
        if "effect" in (design.get("assumed") or {}):  # a direction-only claim, planned at the named build's estimate
            return (f"registered power analysis ({_assumption_text(design)}, the effect being the named build's own "
                    f"estimate): no n up to {top} {unit_of_n} gives an 80% chance of 'reproduced'")
        return (f"registered power analysis ({_assumption_text(design)}): no n up to {top} {unit_of_n} gives an 80% "
                "chance of 'reproduced' at the paper's effect, nor of a decided size under no effect")
    if planned is None or n >= planned:
        return ""
    text = f"n limited by the time budget: its registered power analysis needs n = {planned} {unit_of_n}"
    cost = design.get("cost_units_per_image")
    unit = calibration_seconds or float(os.environ.get(CALIBRATION_ENV) or 0) or _registry.load_designs().get("calibration_seconds")
    if cost and unit and unit_of_n != "batches per side":
        minutes = (planned - n) * cost * unit / 60
        took = "under a minute" if minutes < 1 else f"about {minutes:.0f} more minute{'s' * (round(minutes) != 1)}"
        text += f" ({took} on this CPU for the chapter's cells on that sample)"
    return text


def _assumption_text(design: dict) -> str:
    a = design.get("assumed") or {}
    parts = [f"{k} {v:g}" for k, v in a.items() if k in ("discordance", "sd", "cv", "effect") and v is not None]
    return ", ".join(parts) or "defaults"


def design_summary(key: str) -> dict | None:
    """What the summary shows per claim: planned n, criterion, assumption and its source, power at the planned n."""
    design = _registry.registered_design(key)
    if not design:
        return None
    planned = design.get("planned_n")
    curve = design.get("power", {})
    at = curve.get(str(planned)) if planned is not None else None  # "none": no n on the grid reaches 80%
    return {"planned_n": planned, "criterion": design["criterion"], "assumption": _assumption_text(design)
            + (" (effect: the named build's estimate)" if "effect" in (design.get("assumed") or {}) else ""),
            "source": _registry.load_designs().get("source", "?"), "unit_of_n": design.get("unit_of_n", "images"),
            "power_at_planned": at}


def planned_text(summary: dict | None) -> str:
    """A planned n as a table shows it: the number, "none" (no n on the grid decides it) or "-" (no design)."""
    if not summary:
        return "-"
    return "none" if summary.get("planned_n") is None else str(summary["planned_n"])


def design_table(rows: list[dict]):
    """The summary's power-analysis table: per recorded testable claim, the n this build ran, the registered planned
    n (criterion, assumption, power there) and the realised verdicts on both axes, with whether n fell short."""
    import pandas as pd

    out = []
    for r in rows:
        if r.get("verdict") == "not testable here":
            continue
        d = design_summary(r["key"])
        at = (d or {}).get("power_at_planned") or {}
        ran = units_run(r.get("design"), r.get("n"))
        planned = d["planned_n"] if d else None
        decided = r["verdict"] != "inconclusive" and r.get("size") != "undetermined"
        status = ("no registered design" if not d else "no n on the grid decides it" if d["criterion"] == "none" else
                  "at or above the planned n" if ran and ran >= planned else
                  "below the planned n (decided anyway)" if decided else "n limited by the time budget")
        out.append({"claim": r["key"], "n here": ran, "planned n": planned_text(d),
                    "unit": (d or {}).get("unit_of_n", "-"), "planned for": (d or {}).get("criterion", "-"),
                    "assumption": (d or {}).get("assumption", "-"),
                    "P(reproduced | paper) at planned n": at.get("reproduced_at_paper"),
                    "P(size decided | no effect) at planned n": at.get("decided_size_at_null"),
                    "P(size consistent | paper) at planned n": at.get("consistent_at_paper"),
                    "direction": r["verdict"], "size": r.get("size", "-"), "status": status})
    return pd.DataFrame(out)


def print_designs(designs: dict) -> None:
    """One line per designed claim: planned n, criterion, assumption (and the source first)."""
    print(f"source: {designs.get('source', 'none registered')}")
    for key, d in designs.get("claims", {}).items():
        print(f"{key:32s} planned n {str(d['planned_n']):>5s} ({d['criterion']}; {_assumption_text(d)})")


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    print_designs(_registry.load_designs())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
