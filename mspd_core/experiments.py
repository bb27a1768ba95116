"""The paper's experimental vocabulary, built once for every notebook: the standard defenses,
the attacks a profile can afford, the shared data/zoo set-up, and the paper's numbers beside ours.

Defaults come from the algorithms' keyword defaults (the paper's hyperparameters); scale
comes from the profile. Nothing here computes a result by itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .attacks import IMAGENET_EPS, L2_EPS, LINF_EPS
from .claims.stats import discordant_counts
from .data import ALLOW_LOSSY_ENV, DataUnavailableError, ImageSet, evaluation_subset, image_format, imagenet_subset, is_lossy, require_lossless
from .evaluate import NO_DEFENSE, Attack, Defense, released_images, run_grid
from .notebook import Session
from .paths import PROJECT_ROOT
from .profiles import Profile
from .zoo.registry import ModelUnavailableError, Zoo, load_cached, zoo_for

PAPER_TABLES = PROJECT_ROOT / "data" / "paper_tables"


@dataclass(frozen=True)
class Setup:
    """Everything a table notebook needs: session, data, zoo."""

    session: Session
    data: ImageSet  # the paired subset (profile.n_images)
    data_large: ImageSet  # the large sample (profile.n_large): cheap claims
    zoo: Zoo

    @property
    def profile(self) -> Profile:
        return self.session.profile

    @property
    def eps(self) -> float:
        """The defense budget of this chapter (parameter ``eps``; 8/255 by default)."""
        return self.session.eps

    def grid(self, defenses: list[Defense], attacks: list[Attack], targets: list[str] | None = None, large: bool = False,
             zoo: Zoo | None = None, **kwargs) -> pd.DataFrame:
        """run_grid on this set-up's paired subset (or, ``large=True``, the large sample), zoo (or another one, e.g.
        with another classifier: :func:`with_classifier`), seed, device and batch size (no progress bar: pages show
        results)."""
        kwargs.setdefault("progress", False)
        kwargs.setdefault("eps", self.eps)
        zoo = zoo or self.zoo
        return run_grid(defenses, attacks, list(targets or zoo.targets[:1]), self.data_large if large else self.data,
                        zoo, seed=self.session.seed, device=self.session.device,
                        batch_size=self.profile.batch_size, **kwargs)

    def released(self, defense: Defense, large: bool = False, quantize: bool = True) -> dict:
        """One defense's released images on this set-up's paired subset (or large sample), as the grid made them
        (:func:`~mspd_core.cells.released_images`: a cache hit after :meth:`grid` with the same ``quantize``)."""
        return released_images(defense, self.data_large if large else self.data, self.zoo, eps=self.eps,
                               seed=self.session.seed, device=self.session.device, batch_size=self.profile.batch_size,
                               quantize=quantize)

    def describe(self) -> str:
        z, p = self.zoo, self.profile
        dry = ""
        if p.random_weights:
            from .zoo.dry import substitution_notes

            dry = ("**Dry run: every model has RANDOM weights; the numbers on this page measure nothing** (the run checks "
                   "the paper profile's code path). Stand-ins for models a CPU cannot afford: "
                   + "; ".join(substitution_notes()) + ".\n\n")
        return dry + (f"{self.session.describe()}. Zoo: classifier `{z.classifier}`, backbone `{z.backbone}`, "
                f"targets {', '.join(f'`{t}`' for t in z.targets)}. Samples: claims that involve only MSPD, Fast "
                f"Preemption, No Pre. and cheap ablations use **{len(self.data_large)}** images; claims that need slow "
                f"rows (Bi-Level/UnAdv with {p.baseline_epochs} iterations, PGD inner walks) use the paired subset of "
                f"**{len(self.data)}** (a class-balanced subset of the same draw: the same images, paired). Images: "
                f"CIFAR-10 test split from a {self.data.source}, {image_format(self.data.source)}"
                + (" - **not the lossless images the papers' numbers use** (allowed by "
                   f"{ALLOW_LOSSY_ENV}=1)" if p.needs_lossless and is_lossy(self.data.source) else "") + ".")


def choose(zoo: Zoo, target: str | None = None, backbone: str | None = None) -> Zoo:
    """The zoo with another main target (listed first) and/or backbone; unknown names list the valid ones."""
    targets, bb = zoo.targets, zoo.backbone
    if target is not None:
        if target not in zoo.targets:
            raise ValueError(f"unknown target {target!r}; valid targets of the {zoo.source} zoo: {', '.join(zoo.targets)}")
        targets = (target,) + tuple(t for t in zoo.targets if t != target)
    if backbone is not None:
        if backbone not in zoo.backbones:
            raise ValueError(f"unknown backbone {backbone!r}; valid backbones of the {zoo.source} zoo: {', '.join(zoo.backbones)}")
        bb = backbone
    return Zoo(zoo.classifier, bb, targets, zoo.backbones, zoo.source)








def setup(session: Session) -> Setup:
    """Load the shared evaluation subset, the large sample and the profile's zoo (with the chapter's choices)."""
    p = session.profile
    data, data_large = evaluation_subset(p.n_images, session.seed), evaluation_subset(p.n_large, session.seed)
    if p.needs_lossless:  # before any model loads: a paper-scale run on the wrong images stops at once
        require_lossless(data.source, f"profile {p.name!r}")
    zoo = choose(zoo_for(p.zoo), session.target, session.backbone)
    if p.n_targets is not None:
        zoo = Zoo(zoo.classifier, zoo.backbone, zoo.targets[:p.n_targets], zoo.backbones, zoo.source)
    return Setup(session, data, data_large, zoo)


def imagenet_setup(setup: Setup) -> tuple[ImageSet, Zoo] | str:
    """ImageNet data and the paper's ImageNet models for Table IV's ImageNet rows, or the reason
    they cannot run in this build (profile, data, weights)."""
    if setup.profile.zoo not in ("robustbench", "robustbench-dry"):
        return (f"the {setup.profile.name} profile uses the {setup.profile.zoo} CIFAR-10 zoo; ImageNet rows need the "
                f"paper profile, ImageNet (MSPD_IMAGENET) and RobustBench ImageNet models (`make paper-dry` runs this "
                f"code path on random weights and random-noise images)")
    try:
        zoo = zoo_for(setup.profile.zoo.replace("robustbench", "robustbench-imagenet"))
        # one image set for every model of the row: preprocessed as RobustBench does for the evaluated target
        data = imagenet_subset(setup.profile.n_images, setup.session.seed, model=zoo.main_target)
        for name in (zoo.classifier, zoo.backbone, *zoo.targets):
            load_cached(name, setup.session.device)
    except (DataUnavailableError, ModelUnavailableError, ValueError) as err:
        return str(err)
    return data, zoo


def imagenet_grid(setup: Setup, data: ImageSet, zoo: Zoo, defenses: list[Defense], attacks: list[Attack]) -> pd.DataFrame:
    """run_grid on ImageNet with its budget (eps 4/255) and the ImageNet zoo's target."""
    return run_grid(defenses, attacks, list(zoo.targets), data, zoo, eps=IMAGENET_EPS, seed=setup.session.seed,
                    device=setup.session.device, batch_size=min(setup.profile.batch_size, 50), progress=False)


