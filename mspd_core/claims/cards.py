"""The protocol card of every measured claim (:mod:`.protocol`): the Bi-Level paper's here, the MSPD and Fast
Preemption papers' in :mod:`.cards_mspd` and :mod:`.cards_fp`. One place: chapters and the summary read them
from :data:`CARDS`.

Sources of the paper's side: the papers' text (``shared/papers``) and, for Bi-Level, the authors' released
configurations (snu-mllab/preemptive-robustification: ``configs/cifar10_*.yaml``, ``attack_white_box.py``).
"""
from __future__ import annotations

from .card_text import AA_WHY as _AA_WHY
from .card_text import CIFAR10_SAMPLE_WHY, N_WHY, STEPS_WHY
from .protocol import Card, Setting

# ---- shared fields ------------------------------------------------------------------------------------------------

BILEVEL_N = 10_000  # "We take the whole 10,000 images from CIFAR-10 test set" (Supplementary C.1)
BL_MODELS_PAPER = ("WRN-34-10s trained for 200 epochs: ADV (10-step PGD adversarial training, best test checkpoint) and "
                   "the preemptively robust model (Algorithm 2, latest checkpoint)")
BL_MODELS_OURS = ("small CNNs trained on this CPU: tg-cnn-fgsm (ADV: FGSM-RS adversarial training, best epoch by "
                  "validation PGD-10) and bl-cnn-prt (Algorithm 2 with 2 robustification steps, last epoch)")
BL_MODELS_WHY = ("a WRN-34-10 for 200 epochs needs a GPU; FGSM-RS is the adversarial training 2 CPU cores afford, and the "
                 "paper's number of robustification steps in Algorithm 2 was lost in extraction")
BL_LABELLER = Setting("the robustified classifier's own prediction (the defender owns the classifier)")
BL_SAMPLE = Setting("the CIFAR-10 test set (lossless)", "a class-balanced subset of the CIFAR-10 test set (JPEG copy "
                    "offline), the same images for every row", CIFAR10_SAMPLE_WHY)
BL_LINF_DEFENSE = Setting("Bi-Level L-inf: RMSProp (lr 0.1) in tanh space against inner PGD-20 of step 2/255, 100 "
                          "iterations", "the same with the profile's {bl_epochs} iterations",
                          "time budget: Bi-Level costs 21 forward+backward passes per iteration and image")
BL_L2_DEFENSE = Setting("Bi-Level L2: projected gradient descent (plain step lr 0.001) against inner PGD-20 of step "
                        "0.125, 100 iterations", "projected normalised descent (step 2.5 eps / iterations) against "
                        "inner PGD-10, the profile's {bl_epochs} iterations",
                        "a normalised step needs no per-model lr tuning (the paper tuned lr per setting); PGD-10 and "
                        "fewer iterations for the time budget")
BL_SMOOTHED_DEFENSE = Setting("Bi-Level L2 on the smoothed soft classifier: projected gradient descent (lr 0.005) "
                              "against inner randomized PGD-20 with 5 noise samples, 100 iterations",
                              "projected normalised descent against inner randomized PGD-10 with 5 noise samples, the "
                              "profile's {bl_epochs} iterations",
                              "as for L2; the 5 noise samples are the paper's")
BL_CHECKED_DEFENSE = {"outer iterations": 100}
BL_WHY_DEFENSE = {"outer iterations": "time budget: the profile's bl_epochs (20 in cpu) instead of the paper's 100"}


def _bl_card(threat: str, defense: Setting, attack: str, metric: str, row: str, checked: dict, why: dict,
             models: Setting | None = None) -> Card:
    return Card({"threat model": Setting(threat), "defense": defense, "attack": Setting(attack),
                 "models": models or Setting(BL_MODELS_PAPER, BL_MODELS_OURS, BL_MODELS_WHY),
                 "labeller": BL_LABELLER, "sample": BL_SAMPLE, "metric": Setting(metric), "paper row": Setting(row)},
                {"n": BILEVEL_N, **checked}, {"n": N_WHY, **why})


