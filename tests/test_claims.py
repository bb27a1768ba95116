"""The claims engine on two axes: exact size of its tests, simulated operating characteristics through the
engine's own code (mspd_core.claims.simulate), coherence of p and interval, every verdict can flip."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from mspd_core import claims
from mspd_core.claims import history, stats
from mspd_core.claims.engine import direction_verdict, size_verdict
from mspd_core.claims.registry import REGISTRY, claim_fingerprint
from mspd_core.claims.simulate import paired_outcomes, simulate

TESTABLE = [k for k, s in REGISTRY.items() if s.comparison != "untestable"]
MC = 0.02  # Monte Carlo allowance for rates estimated from a few hundred repetitions


# ---- exact properties of the paired tests (enumeration over every 2x2 table) ------------------------------

def _tables(n: int):
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = i + j <= n
    return i[keep], j[keep]


def _probabilities(n: int, n10, n01, psi: float, delta: float) -> np.ndarray:
    from scipy.stats import multinomial

    counts = np.stack([n10, n01, n - n10 - n01], axis=1)
    return np.exp(multinomial.logpmf(counts, n, [(psi + delta) / 2, (psi - delta) / 2, 1 - psi]))


@pytest.mark.parametrize("n", [20, 50, 100, 250, 500])
def test_score_test_size_is_at_most_5_percent_exactly(n):
    """Under no effect, P(the 95% interval excludes 0) <= 5% for every discordance (both directions together)."""
    n10, n01 = _tables(n)
    lo, hi = stats.tango_interval(n10, n01, n)
    worst = max(_probabilities(n, n10, n01, psi, 0.0)[(lo > 0) | (hi < 0)].sum() for psi in np.linspace(0.01, 1, 40))
    assert worst <= 0.05, worst


@pytest.mark.parametrize("n,m", [(50, 0.10), (100, 0.05), (250, 0.02), (500, 0.02)])
def test_equivalence_size_at_the_margin_is_at_most_5_percent_exactly(n, m):
    """With the true difference exactly at the margin, P("reproduced") <= 5% for every discordance (at n = 50 and 100
    a margin some table can establish: no 2x2 table at n = 50 establishes 2 points)."""
    n10, n01 = _tables(n)
    lo, hi = stats.tango_interval(n10, n01, n, 0.90)
    inside = (lo > -m) & (hi < m)
    assert inside.any()
    worst = max(_probabilities(n, n10, n01, psi, m)[inside].sum() for psi in np.linspace(m, 1, 40))
    assert worst <= 0.05, worst


def test_p_and_interval_agree_on_every_row():
    """One procedure per row: the shown interval excludes the null exactly when p < 0.05."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(10, 600))
        n10, n01 = rng.multinomial(n, [0.05, 0.05, 0.9])[:2]
        a = np.r_[np.ones(n10, bool), np.zeros(n01, bool), np.ones(n - n10 - n01, bool)]
        b = np.r_[np.zeros(n10, bool), np.ones(n01, bool), np.ones(n - n10 - n01, bool)]
        est = stats.paired_accuracy(a, b, with_mde=False)
        assert (est.p < 0.05) == (est.ci_low > 0 or est.ci_high < 0), (n10, n01, n, est)
        eq = stats.equivalence(a, b, 2.0)
        assert (eq.p < 0.05) == (-2 < eq.ci_low and eq.ci_high < 2), (n10, n01, n, eq)
    for seed in range(30):
        est = stats.bootstrap(rng.normal(0.1, 1, 80), seed=seed)
        assert (est.p < 0.05) == (est.ci_low > 0 or est.ci_high < 0), est


def test_the_reviewers_cases():
    """9 vs 2 discordant at n = 500: p and CI agree; 100 identical outcomes do not establish a 2-point match."""
    a = np.r_[np.ones(9, bool), np.zeros(2, bool), np.ones(489, bool)]
    b = np.r_[np.zeros(9, bool), np.ones(2, bool), np.ones(489, bool)]
    est = stats.paired_accuracy(a, b)
    assert (est.p < 0.05) == (est.ci_low > 0)
    same = np.ones(100, bool)
    out = claims.check("t13_single_copy_matches_pgd", a=same, b=same.copy())
    assert out.verdict == "inconclusive" and out.ci_high > 2


