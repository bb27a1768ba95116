"""The Bi-Level paper's part (Part IV): its models by role, its robustifications, its adversaries and tables.

Every setting here says whose it is. The paper's own (its text and the authors' released
configurations, snu-mllab/preemptive-robustification): grey-box and white-box PGD-20; the white-box
final-budget sweep {1/4, 1/2, 3/4, 1} x eps with the lowest accuracy reported, scored by Definition 3
(:mod:`mspd_core.whitebox_bilevel`); 5 noise samples per step in robustification and 50 in evaluation
on smoothed classifiers (Supplementary C.2); majority votes over 50 draws; CERTIFY's n0 = 100, n = 100,000
and alpha = 0.001. The build's (profile fields, each beside the paper's value on the pages and in the
claims' protocol cards): the robustification's outer iterations (``bl_epochs``; paper 100), restarts of
"PGD-10" (``bl_restarts``; paper 10), CERTIFY's n (``certify_n``), and the L2 robustification's step
rule and inner attack (:data:`L2_ROBUSTIFICATION`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..attacks import L2_EPS
from ..evaluate import Attack, Defense, released_images
from ..experiments import Setup, paper_table, pivot_accuracy
from ..profiles import Profile
from ..whitebox_bilevel import DEFAULT_SWEEP, FINAL_STEP_FACTOR, budget_label
from ..zoo.registry import Zoo, load_cached

#: Noise samples per step of randomized PGD: 5 when robustifying, 50 when evaluating (the paper's Supplementary C.2).
ROBUSTIFY_NOISE_SAMPLES = 5
EVAL_NOISE_SAMPLES = 50
#: The paper's robustification iterations (Supplementary C; the released configurations' num_iters) and restarts of
#: its "PGD-10"; the profile's ``bl_epochs`` and ``bl_restarts`` are the build's.
PAPER_OUTER_ITERATIONS = 100
PAPER_RESTARTS = 10
#: The L2 robustification: the paper's (released configuration) and this build's, field by field.
L2_ROBUSTIFICATION = {
    "paper": "projected gradient descent, plain gradient step lr 0.001 (0.005 on the smoothed classifier), "
             "100 iterations, inner PGD-20 of step 0.125",
    "ours": "projected normalised gradient descent, step 2.5 eps / iterations, the profile's iterations, inner PGD-10 "
            "of step 2.5 eps / 10 (randomized PGD with 5 noise samples on the smoothed classifier)",
    "why": "a normalised step needs no per-model learning-rate tuning (the paper tuned lr in a range per setting); "
           "inner PGD-10 halves the cost of the page's most expensive cells",
}


def bilevel_part_model(name: str | None, role: str, default: str) -> str:
    """A model of the Bi-Level part by role ("adv": an adversarially trained target; "preemptive"; "smoothed"):
    ``default`` when ``name`` is None; a name of another role fails with the valid names."""
    from ..zoo.registry import EMBEDDED_MODELS, available_embedded

    if role == "adv":
        valid = [n for n in available_embedded("target") if EMBEDDED_MODELS[n].training in ("fgsm_rs", "pgd")]
    else:
        valid = available_embedded(role)
    chosen = default if name is None else name
    if chosen not in valid:
        kind = {"adv": "adversarially trained", "preemptive": "preemptively robust", "smoothed": "Gaussian-noise (smoothed)"}
        raise ValueError(f"{chosen!r} is not a trained {kind.get(role, role)} model of the embedded zoo; valid: "
                         f"{', '.join(valid) or 'none (run `make zoo`)'}")
    return chosen


def single_model_zoo(zoo: Zoo, model: str) -> Zoo:
    """The Bi-Level paper's setting: one classifier both robustifies (as the defender's model) and is attacked."""
    return Zoo(zoo.classifier, model, (model,), (model,), zoo.source)


def bilevel_l2(epochs: int, name: str = "Bi-Level", sigma: float | None = None,
               noise_samples: int = ROBUSTIFY_NOISE_SAMPLES, inner_steps: int = 10) -> Defense:
    """Bi-Level in the L2 ball (:data:`L2_ROBUSTIFICATION`; on the smoothed soft classifier with ``sigma``), with the
    robustified model's own predictions as labels (the paper's defender owns the classifier)."""
    params = {"epochs": epochs, "inner_steps": inner_steps}
    if sigma is not None:
        params.update(sigma=sigma, noise_samples=noise_samples)
    return Defense(name, "bilevel_l2", params, labels="couple")


def bilevel_inner_attack() -> dict:
    """The L-inf Bi-Level's inner attack settings (its keyword defaults: PGD-20, step 2/255, the paper's), for the
    white-box adversary that reverses it."""
    import inspect

    from ..defenses.bilevel import bilevel as bilevel_method

    defaults = inspect.signature(bilevel_method).parameters
    return {"inner_steps": defaults["inner_steps"].default, "inner_alpha": defaults["inner_alpha"].default}


def bilevel_whitebox_attack(profile: Profile, norm: str, eps: float, inner_steps: int, sigma: float | None = None,
                            name: str | None = None, inner_alpha: float | None = None,
                            eval_noise_samples: int = EVAL_NOISE_SAMPLES) -> Attack:
    """The paper's adaptive white-box adversary scored by its Definition 3 (Algorithms 3-4: reconstruct with the
    robustification's iterations and inner steps, then PGD-``pgd_steps`` of step 5 eps_f / steps over the sweep
    eps_f in {1/4, 1/2, 3/4, 1} x eps; a candidate succeeds only if misclassified AND within eps of the original;
    the lowest accuracy over the sweep). On the smoothed classifier with ``sigma``: the reconstruction's inner
    adversary takes 5 noise samples per step (the robustification's) and the final attack ``eval_noise_samples`` (the
    paper's evaluation: 50; a profile that cannot afford it passes its ``smoothed_attack_samples``, and the name says
    so)."""
    params = {"eps": eps, "norm": norm, "epochs": profile.bl_epochs, "inner_steps": inner_steps,
              "steps": profile.pgd_steps, "sweep": DEFAULT_SWEEP}
    if sigma is not None:
        params.update(sigma=sigma, noise_samples=ROBUSTIFY_NOISE_SAMPLES, eval_noise_samples=eval_noise_samples)
    if inner_alpha is not None:
        params.update(inner_alpha=inner_alpha)
    samples = "" if sigma is None or eval_noise_samples == EVAL_NOISE_SAMPLES else f", {eval_noise_samples} noise samples"
    return Attack(name or f"white-box PGD-{profile.pgd_steps} (Definition 3{samples})", "bilevel_whitebox", params,
                  smoothed_sigma=sigma)


def randomized_pgd(profile: Profile, sigma: float, eps: float = L2_EPS, restarts: int | None = None,
                   name: str | None = None, noise_samples: int = EVAL_NOISE_SAMPLES) -> Attack:
    """Randomized PGD-L2 on the smoothed classifier (Salman et al.; ``noise_samples`` per step: the paper evaluates
    with 50); with ``restarts`` (even 1) that many starts, and the name says so (a page can show both rows without a
    name clash); a name also says a sample count other than the paper's 50."""
    label = name or (f"PGD-{profile.pgd_steps}" + (f" x {restarts} restart{'s' * (restarts != 1)}" if restarts else "")
                     + ("" if noise_samples == EVAL_NOISE_SAMPLES else f", {noise_samples} noise samples"))
    restarts = restarts or 1
    return Attack(label, "randomized_pgd_l2", {"eps": eps, "sigma": sigma, "m": noise_samples,
                                               "steps": profile.pgd_steps, "restarts": restarts}, smoothed_sigma=sigma)


