"""Protocol cards of the MSPD paper's claims (:mod:`.protocol`; collected in :mod:`.cards`).

The paper's side is the MSPD paper's text (``shared/papers/mspd-mcgs.txt``; SPEC where the extraction lost it: Table
III, the experimental settings, lost every value, so eps comes from Table XV and PGD's 20 steps from SPEC). The paper
states neither how many nor which test images its tables use: the checked ``n`` is SPEC's paper scale, 1,000. Ours is
what the chapters run (``notebooks/<notebook>.md``, :mod:`mspd_core.experiments`); a checked setting is reported by the
chapter from the objects it ran (``claims.used_settings``).
"""
from __future__ import annotations

from functools import partial

from .card_text import (accuracy_setting, clean_setting, make_card, models_setting, sample_settings, time_setting,
                        AA_WHY, BASELINE_EPOCHS_WHY, CIFAR10_SAMPLE_WHY, PAPER_MODELS, STEPS_WHY, TIME_N,
                        TIME_N_WHY, ZOO_WHY)
from .protocol import AUTOATTACK_STANDARD, Card, Setting

MSPD_N = 1_000  # not stated by the paper: SPEC's paper scale

# ---- shared fields ------------------------------------------------------------------------------------------------

THREAT = Setting("transfer to an unseen target: the defender never sees the target; the attacker perturbs the released "
                 "(defended) image within L-inf eps = 8/255 around it, so up to 16/255 from the original (Sec. V-C; "
                 "Table III, the settings, lost its values in extraction: eps from Table XV, PGD's 20 steps from SPEC)")
THREAT_CLEAN = Setting("none: the unseen target classifies the released images as they are")
THREAT_TIME = Setting("none: the defender's own cost")
THREAT_LEMMA = Setting("none: a property of the defense's update on the backbone (a lemma)")
NO_ATTACK = Setting("none")

AA = Setting(f"{AUTOATTACK_STANDARD}, L-inf", "{autoattack}, L-inf", AA_WHY)
PGD = Setting("PGD-20, L-inf eps = 8/255", "PGD-{pgd_steps}, L-inf eps = 8/255", STEPS_WHY)
AA_CHECKED = {"attack": "autoattack", "ball of a valid adversarial example": "release"}
PGD_CHECKED = {"attack": "pgd", "attack steps": 20, "ball of a valid adversarial example": "release"}
PGD_WHY = {"attack steps": STEPS_WHY}

MSPD_DEF = ("MSPD (MCGS): the FB cascade of single-step gradient smoothing, N = 20 copies, step eps, eta = 1, "
            "L-inf eps = 8/255")
BILEVEL_OURS = ("Bi-Level as SPEC restates its code (tanh-space RMSProp, lr 0.1, inner PGD-20 of step 2/255), on the "
                "zoo's backbone, coupled (the backbone labels its own input)")
BILEVEL_WHY = ("Bi-Level's fine-tuned model is not in RobustBench (and the paper does not name it): Bi-Level runs on the "
               "backbone MSPD uses, labelling with it as the paper's coupled pipeline does")
UNADV_OURS = ("UnAdv as SPEC restates it (tanh-space RMSProp, lr 0.1, descending CE(f(x'), y): one forward+backward "
              "pass per iteration), on the zoo's backbone, coupled")
UNADV_WHY = ("the paper does not specify its UnAdv adaptation beyond Table III (lr 0.1): SPEC's restatement, on the "
             "backbone every defense here uses (the paper's 0.55 s for 2 epochs implies far more work per iteration "
             "than one pass)")
CASCADE_OURS = ("the cascade as SPEC restates it: one UnAdv iteration, then one Bi-Level iteration from its output, "
                "coupled, on the zoo's backbone")


def _bilevel_paper(epochs: str) -> str:
    return (f"Bi-Level (its public code; Table III: lr 0.1) with {epochs}, on its own fine-tuned adversarially trained "
            "model, which labels its own input (coupled; the paper does not name that model)")