def test_no_jump_at_zero():
    """The sign of a non-significant estimate never decides: -0.2 and +0.2 with the same width are both inconclusive."""
    for effect in (-0.2, 0.2):
        est = stats.Estimate(effect, effect - 1.5, effect + 1.5, 0.8, 500, 3.0, "-", 0.95, (10, 9))
        assert direction_verdict("paired_accuracy", est) == "inconclusive"
    assert size_verdict(5.8, -0.4, 2.8) == "smaller" and size_verdict(5.8, 4, 7) == "consistent"
    assert size_verdict(1696, 38, 66, "x") == "smaller" and size_verdict(None, 1, 2) == "not stated"


def test_consistent_must_be_earned():
    """Issue 38, item 7: "consistent" only inside the registered band around the paper's effect; a wide interval that
    merely contains it is "undetermined" (before 2026-12-06 it read "consistent")."""
    from mspd_core.claims.registry import effect_band

    assert effect_band(4.1, "points") == pytest.approx((2.05, 6.15))
    assert effect_band(30.0, "points") == pytest.approx((15.0, 45.0))
    assert effect_band(28.0, "x") == pytest.approx((28 / 1.5, 42.0)) and effect_band(None, "points") is None
    assert effect_band(0.197, "cosine") == pytest.approx((0.0985, 0.2955)) and effect_band(0.0, "rho") is None
    assert size_verdict(4.1, -5.0, 12.0) == "undetermined"  # contains 4.1, far wider than [2.1, 6.1]
    assert size_verdict(4.1, 2.2, 6.0) == "consistent" and size_verdict(4.1, 1.9, 6.0) == "undetermined"
    assert size_verdict(4.1, -1.9, 2.0) == "smaller" and size_verdict(4.1, 4.2, 9.0) == "larger"
    assert size_verdict(28.0, 20.0, 40.0, "x") == "consistent" and size_verdict(28.0, 5.0, 60.0, "x") == "undetermined"
    rng = np.random.default_rng(3)
    a, b = paired_outcomes(rng, 50, 0.1, 0.04)
    out = claims.check("t4_mspd_vs_bilevel", a=a, b=b)
    if out.size == "undetermined":
        assert "registered band [+2.05, +6.15]" in out.size_note and "plans n = " in out.size_note


def test_a_false_consistent_is_rare_at_the_bands_edge():
    """The size rule's error rate: a true effect at the band's edge reads "consistent" at most 2.5% of the time."""
    from mspd_core.claims.simulate import band_edge

    edge = band_edge(REGISTRY["t5_vs_bilevel2"])
    assert edge == pytest.approx(5.8 + 2.9)
    got = simulate("t5_vs_bilevel2", edge, n=1000, discordance=0.15, reps=300, seed=12)["size"]
    assert got["consistent"] <= 0.025 + MC, got


def test_no_discordant_pair_cannot_separate():
    """Two defenses with identical per-image outcomes: inconclusive, for that reason (not an n problem)."""
    a = np.array([True, False] * 50)
    out = claims.check("t4_mspd_vs_bilevel", a=a, b=a.copy())
    assert out.verdict == "inconclusive" and out.discordant == (0, 0) and "cannot separate" in out.note
    rng = np.random.default_rng(1)
    x, y = paired_outcomes(rng, 100, 0.3, 0.1)
    assert stats.discordant_counts(x, y)[:2] == claims.check("t4_mspd_vs_bilevel", a=x, b=y).discordant


# ---- operating characteristics through the engine (the simulate module) ------------------------------------

