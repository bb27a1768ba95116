"""Texts the protocol cards of the three papers share (:mod:`.cards`, :mod:`.cards_mspd`, :mod:`.cards_fp`): the
reasons of the deviations every part of the book makes the same way. A module of its own because :mod:`.cards`
imports the other two."""
from __future__ import annotations

from .protocol import Card, Setting

#: CIFAR-10 as this build reads it offline (SPEC: a JPEG quality-75 copy) against the papers' lossless test set.
CIFAR10_SAMPLE_WHY = ("offline, CIFAR-10 comes from SPEC's JPEG (quality 75) copy of the test set; the papers use the "
                      "lossless images (torchvision's download, used here when online)")
#: Why a claim's n is below the paper's (the profile's sample sizes are set by the 90-minute cpu book).
N_WHY = ("the profile's sample (cpu: 50 paired / 250 large images) is set by the 90-minute budget of the cpu book on "
         "2 CPU cores; the row's MDE says what this n can detect")
STEPS_WHY = "the profile's pgd_steps (20 in cpu and paper, as the paper; fewer only in the smoke / paper-dry code checks)"
#: Why a profile runs AutoAttack's own attacks rather than the standard suite.
AA_WHY = ("AutoAttack standard (with FAB-T's and Square's cost) does not fit the cpu book; the profile's attacks are "
          "AutoAttack's own")

# ---- the MSPD and Fast Preemption parts (one zoo, one evaluation engine) -------------------------------------------

#: The models of the MSPD / Fast Preemption claims: the paper's side, as profile_facts names it under ``paper``.
PAPER_MODELS = "the paper's RobustBench models"
#: Why a profile runs other models than the paper's RobustBench ones (``{zoo}`` names which).
ZOO_WHY = ("RobustBench's weights are a download (no network here) and the papers' networks (classifier "
           "ResNeXt29-32x4d, backbone PreActResNet-18, targets up to WideResNet-94-16) need a GPU: the cpu and smoke "
           "profiles run the embedded zoo trained on this CPU (classifier clf-airnet, backbone bb-preact-fgsm, main "
           "target tg-cnn-fgsm; data/README.md), and paper-dry the papers' architectures with random weights, a code "
           "check whose verdicts are withheld")
#: The checked setting "outer iterations" of the MSPD / Fast Preemption papers' 100-iteration baselines.
BASELINE_EPOCHS_WHY = ("the profile's baseline_epochs (100 in cpu and paper, as the paper; 3 only in the smoke / "
                       "paper-dry code checks)")
#: The speed claims: what "n" is for a time ratio, and why seconds on this machine stand for the papers' A100 seconds.
TIME_N = "not stated (one mean time per defense)"
TIME_N_WHY = ("n here counts the timed batches of both defenses (seconds per image of each batch), the unit of the "
              "time-ratio test; the paper reports one mean time per defense and not over how many images")
TIME_WHY = ("no GPU here: both defenses are timed on the same machine, so their ratio, not their seconds, is what "
            "compares with the paper's; the forward+backward pass counts say what ratio the algorithms imply on any "
            "hardware")


# ---- the fields the MSPD and Fast Preemption cards build the same way (``who``: "target" in MSPD, "victim" in FP) ----

def models_setting(note: str) -> Setting:
    """The paper's RobustBench models, or the profile's zoo (``{zoo}``: "as the paper" under the paper profile)."""
    return Setting(PAPER_MODELS, "{zoo}", f"{ZOO_WHY}; {note}")


def accuracy_setting(what: str, who: str) -> Setting:
    return Setting(f"robust accuracy of the {who} under the attack, {what} (paired here, on the same images)")


def clean_setting(what: str, who: str) -> Setting:
    return Setting(f"clean accuracy of the {who}, {what} (paired here, on the same images)")


def time_setting(paper_times: str, gpu: str) -> Setting:
    """Seconds per image on the paper's ``gpu`` against this machine's: the claim is their ratio."""
    return Setting(f"seconds per image on {gpu} ({paper_times}); the claim is their ratio",
                   "seconds per image (labels + defense) on the machine that builds the book (the cpu book: 2 CPU "
                   "cores), per-batch timings of both defenses on the same images; their ratio, beside the "
                   "forward+backward pass-count ratio", TIME_WHY)


def make_card(threat: Setting, defense: Setting, attack: Setting, models: Setting, labeller: Setting, sample: Setting,
              metric: Setting, row: str | Setting, checked: dict | None = None, why: dict | None = None, n=1_000,
              n_why: str = N_WHY) -> Card:
    """A card from its eight fields (``row``: the paper row as text, or a Setting where ours differs) and the paper's
    value of each checked setting, ``n`` always among them (1,000: SPEC's paper scale, where a paper states none)."""
    return Card({"threat model": threat, "defense": defense, "attack": attack, "models": models, "labeller": labeller,
                 "sample": sample, "metric": metric, "paper row": row if isinstance(row, Setting) else Setting(row)},
                {"n": n, **(checked or {})}, {"n": n_why, **(why or {})})


def sample_settings(paper: str, why: str) -> tuple[Setting, Setting]:
    """The paired subset's and the large sample's ``sample`` fields against the paper's images (``paper``)."""
    return tuple(Setting(paper, f"a class-balanced draw from the CIFAR-10 test set: {which}, the same images for every "
                                "row", why)
                 for which in ("the paired subset (part of the large sample)", "the large sample"))