def whitebox_sweep_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model and defense, the white-box accuracy [95% CI] of each final budget of the sweep, and which budget gave
    the lowest accuracy (the one the claims use, as the paper reports the lowest)."""
    from ..metrics import accuracy

    rows = []
    for model, table in tables.items():
        for r in table.itertuples():
            if r.by_budget is None:
                continue
            row = {"model": model, "preempt.": r.defense}
            for label, outcomes in r.by_budget.items():
                acc = accuracy(np.asarray(outcomes, bool))
                row[label] = f"{100 * acc.value:.1f} [{100 * acc.low:.1f}, {100 * acc.high:.1f}]"
            row["lowest (used)"] = r.chosen_budget
            rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "preempt."]) if rows else pd.DataFrame()


def whitebox_description(attack: Attack) -> str:
    """One sentence of what the white-box column ran, each setting beside the paper's where they differ."""
    p = attack.params
    steps = p["steps"]

    def beside(ours, paper, what: str = "") -> str:
        return f"{ours}{what} (the paper's)" if ours == paper else f"**{ours}**{what} (the paper: {paper})"

    smoothed = ("" if attack.smoothed_sigma is None else
                f" on the smoothed classifier (randomized PGD: {p['noise_samples']} noise samples per step in the "
                f"reconstruction, as the robustification; "
                f"{beside(p['eval_noise_samples'], EVAL_NOISE_SAMPLES, ' noise samples per step')} in the final "
                "attack)")
    return (f"Reconstruction (Algorithm 3: the robustification's dynamics reversed, started at the release, "
            f"{beside(p['epochs'], PAPER_OUTER_ITERATIONS, ' iterations')}, as many as the robustification; labels: "
            f"the model's own predictions on the release), then {beside(f'PGD-{steps}', 'PGD-20')} "
            f"of step {FINAL_STEP_FACTOR:g} eps_f / steps (the authors' evaluation) around the reconstruction for each "
            f"final budget {', '.join(budget_label(s) for s in p['sweep'])} (the authors' sweep){smoothed}. "
            "Scored by the paper's Definition 3: an image falls only if the release is misclassified, or the "
            "adversary's output is misclassified AND within eps of the ORIGINAL image (an output outside that ball "
            "is a failed attack); the column reports the budget of lowest accuracy, as the paper does")


