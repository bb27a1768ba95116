"""Operating characteristics of a registered claim's rule, by simulation through the engine's own code.

    python -m mspd_core.claims.simulate --claim t4_speed --effect 50          # true ratio 50x
    python -m mspd_core.claims.simulate --claim t5_vs_bilevel2 --effect 0 --n 500 --discordance 0.2 --json
    python -m mspd_core.claims.simulate --claim t13_smoothing_matches_pgd --effect 2 --reps 2000

Each repetition draws data with a chosen true effect, calls :func:`mspd_core.claims.check` (the
rule the book uses, not a copy) and counts both verdicts. ``--effect`` is in the claim's unit:
points for accuracies (p_a - p_b in percent), the true ratio for speed claims, the mean per-unit
difference for bootstrap claims (Spearman's rho for a rank-correlation claim), each part's effect
for orderings; ``paper`` uses the paper's effect (per part where registered). Data models:

- paired accuracies: each image independently "only a correct" / "only b correct" / agree, with
  P(disagree) = ``--discordance`` and P(only a) - P(only b) = effect;
- time ratios: per-batch seconds log-normal with standard deviation ``--cv`` on the log scale,
  ``--n`` batches per side;
- bootstrap: ``--n`` units, normal differences with standard deviation ``--sd`` (bivariate normal
  with the matching Spearman's rho for a rank-correlation claim);
- orderings: independent parts, each drawn as above.

With ``--json`` the last line is ``{"direction": {...}, "size": {...}}`` (rates of each verdict).
"""
from __future__ import annotations

import argparse
import json
import math
from typing import Sequence

import numpy as np

from .engine import SIZES, check
from .registry import ClaimSpec, get_spec

DIRECTIONS = ("reproduced", "contradicted", "inconclusive")
#: Defaults where the build's own design is not given: P(disagree) for accuracies, the log-scale spread of
#: per-batch times, and the spread of per-unit differences (in the claim's unit).
DEFAULT_DISCORDANCE = 0.2
DEFAULT_CV = 0.15
DEFAULT_SD = 1.0


def default_n(spec: ClaimSpec) -> int:
    """The ``cpu`` profile's n for the claim's sample (batches per side for a time ratio)."""
    from ..profiles import get_profile

    cpu = get_profile("cpu")
    if spec.comparison == "time_ratio":
        return max(2, math.ceil((cpu.n_large if spec.sample == "large" else cpu.n_images) / cpu.batch_size))
    return cpu.n_large if spec.sample == "large" else cpu.n_images