def _unadv_paper(epochs: str) -> str:
    return (f"UnAdv (forward-only, adapted by the paper to digital attacks; Table III: lr 0.1) with {epochs}; the "
            "paper describes neither its model nor its work per iteration")


BILEVEL_100 = Setting(f"{MSPD_DEF}; against {_bilevel_paper('100 epochs')}",
                      "MSPD as the paper; against " + BILEVEL_OURS + ", {baseline_epochs} outer iterations", BILEVEL_WHY)
BILEVEL_2 = Setting(f"{MSPD_DEF} (2 epochs); against {_bilevel_paper('2 epochs')}",
                    "MSPD as the paper; against " + BILEVEL_OURS + ", 2 outer iterations", BILEVEL_WHY)
NO_PRE = Setting(f"{MSPD_DEF}; against No Pre. (the original images: the target's own adversarial training alone)")
BL_CHECKED, BL_WHY = {"outer iterations": 100}, {"outer iterations": BASELINE_EPOCHS_WHY}

LABELS_MSPD = Setting("MSPD: a separate clean classifier's prediction (decoupled from the backbone)")
LABELS_COUPLED = Setting("MSPD: a separate clean classifier's prediction (decoupled); the baselines: coupled, the model "
                         "that supplies the gradients labels its own input")

_MAIN = "this claim runs on the zoo's main target (embedded tg-cnn-fgsm; the paper zoo's WideResNet-94-16)"
_SEPARATION = ("this claim runs on the separation target (registry target='separation'): the embedded zoo's strongest, "
               "tg-airnet-fgsm (67.3% clean, 36.9% PGD-20), where two strong defenses can reach different robust "
               "sets; the paper zoo's main target, WideResNet-94-16")
_SAMPLE_PAPER = "CIFAR-10 test images, lossless (the paper states neither how many nor which)"
_SAMPLE_WHY = (CIFAR10_SAMPLE_WHY + "; the paper's images are unknown, so a fixed class-balanced draw pairs every row "
               "and chapter on the same images")
SAMPLE_PAIRED, SAMPLE_LARGE = sample_settings(_SAMPLE_PAPER, _SAMPLE_WHY)

#: A lemma is proved, not measured: its "n" in the paper.
LEMMA_N = "none (a proof)"
LEMMA_N_WHY = ("the paper proves the lemma and reports no sample for it; measuring it needs one: the profile's large "
               "sample (the measurement is cheap)")


def _models(note: str = _MAIN) -> Setting:
    return models_setting(note)


_acc = partial(accuracy_setting, who="target")
_clean = partial(clean_setting, who="target")
_card = partial(make_card, n=MSPD_N)


def _time(paper_times: str) -> Setting:
    return time_setting(paper_times, "a single NVIDIA A100 GPU")


def _time_card(defense: Setting, paper_times: str, row: str, checked: dict | None = None, why: dict | None = None,
               sample: Setting = SAMPLE_PAIRED, labeller: Setting = LABELS_COUPLED) -> Card:
    return _card(THREAT_TIME, defense, NO_ATTACK, _models("timing involves the classifier and the backbone only"),
                 labeller, sample, _time(paper_times), row, checked, why, n=TIME_N, n_why=TIME_N_WHY)


_ROW4 = "Table IV, CIFAR-10 (classifier ResNeXt29-32x4d, backbone PreActResNet-18, target WideResNet-94-16)"

