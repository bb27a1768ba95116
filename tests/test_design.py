"""Registered power analyses (issue 38, item 1): planned n from the engine's own rule, simulated; the registered
designs are complete, recomputable and part of each claim's fingerprint."""
from __future__ import annotations

import json

import pytest

from mspd_core.claims import design, planning, registry
from mspd_core.claims.design import BATCH_GRID, GRID, THRESHOLD, planned_n_note
from mspd_core.claims.planning import plan_claim
from mspd_core.claims.registry import REGISTRY, claim_fingerprint, load_designs
from mspd_core.claims.simulate import main as simulate_main

MC = 0.06  # Monte Carlo slack for a few hundred repetitions


def test_a_clear_speed_claim_is_decided_at_the_smallest_grid_point():
    got = plan_claim("t4_speed", {"cv": 0.1}, reps=100)
    assert got["planned_n"] == BATCH_GRID[0] and got["criterion"] == "both" and got["unit_of_n"] == "batches per side"


def test_the_plan_is_the_first_grid_point_that_decides_either_way():
    got = plan_claim("t5_vs_bilevel2", {"discordance": 0.15}, reps=200)
    curve = got["power"]
    assert got["criterion"] in ("both", "direction", "size", "none")
    if got["criterion"] == "both":
        at = curve[str(got["planned_n"])]
        assert at["reproduced_at_paper"] >= THRESHOLD and at["decided_size_at_null"] >= THRESHOLD
        earlier = [n for n in GRID if n < got["planned_n"]]
        assert all(min(curve[str(n)].values()) < THRESHOLD for n in earlier)


def test_a_direction_only_claim_is_planned_at_the_named_builds_estimate():
    got = plan_claim("l2_forward_lowers_more", {"sd": 1.0, "effect": 0.3}, reps=200)
    assert got["criterion"] == "direction" and "decided_size_at_null" not in got["power"][str(got["planned_n"])]
    wrong_way = plan_claim("l2_forward_lowers_more", {"sd": 1.0, "effect": -0.3}, reps=20)
    assert wrong_way["criterion"] == "none" and wrong_way["planned_n"] is None


def test_registered_designs_cover_the_registry_and_sit_on_the_grid():
    designs = load_designs()
    if not designs["claims"]:
        pytest.skip("no designs registered")
    assert designs.get("source"), "a registered design names the build its assumption comes from"
    for key, d in designs["claims"].items():
        assert key in REGISTRY and REGISTRY[key].comparison != "untestable", key
        grid = BATCH_GRID if REGISTRY[key].comparison == "time_ratio" else GRID
        assert d["criterion"] in design.CRITERIA
        assert (d["planned_n"] is None) == (d["criterion"] == "none") and (d["planned_n"] in grid or d["planned_n"] is None)


def test_a_registered_plan_is_recomputable():
    """The plan is a function of its assumption: recomputing t4_mspd_vs_bilevel's gives the registered one."""
    d = load_designs()["claims"].get("t4_mspd_vs_bilevel")
    if d is None:
        pytest.skip("t4_mspd_vs_bilevel not planned")
    again = plan_claim("t4_mspd_vs_bilevel", d["assumed"], reps=load_designs()["reps"])
    assert again["planned_n"] == d["planned_n"] and again["power"] == d["power"]


def test_the_flagship_is_decisive_on_size_at_its_planned_n(capsys):
    """Issue 38's done-when: simulate --claim t4_mspd_vs_bilevel --effect 0 --n <planned> --discordance <assumed>
    gives a decided size in at least 80% of runs."""
    d = load_designs()["claims"].get("t4_mspd_vs_bilevel")
    if d is None or d["planned_n"] is None:
        pytest.skip("t4_mspd_vs_bilevel has no planned n")
    assert simulate_main(["--claim", "t4_mspd_vs_bilevel", "--effect", "0", "--n", str(d["planned_n"]), "--discordance",
                          str(d["assumed"]["discordance"]), "--reps", "300", "--seed", "3", "--json"]) == 0
    size = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["size"]
    assert size["consistent"] + size["smaller"] + size["larger"] >= THRESHOLD - MC, size


def test_a_row_below_its_planned_n_says_so(monkeypatch):
    fake = {"source": "a test build", "calibration_seconds": 4.0,
            "claims": {"t9_fb_vs_f": {"assumed": {"discordance": 0.1}, "planned_n": 500, "criterion": "both",
                                      "unit_of_n": "images", "cost_units_per_image": 0.3, "power": {}}}}
    monkeypatch.setattr(registry, "load_designs", lambda path=registry.DESIGN_FILE: fake)
    monkeypatch.delenv(design.CALIBRATION_ENV, raising=False)
    note = planned_n_note("t9_fb_vs_f", 250)
    assert "n limited by the time budget" in note and "n = 500 images" in note and "about 5 more minutes" in note
    assert planned_n_note("t9_fb_vs_f", 500) == "" and planned_n_note("t4_clean", 10) == ""
    monkeypatch.setenv(design.CALIBRATION_ENV, "8.0")  # this build's unit: twice as slow
    assert "about 10 more minutes" in planned_n_note("t9_fb_vs_f", 250)


def test_a_design_is_part_of_the_claims_fingerprint(monkeypatch):
    before = claim_fingerprint(REGISTRY["t9_fb_vs_f"])
    fake = {"claims": {"t9_fb_vs_f": {"assumed": {"discordance": 0.1}, "planned_n": 100, "criterion": "both"}}}
    monkeypatch.setattr(registry, "load_designs", lambda path=registry.DESIGN_FILE: fake)
    assert claim_fingerprint(REGISTRY["t9_fb_vs_f"]) != before


def test_design_cli_refuses_a_missing_build(tmp_path, capsys):
    with pytest.raises(SystemExit):
        planning.main(["--claims", str(tmp_path / "nope"), "--source", "x"])
    assert "no claims folder" in capsys.readouterr().err
    assert design.main([]) == 0 and "planned n" in capsys.readouterr().out


def test_the_summary_figures_draw_plans_and_bands():
    """The planned-n figure and the forest plot's size bands, on rows the engine made (one below its plan)."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from mspd_core import claims
    from mspd_core.claims.design import design_table
    from mspd_core.viz import forest_plot, planned_n_plot

    a, b = np.zeros(50, bool), np.zeros(50, bool)
    a[:3] = True
    rows = [dict(vars(claims.check("t4_mspd_vs_bilevel", a=a, b=b))),
            dict(vars(claims.check("t4_speed", slow=[2.0, 2.1, 1.9], fast=[0.05, 0.06, 0.05])))]
    plans = design_table(rows)
    assert list(plans["claim"]) == ["t4_mspd_vs_bilevel", "t4_speed"]
    fig = planned_n_plot(plans)
    assert len(fig.axes[0].get_yticklabels()) == 2
    fig = forest_plot(rows)
    assert sum(len(ax.collections) for ax in fig.axes) >= 2  # one size band per claim with a paper effect
    matplotlib.pyplot.close("all")