_GREY_LINF = "grey-box, L-inf eps = 8/255 around the release (the adversary treats the release as an original)"
_GREY_L2 = "grey-box, L2 eps = 0.5 around the release (the adversary treats the release as an original)"
_WHITE = ("white-box by Definition 3, {norm} eps = {eps}: the adversary knows the robustification and its settings; "
          "an output is a valid adversarial example only if misclassified AND within eps of the ORIGINAL image")
_WHITE_ATTACK = ("Algorithm 3 (the robustification reversed from the release, as many iterations) then PGD-20 of step "
                 "5 eps_f / 20 around the reconstruction for eps_f in {1/4, 1/2, 3/4, 1} x eps; the lowest accuracy "
                 "over the sweep; compared with grey-box PGD-20 on the originals (on an original both adversaries are "
                 "the same)")
_WHITE_CHECKED = {"attack steps": 20, "ball of a valid adversarial example": "original",
                  "final budgets (x eps)": [0.25, 0.5, 0.75, 1.0], "reconstruction iterations": 100}
_WHITE_WHY = {"attack steps": STEPS_WHY,
              "reconstruction iterations": "the reconstruction runs as many iterations as the robustification it "
                                           "reverses (the profile's bl_epochs)"}
_ACC = "accuracy of the classifier on the robustified images under the attack (paired, same images)"
_WHITE_ACC = ("accuracy by Definition 3 (robust: release correct AND the output correct or outside the original's "
              "ball), lowest over the sweep, against the originals' grey-box PGD accuracy")

BILEVEL_CARDS: dict[str, Card] = {
    "bl1_grey_pgd": _bl_card(_GREY_LINF, BL_LINF_DEFENSE, "PGD-20, step 2/255, random start", _ACC,
                             "Table 1: ADV / Ours vs ADV / None, grey-box PGD (86.23 vs 54.59)",
                             {**BL_CHECKED_DEFENSE, "attack steps": 20}, {**BL_WHY_DEFENSE, "attack steps": STEPS_WHY}),
    "bl1_grey_aa": Card({**_bl_card(_GREY_LINF, BL_LINF_DEFENSE, "", _ACC, "", {}, {}).settings,
                         "attack": Setting("AutoAttack standard (APGD-CE, APGD-T, FAB-T, Square 5,000 queries)",
                                           "{autoattack}", _AA_WHY),
                         "paper row": Setting("Table 1: ADV / Ours vs ADV / None, grey-box AA (81.70 vs 51.68)")},
                        {"n": BILEVEL_N, **BL_CHECKED_DEFENSE}, {"n": N_WHY, **BL_WHY_DEFENSE}),
    "bl1_white_pgd": _bl_card(_WHITE.format(norm="L-inf", eps="8/255"), BL_LINF_DEFENSE, _WHITE_ATTACK, _WHITE_ACC,
                              "Table 1: ADV / Ours white-box PGD vs ADV / None grey-box PGD (86.72 vs 54.59)",
                              _WHITE_CHECKED, _WHITE_WHY),
    "bl1_prt_clean": _bl_card("none (clean accuracy of the robustified images)", BL_LINF_DEFENSE, "none",
                              "clean accuracy of each model on its own robustified images (paired, same originals)",
                              "Table 1: Ours / Ours vs ADV / Ours, clean (88.54 vs 86.72)", BL_CHECKED_DEFENSE,
                              BL_WHY_DEFENSE),
    "bl1_prt_grey_aa": Card({**_bl_card(_GREY_LINF, BL_LINF_DEFENSE, "", _ACC, "", {}, {}).settings,
                             "attack": Setting("AutoAttack standard (APGD-CE, APGD-T, FAB-T, Square 5,000 queries)",
                                               "{autoattack}", _AA_WHY),
                             "metric": Setting("grey-box AA accuracy of each model on its own robustified images "
                                               "(paired, same originals)"),
                             "paper row": Setting("Table 1: Ours / Ours vs ADV / Ours, grey-box AA (82.88 vs 81.70)")},
                            {"n": BILEVEL_N, **BL_CHECKED_DEFENSE}, {"n": N_WHY, **BL_WHY_DEFENSE}),
    "bl2_grey_aa": Card({**_bl_card(_GREY_L2, BL_L2_DEFENSE, "", _ACC, "", {}, {}).settings,
                         "attack": Setting("AutoAttack standard, L2 (APGD-CE, APGD-T, FAB-T, Square 5,000 queries)",
                                           "{autoattack}, L2", _AA_WHY),
                         "models": Setting("L2-trained WRN-34-10s (ADV by 10-step PGD-L2, and a preemptively robust "
                                           "model trained for L2)", BL_MODELS_OURS + " (the L-inf-trained models)",
                                           BL_MODELS_WHY + "; no separate L2-trained pair fits the zoo's training "
                                           "budget"),
                         "paper row": Setting("Table 2: ADV / Ours vs ADV / None, grey-box AA (83.56 vs 71.21)")},
                        {"n": BILEVEL_N, **BL_CHECKED_DEFENSE}, {"n": N_WHY, **BL_WHY_DEFENSE}),
    "bl2_white_pgd": _bl_card(_WHITE.format(norm="L2", eps="0.5"), BL_L2_DEFENSE, _WHITE_ATTACK, _WHITE_ACC,
                              "Table 2: ADV / Ours white-box PGD vs ADV / None grey-box PGD (85.12 vs 71.90)",
                              _WHITE_CHECKED, _WHITE_WHY,
                              models=Setting("L2-trained WRN-34-10s", BL_MODELS_OURS + " (the L-inf-trained models)",
                                             BL_MODELS_WHY + "; no separate L2-trained pair fits the zoo's budget")),
    "bl2_prt_grey_aa": Card({**_bl_card(_GREY_L2, BL_L2_DEFENSE, "", _ACC, "", {}, {}).settings,
                             "attack": Setting("AutoAttack standard, L2 (APGD-CE, APGD-T, FAB-T, Square 5,000 queries)",
                                               "{autoattack}, L2", _AA_WHY),
                             "models": Setting("L2-trained WRN-34-10s (ADV and preemptively robust)",
                                               BL_MODELS_OURS + " (the L-inf-trained models)",
                                               BL_MODELS_WHY + "; no separate L2-trained pair fits the zoo's budget"),
                             "metric": Setting("grey-box AA accuracy of each model on its own robustified images "
                                               "(paired, same originals)"),
                             "paper row": Setting("Table 2: Ours / Ours vs ADV / Ours, grey-box AA (89.32 vs 83.56)")},
                            {"n": BILEVEL_N, **BL_CHECKED_DEFENSE}, {"n": N_WHY, **BL_WHY_DEFENSE}),
}