MSPD_CARDS: dict[str, Card] = {
    # ---- Table IV ---------------------------------------------------------------------------------------------------
    "t4_mspd_vs_bilevel": _card(THREAT, BILEVEL_100, AA, _models(_SEPARATION), LABELS_COUPLED, SAMPLE_PAIRED,
                                _acc("MSPD's releases against Bi-Level's"),
                                f"{_ROW4}: Ours vs Bi-Level, AutoAttack standard L-inf (86.3 vs 82.2)",
                                {**AA_CHECKED, **BL_CHECKED}, BL_WHY),
    "t4_mspd_vs_none": _card(THREAT, NO_PRE, AA, _models(), LABELS_MSPD, SAMPLE_LARGE,
                             _acc("MSPD's releases against the originals"),
                             f"{_ROW4}: Ours vs No Pre., AutoAttack standard L-inf (86.3 vs 74.0)", AA_CHECKED),
    "t4_clean": _card(THREAT_CLEAN, NO_PRE, NO_ATTACK, _models(), LABELS_MSPD, SAMPLE_LARGE,
                      _clean("MSPD's releases against the originals"), f"{_ROW4}: Ours vs No Pre., clean (95.9 vs 93.9)"),
    "t4_speed": _time_card(BILEVEL_100, "Bi-Level 33.92 s, MSPD 0.02 s",
                           f"{_ROW4}: Bi-Level 33.92 s vs Ours 0.02 s per image (1696x)", BL_CHECKED, BL_WHY),
    "t4_imagenet": _card(
        Setting("transfer to an unseen ImageNet target: the attacker perturbs the release within L-inf eps = 4/255 "
                "around it"),
        Setting(f"{MSPD_DEF.replace('8/255', '4/255')}; against {_bilevel_paper('100 epochs')}",
                "MSPD as the paper; against " + BILEVEL_OURS + ", {baseline_epochs} outer iterations",
                BILEVEL_WHY.replace("MSPD uses", "MSPD uses (ViT-S)")),
        Setting(f"{AUTOATTACK_STANDARD}, L-inf eps = 4/255", "{autoattack}, L-inf eps = 4/255", AA_WHY),
        _models("the ImageNet rows run only under the paper profile, with ImageNet (MSPD_IMAGENET) and RobustBench's "
                "ImageNet weights (classifier DeiT-B, backbone ViT-S ConvStem, target Swin-L, as the paper); "
                "elsewhere the claim is not testable here"),
        LABELS_COUPLED,
        Setting("ImageNet validation images (the paper states neither how many nor which)",
                "a class-balanced draw, of the paired subset's size, from RobustBench's fixed list of 5,000 ImageNet "
                "validation images (MSPD_IMAGENET), preprocessed as RobustBench does for the target",
                "the paper's images are unknown; RobustBench's list is the usual ImageNet robustness sample"),
        _acc("MSPD's releases against Bi-Level's"),
        "Table IV, ImageNet (classifier DeiT-Base, backbone ViT-S, target Swin-L): Ours vs Bi-Level, AutoAttack "
        "standard L-inf (78.2 vs 71.6)"),
    # ---- Table V ----------------------------------------------------------------------------------------------------
    "t5_vs_bilevel2": _card(THREAT, BILEVEL_2, AA, _models(), LABELS_COUPLED, SAMPLE_LARGE,
                            _acc("MSPD's releases against Bi-Level's, both at 2 epochs"),
                            "Table V (target WideResNet-94-16): Ours (2 epochs) vs Bi-Level (2 epochs), AutoAttack "
                            "standard L-inf (86.3 vs 80.5)", {**AA_CHECKED, "outer iterations": 2}),
    "t5_vs_cascade2": _card(THREAT, Setting(f"{MSPD_DEF} (2 epochs); against the cascade UnAdv + Bi-Level (2 epochs: "
                                            "forward then backward learning, without MSPD's decoupled pipeline and "
                                            "smoothing; the paper does not detail it further)",
                                            "MSPD as the paper; against " + CASCADE_OURS,
                                            "the paper does not specify the cascade: SPEC's restatement; " + BILEVEL_WHY),
                            AA, _models(), LABELS_COUPLED, SAMPLE_LARGE,
                            _acc("MSPD's releases against the cascade's, both at 2 epochs"),
                            "Table V: Ours (2 epochs) vs UnAdv + Bi-Level (2 epochs), AutoAttack standard L-inf "
                            "(86.3 vs 80.9)", AA_CHECKED),
    "t5_speed_bilevel2": _time_card(BILEVEL_2, "Bi-Level (2 epochs) 0.56 s, MSPD 0.02 s",
                                    "Table V: Bi-Level (2 epochs) 0.56 s vs Ours (2 epochs) 0.02 s per image (28x)",
                                    {"outer iterations": 2}, sample=SAMPLE_LARGE),
    "t5_speed_unadv2": _time_card(Setting(f"{MSPD_DEF} (2 epochs); against {_unadv_paper('2 epochs')}",
                                          "MSPD as the paper; against " + UNADV_OURS + ", 2 iterations", UNADV_WHY),
                                  "UnAdv (2 epochs) 0.55 s, MSPD 0.02 s",
                                  "Table V: UnAdv (2 epochs) 0.55 s vs Ours (2 epochs) 0.02 s per image (27.5x)",
                                  {"outer iterations": 2}, sample=SAMPLE_LARGE),
    # ---- Table VI ---------------------------------------------------------------------------------------------------
    "t6_best_every_attack": _card(
        Setting("each attack's own (white-box CW, PGD, AutoAttack; gray-box Square and MCG; transfer DeCoW; adaptive "
                "BPDA+EOT20) on the unseen target, L-inf eps = 8/255 around the release (Sec. V-C; eps from Table XV)"),
        Setting(f"{MSPD_DEF}; against No Pre., {_unadv_paper('100 epochs')}, and {_bilevel_paper('100 epochs')}",
                "MSPD as the paper; against No Pre., " + UNADV_OURS + ", and " + BILEVEL_OURS
                + ", {baseline_epochs} outer iterations each", f"{BILEVEL_WHY}; {UNADV_WHY}"),
        Setting("seven attacks: CW, PGD, AutoAttack (standard), Square, MCG (a trained attack generator), DeCoW "
                "(deformation-constrained warping, a transfer attack), BPDA+EOT20 (Table III's settings were lost in "
                "extraction)",
                "CW (L-inf margin loss, {pgd_steps} steps of 2/255), PGD-{pgd_steps}, {autoattack}, and PGD-"
                "{pgd_steps} crafted on another zoo target (a transfer attack standing in for DeCoW); Square "
                "({square_queries} queries) joins the parts only where the claim's target is the main target",
                "MCG needs a trained generator (a download) and DeCoW has no implementation in the package registries; "
                "BPDA+EOT reduces to PGD here (no target applies a non-differentiable or random transform); Square on "
                "the separation target exceeds the book's time budget; AutoAttack: " + AA_WHY),
        _models(_SEPARATION), LABELS_COUPLED, SAMPLE_PAIRED,
        Setting("robust accuracy of the target under each attack, MSPD against each other defense (paired here); "
                "every part must favour MSPD"),
        "Table VI (target WideResNet-94-16): Ours 90.0 / 88.1 / 86.3 / 87.8 / 87.7 / 93.0 / 87.7 under CW / PGD / "
        "AutoAttack / Square / MCG / DeCoW / BPDA+EOT20, above No Pre., UnAdv and Bi-Level under each (smallest "
        "margin +3.4, DeCoW vs Bi-Level's 89.6)", BL_CHECKED, BL_WHY),
    # ---- Table VII --------------------------------------------------------------------------------------------------
    "t7_avg_targets": _card(
        THREAT, BILEVEL_100,
        Setting(f"{AUTOATTACK_STANDARD}, L-inf",
                "the profile's 'robust' column (experiments.many_targets_attack): AutoAttack under a profile that runs "
                "the standard version, else PGD-{pgd_steps}, L-inf eps = 8/255",
                "every target x every defense under AutoAttack does not fit the cpu book: the cpu and smoke profiles "
                "run PGD as the robust column, paper and paper-dry AutoAttack"),
        _models("every target of the zoo: six in the embedded zoo, one of them not adversarially trained "
                "(tg-cnn-std), against the paper's ten robust targets (the paper profile runs those ten)"),
        LABELS_COUPLED, SAMPLE_PAIRED,
        Setting("robust accuracy averaged over the targets, MSPD minus Bi-Level (here per image: the share of targets "
                "each release keeps correct, bootstrapped over images)"),
        "Table VII, Average row over its ten targets: Ours vs Bi-Level, AutoAttack standard L-inf (78.3 vs 73.1)",
        {**AA_CHECKED, **BL_CHECKED},
        {**BL_WHY, "attack": "the cpu and smoke profiles run PGD as the robust column of the every-target grid "
                             "(AutoAttack on every target and defense does not fit the cpu book)"}),
    # ---- Table IX ---------------------------------------------------------------------------------------------------
    "t9_smoothing": _card(THREAT, Setting("MSPD's FB cascade (2 epochs) with gradient smoothing (N = 20) against the "
                                          "same cascade without it (Table IX's 'N/A'; SPEC: one unsmoothed step per "
                                          "epoch, N = 1, no noise)"),
                          PGD, _models(), LABELS_MSPD, SAMPLE_LARGE, _acc("with smoothing against without"),
                          "Table IX (target WideResNet-94-16): Cascade (2 epochs), SmoothGrad 20 vs N/A, PGD "
                          "(88.1 vs 87.4)", PGD_CHECKED, PGD_WHY),
    "t9_fb_vs_f": _card(THREAT, Setting("MSPD's FB cascade (2 epochs) against one forward epoch, both with gradient "
                                        "smoothing (N = 20)"),
                        PGD, _models(), LABELS_MSPD, SAMPLE_LARGE, _acc("the cascade against one forward epoch"),
                        "Table IX: Cascade (2 epochs) vs Forward (1 epoch), SmoothGrad 20, PGD (88.1 vs 86.5)",
                        PGD_CHECKED, PGD_WHY),
    # ---- Table X ----------------------------------------------------------------------------------------------------
    "t10_white_reversion": _card(
        Setting("adaptive white-box reversion, then the attack: the attacker knows the defense, its backbone and "
                "settings, reverts the release (Preemptive Reversion: x_r = 2 x_p - D'(x_p), D' the same defense) and "
                "attacks the reverted image within L-inf eps = 8/255"),
        Setting(f"UnAdv, Bi-Level and Ours at 2 epochs each: {_unadv_paper('2 epochs')}; "
                f"{_bilevel_paper('2 epochs')}; {MSPD_DEF}",
                "UnAdv and Bi-Level as SPEC restates them, 2 iterations each, coupled on the zoo's backbone; MSPD as "
                "the paper", f"{BILEVEL_WHY}; {UNADV_WHY}"),
        AA, _models(), LABELS_COUPLED, SAMPLE_LARGE,
        Setting("robust accuracy of the target before minus after white-box reversion, per defense (paired here); "
                "every part must be positive"),
        "Table X (target WideResNet-94-16), AutoAttack standard L-inf, no reversion vs white: UnAdv (2 epochs) 77.1 vs "
        "75.1, Bi-Level (2 epochs) 80.5 vs 73.6, Ours (2 epochs) 86.3 vs 76.2",
        {**AA_CHECKED, "outer iterations": 2}),
}

