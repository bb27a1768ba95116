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
        if column in ("clean", "robust", "certified") or column.startswith(("aa_", "robust_", "transfer_", "white", "black", "jpeg", "grey_")):
            values = pd.to_numeric(table[column], errors="coerce").dropna()
            assert values.between(0, 100).all(), f"{csv}: {column} outside [0, 100]"


# ---- Bi-Level (bilevel-preemptive-robustification.txt) -----------------------------------------
# Its extracted text prints tables as "ADV | None | 86.72 | ... |" lines with no caption or number;
# a table's number is the order of its block in the text, which the prose's references pin down.

BILEVEL = "bilevel-preemptive-robustification.txt"
BILEVEL_T14 = ["model", "preempt", "clean", "grey_pgd", "grey_aa", "white_pgd", "white_aa"]
BILEVEL_T56 = ["preempt", "clean", "grey_pgd", "grey_pgd10", "white_pgd", "white_pgd10"]
BILEVEL_T7 = ["preempt", "clean", "certified"]
BILEVEL_FILES = {
    1: "bilevel_table01_cifar10_linf.csv",
    2: "bilevel_table02_cifar10_l2.csv",
    3: "bilevel_table03_imagenet_linf.csv",
    4: "bilevel_table04_imagenet_l2.csv",
    5: "bilevel_table05_cifar10_smoothed.csv",
    6: "bilevel_table06_imagenet_smoothed.csv",
    7: "bilevel_table07_certified.csv",
}
BILEVEL_COLUMNS = {
    **{n: ["dataset", "norm", "eps"] + BILEVEL_T14 + ["notes"] for n in (1, 2, 3, 4)},
    **{n: ["dataset", "norm", "eps", "sigma"] + BILEVEL_T56 + ["notes"] for n in (5, 6)},
    7: ["dataset", "radius", "sigma", "n_noise_certify"] + BILEVEL_T7 + ["notes"],
}


def piped(values) -> str:
    """Cells as the Bi-Level text prints a table row: 'a | b | c |'."""
    return " " + " | ".join(values) + " | "


def bilevel(n: int) -> pd.DataFrame:
    """One Bi-Level table with numeric cells; "None" (no preemption) stays a label, not pandas' NA."""
    return pd.read_csv(TABLES / BILEVEL_FILES[n], keep_default_na=False, na_values=[""])


#: (table number, row selector, columns in the order the paper prints them)
BILEVEL_SPOT_CHECKS = [
    *[(n, {"model": m, "preempt": p}, BILEVEL_T14) for n in (1, 2, 3, 4) for m, p in [("ADV", "None"), ("ADV", "Ours"), ("Ours", "Ours")]],
    *[(n, {"preempt": p}, BILEVEL_T56) for n in (5, 6) for p in ("None", "Ours")],
    *[(7, {"dataset": d, "preempt": p}, BILEVEL_T7) for d in ("cifar10", "imagenet") for p in ("None", "Ours")],
]


@pytest.mark.parametrize("n", sorted(BILEVEL_FILES))
def test_bilevel_table_has_its_columns(n):
    table = pd.read_csv(TABLES / BILEVEL_FILES[n], dtype=str, keep_default_na=False)
    assert list(table.columns) == BILEVEL_COLUMNS[n]
    assert (table.notes != "").all()
    if n <= 6:  # the extracted text prints no epsilon at all (its math symbols are lost)
        assert (table.eps == "").all()
    else:
        assert (table.radius == "").all()


@pytest.mark.parametrize("n, selector, columns", BILEVEL_SPOT_CHECKS, ids=lambda v: str(v)[:40])
def test_bilevel_row_is_printed_in_the_paper(n, selector, columns):
    values = row(BILEVEL_FILES[n], **selector)[columns]
    assert piped(values) in paper_text(BILEVEL), f"table {n} {selector}: {' | '.join(values)} is not in {BILEVEL}"