# ---- defenses (paper names) -------------------------------------------------------------

def no_defense() -> Defense:
    return NO_DEFENSE


def mspd(name: str = "MSPD", labels: str = "decouple", **params) -> Defense:
    """MSPD = MCGS with the paper's defaults unless overridden (schedule, n_samples, steps, step, eta, noise, eps)."""
    return Defense(name, "mcgs", params, labels=labels)








def unadv(epochs: int, name: str | None = None, labels: str = "couple") -> Defense:
    """UnAdv with ``epochs`` outer iterations (coupled labels, as in the Bi-Level code)."""
    return Defense(name or f"UnAdv ({epochs})", "unadv", {"epochs": epochs}, labels=labels)


def bilevel(epochs: int, name: str | None = None, labels: str = "couple") -> Defense:
    """Bi-Level with ``epochs`` outer iterations (coupled labels by default, SPEC)."""
    return Defense(name or f"Bi-Level ({epochs})", "bilevel", {"epochs": epochs}, labels=labels)


def main_defenses(profile: Profile) -> list[Defense]:
    """Table IV's rows: No Pre., UnAdv, Bi-Level (profile.baseline_epochs), MSPD."""
    e = profile.baseline_epochs
    return [no_defense(), unadv(e, "UnAdv"), bilevel(e, "Bi-Level"), mspd()]


# ---- attacks ------------------------------------------------------------------------------