# ---- Lemmas 1-4 and Table XI ----------------------------------------------------------------------------------------

_L1_N_WHY = ("a rank correlation over Table XI's four points says little: every (backbone, target) pair of the zoo "
             "(embedded: 4 backbones, one non-robust, x 6 targets; paper profile: 3 x 10)")
_LEMMA_SAMPLE = Setting("none: a proof (the paper cites figures and tables for it and states no sample)",
                        "a class-balanced draw from the CIFAR-10 test set: the large sample",
                        f"a measurement needs images; {CIFAR10_SAMPLE_WHY}")
_LEMMA_METRIC_WHY = "the lemma states an inequality, not a statistic: this is the build's measurable reading of it"

MSPD_CARDS.update({
    "l1_alignment_predicts": _card(
        Setting("none for the alignment; MSPD's protection is measured against PGD, L-inf eps = 8/255 around the "
                "release (the ablations' attack)"),
        Setting(f"{MSPD_DEF}, via each backbone; against No Pre."),
        PGD,
        Setting("Table XI: four backbones (WideResNet-28-10 non-robust and robust, WideResNet-94-16, PreActResNet-18) "
                "against one target, XCiT-L12",
                "every (backbone, target) pair of the zoo ({zoo})", f"{_L1_N_WHY}; {ZOO_WHY}"),
        Setting("MSPD: the clean classifier's prediction; the gradient cosines: labels not stated",
                "MSPD: the clean classifier's prediction; the gradient cosines: the ground-truth labels",
                "the paper does not say which labels its grad sim uses"),
        Setting("Table XI: 100 images (its footnote)", "a class-balanced draw from the CIFAR-10 test set: the paired "
                "subset, the same images for every pair", _SAMPLE_WHY),
        Setting("Lemma 1: a defense step's protection of a target grows with the backbone-target gradient alignment "
                "(Table XI: grad sim 'correlates with' accuracy)",
                "Spearman rank correlation, across (backbone, target) pairs, of the mean input-gradient cosine and "
                "MSPD's protection gain (robust accuracy with minus without MSPD), bootstrapped over pairs",
                _LEMMA_METRIC_WHY),
        "Lemma 1 (proof); Table XI (target XCiT-L12): grad sim 0.0124 / 0.2093 / 0.4838 / 0.4904 with robust "
        "accuracy 61.2 / 65.6 / 77.3 / 78.7 (No Pre. 60.2)",
        PGD_CHECKED, PGD_WHY, n=4, n_why=_L1_N_WHY),
    "t11_robust_aligns": _card(
        Setting("none: a property of the models (input-gradient alignment at the original images)"),
        Setting("none (gradients at the original images)"), NO_ATTACK,
        Setting("Table XI: WideResNet-28-10 adversarially trained against WideResNet-28-10 non-robust (36.5M each), "
                "target XCiT-L12",
                "{zoo}: the default backbone (adversarially trained) against the zoo's first non-robust backbone, on "
                "the main target",
                "the chapter compares the backbone MSPD uses with a non-robust one: embedded bb-preact-fgsm (width 32, "
                "FGSM-RS) vs bb-preact-std (width 16, standard) on tg-cnn-fgsm; paper profile PreActResNet-18 vs "
                "Standard WideResNet-28-10 on WideResNet-94-16, not Table XI's pair of WideResNet-28-10s on XCiT-L12; "
                + ZOO_WHY),
        Setting("not stated (the gradients' labels)", "the clean classifier's prediction",
                "the paper does not say which labels its grad sim uses; MSPD's own labeller"),
        Setting("Table XI: 100 images (its footnote)", "a class-balanced draw from the CIFAR-10 test set: the large "
                "sample", _SAMPLE_WHY),
        Setting("mean cosine similarity between backbone and target input gradients, robust minus non-robust backbone "
                "(here per image, a paired bootstrap over images)"),
        "Table XI: grad sim 0.2093 (WideResNet-28-10) vs 0.0124 (WideResNet-28-10, non-robust), target XCiT-L12",
        n=100, n_why="the cosines cost two input gradients per image: the chapter spends the large sample (cpu: 250, "
                     "more than Table XI's 100; fewer only in the smoke / paper-dry code checks)"),
    "l2_forward_lowers_more": _card(
        THREAT_LEMMA, Setting("one forward against one backward MCGS epoch (Eqs. 16-17) from the same image: N = 20 "
                              "copies, step eps, eta = 1, L-inf eps = 8/255"),
        NO_ATTACK, _models("the lemma is proved for any smooth backbone loss; the chapter measures the zoo's default "
                           "backbone"),
        LABELS_MSPD, _LEMMA_SAMPLE,
        Setting("the backbone's cross-entropy decrease after one forward epoch against after one backward epoch (Eq. "
                "18; here the mean per-image difference, bootstrapped over images)"),
        "Lemma 2 (proof, Eqs. 18-27; the paper cites Figure 4 and Table V as its evidence, no numbers for the lemma "
        "itself)", n=LEMMA_N, n_why=LEMMA_N_WHY),
    "l3_energy": _card(
        THREAT_LEMMA, Setting("one forward and one backward MCGS epoch from the same image (N = 20 copies, step eps, "
                              "eta = 1, L-inf eps = 8/255): their perturbations"),
        NO_ATTACK, _models("the lemma is proved; the chapter measures the zoo's default backbone and all its targets"),
        LABELS_MSPD, _LEMMA_SAMPLE,
        Setting("||P_S delta_B|| >= ||P_S delta_F|| (Eq. 29), S the shared vulnerable subspace of backbone and target "
                "(its definition, in Lemma 1, was lost in extraction; SPEC: the subspace spanned by the targets' "
                "gradients)",
                "per image, the fraction of each perturbation's squared norm inside the span of all zoo targets' input "
                "gradients at the image, backward minus forward, bootstrapped over images",
                _LEMMA_METRIC_WHY + "; a fraction so that the two perturbations' sizes do not decide"),
        "Lemma 3 (proof, Eqs. 29-37; the paper cites Table V's transfer results as its evidence, no numbers for the "
        "lemma itself)", n=LEMMA_N, n_why=LEMMA_N_WHY),
    "l3_rank": _card(
        THREAT_LEMMA, Setting("MCGS's N = 20 copies of one forward epoch (descent steps from x) and of the backward "
                              "epoch that follows it (ascent steps from x_F), step eps"),
        NO_ATTACK, _models("the lemma is proved; the chapter measures the zoo's default backbone"),
        LABELS_MSPD, _LEMMA_SAMPLE,
        Setting("backward updates spread over more directions than the nearly collinear forward ones (Eqs. 31-32)",
                "per image, the effective rank (exp of the entropy of the normalised singular values) of the N = 20 "
                "per-copy update directions, backward minus forward, bootstrapped over images", _LEMMA_METRIC_WHY),
        "Lemma 3 (proof, Eqs. 31-37; no numbers for the lemma itself)", n=LEMMA_N, n_why=LEMMA_N_WHY),
    "l4_order": _card(
        Setting("adaptive reversion: the attacker reapplies the defense to the release and subtracts (x_r = 2 x_p - "
                "D'(x_p)), knowing the backbone and its weights (white), its architecture only (gray: a surrogate "
                "trained on the same data), or neither (black)"),
        Setting(MSPD_DEF), NO_ATTACK,
        Setting(PAPER_MODELS + " (the gray and black reverters' models are not named)",
                "{zoo}; gray reverter: a zoo target of the backbone's architecture, other weights; black: a robust zoo "
                "target of another architecture",
                "the paper names no surrogate: the zoo's models of the right architecture stand in (embedded: "
                "tg-preact-fgsm-s1 and tg-cnn-fgsm); " + ZOO_WHY),
        LABELS_MSPD, _LEMMA_SAMPLE,
        Setting("reversion error ||x_r - x|| (Eqs. 43-52): white < gray < black",
                "per image ||x_r - x|| / ||x_p - x||, gray minus white and black minus gray, each bootstrapped over "
                "images; both must be positive",
                "dividing by the release's own distance (the same release for every reverter) keeps each image's "
                "ordering and makes images comparable"),
        "Lemma 4 (proof, Eqs. 39-54) and Figure 7 (no numbers in the text)", n=LEMMA_N, n_why=LEMMA_N_WHY),
    "l4_jpeg": _card(
        Setting("a black-box purifier: the attacker JPEG-compresses the release, knowing nothing of the defense"),
        Setting(MSPD_DEF),
        Setting("JPEG compression of the release (its quality factor was lost in extraction with Table III)",
                "JPEG, quality 50", "the paper's quality factor was lost in extraction: SPEC's 50 (the Fast "
                "Preemption paper's Table 3 setting)"),
        _models("the JPEG'd release is compared with the original image: no model is involved"),
        LABELS_MSPD, _LEMMA_SAMPLE,
        Setting("the purifier distorts without reverting: the purified image is no closer to the original than the "
                "release (Eq. 54; here per image ||x_J - x|| / ||x_p - x|| - 1 > 0, bootstrapped over images)"),
        "Lemma 4 d (proof, Eqs. 53-54) and Figure 7: JPEG distorts without reverting (no numbers in the text)",
        n=LEMMA_N, n_why=LEMMA_N_WHY),
})

