"""The statistics behind every verdict: paired tests, their 95% intervals and what an n can detect.

All comparisons are *paired* (the same images under two conditions), as SPEC's statistical
standard asks:

- accuracies: McNemar's score test and Tango's (1998) score interval for the paired difference,
  one procedure: the 95% interval excludes 0 exactly when p < 0.05; exact power of that test for
  the minimum detectable effect (MDE);
- equivalence ("matches", "near-optimal"): two one-sided Tango score tests against a declared
  margin, shown with the 90% Tango interval that decides (TOST at 5%); its size at the margin is
  computed exactly by enumeration in the tests (<= 5% for the book's n);
- per-image measurements (losses, energies, errors, cosines): paired percentile bootstrap; p is
  twice the share of resamples across 0, so the interval excludes 0 exactly when p < 0.05;
- times: ratio of per-batch seconds per image, Welch interval on the log scale.

Each function returns an :class:`Estimate` in the claim's units (points, ratio, raw), with the
confidence of the interval it shows.
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
    """Our paired effect with the interval that decides (``confidence``: 0.95, or 0.90 for a TOST),
    the test's p-value, n, the MDE at 80% power and, for paired accuracies, the discordant counts
    (only a correct, only b correct)."""

    effect: float
    ci_low: float
    ci_high: float
    p: float
    n: int
    mde: float
    test: str
    confidence: float
    discordant: tuple[int, int] | None


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
    """Two-sided exact McNemar p-value (binomial test of n10 among the n10 + n01 discordant pairs).

    Kept for the tables' per-cell p-values; verdicts use :func:`paired_accuracy`'s score test."""
    from scipy.stats import binomtest

    d = n10 + n01
    return 1.0 if d == 0 else float(binomtest(n10, d, 0.5).pvalue)


#: Continuity correction on the count scale: with half a count the two-sided size of the score test stays
#: <= 5% for every discordance at the book's n (computed exactly in tests/test_claims.py: 4.1% at n = 50, 5.0%
#: at 250; without it 6.5% at n = 50 and 5.7% at n = 100).
CONTINUITY = 0.5


def tango_statistic(n10, n01, n: int, delta0, continuity: float = CONTINUITY):
    """Tango's (1998) score statistic for H0: p_a - p_b = delta0 on paired binary outcomes.

    T = (x -/+ c) / sqrt(n (2 q + delta0 (1 - delta0))) with x = n10 - n01 - n delta0 shrunk towards 0 by the
    continuity correction c, q the restricted maximum-likelihood estimate of P(only b correct) under H0.
    At delta0 = 0 it is McNemar's (|n10 - n01| - c) / sqrt(n10 + n01). Vectorised over arrays of counts."""
    n10, n01 = np.asarray(n10, float), np.asarray(n01, float)
    a = 2.0 * n
    b = -n10 - n01 + (2.0 * n - n10 + n01) * delta0
    c = -n01 * delta0 * (1 - delta0)
    q = (np.sqrt(np.maximum(b * b - 4 * a * c, 0.0)) - b) / (2 * a)
    var = n * (2 * q + delta0 * (1 - delta0))
    x = n10 - n01 - n * delta0
    x = np.sign(x) * np.maximum(np.abs(x) - continuity, 0.0)
    return x / np.sqrt(np.maximum(var, 1e-300))


def tango_interval(n10, n01, n: int, confidence: float = 0.95, iterations: int = 60):
    """Tango's score interval for p_a - p_b: every delta0 that the two-sided score test at level
    1 - ``confidence`` does not reject (bisection; T decreases in delta0). Vectorised."""
    z = _z(0.5 + confidence / 2)
    n10, n01 = np.asarray(n10, float), np.asarray(n01, float)
    est = (n10 - n01) / n
    lo_out, lo_in = np.full(est.shape, -1 + 1e-12), est.copy()
    hi_in, hi_out = est.copy(), np.full(est.shape, 1 - 1e-12)
    for _ in range(iterations):
        mid = (lo_out + lo_in) / 2
        inside = tango_statistic(n10, n01, n, mid) < z
        lo_in, lo_out = np.where(inside, mid, lo_in), np.where(inside, lo_out, mid)
        mid = (hi_in + hi_out) / 2
        inside = tango_statistic(n10, n01, n, mid) > -z
        hi_in, hi_out = np.where(inside, mid, hi_in), np.where(inside, hi_out, mid)
    return lo_in, hi_in


