"""Protocol cards (issue 33): every measured claim has one, a deviation always says why, a card cannot call "as the
paper" a setting the chapter ran differently, and no superseded verdict of the history disappears from the pages."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mspd_core import claims
from mspd_core.claims import history
from mspd_core.claims.cards import CARDS
from mspd_core.claims.engine import ClaimsView, superseded_text
from mspd_core.claims.protocol import FIELDS, Card, Setting, card_rows, used_settings
from mspd_core.claims.registry import REGISTRY
from mspd_core.profiles import PROFILES, get_profile


def test_every_measured_claim_has_a_card_and_every_card_a_claim():
    measured = {k for k, s in REGISTRY.items() if s.comparison != "untestable"}
    assert measured - set(CARDS) == set(), f"measured claims without a protocol card: {sorted(measured - set(CARDS))}"
    assert set(CARDS) - set(REGISTRY) == set(), f"cards of unknown claims: {sorted(set(CARDS) - set(REGISTRY))}"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_card_resolves_under_every_profile_and_every_deviation_says_why(profile):
    for key, card in CARDS.items():
        rows = card_rows(card, get_profile(profile), {name: value for name, value in card.checked.items()})
        assert [r["field"] for r in rows[:len(FIELDS)]] == list(FIELDS), key
        for r in rows:
            assert not r["unexplained"], (key, r)  # with the paper's own values nothing deviates in checked settings
            assert not r["deviation"] or r["why"].strip(), (key, r)
            assert "{" not in r["ours"] or "{1/4" in r["ours"], (key, r["ours"])  # every {fact} resolved


def test_a_setting_that_differs_without_a_reason_cannot_be_written():
    with pytest.raises(ValueError, match="reason"):
        Setting("PGD-20", "PGD-10")
    with pytest.raises(ValueError, match="fills exactly"):
        Card({"attack": Setting("PGD-20")})


def test_a_checked_setting_is_compared_with_what_the_chapter_ran_not_with_the_card():
    """The card holds only the paper's value: what the chapter reports decides "as the paper". A changed setting
    without a reason is unexplained; a setting the chapter did not report is unexplained too."""
    card = CARDS["bl5_grey_pgd"]
    profile = get_profile("cpu")
    as_run = {"n": 50, "attack steps": 20, "noise samples per step": 50, "restarts": 1, "outer iterations": 20}
    rows = {r["field"]: r for r in card_rows(card, profile, as_run)}
    assert rows["noise samples per step"]["ours"] == "as the paper" and not rows["noise samples per step"]["deviation"]
    assert rows["outer iterations"]["deviation"] and rows["outer iterations"]["why"]
    edited = {**as_run, "noise samples per step": 5}  # the chapter ran the robustifier's 5 samples: no reason on card
    rows = {r["field"]: r for r in card_rows(card, profile, edited)}
    assert rows["noise samples per step"]["unexplained"]
    silent = {k: v for k, v in as_run.items() if k != "restarts"}
    assert {r["field"]: r for r in card_rows(card, profile, silent)}["restarts"]["unexplained"]
    # the same card with a reason removed: a deviation the chapter really runs becomes unexplained
    stripped = replace(card, why={k: v for k, v in card.why.items() if k != "outer iterations"})
    assert {r["field"]: r for r in card_rows(stripped, profile, as_run)}["outer iterations"]["unexplained"]


def test_used_settings_reads_the_objects_the_chapter_ran():
    from mspd_core.parts import bilevel as bl

    p = get_profile("cpu")
    white = bl.bilevel_whitebox_attack(p, "L2", 0.5, inner_steps=10, sigma=0.1, eval_noise_samples=p.smoothed_attack_samples)
    used = used_settings(white, bl.bilevel_l2(p.bl_epochs, sigma=0.1))
    assert used["ball of a valid adversarial example"] == "original"
    assert used["final budgets (x eps)"] == [0.25, 0.5, 0.75, 1.0]
    assert used["noise samples per step"] == p.smoothed_attack_samples and used["outer iterations"] == p.bl_epochs
    assert used_settings(bl.randomized_pgd(p, 0.1))["noise samples per step"] == bl.EVAL_NOISE_SAMPLES


def test_a_recorded_claim_carries_its_card_as_run_and_its_superseded_verdicts(tmp_path, monkeypatch):
    monkeypatch.setenv("MSPD_CLAIMS_DIR", str(tmp_path))
    a = np.array([True] * 30 + [False] * 20)
    b = np.array([True] * 10 + [False] * 40)
    used = {"attack steps": 20, "noise samples per step": 50, "restarts": 1, "outer iterations": 20}
    out = claims.record("bl_smoothed", [claims.check("bl5_grey_pgd", a=a, b=b, used=used),
                                        claims.check("bl6_imagenet_smoothed")], "cpu")
    record = out[0].protocol
    assert not record["missing"] and record["unexplained"] == 0 and record["deviations"] >= 1
    assert {r["field"]: r for r in record["rows"]}["n"]["ours"] == "50"  # n is the outcome's own
    assert out[0].superseded == history.superseded_for("bl5_grey_pgd")
    html = ClaimsView(out)._repr_html_()
    assert "protocol of <code>bl5_grey_pgd</code>" in html and "bl6_imagenet_smoothed</code>" not in html


def test_every_superseded_verdict_of_the_history_is_rendered_with_its_date_n_and_interval():
    old = history.superseded()
    assert {e["key"] for e in old} >= {"fp6_default_transfers", "bl1_white_pgd", "bl5_grey_pgd"}
    for e in old:
        text = superseded_text(e)
        assert e["superseded_on"] in text and e["verdict"] in text
        if e.get("n"):
            assert f"n = {e['n']}" in text
        if e.get("ci_low") is not None:
            assert f"{e['ci_low']:+.1f}" in text and f"{e['ci_high']:+.1f}" in text
    fp6 = [e for e in old if e["key"] == "fp6_default_transfers" and e["n"] == 250]
    assert fp6 and fp6[0]["verdict"] == "contradicted"


def test_a_claim_whose_paper_effect_is_below_the_mde_says_it_is_underpowered_by_design():
    rng = np.random.default_rng(0)
    a, b = rng.random(50) < 0.8, rng.random(50) < 0.8
    small = claims.check("bl1_prt_grey_aa", a=a, b=b)  # paper +1.18 points at n = 50
    assert "underpowered by design at n = 50" in small.note and f"{small.mde:.1f}" in small.note
    big = claims.check("bl1_grey_pgd", a=a, b=b)  # paper +31.64: above the MDE
    assert "underpowered" not in big.note