_SMOOTHED_MODELS = Setting("a WRN-34-10 trained with Gaussian noise (sigma 0.10 for Table 5, 0.25 for Table 7)",
                           "small CNNs trained with Gaussian noise on this CPU: sm-cnn-gauss10 (sigma 0.10), "
                           "sm-cnn-gauss25 (sigma 0.25)", "a WRN-34-10 needs a GPU to train")
_SMOOTHED_GREY = ("grey-box, L2 eps = 0.5 around the release, against the smoothed classifier (sigma 0.10; "
                  "predictions by majority vote over 50 noise samples)")
_SAMPLES_WHY = ("cost: 50 noise samples per step multiply the restarts' and the white-box sweep's cells by 10 (the "
                "profile's smoothed_attack_samples: 5 in cpu, 50 in paper). Evaluating with the robustifier's own 5 "
                "samples can flatter the release: the chapter shows the 5- against the 50-sample grey-box PGD on the "
                "same images")


def _smoothed_card(threat: str, attack: str, metric: str, row: str, checked: dict, why: dict) -> Card:
    return Card({"threat model": Setting(threat), "defense": BL_SMOOTHED_DEFENSE, "attack": Setting(attack),
                 "models": _SMOOTHED_MODELS, "labeller": Setting(
                     "the defender's classifier's prediction", "the base model's prediction on the clean image",
                     "the smoothed classifier's majority vote would be the exact analogue; the base model's prediction "
                     "is cheaper and agrees on most images"),
                 "sample": BL_SAMPLE, "metric": Setting(metric), "paper row": Setting(row)},
                {"n": BILEVEL_N, **BL_CHECKED_DEFENSE, **checked}, {"n": N_WHY, **BL_WHY_DEFENSE, **why})