def score_p(n10: int, n01: int, n: int) -> float:
    """Two-sided p-value of McNemar's score test (Tango's statistic at delta0 = 0); 1 with no discordant pair."""
    if n10 + n01 == 0:
        return 1.0
    return min(1.0, 2 * (1 - NormalDist().cdf(abs(float(tango_statistic(n10, n01, n, 0.0))))))


def mcnemar_power(n: int, discordance: float, effect: float, alpha: float = ALPHA) -> float:
    """Exact power of the two-sided McNemar score test to reject *in the effect's direction*.

    ``discordance`` = P(the two conditions disagree on an image); ``effect`` = p_a - p_b (a fraction,
    |effect| <= discordance). Sums over the number of discordant pairs D ~ Bin(n, discordance): given D,
    n10 ~ Bin(D, 1/2 + effect / (2 discordance)), and the test rejects when 2 n10 - D - c > z sqrt(D).
    """
    from scipy.stats import binom

    effect = abs(effect)
    psi = min(1.0, max(discordance, effect))
    if psi <= 0 or n <= 0:
        return 0.0
    d = np.arange(1, n + 1)
    z = _z(1 - alpha / 2)
    crit = np.floor((d + z * np.sqrt(d) + CONTINUITY) / 2) + 1  # smallest n10 with 2 n10 - D - c > z sqrt(D)
    reject = binom.sf(crit - 1, d, 0.5 + effect / (2 * psi))
    return float(np.sum(binom.pmf(d, n, psi) * reject))


def mcnemar_mde(n: int, discordance: float, power: float = POWER, alpha: float = ALPHA) -> float:
    """Smallest |p_a - p_b| the McNemar score test detects with ``power`` at this n (bisection).

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
    """Accuracy of condition a minus condition b on the same images, in points: McNemar's score test
    with Tango's 95% score interval (one procedure: the interval excludes 0 exactly when p < 0.05).

    The MDE uses the observed discordance (share of images on which a and b disagree)."""
    n10, n01, n = discordant_counts(a, b)
    lo, hi = tango_interval(n10, n01, n)
    mde = mcnemar_mde(n, (n10 + n01) / n) if with_mde else float("nan")
    return Estimate(100 * (n10 - n01) / n, 100 * float(lo), 100 * float(hi), score_p(n10, n01, n), n, 100 * mde,
                    "McNemar score test, Tango 95% CI (paired, continuity 1/2)", 0.95, (n10, n01))


def equivalence(a, b, margin: float, with_mde: bool = True) -> Estimate:
    """TOST for |p_a - p_b| < margin (points): two one-sided Tango score tests at 5%, p = the larger
    one-sided p-value, shown with the 90% Tango interval (inside the margin exactly when p < 0.05).

    The MDE is the smallest margin this n could establish with 80% power when the true difference is 0,
    at the observed discordance (:func:`equivalence_smallest_margin`, exact)."""
    n10, n01, n = discordant_counts(a, b)
    m = margin / 100
    cdf = NormalDist().cdf
    p_low = 1 - cdf(float(tango_statistic(n10, n01, n, -m)))  # H0: p_a - p_b <= -margin
    p_high = cdf(float(tango_statistic(n10, n01, n, m)))  # H0: p_a - p_b >= +margin
    lo, hi = tango_interval(n10, n01, n, confidence=1 - 2 * ALPHA)
    smallest_margin = equivalence_smallest_margin(n, (n10 + n01) / n) if with_mde else float("nan")
    return Estimate(100 * (n10 - n01) / n, 100 * float(lo), 100 * float(hi), float(max(p_low, p_high)), n,
                    100 * smallest_margin, f"TOST, margin +/-{margin:g} points (two one-sided Tango score tests), "
                    "90% Tango CI", 1 - 2 * ALPHA, (n10, n01))


def equivalence_smallest_margin(n: int, discordance: float, power: float = POWER, alpha: float = ALPHA) -> float:
    """Smallest margin (a fraction) that the TOST of :func:`equivalence` establishes with ``power`` when the
    true difference is 0, by exact enumeration.

    D ~ Bin(n, discordance) discordant pairs, n10 | D ~ Bin(D, 1/2). The TOST at level alpha rejects for a
    margin m exactly when the (1 - 2 alpha) Tango interval lies inside (-m, m), so the answer is the
    ``power``-quantile of the interval's extent max(-low, high) over that distribution (a margin must
    exceed it). With no discordance at all it is the extent of the interval of 0 / 0 (6.9 points at n = 50):
    no n-image sample establishes a smaller margin, whatever it shows."""
    from scipy.stats import binom

    if n <= 0 or not 0 <= discordance <= 1:
        raise ValueError(f"need n > 0 and a discordance in [0, 1], got n={n}, discordance={discordance}")
    d = np.arange(n + 1)
    p_d = binom.pmf(d, n, discordance)
    d, p_d = d[p_d > 1e-12], p_d[p_d > 1e-12]
    counts_d, counts_10, probability = [], [], []
    for discordant, weight in zip(d, p_d):
        k = np.arange(discordant + 1)
        p_k = weight * binom.pmf(k, discordant, 0.5)
        keep = p_k > 1e-15
        counts_d.append(np.full(int(keep.sum()), discordant))
        counts_10.append(k[keep])
        probability.append(p_k[keep])
    total_d, n10, prob = (np.concatenate(v) for v in (counts_d, counts_10, probability))
    lo, hi = tango_interval(n10, total_d - n10, n, confidence=1 - 2 * alpha)
    extent = np.maximum(-np.asarray(lo), np.asarray(hi))
    order = np.argsort(extent, kind="stable")
    cumulative = np.cumsum(prob[order]) / prob.sum()
    return float(extent[order][min(int(np.searchsorted(cumulative, power - 1e-12)), order.size - 1)])


#: Sample sizes a design chooses from (issue 38's registered power analyses).
SAMPLE_SIZE_GRID = (50, 100, 250, 500, 1000)


def equivalence_sample_size(margin: float, discordance: float, power: float = POWER,
                            grid: Sequence[int] = SAMPLE_SIZE_GRID) -> int | None:
    """Smallest n of ``grid`` at which the TOST establishes ``margin`` (a fraction) with ``power`` when the true
    difference is 0 at this discordance (:func:`equivalence_smallest_margin`); None when no n of the grid does."""
    return next((n for n in grid if equivalence_smallest_margin(n, discordance, power) < margin), None)


def spearman(values: np.ndarray) -> float:
    """Spearman's rank correlation of the two columns of ``values`` (units x 2), average ranks for ties."""
    return float(_spearman_batched(np.asarray(values, float)[None])[0])


