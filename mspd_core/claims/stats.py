"""The statistics behind every verdict: paired tests, their 95% intervals and what an n can detect.

All comparisons are *paired* (the same images under two conditions), as SPEC's statistical
standard asks:

- accuracies: exact McNemar test, Agresti-Min interval for the paired difference, exact
  power of the McNemar test for the minimum detectable effect (MDE);
- equivalence ("matches", "near-optimal"): two one-sided tests (TOST) against a declared margin;
- per-image measurements (losses, energies, errors, cosines): paired bootstrap;
- times: ratio of per-batch seconds per image, Welch interval on the log scale.

Each function returns an :class:`Estimate` in the claim's units (points, ratio, raw).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Sequence

import numpy as np

ALPHA = 0.05
POWER = 0.80
BOOTSTRAP_SAMPLES = 2000
_z = NormalDist().inv_cdf


@dataclass(frozen=True)
class Estimate:
    """Our paired effect with its 95% interval, the test's p-value, n and the MDE at 80% power."""

    effect: float
    ci_low: float
    ci_high: float
    p: float
    n: int
    mde: float
    test: str


def _as_bool(a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        raise ValueError("paired accuracy outcomes must be boolean per-image vectors")
    return arr.astype(bool)


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired outcomes must be 1-D and cover the same images, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("no paired outcomes")


def discordant_counts(a, b) -> tuple[int, int, int]:
    """(only a correct, only b correct, n) for paired boolean outcomes."""
    a, b = _as_bool(a), _as_bool(b)
    _check_pair(a, b)
    return int((a & ~b).sum()), int((~a & b).sum()), int(a.size)


def mcnemar_p(n10: int, n01: int) -> float:
    """Two-sided exact McNemar p-value (binomial test of n10 among the n10 + n01 discordant pairs)."""
    from scipy.stats import binomtest

    d = n10 + n01
    return 1.0 if d == 0 else float(binomtest(n10, d, 0.5).pvalue)


def _paired_se(n10: int, n01: int, n: int) -> float:
    """Standard error of the Agresti-Min adjusted paired difference (0.5 added to each cell)."""
    a, b, m = n10 + 0.5, n01 + 0.5, n + 2.0
    return math.sqrt(max((a + b) - (a - b) ** 2 / m, 0.0)) / m


def agresti_min_interval(n10: int, n01: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for the paired difference of proportions p_a - p_b (Agresti & Min 2005: Wald with
    0.5 added to each cell of the 2x2 table), clipped to [-1, 1]."""
    z = _z(0.5 + confidence / 2)
    d = (n10 - n01) / (n + 2.0)
    se = _paired_se(n10, n01, n)
    return max(-1.0, d - z * se), min(1.0, d + z * se)


def mcnemar_power(n: int, discordance: float, effect: float, alpha: float = ALPHA) -> float:
    """Exact power of the two-sided exact McNemar test to reject *in the effect's direction*.

    ``discordance`` = P(the two conditions disagree on an image); ``effect`` = p_a - p_b (a fraction,
    |effect| <= discordance). Sums over the number of discordant pairs D ~ Bin(n, discordance).
    """
    from scipy.stats import binom

    effect = abs(effect)
    psi = min(1.0, max(discordance, effect))
    if psi <= 0 or n <= 0:
        return 0.0
    d = np.arange(n + 1)
    weight = binom.pmf(d, n, psi)
    # smallest k with P(X >= k | D, 1/2) <= alpha / 2: the upper rejection boundary of the exact test
    crit = binom.isf(alpha / 2, d, 0.5) + 1
    q = 0.5 + effect / (2 * psi)
    reject = binom.sf(crit - 1, d, q)
    return float(np.sum(weight * np.where(d > 0, reject, 0.0)))


def mcnemar_mde(n: int, discordance: float, power: float = POWER, alpha: float = ALPHA) -> float:
    """Smallest |p_a - p_b| the exact McNemar test detects with ``power`` at this n (bisection).

    The discordance is floored at the effect itself (an effect of size e needs at least e discordance)."""
    if mcnemar_power(n, 1.0, 1.0, alpha) < power:
        return float("nan")
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if mcnemar_power(n, max(discordance, mid), mid, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def paired_accuracy(a, b, with_mde: bool = True) -> Estimate:
    """Accuracy of condition a minus condition b on the same images, in points (exact McNemar).

    The MDE uses the observed discordance (share of images on which a and b disagree)."""
    n10, n01, n = discordant_counts(a, b)
    lo, hi = agresti_min_interval(n10, n01, n)
    mde = mcnemar_mde(n, (n10 + n01) / n) if with_mde else float("nan")
    return Estimate(100 * (n10 - n01) / n, 100 * lo, 100 * hi, mcnemar_p(n10, n01), n, 100 * mde,
                    "exact McNemar (paired), Agresti-Min 95% CI")


def equivalence(a, b, margin: float) -> Estimate:
    """TOST for |p_a - p_b| < margin (points) on paired outcomes; p = max of the two one-sided p-values.

    The interval shown is the 95% one; TOST at 5% is equivalent to the 90% interval lying inside
    (-margin, margin). The MDE is the smallest margin this n could establish with 80% power when
    the true difference is 0."""
    n10, n01, n = discordant_counts(a, b)
    d = (n10 - n01) / n
    se = max(_paired_se(n10, n01, n), 1e-12)
    m = margin / 100
    nd = NormalDist()
    p = max(1 - nd.cdf((d + m) / se), nd.cdf((d - m) / se))
    lo, hi = agresti_min_interval(n10, n01, n)
    smallest_margin = (_z(1 - ALPHA) + _z(1 - (1 - POWER) / 2)) * se
    return Estimate(100 * d, 100 * lo, 100 * hi, float(p), n, 100 * smallest_margin,
                    f"TOST, margin +/-{margin:g} points (paired, normal approximation)")


class UndefinedStatistic(ValueError):
    """The statistic has no value on this sample (e.g. a rank correlation with a constant column)."""


def bootstrap(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], float] | None = None,
              seed: int = 0, samples: int = BOOTSTRAP_SAMPLES, label: str = "mean paired difference") -> Estimate:
    """Percentile bootstrap over units (rows of ``values``) of ``statistic`` (default: the mean).

    p is the two-sided bootstrap p-value for "statistic = 0": twice the share of resamples on the
    other side of 0 ((k + 1) / (B + 1) form, so never 0). MDE = (z_0.975 + z_0.8) x bootstrap SE."""
    v = np.asarray(values, dtype=float)
    if v.shape[0] < 2 or not np.isfinite(v).all():
        raise ValueError("bootstrap needs at least 2 finite units")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.shape[0], size=(samples, v.shape[0]))
    if statistic is None:
        est = float(v.mean())
        boot = v[idx].mean(axis=1) if v.ndim == 1 else v[idx].mean(axis=1).mean(axis=-1)
    else:
        est = float(statistic(v))
        boot = np.array([statistic(v[i]) for i in idx], dtype=float)
        boot = boot[np.isfinite(boot)]
        if not math.isfinite(est) or boot.size < samples / 2:
            raise UndefinedStatistic(f"the statistic is undefined on this sample (on the data: {est:.3g}; finite on "
                                     f"{boot.size} of {samples} resamples), e.g. a constant column")
        if boot.size < samples:
            label += f", {samples - boot.size} undefined resamples left out"
    lo, hi = np.percentile(boot, [2.5, 97.5])
    tail = min(int((boot <= 0).sum()), int((boot >= 0).sum()))
    p = min(1.0, 2 * (tail + 1) / (boot.size + 1))
    mde = (_z(1 - ALPHA / 2) + _z(POWER)) * float(boot.std(ddof=1))
    return Estimate(est, float(lo), float(hi), p, int(v.shape[0]), mde, f"paired bootstrap ({samples} resamples), {label}")


def time_ratio(slow: Sequence[float], fast: Sequence[float]) -> Estimate:
    """Ratio of mean seconds per image, slow / fast, from per-batch timings (Welch t on the log scale).

    Needs at least two timed batches on each side for an interval; the test is "ratio = 1"."""
    from scipy import stats

    s, f = np.log(np.asarray(slow, float)), np.log(np.asarray(fast, float))
    if s.size < 2 or f.size < 2 or not (np.isfinite(s).all() and np.isfinite(f).all()):
        raise ValueError("a time ratio needs at least two positive per-batch timings on each side")
    d = s.mean() - f.mean()
    vs, vf = s.var(ddof=1) / s.size, f.var(ddof=1) / f.size
    se = math.sqrt(vs + vf) or 1e-12
    df = (vs + vf) ** 2 / ((vs ** 2 / (s.size - 1) if vs else 0) + (vf ** 2 / (f.size - 1) if vf else 0) or 1e-300)
    df = min(df, 1e6)
    t = stats.t.ppf(0.975, df)
    p = float(2 * stats.t.sf(abs(d) / se, df))
    mde = math.exp((t + stats.t.ppf(POWER, df)) * se)
    return Estimate(math.exp(d), math.exp(d - t * se), math.exp(d + t * se), p, int(s.size + f.size), mde,
                    f"Welch t on log seconds per image ({s.size} + {f.size} timed batches)")


def intersection_union(parts: Sequence[Estimate]) -> Estimate:
    """A claim that holds only if every part holds ("best under every attack", "white < gray < black").

    Intersection-union test: p = the largest part p (valid at level alpha without correction);
    the effect, interval and MDE shown are those of the weakest part (smallest effect)."""
    if not parts:
        raise ValueError("an ordering claim needs at least one comparison")
    weakest = min(parts, key=lambda e: e.effect)
    return Estimate(weakest.effect, weakest.ci_low, weakest.ci_high, max(e.p for e in parts), min(e.n for e in parts),
                    max(e.mde for e in parts), f"intersection-union over {len(parts)} comparisons ({weakest.test}); weakest shown")