def paired_outcomes(rng: np.random.Generator, n: int, discordance: float, effect: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean outcomes of two conditions on n images: P(disagree) = discordance, p_a - p_b = effect (fractions)."""
    if not 0 <= abs(effect) <= discordance <= 1:
        raise ValueError(f"need |effect| <= discordance <= 1, got effect {effect:g}, discordance {discordance:g}")
    u = rng.random(n)
    only_a = u < (discordance + effect) / 2
    only_b = (u >= (discordance + effect) / 2) & (u < discordance)
    both = rng.random(n) < 0.5
    return np.where(only_a, True, np.where(only_b, False, both)), np.where(only_b, True, np.where(only_a, False, both))


def _draw(spec: ClaimSpec, comparison: str, rng, effect: float, n: int, discordance: float, cv: float, sd: float) -> dict:
    if comparison in ("paired_accuracy", "equivalence"):
        a, b = paired_outcomes(rng, n, max(discordance, abs(effect) / 100), effect / 100)
        return {"a": a, "b": b}
    if comparison == "time_ratio":
        if effect <= 0:
            raise ValueError("a time ratio's true effect must be > 0 (1 = no effect)")
        return {"slow": effect * np.exp(rng.normal(0, cv, n)), "fast": np.exp(rng.normal(0, cv, n))}
    if comparison == "bootstrap" and spec.statistic == "spearman":
        r = 2 * math.sin(math.pi * effect / 6)  # Pearson r of a bivariate normal whose Spearman rho is `effect`
        z = rng.normal(size=(n, 2))
        return {"values": np.column_stack([z[:, 0], r * z[:, 0] + math.sqrt(max(1 - r * r, 0)) * z[:, 1]])}
    return {"values": rng.normal(effect, sd, n)}


#: ``effect`` for an ordering's least favourable null (:func:`least_favourable_parts`).
LEAST_FAVOURABLE = "least-favourable"


def least_favourable_parts(k: int, comparison: str, discordance: float, sd: float) -> list[float]:
    """The null configuration under which an intersection-union rule says "reproduced" most often: one part at 0
    and every other part at an effect it detects almost surely (all discordant pairs one way; three standard
    deviations), so the rule's false "reproduced" rate is that one null part's. Setting every part to 0, or the
    others to underpowered paper effects, flatters the rule (issue 38)."""
    if k < 1:
        raise ValueError("an ordering needs at least one part")
    strong = 100 * discordance if comparison == "paired_accuracy" else 3 * sd
    return [0.0] + [strong] * (k - 1)


def simulate(key: str, effect: float | str = "paper", n: int | None = None, discordance: float = DEFAULT_DISCORDANCE,
             reps: int = 1000, seed: int = 0, cv: float = DEFAULT_CV, sd: float = DEFAULT_SD,
             parts: int | None = None, part_effects: Sequence[float] | None = None) -> dict[str, dict[str, float]]:
    """Rates of every direction and size verdict of claim ``key`` when the true effect is ``effect``.

    For an ordering, ``part_effects`` are the paper's per-part effects the chapter used (where the registry
    has none, e.g. Table VI's margins read from the paper's table): ``effect="paper"`` draws each part at its
    paper effect, and every run judges the parts' sizes against them."""
    spec = get_spec(key)
    if spec.comparison == "untestable":
        raise ValueError(f"claim {key!r} is not testable here ({spec.untestable_reason}); nothing to simulate")
    if reps < 1:
        raise ValueError("reps must be >= 1")
    n = n or default_n(spec)
    rng = np.random.default_rng(seed)
    counts = {"direction": {v: 0 for v in DIRECTIONS}, "size": {v: 0 for v in SIZES if v != "not testable here"}}
    paper_parts = list(part_effects) if part_effects is not None else (list(spec.part_effects) if spec.part_effects else None)
    if spec.comparison == "ordering":
        k = parts or (len(paper_parts) if paper_parts else 3)
        if paper_parts is not None and len(paper_parts) != k:
            raise ValueError(f"{key}: {len(paper_parts)} paper part effects for {k} parts")
        if effect == "paper":
            if not paper_parts:
                raise ValueError(f"{key}: the registry has no per-part paper effects; give --effect")
            effects: Sequence[float] = paper_parts
        elif effect == LEAST_FAVOURABLE:
            effects = least_favourable_parts(k, spec.part_comparison, discordance, sd)
        else:
            effects = [float(effect)] * k
        comparison = spec.part_comparison
    else:
        if effect == "paper":
            if spec.paper_effect is None:
                raise ValueError(f"{key}: the paper states a direction only; give --effect")
            effect = spec.paper_effect
        effects, comparison = [float(effect)], spec.comparison
    for rep in range(reps):
        if spec.comparison == "ordering":
            draws = [_draw(spec, comparison, rng, e, n, discordance, cv, sd) for e in effects]
            parts_in = [(d["a"], d["b"]) for d in draws] if comparison == "paired_accuracy" else [d["values"] for d in draws]
            out = check(key, parts=parts_in, part_paper_effects=paper_parts, seed=rep, mde=False)
        else:
            out = check(key, **_draw(spec, comparison, rng, effects[0], n, discordance, cv, sd), seed=rep, mde=False)
        counts["direction"][out.verdict] += 1
        counts["size"][out.size] = counts["size"].get(out.size, 0) + 1
    return {axis: {v: c / reps for v, c in got.items()} for axis, got in counts.items()}


def band_edges(spec: ClaimSpec) -> tuple[float, float] | None:
    """The edges of the claim's registered size band (:func:`.registry.size_band`): a true effect at either is the
    size rule's least favourable case for a false "consistent" (None without a paper effect, and for orderings)."""
    from .registry import size_band

    return size_band(spec) if spec.comparison != "ordering" else None


def band_edge(spec: ClaimSpec) -> float | None:
    """The upper edge of :func:`band_edges` (None where there is no band)."""
    edges = band_edges(spec)
    return edges[1] if edges else None