def certified_table(setup: Setup, defenses: list[Defense], zoo: Zoo, sigma: float, radius: float,
                    eps: float) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, tuple]]:
    """CERTIFY (Cohen et al.; the profile's n0 and n, alpha 0.001) on each defense's released images through the
    smoothed classifier of ``zoo``'s model: clean (certified prediction correct) and certified accuracy at L2
    ``radius`` (abstentions wrong), with 95% Wilson CIs. Returns the table, each defense's certified outcomes and
    each defense's CERTIFY result (predicted class or -1, certified radius) per image."""
    from ..metrics import accuracy
    from ..smoothed_classifier import certified_outcomes, certify

    p, dev = setup.profile, setup.session.device
    model = load_cached(zoo.backbone, dev)
    rows, outcomes, results = [], {}, {}
    for d in defenses:
        rel = released_images(d, setup.data, zoo, eps=eps, seed=setup.session.seed, device=dev,
                              batch_size=p.batch_size, quantize=False)
        pred, rad = certify(model, rel["x_eval"].to(dev), sigma, n0=p.certify_n0, n=p.certify_n, seed=setup.session.seed)
        y = setup.data.y
        clean = certified_outcomes(pred, rad, y, 0.0).numpy()
        cert = certified_outcomes(pred, rad, y, radius).numpy()
        outcomes[d.name] = cert
        results[d.name] = (pred, rad)
        for label, o in (("clean (certified prediction)", clean), (f"certified at r = {radius:g}", cert)):
            acc = accuracy(o)
            rows.append({"defense": d.name, "attack": label, "acc": 100 * acc.value, "ci_low": 100 * acc.low,
                         "ci_high": 100 * acc.high, "n": acc.n})
    return pd.DataFrame(rows), outcomes, results


def pgd_l2_attack(profile: Profile, eps: float = L2_EPS) -> Attack:
    """PGD-``pgd_steps`` in the L2 ball (ART, :func:`~mspd_core.attacks.pgd_l2`: step 2.5 eps / steps, random start)."""
    return Attack(f"PGD-{profile.pgd_steps} L2", "pgd_l2", {"eps": eps, "steps": profile.pgd_steps})


def noise_sigma(model: str) -> float:
    """The Gaussian-noise std a smoothed model of the zoo was trained with (its recipe): its smoothed classifier's."""
    from ..zoo.recipes import RECIPES

    sigma = RECIPES[model].noise_sigma if model in RECIPES else 0.0
    if not sigma:
        raise ValueError(f"{model!r} was not trained with Gaussian noise; it has no smoothed classifier here")
    return sigma


def model_rows(tables: dict[str, pd.DataFrame], labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (model, defense) from per-model grids: accuracy [95% CI] per attack (columns renamed by ``labels``)."""
    parts = []
    for model, t in tables.items():
        view = pivot_accuracy(t).rename(columns=labels or {})
        view.index = pd.MultiIndex.from_tuples([(model, d) for d in view.index], names=["model", "preempt."])
        parts.append(view)
    return pd.concat(parts)


def bilevel_paper_rows(name: str, models: dict[str, str], preempt: dict[str, str]) -> pd.DataFrame:
    """A Bi-Level paper table indexed like :func:`model_rows`: its "model" column renamed by ``models`` (e.g.
    ADV -> our ADV model) and its "preempt" column by ``preempt`` (None -> No Pre., Ours -> Bi-Level)."""
    paper = paper_table(name, as_text=True)
    if "model" not in paper.columns:
        paper = paper.assign(model=next(iter(models)))
    paper = paper.assign(model=paper.model.map(models), preempt=paper.preempt.map(preempt))
    return paper.set_index(["model", "preempt"]).rename_axis(["model", "preempt."])


def tidy_model_rows(tables: dict[str, pd.DataFrame], labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Per-model grids as one tidy frame for plots: row ("model / defense"), attack (renamed by ``labels``), acc and
    its 95% interval."""
    parts = [t.assign(row=[f"{m} / {d}" for d in t.defense]) for m, t in tables.items()]
    frame = pd.concat(parts, ignore_index=True)
    frame["attack"] = frame.attack.map(lambda a: (labels or {}).get(a, a))
    return frame[["row", "attack", "acc", "ci_low", "ci_high"]]