@pytest.mark.parametrize("key,kwargs", [
    ("t5_vs_bilevel2", {"n": 500, "discordance": 0.15}),
    ("t4_mspd_vs_bilevel", {"n": 100, "discordance": 0.1}),
    ("l2_forward_lowers_more", {"n": 200}),
    ("t4_speed", {"n": 4}),
    ("t6_best_every_attack", {"n": 100, "parts": 15, "discordance": 0.1}),
    ("l4_order", {"n": 100}),
])
def test_no_effect_is_rarely_reproduced_or_contradicted(key, kwargs):
    null = 1.0 if REGISTRY[key].comparison == "time_ratio" else 0.0
    got = simulate(key, null, reps=300, seed=5, **kwargs)["direction"]
    assert got["reproduced"] <= 0.05 + MC and got["contradicted"] <= 0.05 + MC, got


def test_equivalence_at_the_margin_is_rarely_reproduced():
    got = simulate("t13_smoothing_matches_pgd", 2.0, n=500, discordance=0.1, reps=300, seed=6)["direction"]
    assert got["reproduced"] <= 0.05 + MC, got


def test_power_at_the_papers_effect_matches_the_analytic_power():
    key, n, psi = "t5_vs_bilevel2", 500, 0.2
    stated = stats.mcnemar_power(n, psi, REGISTRY[key].paper_effect / 100)
    got = simulate(key, "paper", n=n, discordance=psi, reps=400, seed=7)
    assert abs(got["direction"]["reproduced"] - stated) < 0.07, (got, stated)
    assert got["size"]["smaller"] + got["size"]["larger"] <= 0.05 + MC, got  # at the paper's effect: rarely excluded


def test_size_axis_says_smaller_when_the_truth_is_far_below_the_paper():
    got = simulate("t4_speed", 50.0, n=4, reps=300, seed=8)
    assert got["size"]["smaller"] >= 0.8 and got["direction"]["reproduced"] >= 0.8, got
    at_paper = simulate("t4_speed", "paper", n=16, reps=300, seed=9)  # 16 batches a side: narrower than x/÷ 1.5
    assert at_paper["size"]["consistent"] >= 0.90, at_paper


def test_ordering_size_axis_holds_at_the_papers_part_effects():
    got = simulate("t15_every_budget", "paper", n=1000, discordance=0.3, reps=200, seed=10)
    assert got["size"]["smaller"] + got["size"]["larger"] + got["size"]["mixed"] <= 0.05 + MC, got
    assert got["direction"]["contradicted"] == 0, got


def test_an_orderings_least_favourable_null_is_the_honest_one():
    """Issue 38: an all-parts rule's false "reproduced" rate is judged with one part null and the others true,
    not with every part at 0 (which flatters it); it still stays near or below 5%."""
    from mspd_core.claims.simulate import LEAST_FAVOURABLE, least_favourable_parts

    assert least_favourable_parts(3, "paired_accuracy", 0.2, 1.0) == [0.0, 20.0, 20.0]
    assert least_favourable_parts(2, "bootstrap", 0.2, 0.5) == [0.0, 1.5]
    # underpowered paper parts (t14's 1.3 and 0.1 points) would hide the null part's rate; strong parts do not
    kw = {"n": 250, "parts": 2, "discordance": 0.2, "reps": 600, "part_effects": [1.3, 0.1]}
    at_zero = simulate("t14_eta_best", 0.0, seed=11, **kw)["direction"]["reproduced"]
    hardest = simulate("t14_eta_best", LEAST_FAVOURABLE, seed=11, **kw)["direction"]["reproduced"]
    assert at_zero < 0.01 and 0.01 <= hardest <= 0.025 + MC, (at_zero, hardest)


def test_simulate_cli_prints_json_last(capsys):
    from mspd_core.claims.simulate import main

    assert main(["--claim", "t9_fb_vs_f", "--effect", "0", "--reps", "50", "--json"]) == 0
    rates = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(rates) == {"direction", "size"} and abs(sum(rates["direction"].values()) - 1) < 1e-9
    assert {"reproduced", "contradicted", "inconclusive"} == set(rates["direction"])
    assert {"consistent", "smaller", "larger", "undetermined", "not stated"} <= set(rates["size"])
    with pytest.raises(SystemExit):
        main(["--claim", "nope"])
    with pytest.raises(SystemExit):
        main(["--claim", "t6_diffpure"])


# ---- every verdict can flip -------------------------------------------------------------------------------