def _spearman_batched(values: np.ndarray) -> np.ndarray:
    """Spearman's rho of each (units x 2) slice of ``values`` (resamples x units x 2); NaN where a column is constant."""
    from scipy.stats import rankdata

    r = rankdata(values, axis=1, method="average")
    r = r - r.mean(axis=1, keepdims=True)
    num = (r[..., 0] * r[..., 1]).sum(axis=1)
    den = np.sqrt((r[..., 0] ** 2).sum(axis=1) * (r[..., 1] ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


spearman.batched = _spearman_batched  # type: ignore[attr-defined]


class UndefinedStatistic(ValueError):
    """The statistic has no value on this sample (e.g. a rank correlation with a constant column)."""


def bootstrap(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], float] | None = None,
              seed: int = 0, samples: int = BOOTSTRAP_SAMPLES, label: str = "mean paired difference") -> Estimate:
    """Percentile bootstrap over units (rows of ``values``) of ``statistic`` (default: the mean).

    p is the two-sided bootstrap p-value for "statistic = 0": twice the smaller share of resamples
    on either side of 0, so that the 95% percentile interval excludes 0 exactly when p < 0.05 (p = 0
    means no resample crossed 0). MDE = (z_0.975 + z_0.8) x bootstrap SE."""
    v = np.asarray(values, dtype=float)
    if v.shape[0] < 2 or not np.isfinite(v).all():
        raise ValueError("bootstrap needs at least 2 finite units")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.shape[0], size=(samples, v.shape[0]))
    if statistic is None:
        est = float(v.mean())
        boot = v[idx].mean(axis=1) if v.ndim == 1 else v[idx].mean(axis=1).mean(axis=-1)
    else:
        if label == "mean paired difference":
            label = getattr(statistic, "__name__", "statistic").replace("<lambda>", "statistic")
        est = float(statistic(v))
        batched = getattr(statistic, "batched", None)  # a statistic over (resamples, units, ...) at once
        boot = (np.asarray(batched(v[idx]), dtype=float) if batched is not None else
                np.array([statistic(v[i]) for i in idx], dtype=float))
        boot = boot[np.isfinite(boot)]
        if not math.isfinite(est) or boot.size < samples / 2:
            raise UndefinedStatistic(f"the statistic is undefined on this sample (on the data: {est:.3g}; finite on "
                                     f"{boot.size} of {samples} resamples), e.g. a constant column")
        if boot.size < samples:
            label += f", {samples - boot.size} undefined resamples left out"
    lo, hi = np.percentile(boot, [2.5, 97.5], method="inverted_cdf")
    tail = min(int((boot <= 0).sum()), int((boot >= 0).sum()))
    p = min(1.0, 2 * tail / boot.size)
    mde = (_z(1 - ALPHA / 2) + _z(POWER)) * float(boot.std(ddof=1))
    return Estimate(est, float(lo), float(hi), p, int(v.shape[0]), mde, f"paired bootstrap ({samples} resamples), {label}",
                    0.95, None)