ATTACK_LABELS = {"apgd-ce": "APGD-CE", "apgd-dlr": "APGD-DLR", "apgd-t": "APGD-T", "fab-t": "FAB-T", "square": "Square"}


def autoattack_label(profile: Profile) -> str:
    """What ran: "AA" for AutoAttack standard, else the attacks by name (e.g. "APGD-CE + APGD-DLR")."""
    if profile.autoattack_version == "standard":
        return f"AA ({profile.aa_iterations} it.)" if profile.aa_iterations else "AA"
    return " + ".join(ATTACK_LABELS.get(a, a) for a in profile.autoattack_attacks)


def autoattack(profile: Profile, norm: str = "Linf", eps: float | None = None, name: str | None = None) -> Attack:
    """AutoAttack standard (paper profile) or the profile's cheaper APGD subset; the name says which ran."""
    eps = (LINF_EPS if norm == "Linf" else L2_EPS) if eps is None else eps
    label = name or f"{autoattack_label(profile)} {norm}"
    cheaper = ({"n_iter": profile.aa_iterations, "n_queries": profile.square_queries} if profile.aa_iterations else {}) | (
        {"n_target_classes": profile.aa_target_classes} if profile.aa_target_classes else {})
    if profile.autoattack_version == "standard":
        return Attack(label, "autoattack", {"eps": eps, "norm": norm, "version": "standard", **cheaper})
    return Attack(label, "autoattack", {"eps": eps, "norm": norm, "version": "custom", "attacks": profile.autoattack_attacks,
                                        **cheaper})


def autoattack_rand(profile: Profile) -> Attack:
    """AutoAttack "rand" (APGD-CE + APGD-DLR with EOT); EOT iterations from the profile."""
    cheaper = {"n_iter": profile.aa_iterations} if profile.aa_iterations else {}
    return Attack("AA rand Linf", "autoattack", {"eps": LINF_EPS, "version": "rand", "eot_iter": profile.aa_rand_eot, **cheaper})


def pgd(profile: Profile, eps: float = LINF_EPS, name: str | None = None) -> Attack:
    return Attack(name or f"PGD-{profile.pgd_steps}", "pgd", {"eps": eps, "steps": profile.pgd_steps})


def many_targets_attack(profile: Profile) -> Attack:
    """The robust column of the every-target tables (MSPD Table VII, Fast Preemption Table 8), named "robust":
    AutoAttack under the standard version (``paper``), PGD where the profile runs a cheaper AutoAttack subset."""
    return autoattack(profile, "Linf", name="robust") if profile.autoattack_version == "standard" else pgd(profile, name="robust")


def describe_attack(attack: Attack) -> str:
    """One line saying exactly which attack configuration ran."""
    p = attack.params
    if attack.method == "autoattack":
        which = (" + ".join(ATTACK_LABELS.get(a, a) for a in p["attacks"]) + " from the official AutoAttack with its standard "
                 "per-attack settings (one restart, 100 iterations); not the standard suite (APGD-CE, APGD-T, FAB-T, Square)"
                 if p.get("version") == "custom" else f"version '{p.get('version')}'")
        extra = f", EOT {p['eot_iter']}" if "eot_iter" in p else ""
        extra += f", {p['n_iter']} iterations instead of 100" if "n_iter" in p else ""
        extra += f", Square {p['n_queries']} queries" if "n_queries" in p else ""
        extra += f", {p['n_target_classes']} target class(es) instead of 9" if "n_target_classes" in p else ""
        return f"{attack.name}: {which} (pyautoattack), {p.get('norm', 'Linf')} eps {_eps(p)}{extra}"
    if attack.method == "none":
        return f"{attack.name}: no attack (accuracy on the released images)"
    details = ", ".join(f"{k}={_fmt(v)}" for k, v in p.items())
    sur = f", surrogate {attack.surrogate}" if attack.surrogate else ""
    return f"{attack.name}: {attack.method} ({details}{sur})"


def _eps(p: dict) -> str:
    return _fmt(p.get("eps", LINF_EPS))


def _fmt(v) -> str:
    if isinstance(v, float) and v < 1:
        k = v * 255
        return f"{k:.0f}/255" if abs(k - round(k)) < 1e-6 else f"{v:g}"
    return str(v)


# ---- tables beside the paper -----------------------------------------------------------------