def operating_characteristics(rows: Sequence[dict], reps: int = 200, seed: int = 0):
    """For each recorded testable claim, the rule's rates at this build's n and design (the recorded
    discordance, per-batch spread, sd of differences): P(reproduced) at the paper's effect (power) and
    under no effect (false "reproduced"), P(size "consistent") at the paper's effect, P(a decided size) under no
    effect (every part at 0 for an ordering), P(size "consistent") at the worse edge of the registered band (false
    "consistent"); and, from the registered
    power analysis (:mod:`.design`), the planned n with the rates there. A table."""
    import pandas as pd

    from .design import decided_rate, design_summary, planned_text

    out = []
    for r in rows:
        if r["verdict"] == "not testable here" or not r.get("n"):
            continue
        spec = get_spec(r["key"])
        d = r.get("design") or {}
        kw = {"reps": reps, "seed": seed, "discordance": max(d.get("discordance", DEFAULT_DISCORDANCE), 0.01),
              "cv": max(d.get("cv", DEFAULT_CV), 1e-3), "sd": max(d.get("sd", DEFAULT_SD), 1e-9),
              "part_effects": d.get("part_effects")}
        if spec.comparison == "time_ratio":
            kw["n"] = min(d.get("batches", [default_n(spec)]))
        else:
            kw["n"] = d.get("units", r["n"])
        if spec.comparison == "ordering":
            kw["parts"] = d.get("parts")
        null: float | str = 1.0 if spec.comparison == "time_ratio" else 0.0
        if spec.comparison == "equivalence":
            null = spec.margin  # the equivalence null: the true difference at the margin
        if spec.comparison == "ordering":
            null = LEAST_FAVOURABLE  # one part null, the others true: the hardest null for an all-parts rule
        at_null = simulate(r["key"], null, **kw)
        has_paper = spec.paper_effect is not None or (spec.comparison == "ordering" and (kw["part_effects"] or spec.part_effects))
        at_paper = simulate(r["key"], "paper", **kw) if has_paper else None
        edges = [e for e in (band_edges(spec) or ()) if _drawable(spec, e, kw["discordance"]) and
                 (spec.comparison != "time_ratio" or e > 0)]
        at_edge = max((simulate(r["key"], e, **kw)["size"]["consistent"] for e in edges), default=None)
        # every part at 0 for an ordering's size rate (its least favourable null makes the other parts trivially decided)
        size_null = simulate(r["key"], 0.0, **kw) if spec.comparison == "ordering" else at_null
        planned = design_summary(r["key"]) or {}
        there = planned.get("power_at_planned") or {}
        out.append({"claim": r["key"], "n": kw["n"], "rule": spec.comparison,
                    "P(reproduced | paper's effect)": at_paper["direction"]["reproduced"] if at_paper else None,
                    "P(size consistent | paper's effect)": at_paper["size"]["consistent"] if at_paper else None,
                    "P(size decided | no effect)": decided_rate(size_null["size"]) if has_paper else None,
                    "P(size consistent | band's edge)": at_edge,
                    "planned n": planned_text(planned or None),
                    "planned for": planned.get("criterion") if planned else None,
                    "P(reproduced | paper's effect) at planned n": there.get("reproduced_at_paper"),
                    "P(size decided | no effect) at planned n": there.get("decided_size_at_null"),
                    "P(reproduced | no effect)": at_null["direction"]["reproduced"],
                    "no effect means": "difference at the margin" if spec.comparison == "equivalence" else
                    ("ratio 1" if spec.comparison == "time_ratio" else
                     "one part 0, the others detected almost surely (least favourable)" if spec.comparison == "ordering"
                     else "0")})
    return pd.DataFrame(out)


def _drawable(spec: ClaimSpec, effect: float, discordance: float) -> bool:
    """Whether a paired draw at ``effect`` points exists (|effect| <= 100; the draw raises discordance to the effect)."""
    return spec.comparison not in ("paired_accuracy", "equivalence") or abs(effect) <= 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claim", required=True, help="a registered claim key")
    parser.add_argument("--effect", default="paper", help="the true effect in the claim's unit, 'paper' (default), or, "
                        f"for an ordering, '{LEAST_FAVOURABLE}' (one part 0, the others far above it)")
    parser.add_argument("--n", type=int, default=None, help="images / units (batches per side for a time ratio); "
                        "default: the cpu profile's sample for the claim")
    parser.add_argument("--discordance", type=float, default=DEFAULT_DISCORDANCE, help="P(two conditions disagree on an image)")
    parser.add_argument("--cv", type=float, default=DEFAULT_CV, help="per-batch time spread (sd of log seconds)")
    parser.add_argument("--sd", type=float, default=DEFAULT_SD, help="sd of per-unit differences (bootstrap claims)")
    parser.add_argument("--parts", type=int, default=None, help="number of parts of an ordering")
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the rates as one JSON line last")
    args = parser.parse_args(argv)
    try:
        effect = args.effect if args.effect in ("paper", LEAST_FAVOURABLE) else float(args.effect)
        spec = get_spec(args.claim)
        rates = simulate(args.claim, effect, args.n, args.discordance, args.reps, args.seed, args.cv, args.sd, args.parts)
    except (KeyError, ValueError) as err:
        parser.error(str(err).strip("'\""))
    n = args.n or default_n(spec)
    mc = 1.96 * math.sqrt(0.25 / args.reps)
    print(f"{args.claim} ({spec.comparison}): true effect {effect}, n = {n}, {args.reps} repetitions "
          f"(Monte Carlo error up to +/-{mc:.3f})")
    for axis, got in rates.items():
        print(f"  {axis:9s} " + "  ".join(f"{v}: {r:.3f}" for v, r in got.items()))
    if args.json:
        print(json.dumps(rates))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
