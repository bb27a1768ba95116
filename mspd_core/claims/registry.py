"""The claims registry: every claim of the papers this book checks, with the rule that judges it.

Each :class:`ClaimSpec` fixes the statement, the paper's effect, the comparison and its test,
the equivalence margin where there is one, and which sample it is measured on. Notebooks only
pass their per-image outcomes to :func:`mspd_core.claims.check`; they never choose a criterion.
Every change to a claim's decision fields is recorded, with its date and reason, in
``history.json`` beside this file (``python -m mspd_core.claims.history``); a test fails when a
decision field changes without an entry, and the summary page shows the registry's fingerprint.

Comparisons (``comparison``):

- ``paired_accuracy``: accuracy of a minus accuracy of b on the same images (points), exact McNemar;
- ``equivalence``: the same difference, TOST against ``margin`` points;
- ``bootstrap``: a per-image (or per-unit) paired measurement, percentile bootstrap;
- ``time_ratio``: seconds per image of the slow method over the fast one, per-batch timings;
- ``ordering``: every part must hold (intersection-union); parts are ``part_comparison``.

Samples (``sample``): ``"large"`` = the profile's ``n_large`` images (claims that involve only
MSPD, Fast Preemption, No Pre. and cheap ablations: 250 in the ``cpu`` profile);
``"paired subset"`` = the profile's ``n_images`` (claims that need Bi-Level/UnAdv with 100
outer iterations or other slow rows: 50 in the ``cpu`` profile).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

COMPARISONS = ("paired_accuracy", "equivalence", "bootstrap", "time_ratio", "ordering", "untestable")
SAMPLES = ("large", "paired subset", "pairs", "none")


@dataclass(frozen=True)
class ClaimSpec:
    key: str
    statement: str
    source: str  # where the paper says it
    notebook: str  # the chapter that measures it
    comparison: str
    paper_text: str  # the paper's numbers, as the paper gives them
    paper_effect: float | None = None  # in the comparison's unit; None = the paper states a direction only
    unit: str = "points"
    margin: float | None = None  # equivalence margin, points
    part_comparison: str | None = None  # for "ordering"
    pass_count_ratio: float | None = None  # for "time_ratio": what the forward/backward pass counts imply
    sample: str = "large"
    untestable_reason: str | None = None
    part_effects: tuple[float, ...] | None = None  # for "ordering": the paper's effect of each part, in order
    statistic: str = "mean"  # for "bootstrap": "mean" of per-unit differences, or "spearman" over two columns
    target: str = "main"  # the zoo's target the claim runs on: "main", or "separation" (Zoo.separation_target)

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"{self.key}: comparison must be one of {COMPARISONS}")
        if self.sample not in SAMPLES:
            raise ValueError(f"{self.key}: sample must be one of {SAMPLES}")
        if self.comparison == "equivalence" and not self.margin:
            raise ValueError(f"{self.key}: an equivalence claim needs a margin declared here")
        if self.comparison == "ordering" and self.part_comparison not in ("paired_accuracy", "bootstrap"):
            raise ValueError(f"{self.key}: an ordering claim needs part_comparison paired_accuracy or bootstrap")
        if self.comparison == "untestable" and not self.untestable_reason:
            raise ValueError(f"{self.key}: say why it is not testable here")
        if self.target not in ("main", "separation"):
            raise ValueError(f"{self.key}: target must be 'main' or 'separation'")
        if self.statistic not in ("mean", "spearman"):
            raise ValueError(f"{self.key}: statistic must be 'mean' or 'spearman'")


#: The fields that decide a verdict: a change to any of them needs an entry in history.json.
DECISION_FIELDS = ("statement", "source", "comparison", "paper_text", "paper_effect", "unit", "margin",
                   "part_comparison", "pass_count_ratio", "sample", "part_effects", "statistic", "target")


#: Why the Bi-Level paper's ImageNet tables do not run here (one place for the claims and the chapters).
BILEVEL_IMAGENET_MISSING = ("needs ImageNet (download) and the paper's own ResNet-50 ADV and preemptively robust "
                            "models (not in RobustBench's zoo; training them needs a GPU)")
SMOOTHED_IMAGENET_MISSING = ("needs ImageNet (download) and Cohen et al.'s Gaussian-noise ResNet-50s (download), "
                             "and CERTIFY with n = 100,000 on ResNet-50 needs a GPU")


#: MCGS: 2 epochs x N = 20 copies x K = 1 step = 40 forward+backward passes per image.
MCGS_PASSES = 2 * 20 * 1
#: Bi-Level(100): 100 outer iterations x (PGD-20 + one gradient step) = 2,100 passes per image.
BILEVEL_PASSES = 100 * (20 + 1)


#: Fast Preemption: (T_F = 1 + T_B = 2) steps x N = 20 FGSM copies = 60 forward+backward passes per image.
FP_PASSES = (1 + 2) * 20


def bilevel_pass_ratio(epochs: int, fast_passes: int = MCGS_PASSES) -> float:
    """Bi-Level with ``epochs`` outer iterations over MCGS (or another defense of ``fast_passes`` forward+backward
    passes per image, e.g. :data:`FP_PASSES`), in passes per image."""
    return epochs * (20 + 1) / fast_passes


#: What A5 is here (Frosio & Kautz, CVPR 2023: a defensive perturbation maximising a certified lower bound of the
#: true class's margin, by bound propagation through a certifiably trained model), for the pages that show it.
A5_HERE = ("A5 here is its per-image optimisation: it raises the certified margin bound (A5's CROWN-IBP / IBP mix on "
           "the margin specification; bound-propagation, extended with convolutions) through the zoo's IBP-trained CNN "
           "a5-cnn-ibp (delta = eps (2 sigmoid(z) - 1), RMSprop on z, the attack radius ramped), and "
           "the release then transfers to the target. The papers' "
           "A5 rows (0.01 s per image; the MSPD paper calls A5 generative) come from A5's trained robustifier network, "
           "which is not built here: our seconds per image and accuracies measure the optimisation variant")

_SPECS = [
    # ---- Table IV -------------------------------------------------------------------------
    ClaimSpec("t4_mspd_vs_bilevel", "MSPD gives higher robust accuracy than Bi-Level on an unseen target (AutoAttack L-inf)",
              "MSPD Table IV", "table04_main", "paired_accuracy", "86.3 vs 82.2", 4.1, sample="paired subset",
              target="separation"),
    ClaimSpec("t4_mspd_vs_none", "MSPD raises robust accuracy over no defense (AutoAttack L-inf)",
              "MSPD Table IV", "table04_main", "paired_accuracy", "86.3 vs 74.0", 12.3),
    ClaimSpec("t4_clean", "MSPD's releases keep (and raise) the target's clean accuracy over the originals",
              "MSPD Table IV", "table04_main", "paired_accuracy", "95.9 vs 93.9", 2.0),
    ClaimSpec("t4_speed", "MSPD is faster than Bi-Level per image", "MSPD Table IV", "table04_main", "time_ratio",
              "0.02 s vs 33.92 s per image (1696x)", 33.92 / 0.02, unit="x",
              pass_count_ratio=BILEVEL_PASSES / MCGS_PASSES, sample="paired subset"),
    ClaimSpec("t4_imagenet", "ImageNet: MSPD gives higher robust accuracy than Bi-Level (AutoAttack L-inf, eps 4/255)",
              "MSPD Table IV", "table04_main", "paired_accuracy", "78.2 vs 71.6", 6.6, sample="paired subset",
              untestable_reason="needs ImageNet (MSPD_IMAGENET) and RobustBench ImageNet models (download, GPU)"),
    # ---- Table V ----------------------------------------------------------------------------
    ClaimSpec("t5_vs_bilevel2", "At an equal 2-epoch budget MSPD beats Bi-Level (AutoAttack L-inf)",
              "MSPD Table V", "table05_budget_matched", "paired_accuracy", "86.3 vs 80.5", 5.8),
    ClaimSpec("t5_vs_cascade2", "At an equal 2-epoch budget MSPD beats the UnAdv + Bi-Level cascade (AutoAttack L-inf)",
              "MSPD Table V", "table05_budget_matched", "paired_accuracy", "86.3 vs 80.9", 5.4),
    ClaimSpec("t5_speed_bilevel2", "At an equal 2-epoch budget MSPD is faster than Bi-Level per image", "MSPD Table V",
              "table05_budget_matched", "time_ratio", "0.02 s vs 0.56 s per image (28x)", 0.56 / 0.02, unit="x",
              pass_count_ratio=2 * (20 + 1) / MCGS_PASSES),
    # SPEC's UnAdv has no inner attack: one forward+backward per outer iteration, so UnAdv(2) needs 2 passes
    # per image to MSPD's MCGS_PASSES; by pass count MSPD cannot be the faster one here (the paper's 0.55 s for
    # UnAdv(2) implies far more work per iteration than SPEC's UnAdv).
    ClaimSpec("t5_speed_unadv2", "At an equal 2-epoch budget MSPD is faster than UnAdv per image", "MSPD Table V",
              "table05_budget_matched", "time_ratio", "0.02 s vs 0.55 s per image (27.5x)", 0.55 / 0.02, unit="x",
              pass_count_ratio=2 * 1 / MCGS_PASSES),
    # ---- Table VI ---------------------------------------------------------------------------
    ClaimSpec("t6_best_every_attack", "MSPD has the highest robust accuracy under every attack (vs No Pre., UnAdv, Bi-Level)",
              "MSPD Table VI", "table06_attacks", "ordering",
              "7 of 7 attacks; smallest margin +3.4 (DeCoW, vs Bi-Level); per-part effects from the paper's Table VI",
              None, part_comparison="paired_accuracy", sample="paired subset", target="separation"),
    ClaimSpec("t6_diffpure", "MSPD beats DiffPure (Tables VI-VII)", "MSPD Table VI", "table06_attacks", "untestable",
              "86.3 vs 79.4", 6.9, sample="none", untestable_reason="needs a pretrained diffusion model (download)"),
    # ---- Table VII --------------------------------------------------------------------------
    ClaimSpec("t7_avg_targets", "MSPD's robust accuracy beats Bi-Level's on average over unseen targets",
              "MSPD Table VII", "table07_targets", "bootstrap", "78.3 vs 73.1 (10 targets)", 5.2, sample="paired subset"),
    # ---- Table IX ---------------------------------------------------------------------------
    ClaimSpec("t9_smoothing", "Gradient smoothing (N = 20) improves the 2-epoch cascade (PGD)", "MSPD Table IX",
              "table09_epochs_smoothing", "paired_accuracy", "88.1 vs 87.4", 0.7),
    ClaimSpec("t9_fb_vs_f", "The FB cascade beats a single forward epoch (PGD, N = 20)", "MSPD Table IX",
              "table09_epochs_smoothing", "paired_accuracy", "88.1 vs 86.5", 1.6),
    # ---- Table X ----------------------------------------------------------------------------
    ClaimSpec("t10_white_reversion", "White-box reversion lowers each 2-epoch defense's robust accuracy (AutoAttack L-inf)",
              "MSPD Table X", "table10_reversion", "ordering", "UnAdv -2.0, Bi-Level -6.9, MSPD -10.1 points", None,
              part_comparison="paired_accuracy", part_effects=(2.0, 6.9, 10.1)),
    ClaimSpec("t10_lpips", "Perceptual quality: LPIPS of MSPD releases", "MSPD Table X", "table10_reversion", "untestable",
              "0.0061", None, unit="", sample="none",
              untestable_reason="LPIPS needs AlexNet weights (download); SSIM is reported instead"),
    # ---- Table XI / Lemma 1 -----------------------------------------------------------------
    ClaimSpec("l1_alignment_predicts", "Lemma 1: backbone-target gradient alignment predicts protection (Spearman rho > 0)",
              "MSPD Lemma 1", "lemma1_alignment", "bootstrap", "holds (proof)", None, unit="rho", sample="pairs",
              statistic="spearman"),
    ClaimSpec("t11_robust_aligns", "A robust backbone's input gradients align with the target's more than a non-robust one's",
              "MSPD Table XI", "lemma1_alignment", "bootstrap", "grad sim 0.2093 vs 0.0124 (WRN-28-10)", 0.197, unit="cosine"),
    # ---- Lemmas 2-4 -------------------------------------------------------------------------
    ClaimSpec("l2_forward_lowers_more", "Lemma 2: one forward epoch lowers the backbone loss more than one backward epoch",
              "MSPD Lemma 2", "lemma2_forward_backward", "bootstrap", "holds (proof)", None, unit="CE"),
    ClaimSpec("l3_energy", "Lemma 3: backward updates put more energy in the targets' shared gradient subspace",
              "MSPD Lemma 3", "lemma3_shared_subspace", "bootstrap", "holds (proof)", None, unit="energy fraction"),
    ClaimSpec("l3_rank", "Lemma 3: backward update directions spread over more dimensions than forward ones",
              "MSPD Lemma 3", "lemma3_shared_subspace", "bootstrap", "holds (proof)", None, unit="effective rank"),
    ClaimSpec("l4_order", "Lemma 4: reversion error white < gray < black", "MSPD Lemma 4", "lemma4_reversion", "ordering",
              "holds (proof)", None, unit="relative L2 error", part_comparison="bootstrap"),
    ClaimSpec("l4_jpeg", "JPEG distorts without reverting: the JPEG'd release is no closer to the original (error > 1)",
              "MSPD Lemma 4 / Table X", "lemma4_reversion", "bootstrap", "holds (discussion)", None, unit="relative L2 error - 1"),
    # ---- Table XII --------------------------------------------------------------------------
    ClaimSpec("t12_decouple_clean", "Decoupling (a separate clean classifier labels) raises clean accuracy over coupling",
              "MSPD Table XII", "table12_pipeline", "paired_accuracy", "95.9 vs 91.0", 4.9),
    # ---- Table XIII -------------------------------------------------------------------------
    ClaimSpec("t13_single_copy_matches_pgd", "With one copy, a single smoothing step matches PGD-20 inner steps (PGD)",
              "MSPD Table XIII", "table13_smoothing_vs_pgd", "equivalence", "87.4 vs 87.7", -0.3, margin=2.0),
    ClaimSpec("t13_smoothing_matches_pgd", "Single-step smoothing (N = 20) matches PGD-20 inner steps (N = 20) (PGD)",
              "MSPD Table XIII", "table13_smoothing_vs_pgd", "equivalence", "88.1 vs 88.1", 0.0, margin=2.0,
              sample="paired subset"),
    ClaimSpec("t13_speed", "Single-step smoothing is faster than PGD-20 inner steps (N = 20)", "MSPD Table XIII",
              "table13_smoothing_vs_pgd", "time_ratio", "0.02 s vs 0.48 s (24x)", 24.0, unit="x",
              pass_count_ratio=20.0, sample="paired subset"),
    # ---- Table XIV --------------------------------------------------------------------------
    ClaimSpec("t14_eta_best", "eta = 1 gives the best robust accuracy among 0.5 / 0.75 / 1 (PGD)", "MSPD Table XIV",
              "table14_step_size", "ordering", "88.1 vs 86.8 / 88.0", None, part_comparison="paired_accuracy",
              part_effects=(1.3, 0.1)),
    # ---- Table XV ---------------------------------------------------------------------------
    ClaimSpec("t15_every_budget", "MSPD helps at every attack budget (PGD at 4, 8, 16/255)", "MSPD Table XV",
              "table15_attack_budget", "ordering", "+4.9 / +11.0 / +22.3 points", None, part_comparison="paired_accuracy",
              part_effects=(4.9, 11.0, 22.3)),
    # ---- Fast Preemption --------------------------------------------------------------------
    ClaimSpec("fp_fgsm_matches_pgd", "Fast Preemption: FGSM points (N = 20) match PGD points (N = 20) (PGD)",
              "Fast Preemption Table 7", "fast_preemption_steps", "equivalence", "87.8 vs 87.7", 0.1, margin=2.0,
              sample="paired subset"),
    ClaimSpec("fp_speed", "Fast Preemption: FGSM points are faster than PGD-10 points (N = 20)", "Fast Preemption Table 7",
              "fast_preemption_steps", "time_ratio", "0.04 s vs 0.8 s (20x)", 20.0, unit="x", pass_count_ratio=10.0,
              sample="paired subset"),
    # ---- MSPD Table VIII: A5 ------------------------------------------------------------------
    ClaimSpec("t8_mspd_vs_a5", "MSPD gives higher robust accuracy than A5 (AutoAttack L-inf)", "MSPD Table VIII",
              "fp_end_to_end", "paired_accuracy", "86.3 (Table IV's CIFAR-10 MSPD row) vs 73.7 (Table VIII's A5); Table "
              "VIII's 'Ours' row misprints Table IV's ImageNet numbers (78.2) under CIFAR-10, which would read 4.5",
              12.6, sample="paired subset"),
    # ---- Fast Preemption Table 1: end to end against AutoAttack ---------------------------------
    ClaimSpec("fp1_vs_bilevel", "Fast Preemption gives higher robust accuracy than Bi-Level on an unseen target "
              "(AutoAttack L-inf)", "Fast Preemption Table 1", "fp_end_to_end", "paired_accuracy", "86.5 vs 81.4", 5.1,
              sample="paired subset", target="separation"),
    ClaimSpec("fp1_vs_none", "Fast Preemption raises robust accuracy over no defense (AutoAttack L-inf)",
              "Fast Preemption Table 1", "fp_end_to_end", "paired_accuracy", "86.5 vs 74.6", 11.9),
    ClaimSpec("fp1_clean", "Fast Preemption's releases raise the target's clean accuracy over the originals",
              "Fast Preemption Table 1", "fp_end_to_end", "paired_accuracy", "95.0 vs 93.4", 1.6),
    ClaimSpec("fp1_clean_vs_bilevel", "Fast Preemption's releases keep a higher clean accuracy than Bi-Level's",
              "Fast Preemption Table 1", "fp_end_to_end", "paired_accuracy", "95.0 vs 92.5", 2.5, sample="paired subset"),
    ClaimSpec("fp1_speed", "Fast Preemption is faster than Bi-Level per image", "Fast Preemption Table 1", "fp_end_to_end",
              "time_ratio", "0.04 s vs 28 s per image (700x)", 28 / 0.04, unit="x",
              pass_count_ratio=BILEVEL_PASSES / FP_PASSES, sample="paired subset"),
    ClaimSpec("fp1_vs_a5", "Fast Preemption gives higher robust accuracy than A5 (AutoAttack L-inf)",
              "Fast Preemption Table 1", "fp_end_to_end", "paired_accuracy", "86.5 vs 73.8", 12.7, sample="paired subset"),
    ClaimSpec("fp1_diffpure", "Fast Preemption + DiffPure beats Fast Preemption alone (AutoAttack L-inf)",
              "Fast Preemption Table 1", "fp_end_to_end", "untestable", "89.1 vs 86.5", 2.6, sample="none",
              untestable_reason="needs a pretrained diffusion model (download) and an attacker that differentiates "
              "through the purifier"),
    # ---- Fast Preemption Table 9: more attacks ------------------------------------------------
    ClaimSpec("fp9_best_every_attack", "Fast Preemption has the highest robust accuracy under every attack that runs "
              "(vs adversarial training alone and Bi-Level)", "Fast Preemption Table 9", "fp_end_to_end", "ordering",
              "4 of 4 attacks; smallest margin +3.9 (DeCoW, vs Bi-Level); per-part effects from the paper's Table 9",
              None, part_comparison="paired_accuracy", sample="paired subset", target="separation"),
    # ---- Fast Preemption Table 2: reversion -----------------------------------------------------
    # Table 2's evaluation protocol (its Sec. 4.3): the defended clean accuracy must lie BELOW the original's (a poor
    # labeller), so that a reversion that works RAISES it back toward the original's; distortion only lowers it.
    ClaimSpec("fp2_white_reverts", "On the paper's reversion protocol (a weaker labeller puts the defended clean accuracy "
              "below the original's), white-box Preemptive Reversion raises the clean accuracy back toward the "
              "original's", "Fast Preemption Table 2", "fp_reversion", "paired_accuracy",
              "93.4 white-box reverted vs 91.3 defended (row 3: Bi-Level's classifier labels, PreActResNet-18 backbone, "
              "Fast Preemption; original 93.5)", 2.1),
    ClaimSpec("fp2_black_fails", "On the paper's reversion protocol, black-box Preemptive Reversion does not revert: the "
              "clean accuracy stays at or below the defended one (distortion)", "Fast Preemption Table 2",
              "fp_reversion", "paired_accuracy", "91.3 defended vs 90.6 black-box reverted (row 3)", 0.7),
    ClaimSpec("fp2_jpeg_fails", "On the paper's reversion protocol, JPEG compression does not revert: the clean accuracy "
              "stays at or below the defended one (distortion)", "Fast Preemption Table 2", "fp_reversion",
              "paired_accuracy", "91.3 defended vs 90.5 after JPEG (row 3)", 0.8),
    # ---- Fast Preemption Tables 5, 6, 8: classifiers, backbones, victims -------------------------
    ClaimSpec("fp5_better_classifier", "A more accurate labeller gives higher robust accuracy: ground truth, then the "
              "clean classifier, then a weaker classifier (PGD)", "Fast Preemption Table 5", "fp_ablations", "ordering",
              "86.9 / 85.7 / 83.9", None, part_comparison="paired_accuracy", part_effects=(1.2, 1.8),
              sample="paired subset"),
    ClaimSpec("fp6_robust_backbone_white", "White-box (backbone = victim): among adversarially trained backbones, the "
              "most robust gives a higher robust accuracy than the least robust one (PGD)", "Fast Preemption Table 6", "fp_ablations", "paired_accuracy",
              "91.6 (WRN-94-16) vs 84.9 (Bi-Level's backbone)", 6.7, sample="paired subset"),
    ClaimSpec("fp6_default_transfers", "The most robust backbone is not the best transfer backbone: the default backbone "
              "transfers at least as well to a victim of another architecture (PGD)", "Fast Preemption Table 6",
              "fp_ablations", "paired_accuracy", "79.6 (PreActResNet-18) vs 78.6 (WRN-94-16) on XCiT-L12", 1.0),
    ClaimSpec("fp8_avg_victims_vs_bilevel", "Fast Preemption's robust accuracy beats Bi-Level's on average over victims",
              "Fast Preemption Table 8", "fp_ablations", "bootstrap", "77.3 vs 72.3 (9 victims)", 5.0,
              sample="paired subset"),
    ClaimSpec("fp8_avg_victims_vs_none", "Fast Preemption raises robust accuracy over no defense on average over victims",
              "Fast Preemption Table 8", "fp_ablations", "bootstrap", "77.3 vs 59.5 (9 victims)", 17.8),
    ClaimSpec("fp8_clean_vs_none", "Fast Preemption raises clean accuracy over no defense on average over victims",
              "Fast Preemption Table 8", "fp_ablations", "bootstrap", "94.1 vs 89.9 (10 victims)", 4.2),
    ClaimSpec("fp8_clean_vs_bilevel", "Fast Preemption keeps a higher clean accuracy than Bi-Level on average over victims",
              "Fast Preemption Table 8", "fp_ablations", "bootstrap", "94.1 vs 89.8 (10 victims)", 4.3,
              sample="paired subset"),
    ClaimSpec("fp8_default_vs_robust_backbone", "The default backbone (PreActResNet-18) gives Fast Preemption a higher "
              "robust accuracy on average over victims than the most robust backbone (WRN-94-16)",
              "Fast Preemption Table 8", "fp_ablations", "bootstrap", "77.3 vs 74.8 (10 victims)", 2.5,
              sample="paired subset"),
    ClaimSpec("fp5_clean_ordering", "A more accurate labeller gives a higher clean accuracy: ground truth, then the clean "
              "classifier, then a weaker classifier", "Fast Preemption Table 5", "fp_ablations", "ordering",
              "97.2 / 95.4 / 91.9", None, part_comparison="paired_accuracy", part_effects=(1.8, 3.5),
              sample="paired subset"),
    ClaimSpec("fp7_fgsm_averaging", "Averaging N = 20 FGSM points beats a single FGSM point (\"FGSM without averaging "
              "leads to poor performance\"; PGD)", "Fast Preemption Table 7", "fast_preemption_steps", "paired_accuracy",
              "87.8 vs 86.8", 1.0),
    ClaimSpec("fp_fore_back", "With three steps, forward then backward (F1-B2) beats backward alone (F0-B3) (the paper: "
              "AutoAttack; here PGD)", "Fast Preemption Figure 9", "fast_preemption_steps", "paired_accuracy",
              "F1-B2 vs F0-B3 (the figure's numbers were lost in extraction)", None),
    ClaimSpec("fp1_vs_diffpure", "Fast Preemption gives higher robust accuracy than DiffPure (AutoAttack L-inf)",
              "Fast Preemption Table 1", "fp_end_to_end", "untestable", "86.5 vs 78.1", 8.4, sample="none",
              untestable_reason="needs a pretrained diffusion model (download) and an attacker that differentiates "
              "through the purifier"),
    ClaimSpec("fp1_imagenet", "ImageNet: Fast Preemption gives higher robust accuracy than Bi-Level (AutoAttack L-inf), "
              "33 times faster", "Fast Preemption Table 1", "fp_end_to_end", "untestable",
              "77.1 vs 71.5; 1.3 s vs 43 s per image", 5.6, sample="none",
              untestable_reason="needs ImageNet (MSPD_IMAGENET) and RobustBench ImageNet models (download, GPU)"),
    # ---- Bi-Level Tables 1 and 2: preemptive robustness of a base classifier (issue 25) -----------
    ClaimSpec("bl1_grey_pgd", "Bi-Level robustification raises grey-box robust accuracy over no robustification "
              "(ADV model, PGD-20 L-inf)", "Bi-Level Table 1", "bl_preemptive_robustness", "paired_accuracy",
              "86.23 vs 54.59", 31.64, sample="paired subset"),
    ClaimSpec("bl1_grey_aa", "Bi-Level robustification raises grey-box robust accuracy over no robustification "
              "(ADV model, AutoAttack L-inf)", "Bi-Level Table 1", "bl_preemptive_robustness", "paired_accuracy",
              "81.70 vs 51.68", 30.02, sample="paired subset"),
    ClaimSpec("bl1_white_pgd", "Robustified images stay more robust than originals against the adaptive white-box "
              "adversary scored by Definition 3 (ADV model, PGD-20 L-inf after reconstruction; an output counts only "
              "within eps of the original; lowest accuracy over the final-budget sweep)", "Bi-Level Table 1", "bl_preemptive_robustness",
              "paired_accuracy", "86.72 vs 54.59", 32.13, sample="paired subset"),
    ClaimSpec("bl1_prt_clean", "Preemptively robust training raises the clean accuracy of robustified images over the "
              "ADV model (L-inf)", "Bi-Level Table 1", "bl_preemptive_robustness", "paired_accuracy", "88.54 vs 86.72",
              1.82, sample="paired subset"),
    ClaimSpec("bl1_prt_grey_aa", "Preemptively robust training raises the grey-box robust accuracy of robustified images "
              "over the ADV model (AutoAttack L-inf)", "Bi-Level Table 1", "bl_preemptive_robustness", "paired_accuracy",
              "82.88 vs 81.70", 1.18, sample="paired subset"),
    ClaimSpec("bl2_grey_aa", "Bi-Level robustification raises grey-box robust accuracy over no robustification "
              "(ADV model, AutoAttack L2)", "Bi-Level Table 2", "bl_preemptive_robustness", "paired_accuracy",
              "83.56 vs 71.21", 12.35, sample="paired subset"),
    ClaimSpec("bl2_white_pgd", "Robustified images stay more robust than originals against the adaptive white-box "
              "adversary scored by Definition 3 (ADV model, PGD-20 L2 after reconstruction; an output counts only "
              "within eps of the original; lowest accuracy over the final-budget sweep)", "Bi-Level Table 2", "bl_preemptive_robustness",
              "paired_accuracy", "85.12 vs 71.90", 13.22, sample="paired subset"),
    ClaimSpec("bl2_prt_grey_aa", "Preemptively robust training raises the grey-box robust accuracy of robustified images "
              "over the ADV model (AutoAttack L2)", "Bi-Level Table 2", "bl_preemptive_robustness", "paired_accuracy",
              "89.32 vs 83.56", 5.76, sample="paired subset"),
    # ---- Bi-Level Tables 5 and 7: smoothed classifiers ------------------------------------------
    ClaimSpec("bl5_grey_pgd", "Robustification for the smoothed classifier raises its grey-box robust accuracy "
              "(randomized PGD-20 with the paper's 50 noise samples per step, L2)", "Bi-Level Table 5", "bl_smoothed", "paired_accuracy", "91.37 vs 56.02", 35.35,
              sample="paired subset"),
    ClaimSpec("bl5_grey_restarts", "... and against randomized PGD with restarts (the paper's PGD-10: 10 restarts)",
              "Bi-Level Table 5", "bl_smoothed", "paired_accuracy", "89.98 vs 53.01", 36.97, sample="paired subset"),
    ClaimSpec("bl5_white_pgd", "Robustified images stay more robust for the smoothed classifier against the adaptive "
              "white-box adversary scored by Definition 3 (randomized PGD-20 after reconstruction, L2; an output counts "
              "only within eps of the original; lowest accuracy over the final-budget sweep)", "Bi-Level Table 5", "bl_smoothed",
              "paired_accuracy", "82.06 vs 56.02", 26.04, sample="paired subset"),
    ClaimSpec("bl7_certified", "Robustification raises the smoothed classifier's certified accuracy (CERTIFY, L2)",
              "Bi-Level Table 7", "bl_smoothed", "paired_accuracy", "77.95 vs 55.58", 22.37, sample="paired subset"),
    # ---- Bi-Level Tables 3, 4, 6 and Table 7's second block: ImageNet ---------------------------
    ClaimSpec("bl3_imagenet_linf", "ImageNet: Bi-Level robustification raises grey-box robust accuracy over no "
              "robustification (ADV ResNet-50, AutoAttack L-inf)", "Bi-Level Table 3", "bl_preemptive_robustness",
              "untestable", "47.14 vs 27.52", 19.62, sample="none", untestable_reason=BILEVEL_IMAGENET_MISSING),
    ClaimSpec("bl4_imagenet_l2", "ImageNet: Bi-Level robustification raises grey-box robust accuracy over no "
              "robustification (ADV ResNet-50, AutoAttack L2)", "Bi-Level Table 4", "bl_preemptive_robustness",
              "untestable", "43.32 vs 27.58", 15.74, sample="none", untestable_reason=BILEVEL_IMAGENET_MISSING),
    ClaimSpec("bl6_imagenet_smoothed", "ImageNet: robustification raises the smoothed classifier's grey-box accuracy "
              "under randomized PGD (sigma 0.25)", "Bi-Level Table 6", "bl_smoothed", "untestable", "62.27 vs 9.61",
              52.66, sample="none", untestable_reason=SMOOTHED_IMAGENET_MISSING),
    ClaimSpec("bl7_imagenet_certified", "ImageNet: robustification raises the smoothed classifier's certified "
              "accuracy (CERTIFY, sigma 1.0)", "Bi-Level Table 7", "bl_smoothed", "untestable", "27.89 vs 12.68", 15.21,
              sample="none", untestable_reason=SMOOTHED_IMAGENET_MISSING),
]

REGISTRY: dict[str, ClaimSpec] = {s.key: s for s in _SPECS}
if len(REGISTRY) != len(_SPECS):
    raise RuntimeError("duplicate claim keys in the registry")


#: The papers whose claims the book checks, in the summary's order (a claim's ``source`` starts with one).
PAPERS = ("MSPD", "Fast Preemption", "Bi-Level")


def paper_of(source: str) -> str:
    """The paper a claim's ``source`` names ("Fast Preemption Table 1" -> "Fast Preemption")."""
    for paper in PAPERS:
        if source.startswith(paper):
            return paper
    raise ValueError(f"claim source {source!r} names none of the papers {PAPERS}")