def paper_table(name: str, as_text: bool = False) -> pd.DataFrame:
    """One of the papers' transcribed tables (``data/paper_tables/<name>.csv``), labelled as the paper's.
    ``as_text`` keeps every cell as the paper prints it ("81.70", not 81.7), for display."""
    path = PAPER_TABLES / f"{name}.csv"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PAPER_TABLES.glob("*.csv")))
        raise ValueError(f"unknown paper table {name!r}; known: {known}")
    # "None" is a row label (No Pre.), not missing
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str if as_text else None)


def paper_table_not_run(name: str, index: list[str], dataset: str = "imagenet") -> pd.DataFrame:
    """A paper table's rows for ``dataset`` as printed, for a setting this build cannot run: the notes and the
    columns the extraction left empty dropped, indexed by ``index``."""
    rows = paper_table(name, as_text=True)
    rows = rows[rows.dataset == dataset].drop(columns=["dataset", "notes"]).dropna(axis=1, how="all")
    return rows.set_index(index)


def acc_cell(acc: float, lo: float, hi: float) -> str:
    return f"{acc:.1f} [{lo:.1f}, {hi:.1f}]"


def pivot_accuracy(table: pd.DataFrame, index: str = "defense", columns: str = "attack", target: str | None = None) -> pd.DataFrame:
    """Accuracy with 95% CI as 'acc [lo, hi]' strings, one row per ``index`` value, one column per ``columns`` value."""
    t = table if target is None else table[table.target == target]
    cells = t.assign(cell=[acc_cell(a, lo, hi) for a, lo, hi in zip(t.acc, t.ci_low, t.ci_high)])
    order_i = list(dict.fromkeys(t[index]))
    order_c = list(dict.fromkeys(t[columns]))
    return cells.pivot(index=index, columns=columns, values="cell").loc[order_i, order_c]