def test_bilevel_table_numbers_follow_the_order_of_the_blocks_in_the_text():
    """Each table's rows are found exactly once, and table n's block comes before table n + 1's."""
    text = paper_text(BILEVEL)
    starts = []
    for n, file in sorted(BILEVEL_FILES.items()):
        table = pd.read_csv(TABLES / file, dtype=str, keep_default_na=False)
        groups = [table] if n < 7 else [g for _, g in table.groupby("dataset", sort=False)]
        for group in groups:  # Table 7 prints one block per dataset, CIFAR-10 first
            columns = BILEVEL_T14 if n <= 4 else BILEVEL_T56 if n <= 6 else BILEVEL_T7
            block = " " + " ".join(" | ".join(r[columns]) + " |" for _, r in group.iterrows()) + " "
            assert text.count(block) == 1, f"table {n}: {block!r}"
            starts.append(text.index(block))
    assert starts == sorted(starts)


def test_bilevel_prose_matches_its_tables():
    """Sec. 4 states differences that the transcribed cells must reproduce (discrepancies: README)."""
    adversarial = ["grey_pgd", "grey_aa", "white_pgd", "white_aa"]
    t = {n: bilevel(n).set_index(["model", "preempt"]) for n in (1, 2, 3, 4)}

    for n in (1, 2, 3, 4):  # footnote 2: with no preemption the grey-box adversary is the white-box one
        none = t[n].loc[("ADV", "None")]
        assert (none.grey_pgd, none.grey_aa) == (none.white_pgd, none.white_aa)

    # Sec. 4.1: "achieving adversarial accuracies higher than 80% in both the perturbation settings":
    # every adversarial cell of the Ours/Ours rows; the ADV/Ours rows only grey-box (L2 white AA 79.48).
    assert [t[n].loc[("Ours", "Ours"), adversarial].min() for n in (1, 2)] == [82.88, 80.79]
    assert [t[n].loc[("ADV", "Ours"), ["grey_pgd", "grey_aa"]].min() for n in (1, 2)] == [81.70, 83.56]
    assert t[2].loc[("ADV", "Ours"), "white_aa"] == 79.48

    # Sec. 4.1: preemptively robust training "further boosts ... both the clean and adversarial
    # accuracies": Ours/Ours beats ADV/Ours in every cell but Table 2's white-box PGD (85.02 < 85.12).
    behind = [(n, c) for n in (1, 2) for c in ["clean"] + adversarial
              if t[n].loc[("Ours", "Ours"), c] <= t[n].loc[("ADV", "Ours"), c]]
    assert behind == [(2, "white_pgd")]

    # Sec. 4.1-4.2: white-box attacks on the l-inf distance fail: white-box = clean when preempted.
    for n in (1, 3):
        for model in ("ADV", "Ours"):
            r = t[n].loc[(model, "Ours")]
            assert r.white_pgd == r.white_aa == r.clean

    def worst(n, model, preempt):
        return t[n].loc[(model, preempt), adversarial].min()

    # Sec. 4.1: on L2 "the worst-case adversarial accuracy is still over 10% higher than without our
    # methods": 9.58 points (Ours/Ours) and 8.27 (ADV/Ours); over 10% only relative (+13.5%, +11.6%).
    assert round(worst(2, "Ours", "Ours") - worst(2, "ADV", "None"), 2) == 9.58
    assert round(worst(2, "ADV", "Ours") - worst(2, "ADV", "None"), 2) == 8.27
    assert round(100 * (worst(2, "Ours", "Ours") / worst(2, "ADV", "None") - 1), 1) == 13.5
    assert round(100 * (worst(2, "ADV", "Ours") / worst(2, "ADV", "None") - 1), 1) == 11.6

    # Sec. 4.2: "over 15% higher worst-case adversarial accuracies, and ... higher clean accuracies":
    # true of Ours/Ours (20.72, 16.02 points); ADV/Ours gains 19.62 and only 9.91 on Table 4.
    assert [round(worst(n, "Ours", "Ours") - worst(n, "ADV", "None"), 2) for n in (3, 4)] == [20.72, 16.02]
    assert [round(worst(n, "ADV", "Ours") - worst(n, "ADV", "None"), 2) for n in (3, 4)] == [19.62, 9.91]
    assert all(t[n].loc[("Ours", "Ours"), "clean"] > t[n].loc[("ADV", "None"), "clean"] for n in (3, 4))

    # Sec. 4.3: "28% and 49% higher the worst-case adversarial accuracies than the baseline on CIFAR10
    # and ImageNet" (worst case = min over the four randomized-PGD columns): 27.70 and 48.63 points.
    gains = []
    for n in (5, 6):
        s = bilevel(n).set_index("preempt")[["grey_pgd", "grey_pgd10", "white_pgd", "white_pgd10"]]
        gains.append(round(s.loc["Ours"].min() - s.loc["None"].min(), 2))
    assert gains == [27.70, 48.63]
    assert [round(g) for g in gains] == [28, 49]

    # Sec. 4.3: "22% and 15% higher certified accuracies on CIFAR10 and ImageNet": 22.37 and 15.21.
    t7 = bilevel(7).set_index(["dataset", "preempt"]).certified
    cert = [round(t7[(d, "Ours")] - t7[(d, "None")], 2) for d in ("cifar10", "imagenet")]
    assert cert == [22.37, 15.21]
    assert [round(c) for c in cert] == [22, 15]


