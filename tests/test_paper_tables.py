"""The papers' own numbers (data/paper_tables/*.csv) against the papers' extracted text.

Each spot check takes one transcribed row, writes its cells as the paper's text prints them, and
finds that sequence in the text (``../shared/papers/``, beside the checkout in CI). The differences
the papers' prose states (e.g. "5.1% better robust accuracy than Bi-Level") are re-derived from the
CSV cells, so a mistyped cell fails twice.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from mspd_core.paths import PROJECT_ROOT

TABLES = PROJECT_ROOT / "data" / "paper_tables"
PAPERS = PROJECT_ROOT.parent / "shared" / "papers"


def paper_text(name: str) -> str:
    path = PAPERS / name
    if not path.exists():
        pytest.skip(f"{path} is not here (the papers' text lives in ../shared/papers/)")
    text = re.sub(r"</?b>", "", path.read_text(encoding="utf-8"))
    return " " + re.sub(r"\s+", " ", text) + " "


def row(csv: str, **match) -> pd.Series:
    table = pd.read_csv(TABLES / csv, dtype=str, keep_default_na=False)
    hit = table
    for column, value in match.items():
        hit = hit[hit[column] == value]
    assert len(hit) == 1, f"{csv}: {match} matches {len(hit)} rows"
    return hit.iloc[0]


def printed(values) -> str:
    return " " + " ".join(values) + " "


#: (csv, row selector, columns in the order the paper prints them, paper file)
SPOT_CHECKS = [
    ("fp_table01_end_to_end.csv", {"dataset": "cifar10", "defense": "Fast Preemption"},
     ["time_s", "clean", "aa_std_linf", "aa_std_l2", "aa_rand_linf"], "fast-preemption.txt"),
    ("fp_table01_end_to_end.csv", {"dataset": "cifar10", "defense": "A5"},
     ["time_s", "clean", "aa_std_linf", "aa_std_l2", "aa_rand_linf"], "fast-preemption.txt"),
    ("fp_table01_end_to_end.csv", {"dataset": "imagenet", "defense": "Bi-Level"},
     ["time_s", "clean", "aa_std_linf", "aa_std_l2", "aa_rand_linf"], "fast-preemption.txt"),
    ("fp_table02_reversion.csv", {"classifier": "ResNeXt29-32x4d"},
     ["clean", "jpeg", "diffpure", "white", "black"], "fast-preemption.txt"),
    ("fp_table05_classifier.csv", {"classifier": "Bi-Level"},
     ["classifier_accuracy", "time_s", "clean", "transfer_pgd", "transfer_autoattack"], "fast-preemption.txt"),
    ("fp_table07_optimizer.csv", {"optimization": "PGD", "n_samples": "20"},
     ["n_samples", "time_s", "clean", "robust_pgd", "robust_autoattack"], "fast-preemption.txt"),
    ("fp_table08_victims.csv", {"victim": "ResNet-50", "metric": "robust"},
     ["no_pre", "bilevel", "fp_wrn94_backbone", "fp_preact18_backbone"], "fast-preemption.txt"),
    ("fp_table08_victims.csv", {"victim": "Average", "metric": "clean"},
     ["no_pre", "bilevel", "fp_wrn94_backbone", "fp_preact18_backbone"], "fast-preemption.txt"),
    ("fp_table09_attacks.csv", {"attack": "CW"}, ["adv_training_wrn94", "bilevel", "fast_preemption"], "fast-preemption.txt"),
]


@pytest.mark.parametrize("csv, selector, columns, paper", SPOT_CHECKS, ids=lambda v: str(v)[:40])
def test_transcribed_row_is_printed_in_the_paper(csv, selector, columns, paper):
    values = row(csv, **selector)[columns]
    assert printed(values) in paper_text(paper), f"{csv} {selector}: {' '.join(values)} is not in {paper}"


def test_fp_table06_columns_read_down_the_papers_rows():
    """Fast Preemption's Table 6 prints one row per measure and one column per backbone."""
    text = paper_text("fast-preemption.txt")
    table = pd.read_csv(TABLES / "fp_table06_backbone.csv", dtype=str).set_index("backbone")
    for column, label in [("backbone_pgd", "PGD (%)"), ("time_s", "Time Cost (s) for Defense"), ("xcit_l12_autoattack", "AutoAttack (%)")]:
        assert printed([label] + list(table[column])) in text, column


def test_fast_preemption_prose_matches_its_tables():
    """Sec. 6.1 and App. G state differences that the transcribed cells must reproduce."""
    t1 = pd.read_csv(TABLES / "fp_table01_end_to_end.csv").query("dataset == 'cifar10'").set_index("defense")
    fp, bl, wrn = t1.loc["Fast Preemption"], t1.loc["Bi-Level"], t1.loc["WideResNet-94-16"]
    assert (round(fp.clean - wrn.clean, 1), round(fp.aa_std_linf - wrn.aa_std_linf, 1)) == (1.6, 11.9)
    assert (round(fp.clean - bl.clean, 1), round(fp.aa_std_linf - bl.aa_std_linf, 1)) == (2.5, 5.1)
    assert bl.time_s / fp.time_s == pytest.approx(700)
    t8 = pd.read_csv(TABLES / "fp_table08_victims.csv").set_index(["victim", "metric"])
    avg = t8.loc["Average"]
    assert round(avg.loc["clean", "fp_preact18_backbone"] - avg.loc["clean", "no_pre"], 1) == 4.2
    assert round(avg.loc["robust", "fp_preact18_backbone"] - avg.loc["robust", "bilevel"], 1) == 5.0
    victims = t8.drop(index=["Average", "(time)"], level=0)
    for column in ("no_pre", "bilevel", "fp_wrn94_backbone", "fp_preact18_backbone"):
        for metric in ("clean", "robust"):  # the Average row is the mean of the nine victims (to the paper's rounding)
            assert victims.xs(metric, level=1)[column].mean() == pytest.approx(avg.loc[metric, column], abs=0.06)


@pytest.mark.parametrize("csv", sorted(p.name for p in TABLES.glob("*.csv")))
def test_every_transcribed_table_parses_with_accuracies_in_range(csv):
    table = pd.read_csv(TABLES / csv)
    assert len(table) > 0
    for column in table.columns:
        if column in ("clean", "robust") or column.startswith(("aa_", "robust_", "transfer_", "white", "black", "jpeg")):
            values = pd.to_numeric(table[column], errors="coerce").dropna()
            assert values.between(0, 100).all(), f"{csv}: {column} outside [0, 100]"