def claim_target(key: str, zoo) -> str:
    """The target model claim ``key`` runs on in ``zoo`` (its registered ``target``)."""
    return zoo.separation_target if get_spec(key).target == "separation" else zoo.main_target


def get_spec(key: str) -> ClaimSpec:
    """The registered claim ``key`` (unknown keys list the valid ones)."""
    if key not in REGISTRY:
        raise KeyError(f"unknown claim {key!r}; registered: {', '.join(REGISTRY)}")
    return REGISTRY[key]


def claims_of(notebook: str) -> list[ClaimSpec]:
    return [s for s in _SPECS if s.notebook == notebook]


#: The size axis's band around the paper's effect (issue 38, item 7; registered 2026-12-06): "consistent" only when
#: our 95% interval lies inside it. Accuracies (points): the paper's effect +/- max(2 points, half of it); ratios
#: (unit "x"): the paper's ratio times or divided by 1.5; any other unit: +/- half of the paper's effect.
#: A change here changes every affected claim's fingerprint, so it needs a history entry.
BAND_FLOOR_POINTS = 2.0
BAND_RELATIVE = 0.5
BAND_RATIO_FACTOR = 1.5


def effect_band(effect: float | None, unit: str) -> tuple[float, float] | None:
    """The registered band around a paper's ``effect`` in ``unit`` (:data:`BAND_FLOOR_POINTS` ...); None when the
    paper states a direction only (or an effect of 0 in a unit with no absolute floor: no band can be formed)."""
    if effect is None:
        return None
    if unit == "x":
        return (effect / BAND_RATIO_FACTOR, effect * BAND_RATIO_FACTOR)
    half = max(BAND_FLOOR_POINTS, BAND_RELATIVE * abs(effect)) if unit == "points" else BAND_RELATIVE * abs(effect)
    return (effect - half, effect + half) if half > 0 else None