def test_bilevel_cifar10_agrees_with_tables_1_and_2():
    """The earlier combined transcription (bilevel_cifar10.csv) holds the same cells as Tables 1-2."""
    old = pd.read_csv(TABLES / "bilevel_cifar10.csv", dtype=str, keep_default_na=False)
    new = pd.concat([pd.read_csv(TABLES / BILEVEL_FILES[n], dtype=str, keep_default_na=False) for n in (1, 2)])
    cells = ["clean", "grey_pgd", "grey_aa", "white_pgd", "white_aa"]
    assert old[["model", "preempt"] + cells].values.tolist() == new[["model", "preempt"] + cells].values.tolist()


def test_paper_table_not_run_shows_the_imagenet_rows_as_printed():
    """The chapters show the ImageNet tables as the paper prints them ("56.24", trailing zeros kept), without
    the notes or the columns the extraction left empty."""
    from mspd_core import experiments as ex

    table3 = ex.paper_table_not_run("bilevel_table03_imagenet_linf", ["model", "preempt"])
    assert list(table3.columns) == ["norm", "clean", "grey_pgd", "grey_aa", "white_pgd", "white_aa"]
    assert table3.loc[("ADV", "Ours"), "grey_aa"] == "47.14"
    assert ex.paper_table_not_run("bilevel_table07_certified", ["preempt"]).loc["None", "certified"] == "12.68"
    from mspd_core.parts import bilevel as bl

    assert bl.bilevel_paper_rows("bilevel_table01_cifar10_linf", {"ADV": "a", "Ours": "b"},
                                 {"None": "No Pre.", "Ours": "Bi-Level"}).loc[("a", "Bi-Level"), "grey_aa"] == "81.70"


@pytest.mark.parametrize("key, n, column", [("bl3_imagenet_linf", 3, "grey_aa"), ("bl4_imagenet_l2", 4, "grey_aa"),
                                            ("bl6_imagenet_smoothed", 6, "grey_pgd"),
                                            ("bl7_imagenet_certified", 7, "certified")])
def test_bilevel_imagenet_claims_quote_their_tables(key, n, column):
    """The ImageNet claims (not testable here) quote the transcribed rows: "Ours vs None" on the ADV model."""
    from mspd_core.claims.registry import REGISTRY

    spec = REGISTRY[key]
    table = pd.read_csv(TABLES / BILEVEL_FILES[n], dtype=str, keep_default_na=False)
    table = table[table.dataset == "imagenet"]
    if "model" in table.columns:
        table = table[table.model == "ADV"]
    ours, none = (table[table.preempt == p][column].item() for p in ("Ours", "None"))
    assert spec.comparison == "untestable" and spec.paper_text == f"{ours} vs {none}"
    assert spec.paper_effect == pytest.approx(float(ours) - float(none))