def beside_paper(ours: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Interleave our columns with the paper's: for each column c, (c, 'ours') then (c, 'paper').
    Both frames are indexed by the same row labels; missing paper cells show as '-'."""
    cols = []
    data = {}
    for c in ours.columns:
        data[(c, "ours")] = ours[c]
        data[(c, "paper")] = paper[c].reindex(ours.index) if c in paper.columns else pd.Series("-", index=ours.index)
        cols += [(c, "ours"), (c, "paper")]
    out = pd.DataFrame(data)[cols]
    out.columns = pd.MultiIndex.from_tuples(cols)
    return out.fillna("-")


def p_value_table(table: pd.DataFrame, column: str = "p_vs_baseline", index: str = "defense", columns: str = "attack") -> pd.DataFrame:
    """Exact McNemar p-values (paired, same images) as a defense x attack table."""
    t = table.dropna(subset=[column])
    if t.empty:
        return pd.DataFrame()
    order_i = list(dict.fromkeys(t[index]))
    order_c = list(dict.fromkeys(t[columns]))
    return t.pivot_table(index=index, columns=columns, values=column, aggfunc="first").loc[order_i, order_c].map(lambda p: f"{p:.2g}")


def quality_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per defense: seconds per image, L2, L-inf, SSIM, LPIPS (LPIPS 'unavailable' when it cannot run here)."""
    q = table.drop_duplicates("defense").set_index("defense")[["sec_per_image", "l2", "linf", "ssim", "lpips"]].copy()
    q["lpips"] = [("unavailable" if np.isnan(v) else f"{v:.4f}") for v in q.lpips]
    return q.rename(columns={"sec_per_image": "s / image", "linf": "L-inf (mean)", "l2": "L2 (mean)"})


# ---- what the claims engine needs from a grid ----------------------------------------------------

def outcomes(table: pd.DataFrame, defense: str, attack: str, target: str | None = None) -> np.ndarray:
    """Per-image boolean outcomes of one (defense, attack[, target]) cell of a grid."""
    t = table[(table.defense == defense) & (table.attack == attack)]
    if target is not None:
        t = t[t.target == target]
    if len(t) != 1:
        raise ValueError(f"expected one cell for ({defense!r}, {attack!r}, {target!r}); found {len(t)}")
    return np.asarray(t.per_image.iloc[0], dtype=bool)


def release_distance(table: pd.DataFrame, a: str, b: str, cache=None) -> dict[str, float]:
    """How far apart two defenses' released images are (from the result cache): mean L-inf (x 255), mean L2 and
    the share of pixel values that differ by at least 1/255. NaN where the releases are not cached."""
    from .evaluate import ResultCache

    keys = [table[table.defense == d].release.iloc[0] if "release" in table else None for d in (a, b)]
    cache = cache or ResultCache()
    got = [cache.get(k) if k else None for k in keys]
    if any(g is None for g in got):
        return {"linf_255": float("nan"), "l2": float("nan"), "pixels_differ": float("nan")}
    diff = (got[0]["x_eval"].float() - got[1]["x_eval"].float()).flatten(1)
    return {"linf_255": float(255 * diff.abs().max(1).values.mean()), "l2": float(diff.norm(dim=1).mean()),
            "pixels_differ": float((diff.abs() >= 1 / 255 - 1e-6).float().mean())}


def separability(table: pd.DataFrame, reference: str, others: list[str], attacks: list[str] | None = None,
                 target: str | None = None, cache=None) -> pd.DataFrame:
    """Can this page's comparisons separate the defenses at all? For ``reference`` against each of ``others``
    under each attack: the discordant images in both directions, how far apart the two releases are, and a
    sentence when no image differs (then the two defenses reach the same robust set on this target, and the
    comparison cannot separate them here, whatever n)."""
    attacks = attacks or [a for a in dict.fromkeys(table.attack) if a != "clean"]
    rows = []
    for other in others:
        dist = release_distance(table, reference, other, cache)
        for attack in attacks:
            ref, oth = outcomes(table, reference, attack, target), outcomes(table, other, attack, target)
            only_ref, only_other, n = discordant_counts(ref, oth)
            rows.append({"comparison": f"{reference} vs {other}", "attack": attack, "n": n,
                         f"only {reference} correct": only_ref, "only other correct": only_other,
                         "release distance: mean L-inf (/255)": round(dist["linf_255"], 2),
                         "share of pixels differing": round(dist["pixels_differ"], 3),
                         "separable here": ("yes" if only_ref + only_other else
                                            "no: the same robust set; this comparison cannot separate the two defenses "
                                            "on this target, whatever n")})
    return pd.DataFrame(rows)


def target_average_difference(table: pd.DataFrame, a: str, b: str, targets: list[str], attack: str = "robust") -> np.ndarray:
    """Per image, the share of ``targets`` that defense ``a``'s release keeps correct minus ``b``'s, in points (the
    unit the every-target claims bootstrap over images: MSPD Table VII, Fast Preemption Table 8)."""
    return 100 * np.mean([outcomes(table, a, attack, t).astype(float) - outcomes(table, b, attack, t) for t in targets], axis=0)


def batch_times(table: pd.DataFrame, defense: str) -> np.ndarray:
    """Per-batch seconds per image of one defense (for time-ratio claims)."""
    return np.asarray(table[table.defense == defense].batch_seconds.iloc[0], dtype=float)


def timing_mismatch(table: pd.DataFrame, slow: str, fast: str) -> str | None:
    """Why two defenses' timings cannot be compared (a time-ratio claim's ``reason``), or None when both were measured
    on the same machine: a ratio of timings cached on different hosts measures the hosts, not the defenses."""
    hosts = {}
    for defense in (slow, fast):
        rows = table[table.defense == defense]
        hosts[defense] = rows.timed_on.iloc[0] if "timed_on" in rows and len(rows) else "unknown"
    if hosts[slow] == hosts[fast]:
        return None
    return (f"the two timings come from different machines ({slow}: {hosts[slow]}; {fast}: {hosts[fast]}), cached "
            "from different builds: clear the results cache (or rebuild both) to time them on one host")


def seconds_column(table: pd.DataFrame) -> pd.Series:
    """Seconds per image by defense, formatted, for a table beside the paper's."""
    return table.drop_duplicates("defense").set_index("defense").sec_per_image.map("{:.3f}".format)


def timing_note(*tables: pd.DataFrame) -> str:
    """Where the defense timings on a page were measured (this build, or cached from another)."""
    seen = list(dict.fromkeys(v for t in tables if "timed" in t for v in t.timed))
    return "Defense timings: " + "; ".join(seen) + "." if seen else ""


# ---- shared by every part's separability tables ------------------------------------------------

def discordance(a: np.ndarray, b: np.ndarray, label_a: str, label_b: str) -> dict:
    """Images only ``a`` gets right and only ``b`` gets right (a paired comparison can separate the two only where
    these are not both zero)."""
    only_a, only_b, n = discordant_counts(a, b)
    return {f"only {label_a} correct": only_a, f"only {label_b} correct": only_b, "n": n}