# ---- Tables XII-XV ------------------------------------------------------------------------------------------------

_PGD20_INNER_WHY = "the paper does not give the PGD-20 inner step: 2/255, PGD-20's usual step at 8/255"

MSPD_CARDS.update({
    "t12_decouple_clean": _card(
        THREAT_CLEAN, Setting("MSPD with the classifier decoupled from the backbone against coupled (the backbone "
                              "labels its own input)"),
        NO_ATTACK, _models(), Setting("decoupled: the clean classifier's prediction; coupled: the backbone's"),
        SAMPLE_LARGE, _clean("decoupled against coupled"),
        "Table XII (target WideResNet-94-16): Classifier + Backbone (Black, Ours) vs coupled, clean (95.9 vs 91.0; "
        "the extracted row labels lost their symbols, the transcription reads the first row as coupled, as the "
        "text's 'decoupling ... improves' does)"),
    "t13_single_copy_matches_pgd": _card(
        THREAT, Setting("MSPD's FB cascade without smoothing (Table XIII's 'N/A'; SPEC: one copy, no noise): a single "
                        "step against PGD-20 inner walks (inner step not stated)",
                        "the same: one step of size eps against PGD-20 inner walks of step 2/255 (no noise)",
                        _PGD20_INNER_WHY),
        PGD, _models(), LABELS_MSPD, SAMPLE_LARGE,
        _acc("single-step smoothing against PGD-20 inner walks; 'matches': here equivalence within the registry's "
             "margin (TOST)"),
        "Table XIII (target WideResNet-94-16): Gradient Smoothing vs PGD20, N/A (one copy), PGD (87.4 vs 87.7)",
        PGD_CHECKED, PGD_WHY),
    "t13_smoothing_matches_pgd": _card(
        THREAT, Setting("MSPD's FB cascade with N = 20 copies: single-step smoothing against PGD-20 inner walks "
                        "(inner step not stated)",
                        "the same: one step of size eps against PGD-20 inner walks of step 2/255, N = 20 each",
                        _PGD20_INNER_WHY),
        PGD, _models(), LABELS_MSPD, SAMPLE_PAIRED,
        _acc("single-step smoothing against PGD-20 inner walks; 'matches': here equivalence within the registry's "
             "margin (TOST)"),
        "Table XIII: Gradient Smoothing 20 (Ours) vs PGD20 20, PGD (88.1 vs 88.1)", PGD_CHECKED, PGD_WHY),
    "t13_speed": _time_card(
        Setting("MSPD's FB cascade, N = 20: PGD-20 inner walks (inner step not stated) against single-step smoothing",
                "the same, PGD-20 inner walks of step 2/255", _PGD20_INNER_WHY),
        "PGD-20 inner walks 0.48 s, single-step smoothing 0.02 s",
        "Table XIII: PGD20, N = 20 0.48 s vs Gradient Smoothing, N = 20 0.02 s per image (24x)",
        labeller=LABELS_MSPD),
    "t14_eta_best": _card(
        THREAT, Setting("MSPD (2 epochs) at step size eta = 1 against eta = 0.75 and eta = 0.5"),
        PGD, _models(), LABELS_MSPD, SAMPLE_LARGE,
        Setting("robust accuracy of the target under PGD, eta = 1 minus each other eta (paired here); every part must "
                "favour eta = 1"),
        "Table XIV (target WideResNet-94-16), PGD: eta 1.00 88.1 vs 0.75 88.0 / 0.50 86.8", PGD_CHECKED, PGD_WHY),
    "t15_every_budget": _card(
        Setting("transfer to an unseen target; the defense's budget stays L-inf 8/255, the attacker's around the "
                "release is 4, 8 or 16/255"),
        NO_PRE, Setting("PGD-20 at each attack budget", "PGD-{pgd_steps} at each attack budget", STEPS_WHY),
        _models(), LABELS_MSPD, SAMPLE_LARGE,
        Setting("robust accuracy of the target under PGD, MSPD minus No Pre. at each budget (paired here); every part "
                "must be positive"),
        "Table XV (target WideResNet-94-16), PGD, with vs without defense: 16/255 60.3 vs 38.0, 8/255 88.1 vs 77.1, "
        "4/255 92.8 vs 87.9", PGD_CHECKED, PGD_WHY),
})