def _strong_inputs(key: str, flip: bool) -> dict:
    """Data with a clear effect in the paper's direction (or, flipped, the opposite one)."""
    spec = REGISTRY[key]
    rng = np.random.default_rng(0)
    sign = -1 if flip else 1
    if spec.comparison == "paired_accuracy":
        a, b = paired_outcomes(rng, 500, 0.3, 0.25)
        return {"a": b, "b": a} if flip else {"a": a, "b": b}
    if spec.comparison == "equivalence":
        a, b = paired_outcomes(rng, 1000, 0.3, 0.25) if flip else paired_outcomes(rng, 1000, 0.02, 0.0)
        return {"a": a, "b": b}
    if spec.comparison == "bootstrap":
        if spec.statistic == "spearman":
            x = rng.normal(size=300)
            return {"values": np.column_stack([x, sign * x + rng.normal(0, 0.5, 300)])}
        return {"values": sign * rng.normal(1.0, 1.0, 300)}
    if spec.comparison == "time_ratio":
        slow, fast = rng.uniform(3.0, 3.3, 4), rng.uniform(0.05, 0.06, 5)
        return {"slow": fast, "fast": slow} if flip else {"slow": slow, "fast": fast}
    if spec.comparison == "ordering":
        k = len(spec.part_effects) if spec.part_effects else 3
        if spec.part_comparison == "paired_accuracy":
            pairs = [paired_outcomes(rng, 500, 0.3, 0.25) for _ in range(k)]
            return {"parts": [(b, a) if flip else (a, b) for a, b in pairs]}
        return {"parts": [sign * rng.normal(1.0, 1.0, 300) for _ in range(2)]}
    raise AssertionError(spec.comparison)


@pytest.mark.parametrize("key", TESTABLE)
def test_every_claim_can_fail(key):
    """The paper's outcome gives "reproduced"; the opposite outcome flips it to "contradicted"."""
    assert claims.check(key, **_strong_inputs(key, flip=False)).verdict == "reproduced"
    assert claims.check(key, **_strong_inputs(key, flip=True)).verdict == "contradicted"


def test_a_tie_is_never_a_win():
    a = np.array([True, False] * 50)
    out = claims.check("t4_mspd_vs_none", a=a, b=a.copy())
    assert out.verdict == "inconclusive" and out.p == 1.0 and out.effect == 0
    ordering = claims.check("t14_eta_best", parts=[(a, a.copy()), (a, a.copy())])
    assert ordering.verdict == "inconclusive" and "cannot separate" in ordering.note


def test_ordering_contradicted_needs_a_holm_significant_reversal():
    """One part reversed at p ~ 0.03 among 15 is not enough after Holm; a strong reversal is."""
    rng = np.random.default_rng(11)
    same = [paired_outcomes(rng, 100, 0.1, 0.0) for _ in range(14)]
    a = np.r_[np.zeros(12, bool), np.ones(3, bool), np.ones(85, bool)]  # 3 vs 12 discordant: reversed, p ~ 0.03
    b = np.r_[np.ones(12, bool), np.zeros(3, bool), np.ones(85, bool)]
    assert stats.paired_accuracy(a, b).p < 0.05
    out = claims.check("t6_best_every_attack", parts=same + [(a, b)])
    assert out.verdict == "inconclusive", out.note
    strong = (np.r_[np.zeros(40, bool), np.ones(60, bool)], np.r_[np.ones(40, bool), np.ones(60, bool)])
    assert claims.check("t6_best_every_attack", parts=same + [strong]).verdict == "contradicted"


def test_time_ratio_size_names_the_pass_count_ratio():
    out = claims.check("t4_speed", slow=[3.2, 3.4, 3.3], fast=[0.06, 0.065, 0.063])
    assert out.verdict == "reproduced" and out.size == "smaller"
    assert "paper 1.7e+03x: smaller" in out.size_note and "pass counts imply 52.5x, inside our CI" in out.size_note


def test_untestable_claims_say_why():
    out = claims.check("t6_diffpure")
    assert out.verdict == "not testable here" and out.size == "not testable here" and "diffusion" in out.note


