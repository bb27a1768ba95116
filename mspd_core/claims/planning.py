"""Registered power analyses: each comparison claim's planned n, fixed before the result it plans (issue 38, item 1).

    python -m mspd_core.claims.planning --claims DIR --cells F --timings F --source "..."   # plan, print
    python -m mspd_core.claims.planning ... --write      # ... and register them (design.json; then a history entry)
    python -m mspd_core.claims.design                    # show the registered designs

A design states, per claim, the **assumption** (the nuisance parameters of its rule: the share of images on which
the two conditions disagree for paired accuracies, the spread of per-unit differences for bootstrap claims, the
log-scale spread of per-batch times for speed claims; for a claim whose paper states a direction only, also the
effect, because there is no paper effect to plan at) and its **source** (a recorded earlier build, named by date,
commit and host), then the **planned n**: the smallest n on :data:`GRID` (batches per side on :data:`BATCH_GRID`
for speed claims) at which the engine's own rule, simulated by :func:`.simulate.simulate`, is decisive

1. **either way** (``criterion`` "both"): P(direction reproduced | the paper's effect) >= 0.8 *and* P(a decided
   size: consistent, smaller or larger | no effect) >= 0.8 (under no effect a decided size is mostly "smaller": the
   plan asks that a null be told apart from the paper's size; it does not promise "consistent" at the paper's
   effect, whose rate each plan records beside, ``consistent_at_paper``: a band is narrow, and earning
   "consistent" often needs far more than the planned n);
2. else for the paper's direction (``"direction"``): P(reproduced | the paper's effect) >= 0.8;
3. else for its size (``"size"``): P(a decided size | no effect) >= 0.8;
4. else ``"none"``: no n on the grid decides it (the planned n is then None and the row says so).

"No effect" for the size rate (:func:`size_null`): 0 (ratio 1), the margin for a "matches" claim, every part at 0
for an ordering. The assumed discordance comes from the named build, whose images are the first n of the planned
sample: it is a nuisance parameter (how often two conditions disagree), never the effect, so planning with it does
not look at the answer. For a direction-only claim there is no paper effect to plan at: the assumed effect is that
build's own estimate on the same images (an "observed power" plan, which does look at the data), and the design
and the row say so. Speed claims' plans are nearly trivial: against the papers' 28x-1696x a true ratio of 1 is
told apart at 2 batches, so "both" reduces to the direction there.

``design.json`` (beside this file) is registered: every claim's design is part of its fingerprint
(:func:`.registry.claim_fingerprint`), so a change needs an entry in ``history.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .design import BATCH_GRID, CRITERIA, GRID, PLAN_REPS, THRESHOLD, decided_rate, print_designs, size_null
from .registry import DESIGN_FILE, _load, get_spec
from .simulate import DEFAULT_CV, DEFAULT_DISCORDANCE, DEFAULT_SD, simulate


def assumption_from_row(row: dict) -> dict | None:
    """A recorded outcome's nuisance parameters (its ``design``) as a planning assumption, or None when the row has
    none (not testable in that build). Direction-only claims also carry the row's estimate as the assumed effect."""
    d = row.get("design") or {}
    spec = get_spec(row["key"])
    if row.get("verdict") == "not testable here" or not (d or spec.statistic == "spearman"):
        return None  # a rank correlation needs no spread: its effect (rho) is the whole assumption
    out: dict = {}
    for field in ("discordance", "sd", "cv"):
        if field in d:
            out[field] = round(float(d[field]), 4)
    if spec.comparison == "ordering":
        out["parts"] = int(d.get("parts") or 0) or None
        if d.get("part_effects") is not None:
            out["part_effects"] = [float(x) for x in d["part_effects"]]
    stated = spec.paper_effect is not None or (spec.comparison == "ordering" and (out.get("part_effects") or spec.part_effects))
    if not stated:
        if row.get("effect") is None:
            return None
        out["effect"] = round(float(row["effect"]), 4)
    return out