def size_band(spec: ClaimSpec) -> tuple[float, float] | None:
    """Claim ``spec``'s band around its paper effect (:func:`effect_band`; ordering parts use their own effects)."""
    return effect_band(spec.paper_effect, spec.unit)


#: The registered power analyses (:mod:`.planning` writes them, :mod:`.design` shows them): part of each claim's
#: fingerprint, read here so that the registry depends on no planning code.
DESIGN_FILE = Path(__file__).with_name("design.json")


@lru_cache(maxsize=1)
def _load(path: str = str(DESIGN_FILE)) -> dict:
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else {"claims": {}}


def load_designs(path: Path = DESIGN_FILE) -> dict:
    """The registered designs (``{"source": ..., "claims": {key: design}}``); empty when none are registered."""
    return _load(str(path))


def registered_design(key: str, path: Path = DESIGN_FILE) -> dict | None:
    """Claim ``key``'s registered design (assumption, planned n, criterion, power at the planned n), or None."""
    return load_designs(path)["claims"].get(key)


def claim_fingerprint(spec: ClaimSpec) -> str:
    """SHA-256 (16 hex digits) of a claim's decision fields (:data:`DECISION_FIELDS`), its size band(s)
    (:func:`effect_band`) and its registered design (``design.json``: the assumption and planned n). Fields at their
    default value are left out, so that adding a new field with a default changes no existing claim's fingerprint."""
    import dataclasses
    import hashlib
    import json

    defaults = {f.name: f.default for f in dataclasses.fields(ClaimSpec)}
    fields = {f: getattr(spec, f) for f in DECISION_FIELDS if getattr(spec, f) != defaults.get(f, dataclasses.MISSING)}
    if size_band(spec) is not None:
        fields["size_band"] = [round(x, 6) for x in size_band(spec)]
    if spec.part_effects:
        part_unit = "points" if spec.part_comparison == "paired_accuracy" else spec.unit
        fields["part_bands"] = [[round(x, 6) for x in band] if (band := effect_band(e, part_unit)) else None
                                for e in spec.part_effects]
    design = registered_design(spec.key)
    if design is not None:
        fields["design"] = design
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()[:16]


def registry_fingerprint() -> str:
    """SHA-256 (16 hex digits) over every claim's fingerprint: one value that changes with any decision field."""
    import hashlib

    text = "\n".join(f"{k}:{claim_fingerprint(s)}" for k, s in sorted(REGISTRY.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