def test_outcomes_carry_everything_the_summary_shows():
    rng = np.random.default_rng(4)
    a, b = paired_outcomes(rng, 200, 0.3, 0.1)
    out = claims.check("t9_fb_vs_f", a=a, b=b)
    for field in ("paper", "effect", "ci_low", "ci_high", "p", "n", "mde", "verdict", "size", "size_note"):
        value = getattr(out, field)
        assert value is not None and (not isinstance(value, float) or math.isfinite(value)), field
    assert out.ci_low <= out.effect <= out.ci_high and out.n == 200 and out.design["discordance"] > 0


def test_record_refuses_another_chapters_claim(tmp_path, monkeypatch):
    monkeypatch.setenv(claims.engine.CLAIMS_ENV, str(tmp_path))
    out = claims.check("t6_diffpure")
    with pytest.raises(ValueError, match="belongs to table06_attacks"):
        claims.record("table04_main", [out], "smoke")
    claims.record("table06_attacks", [out], "smoke")
    rows, profiles = claims.load_all()
    assert rows[0]["key"] == "t6_diffpure" and rows[0]["size"] == "not testable here" and profiles == {"smoke"}


def test_a_run_outside_the_book_never_writes_the_books_record(tmp_path, monkeypatch):
    from mspd_core.paths import PROJECT_ROOT

    monkeypatch.delenv(claims.engine.CLAIMS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    book = PROJECT_ROOT / "notebooks" / "_executed" / "claims" / "table06_attacks.json"
    before = book.read_bytes() if book.exists() else None
    claims.record("table06_attacks", [claims.check("t6_diffpure")], "smoke")
    assert (tmp_path / "mspd-claims" / "table06_attacks.json").exists()
    assert (book.read_bytes() if book.exists() else None) == before


def test_bad_inputs_are_refused():
    with pytest.raises(KeyError, match="registered"):
        claims.check("no_such_claim")
    with pytest.raises(ValueError, match="same images"):
        claims.check("t4_mspd_vs_none", a=np.ones(5, bool), b=np.ones(6, bool))
    with pytest.raises(ValueError, match="no paired outcomes"):
        claims.check("t4_mspd_vs_none", a=np.ones(0, bool), b=np.ones(0, bool))
    with pytest.raises(ValueError, match="boolean"):
        claims.check("t4_mspd_vs_none", a=np.array([1.0, np.nan]), b=np.ones(2))
    with pytest.raises(ValueError, match="two positive"):
        claims.check("t4_speed", slow=[3.0], fast=[0.1, 0.1])
    with pytest.raises(ValueError, match="two positive"):
        claims.check("t4_speed", slow=[3.0, -1.0], fast=[0.1, 0.1])
    with pytest.raises(ValueError, match="finite"):
        claims.check("l2_forward_lowers_more", values=[1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="paper effects"):
        claims.check("t15_every_budget", parts=[paired_outcomes(np.random.default_rng(0), 50, 0.2, 0.0)],
                     part_paper_effects=[1.0, 2.0])


def test_an_undefined_statistic_is_not_testable_rather_than_an_error():
    """A rank correlation over a constant column (e.g. no defense changed any outcome) has no value."""
    values = np.column_stack([np.linspace(0, 1, 12), np.zeros(12)])
    out = claims.check("l1_alignment_predicts", values=values)
    assert out.verdict == "not testable here" and "undefined" in out.note


def test_multiplicity_counts_survivors():
    rows = [{"verdict": "reproduced", "p": 0.001}, {"verdict": "reproduced", "p": 0.04}, {"verdict": "inconclusive", "p": 0.5},
            {"verdict": "not testable here", "p": None}]
    got = claims.engine.multiplicity(rows)
    assert got == {"testable": 3, "reproduced": 2, "holm": 1, "bh": 1}
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_mde_is_where_power_reaches_80_percent():
    for n, psi in ((100, 0.2), (500, 0.1), (1000, 0.3)):
        mde = stats.mcnemar_mde(n, psi)
        assert stats.mcnemar_power(n, max(psi, mde), mde) >= 0.8 - 1e-9
        assert stats.mcnemar_power(n, max(psi, mde * 0.9), mde * 0.9) < 0.8
    assert stats.mcnemar_mde(100, 0.2) > stats.mcnemar_mde(500, 0.2)


@pytest.mark.parametrize("n,psi", [(50, 0.0), (50, 0.1), (250, 0.004), (250, 0.05)])
def test_equivalence_smallest_margin_is_where_the_tosts_power_reaches_80_percent_exactly(n, psi):
    """Enumerated over every 2x2 table through equivalence() itself (not the quantile shortcut): the TOST
    at the smallest margin has >= 80% power with no true difference, and 5% less of that margin has < 80%."""
    smallest = stats.equivalence_smallest_margin(n, psi)
    n10, n01 = _tables(n)
    prob = _probabilities(n, n10, n01, psi, 0.0)
    likely = prob > 1e-12
    n10, n01, prob = n10[likely], n01[likely], prob[likely]

    def power(margin: float) -> float:
        passes = [stats.equivalence(np.r_[np.ones(x, bool), np.zeros(y + n - x - y, bool)],
                                    np.r_[np.zeros(x, bool), np.ones(y, bool), np.zeros(n - x - y, bool)],
                                    100 * margin, with_mde=False).p < 0.05 for x, y in zip(n10, n01)]
        return float(prob[np.asarray(passes)].sum())

    assert power(smallest * 1.0001) >= 0.8 - 1e-9
    assert power(smallest * 0.95) < 0.8


def test_the_reviewers_smallest_margins():
    """Issue 38: at n = 50 even 0 discordant pairs give +-6.9 (5.9 was shown); t13_single_copy's 2.1 (1.2 was shown)."""
    assert 100 * stats.equivalence_smallest_margin(50, 0.0) == pytest.approx(6.9, abs=0.05)
    assert 100 * stats.equivalence_smallest_margin(250, 0.004) == pytest.approx(2.1, abs=0.05)


def test_a_matches_claim_that_n_cannot_reproduce_says_so():
    a = np.ones(50, bool)
    note = claims.engine.equivalence_design_note(2.0, stats.equivalence(a, a, 2.0))
    assert "decided by design at n = 50" in note and "+/-6.9" in note
    big = np.ones(1000, bool)
    assert claims.engine.equivalence_design_note(2.0, stats.equivalence(big, big, 2.0)) == ""


def test_an_underpowered_row_carries_its_power_at_the_papers_effect():
    """Issue 38: a claim whose power at the paper's effect is below the false-positive rate says so on its row."""
    a = np.ones(50, bool)
    b = a.copy()
    b[:1] = False
    note = claims.engine.underpowered_note(1.0, stats.paired_accuracy(a, b))
    power = stats.mcnemar_power(50, 1 / 50, 0.01)
    assert f"power at the paper's effect: {100 * power:.1f}%" in note and "below the 2.5% chance of a false" in note


def test_an_ordering_row_shows_one_parts_interval_and_p_together():
    """Issue 38: a two-part case showed the smallest part's interval [+1.75, +5.01] beside the other part's p = 0.26."""
    strong_small = stats.Estimate(3.4, 1.75, 5.01, 0.001, 500, 2.0, "t", 0.95, (20, 3))
    weak_large = stats.Estimate(6.0, -3.0, 15.0, 0.26, 50, 13.0, "t", 0.95, (5, 2))
    row = stats.intersection_union([strong_small, weak_large])
    assert (row.effect, row.ci_low, row.ci_high, row.p, row.discordant) == (6.0, -3.0, 15.0, 0.26, (5, 2))
    # a significantly reversed part is the least supported one, whatever its small two-sided p
    reversed_part = stats.Estimate(-8.0, -12.0, -4.0, 0.0005, 500, 2.0, "t", 0.95, (3, 43))
    row = stats.intersection_union([strong_small, weak_large, reversed_part])
    assert (row.effect, row.ci_high, row.p) == (-8.0, -4.0, 0.0005)


def test_identical_batch_times_give_an_interval_not_nan():
    """Issue 38: a 20x speed-up timed with identical batches read inconclusive (NaN interval)."""
    est = stats.time_ratio([2.0, 2.0], [0.1, 0.1])
    assert math.isfinite(est.ci_low) and est.ci_low > 1 and est.p < 0.05
    same = stats.time_ratio([1.0, 1.0], [1.0, 1.0])
    assert same.ci_low <= 1 <= same.ci_high and same.p == 1.0


def test_a_bootstrap_p_of_zero_is_shown_as_below_one_in_b():
    assert claims.engine.format_p(0.0, "paired bootstrap (2000 resamples), mean paired difference") == "< 0.001"
    assert claims.engine.format_p(0.0, "paired bootstrap (2000 resamples), rho, 1000 undefined resamples left out") == "< 0.002"
    assert claims.engine.format_p(0.031, "paired bootstrap (2000 resamples)") == "0.031"
    assert claims.engine.format_p(None) == "-"


# ---- an auditable registry --------------------------------------------------------------------------------

def test_every_decision_field_change_is_in_the_history():
    todo = history.pending()
    assert not any(todo.values()), (f"claims changed without a history entry: {todo}; record them with "
                                    "python -m mspd_core.claims.history --reason '...'")


def test_a_changed_decision_field_is_detected(tmp_path, monkeypatch):
    changed = dataclasses.replace(REGISTRY["t4_speed"], paper_effect=1000.0)
    assert claim_fingerprint(changed) != claim_fingerprint(REGISTRY["t4_speed"])
    monkeypatch.setitem(REGISTRY, "t4_speed", changed)
    assert history.pending()["changed"] == ["t4_speed"]
    path = tmp_path / "history.json"
    path.write_text(history.HISTORY.read_text())
    entry = history.add_entry("test", "2026-12-01", path=path)
    assert entry["changed"] == ["t4_speed"] and not any(history.pending(history.load(path)).values())
    with pytest.raises(ValueError, match="reason"):
        history.add_entry(" ", path=path)


def test_a_method_change_is_recorded_with_its_superseded_verdicts(tmp_path):
    """A claim whose decision fields stay but whose measurement changes (a defense re-implemented) gets an entry, with
    the verdicts it supersedes; nothing to record, unknown claims and incomplete verdicts are refused."""
    path = tmp_path / "history.json"
    path.write_text(history.HISTORY.read_text())
    with pytest.raises(ValueError, match="nothing to record"):
        history.add_entry("no change", path=path)
    with pytest.raises(ValueError, match="unknown claim"):
        history.add_entry("typo", path=path, method_changed=["t8_mspd_vs_a6"])
    old = {f: 0 for f in history.SUPERSEDED_FIELDS} | {"key": "fp1_vs_a5", "why": "test"}
    with pytest.raises(ValueError, match="lack fields"):
        history.add_entry("partial", path=path, method_changed=["fp1_vs_a5"], superseded=[{"key": "fp1_vs_a5"}])
    entry = history.add_entry("A5 re-implemented", "2026-12-05", path=path, method_changed=["fp1_vs_a5"], superseded=[old])
    assert entry["method_changed"] == ["fp1_vs_a5"]
    assert history.superseded_for("fp1_vs_a5", history.load(path))[-1]["reason"] == "test"


def test_every_claim_names_its_paper_and_the_summary_groups_by_paper():
    from mspd_core.claims.registry import PAPERS, paper_of

    assert {paper_of(s.source) for s in REGISTRY.values()} <= set(PAPERS)
    assert paper_of("Fast Preemption Table 9") == "Fast Preemption" and paper_of("MSPD Lemma 4 / Table X") == "MSPD"
    with pytest.raises(ValueError, match="names none of the papers"):
        paper_of("Some Other Paper Table 1")
    rows = [{"key": k, "source": REGISTRY[k].source} for k in ("fp1_vs_none", "t4_clean", "fp_speed", "t4_speed")]
    groups = claims.by_paper(rows)
    assert list(groups) == ["MSPD", "Fast Preemption"]
    assert [r["key"] for r in groups["MSPD"]] == ["t4_clean", "t4_speed"]  # registry order within a paper
    assert [r["key"] for r in groups["Fast Preemption"]] == ["fp_speed", "fp1_vs_none"]


def test_a_superseded_verdict_without_its_interval_says_so():
    """History entries may keep only an older build's estimate (t5_speed_bilevel2 on 2026-12-05: 1.07x)."""
    from mspd_core.claims.engine import format_effect

    assert format_effect({"effect": 1.07, "ci_low": None, "ci_high": None, "comparison": "time_ratio"}) == \
        "1.07x (interval not recorded)"
    assert format_effect({"effect": -2.0, "ci_low": -4.9, "ci_high": -0.1, "unit": "points"}) == "-2.0 [-4.9, -0.1] points"


def test_a_matches_claims_size_is_the_distance_either_sign():
    """Issue 38: paper -0.3 (t13_single_copy_matches_pgd) against ours -5 read "smaller" by sign; it is a larger gap."""
    n = 1000
    a = np.ones(n, bool)
    b = a.copy()
    a[:50] = False  # a - b = -5 points, all 50 discordant one way
    far = claims.check("t13_single_copy_matches_pgd", a=a, b=b)
    assert far.effect == pytest.approx(-5.0) and far.size == "larger" and "either sign" in far.size_note
    a2 = np.ones(n, bool)
    b2 = a2.copy()
    b2[:60] = False
    a2[60:61] = False  # a - b = +5.9 points: the other sign, still a larger gap than 0.3
    assert claims.check("t13_single_copy_matches_pgd", a=a2, b=b2).size == "larger"


def test_timings_from_different_machines_are_not_compared():
    """Issue 38: a time ratio of two defenses timed on different hosts (cached from different builds) measures the
    hosts: the claim is not testable, saying so; from one host it is compared."""
    import pandas as pd

    from mspd_core import experiments as ex
    from mspd_core.cells import timing_host

    here = timing_host({"where": "AMD EPYC, 2 threads", "device": "cpu"})
    there = timing_host({"where": "Intel Xeon, 2 threads", "device": "cpu"})
    table = pd.DataFrame({"defense": ["Bi-Level", "MSPD"], "timed_on": [there, here]})
    reason = ex.timing_mismatch(table, "Bi-Level", "MSPD")
    assert "different machines" in reason and "Intel Xeon" in reason and "AMD EPYC" in reason
    out = claims.check("t4_speed", slow=[2.0, 2.1], fast=[0.1, 0.1], reason=reason)
    assert out.verdict == "not testable here" and "different machines" in out.note
    assert ex.timing_mismatch(table.assign(timed_on=[here, here]), "Bi-Level", "MSPD") is None
    assert timing_host(None) == "unknown"


def test_a_decided_row_carries_no_underpowered_warning():
    """A contradicted (or reproduced) direction was decided by the data: no "inconclusive is what the sample makes
    likely" sentence beside it (found on fp2_black_fails, -7.6 points, in the 2026-12-06 book)."""
    a, b = np.zeros(250, bool), np.zeros(250, bool)
    b[:25], a[:6] = True, True
    out = claims.check("fp2_black_fails", a=a, b=b)
    assert out.verdict == "contradicted" and "underpowered" not in out.note
    assert "registered power analysis" not in out.note  # decided on both axes: no plan sentence either


def test_an_undetermined_size_never_says_wider_when_it_is_not():
    """An interval narrower than the band that crosses its edge is undetermined, but not "wider", and needs no more n
    for width (review of issue 38)."""
    from mspd_core.claims.engine import undetermined_note

    text = undetermined_note(10.0, 4.5, 10.5, 250)
    assert "does not lie wholly inside the registered band [+5, +15]" in text and "about n" not in text
    assert "about n = " in undetermined_note(10.0, -5.0, 20.0, 50)


def test_an_orderings_size_is_planned_with_every_part_at_zero():
    from mspd_core.claims.planning import size_null

    assert size_null(REGISTRY["t14_eta_best"]) == 0.0 and size_null(REGISTRY["t4_speed"]) == 1.0
    assert size_null(REGISTRY["t13_smoothing_matches_pgd"]) == REGISTRY["t13_smoothing_matches_pgd"].margin