def plan_claim(key: str, assumed: dict, reps: int = PLAN_REPS, seed: int = 0) -> dict:
    """Claim ``key``'s power analysis under ``assumed`` (:func:`assumption_from_row`): the rates along the grid and
    the planned n with its criterion (this module's docstring). Stops at the first n that decides either way."""
    spec = get_spec(key)
    kw = {"discordance": max(assumed.get("discordance", DEFAULT_DISCORDANCE), 0.01), "cv": max(assumed.get("cv", DEFAULT_CV), 1e-3),
          "sd": max(assumed.get("sd", DEFAULT_SD), 1e-9), "reps": reps, "seed": seed}
    if spec.comparison == "ordering":
        kw["parts"] = assumed.get("parts")
        kw["part_effects"] = assumed.get("part_effects")
    at_paper = assumed.get("effect", "paper")
    if at_paper != "paper" and spec.comparison == "ordering":
        kw["part_effects"] = None
    size_stated = "effect" not in assumed
    curve, first = {}, {c: None for c in CRITERIA[:3]}
    for n in (BATCH_GRID if spec.comparison == "time_ratio" else GRID):
        rates = simulate(key, at_paper, n, **kw) if _effect_usable(spec, at_paper) else None
        direction = rates["direction"]["reproduced"] if rates else 0.0
        decided = decided_rate(simulate(key, size_null(spec), n, **kw)["size"]) if size_stated else None
        curve[str(n)] = {"reproduced_at_paper": round(direction, 3),
                         **({"decided_size_at_null": round(decided, 3),
                             "consistent_at_paper": round(rates["size"]["consistent"], 3) if rates else 0.0}
                            if decided is not None else {})}
        ok_dir, ok_size = direction >= THRESHOLD, decided is not None and decided >= THRESHOLD
        for crit, ok in (("both", ok_dir and ok_size), ("direction", ok_dir), ("size", ok_size)):
            if ok and first[crit] is None:
                first[crit] = n
        if first["both"] is not None or (first["direction"] is not None and not size_stated):
            break
    criterion = next((c for c in CRITERIA[:3] if first[c] is not None), "none")
    planned = first.get(criterion)
    return {"assumed": assumed, "planned_n": planned, "criterion": criterion,
            "unit_of_n": "batches per side" if spec.comparison == "time_ratio" else "images" if spec.comparison in (
                "paired_accuracy", "equivalence") or spec.part_comparison == "paired_accuracy" else "units",
            "power": curve}


def _effect_usable(spec, effect) -> bool:
    """A direction-only claim planned at the named build's estimate: only an estimate in the paper's direction."""
    if effect == "paper":
        return True
    return effect > (1.0 if spec.comparison == "time_ratio" else 0.0)


def cost_units_per_image(cells: list[dict], notebook: str, n: int, unit_seconds: float) -> float | None:
    """Calibration units per image of ``notebook``'s grid cells that ran on ``n`` images in the named build (what
    raising that sample costs per added image: every cell of the chapter on that sample grows with it)."""
    seconds = sum(c["seconds"] for c in cells if c.get("notebook") == notebook and c.get("n") == n)
    return round(seconds / n / unit_seconds, 5) if seconds and n else None


def plan_all(claims_dir: Path, cells_file: Path | None, timings_file: Path | None, source: str, reps: int = PLAN_REPS,
             progress: bool = True) -> dict:
    """Every recorded claim's power analysis from a named build's record (its claims folder, cell log, timings)."""
    from tqdm.auto import tqdm

    rows = []
    for path in sorted(Path(claims_dir).glob("*.json")):
        rows += json.loads(path.read_text())["claims"]
    cells = [json.loads(x) for x in Path(cells_file).read_text().splitlines() if x.strip()] if cells_file else []
    timing = json.loads(Path(timings_file).read_text()) if timings_file else {}
    unit = (timing.get("calibration") or {}).get("seconds")
    designs = {}
    for row in tqdm(rows, desc="power analyses", disable=not progress):
        assumed = assumption_from_row(row)
        if assumed is None:
            continue
        design = plan_claim(row["key"], assumed, reps=reps)
        design["n_in_source"] = row.get("n")
        if unit and row.get("n"):
            design["cost_units_per_image"] = cost_units_per_image(cells, row["notebook"], row["n"], unit)
        designs[row["key"]] = design
    return {"source": source, "cpu": timing.get("cpu"), "calibration_seconds": unit, "reps": reps,
            "threshold": THRESHOLD, "grid": list(GRID), "batch_grid": list(BATCH_GRID),
            "claims": dict(sorted(designs.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=Path, required=True, help="the named build's claims folder (notebooks/_executed/claims)")
    parser.add_argument("--cells", type=Path, help="its cell log (notebooks/_executed/cells-cpu.jsonl)")
    parser.add_argument("--timings", type=Path, help="its timings record (notebooks/_executed/timings-cpu.json)")
    parser.add_argument("--source", required=True, help="the named build, in words: date, commit, host")
    parser.add_argument("--reps", type=int, default=PLAN_REPS)
    parser.add_argument("--write", action="store_true", help="register the plans in design.json (then record a history entry)")
    args = parser.parse_args(argv)
    if not args.claims.is_dir():
        parser.error(f"no claims folder at {args.claims}: build the book first (README) or name another build's")
    plan = plan_all(args.claims, args.cells, args.timings, args.source, args.reps)
    if args.write:
        DESIGN_FILE.write_text(json.dumps(plan, indent=1) + "\n")
        _load.cache_clear()
        print(f"registered {len(plan['claims'])} designs in {DESIGN_FILE}; record the change: "
              "python -m mspd_core.claims.history --reason '...'")
    print_designs(plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