#: The smallest per-batch spread of log seconds a timing is assumed to have (see :func:`time_ratio`).
TIMING_FLOOR_SD = 1e-3


def time_ratio(slow: Sequence[float], fast: Sequence[float]) -> Estimate:
    """Ratio of mean seconds per image, slow / fast, from per-batch timings (Welch t on the log scale).

    Needs at least two timed batches on each side for an interval; the test is "ratio = 1". A side whose
    batches took identical times gets the spread TIMING_FLOOR_SD, so its interval is narrow, never NaN."""
    from scipy import stats

    s, f = np.asarray(slow, float), np.asarray(fast, float)
    if s.size < 2 or f.size < 2 or not ((s > 0).all() and (f > 0).all()):
        raise ValueError("a time ratio needs at least two positive per-batch timings on each side")
    s, f = np.log(s), np.log(f)
    if s.size < 2 or f.size < 2 or not (np.isfinite(s).all() and np.isfinite(f).all()):
        raise ValueError("a time ratio needs at least two positive per-batch timings on each side")
    d = s.mean() - f.mean()
    # Identical batch times on a side (a cached or coarse timer) would give a zero variance and a NaN interval:
    # each side's spread is floored at TIMING_FLOOR_SD on the log scale (0.1%, below any noise we measure).
    vs = max(s.var(ddof=1), TIMING_FLOOR_SD ** 2) / s.size
    vf = max(f.var(ddof=1), TIMING_FLOOR_SD ** 2) / f.size
    se = math.sqrt(vs + vf) or 1e-12
    df = (vs + vf) ** 2 / ((vs ** 2 / (s.size - 1) if vs else 0) + (vf ** 2 / (f.size - 1) if vf else 0) or 1e-300)
    df = min(df, 1e6)
    t = stats.t.ppf(0.975, df)
    p = float(2 * stats.t.sf(abs(d) / se, df))
    mde = math.exp((t + stats.t.ppf(POWER, df)) * se)
    return Estimate(math.exp(d), math.exp(d - t * se), math.exp(d + t * se), p, int(s.size + f.size), mde,
                    f"Welch t on log seconds per image ({s.size} + {f.size} timed batches)", 0.95, None)


def one_sided_p(estimate: Estimate) -> float:
    """The one-sided p-value of a part for "effect > 0" (the claimed direction), from its two-sided p."""
    return estimate.p / 2 if estimate.effect > 0 else 1 - estimate.p / 2


def intersection_union(parts: Sequence[Estimate]) -> Estimate:
    """A claim that holds only if every part holds ("best under every attack", "white < gray < black").

    Intersection-union test: the claim is supported only as far as its least supported part, the one with the
    largest one-sided p in the claimed direction (a reversed part, however significant its reversal, is the least
    supported). That deciding part's effect, interval, two-sided p and discordant counts are shown together (the
    smaller effect breaks a tie); the MDE is the largest part's."""
    if not parts:
        raise ValueError("an ordering claim needs at least one comparison")
    deciding = max(parts, key=lambda e: (one_sided_p(e), -e.effect))
    return Estimate(deciding.effect, deciding.ci_low, deciding.ci_high, deciding.p, min(e.n for e in parts),
                    max(e.mde for e in parts), f"intersection-union over {len(parts)} comparisons ({deciding.test}); "
                    "the least supported part shown", deciding.confidence, deciding.discordant)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence)."""
    p = np.asarray(p_values, float)
    adjusted = np.empty(p.size)
    running = 0.0
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (p.size - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false-discovery rate under independence or positive dependence)."""
    p = np.asarray(p_values, float)
    adjusted = np.empty(p.size)
    running = 1.0
    for rank, i in enumerate(np.argsort(p, kind="stable")[::-1]):
        running = min(running, p[i] * p.size / (p.size - rank))
        adjusted[i] = running
    return adjusted.tolist()