BILEVEL_CARDS.update({
    "bl5_grey_pgd": _smoothed_card(_SMOOTHED_GREY, "randomized PGD-20 on the smoothed soft classifier, 50 noise "
                                   "samples per step (Supplementary C.2)", _ACC + ", smoothed classifier",
                                   "Table 5: Ours vs None, grey-box PGD (91.37 vs 56.02)",
                                   {"attack steps": 20, "noise samples per step": 50, "restarts": 1},
                                   {"attack steps": STEPS_WHY}),
    "bl5_grey_restarts": _smoothed_card(_SMOOTHED_GREY, "randomized PGD-20 with 10 restarts (the paper's \"PGD-10\"), "
                                        "50 noise samples per step", _ACC + ", smoothed classifier; with restarts an "
                                        "image falls when any start fools it",
                                        "Table 5: Ours vs None, grey-box PGD-10 (89.98 vs 53.01)",
                                        {"attack steps": 20, "noise samples per step": 50, "restarts": 10},
                                        {"attack steps": STEPS_WHY, "noise samples per step": _SAMPLES_WHY,
                                         "restarts": "cost: the profile's bl_restarts (3 in cpu) instead of 10"}),
    "bl5_white_pgd": _smoothed_card(_WHITE.format(norm="L2", eps="0.5") + ", against the smoothed classifier "
                                    "(sigma 0.10)", _WHITE_ATTACK.replace("PGD-20", "randomized PGD-20", 1)
                                    + "; the reconstruction's inner adversary takes the robustifier's 5 noise samples, "
                                    "the final attack the evaluation's 50", _WHITE_ACC,
                                    "Table 5: Ours white-box PGD vs None grey-box PGD (82.06 vs 56.02)",
                                    {**_WHITE_CHECKED, "noise samples per step": 50},
                                    {**_WHITE_WHY, "noise samples per step": _SAMPLES_WHY}),
    "bl7_certified": Card({
        "threat model": Setting("certified: no L2 perturbation of norm <= r flips the smoothed classifier (sigma 0.25) "
                                "at radius r (the extracted text lost r)", "the same at r = 0.5",
                                "the paper's radius was lost in extraction; 0.5 is the empirical tables' budget"),
        "defense": Setting("Bi-Level L2 on the smoothed soft classifier (sigma 0.25): projected gradient descent "
                           "against inner randomized PGD-20 with 5 noise samples, 100 iterations",
                           BL_SMOOTHED_DEFENSE.ours, BL_SMOOTHED_DEFENSE.why),
        "attack": Setting("CERTIFY (Cohen et al.): n0 = 100 selection draws, n = 100,000 estimation draws, alpha = "
                          "0.001", "CERTIFY with n0 = 100, n = {certify_n}, alpha = 0.001",
                          "time: CERTIFY's draws cost most of the chapter. At n = 1,000, radius 0.5 at sigma 0.25 "
                          "needs 991 of 1,000 votes (99.1%) against 97.87% at 100,000, so an image must be nearly "
                          "unanimous: certified accuracy here is a lower bound of the paper's measure, and the SIZE "
                          "verdict is limited by n (the direction is not: both rows face the same n)"),
        "models": _SMOOTHED_MODELS,
        "labeller": Setting("the defender's classifier's prediction", "the base model's prediction on the clean image",
                            "the smoothed classifier's majority vote would be the exact analogue"),
        "sample": BL_SAMPLE,
        "metric": Setting("certified accuracy at r (abstentions count as wrong), paired on the same originals"),
        "paper row": Setting("Table 7, CIFAR-10: Ours vs None, certified (77.95 vs 55.58)")},
        {"n": BILEVEL_N, **BL_CHECKED_DEFENSE, "CERTIFY n": 100_000},
        {"n": N_WHY, **BL_WHY_DEFENSE, "CERTIFY n": "time budget: the profile's certify_n (see the attack field)"}),
})


def _merged() -> dict[str, Card]:
    from .cards_fp import FAST_PREEMPTION_CARDS
    from .cards_mspd import MSPD_CARDS

    merged: dict[str, Card] = {}
    for part in (MSPD_CARDS, FAST_PREEMPTION_CARDS, BILEVEL_CARDS):
        clash = set(part) & set(merged)
        if clash:
            raise RuntimeError(f"claims with two protocol cards: {sorted(clash)}")
        merged.update(part)
    return merged


CARDS: dict[str, Card] = _merged()
