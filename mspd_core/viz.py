"""Plots for the book: image grids, NTSC grey perturbation maps, the preemptive pipeline figure."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor


def to_hwc(x: Tensor) -> np.ndarray:
    """NCHW / CHW float in [0, 1] -> NHWC / HWC numpy for matplotlib."""
    arr = x.detach().cpu().float().numpy()
    return np.moveaxis(arr, -3, -1).clip(0, 1)


def ntsc_grey(delta: Tensor, eps: float) -> Tensor:
    """The papers' perturbation map: delta_RGB = (delta + eps) / (2 eps), then
    grey = 0.299 R + 0.587 G + 0.114 B (Fast Preemption Sec. 4, MSPD App. B-C). Returns N x H x W in [0, 1]."""
    rgb = ((delta + eps) / (2 * eps)).clamp(0, 1)
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(1)


def image_grid(x: Tensor, titles: Sequence[str] | None = None, ncols: int = 10, size: float = 1.2, grey: bool = False,
               suptitle: str | None = None):
    """A grid of images (or grey maps when ``grey``) with optional titles; returns the figure."""
    import matplotlib.pyplot as plt

    n = x.shape[0]
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * (1.25 if titles else 1)), squeeze=False)
    images = x.detach().cpu().numpy() if grey else to_hwc(x)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray" if grey else None, vmin=0, vmax=1, interpolation="nearest")
            if titles:
                ax.set_title(titles[i], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def comparison_rows(rows: dict[str, Tensor], captions: dict[str, Sequence[str]] | None = None, size: float = 1.5,
                    grey_rows: Sequence[str] = ()):
    """Rows of images, one row per named stage (original, protected, perturbation map, ...), one column per image."""
    import matplotlib.pyplot as plt

    names = list(rows)
    ncols = rows[names[0]].shape[0]
    fig, axes = plt.subplots(len(names), ncols, figsize=(size * ncols + 1.5, size * len(names) * 1.2), squeeze=False)
    for r, name in enumerate(names):
        grey = name in grey_rows
        images = rows[name].detach().cpu().numpy() if grey else to_hwc(rows[name])
        for c in range(ncols):
            ax = axes[r, c]
            ax.imshow(images[c], cmap="gray" if grey else None, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if captions and name in captions:
                ax.set_xlabel(captions[name][c], fontsize=7)
        axes[r, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def pipeline_figure():
    """The preemptive setting: user -> protected image -> attacker -> unseen target models."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 2.6)
    ax.axis("off")
    boxes = [
        (0.1, "Original image x\n(user)", "#dbeafe"),
        (2.6, "Preemptive defense\n$x_p = D(x)$\n$\\|x_p - x\\|_\\infty \\leq \\epsilon_{def}$\n(backbone f, classifier C)", "#dcfce7"),
        (5.1, "Attacker (after release)\n$x_a = A(x_p)$\n$\\|x_a - x_p\\|_\\infty \\leq \\epsilon_{att}$", "#fee2e2"),
        (7.6, "Unseen target models T\n(never used by the defense)", "#fef9c3"),
    ]
    for x0, text, colour in boxes:
        ax.add_patch(FancyBboxPatch((x0, 0.6), 2.2, 1.4, boxstyle="round,pad=0.05", fc=colour, ec="#334155"))
        ax.text(x0 + 1.1, 1.3, text, ha="center", va="center", fontsize=8.5)
    for x0 in (2.3, 4.8, 7.3):
        ax.add_patch(FancyArrowPatch((x0, 1.3), (x0 + 0.3, 1.3), arrowstyle="-|>", mutation_scale=14, color="#334155"))
    ax.text(5.0, 0.2, "Released image x_p is public: an adversary perturbs it within its own budget around x_p; "
            "the protection must transfer to models the defender never saw.", ha="center", fontsize=8, style="italic")
    fig.tight_layout()
    return fig


def accuracy_bars(table, attack: str, title: str = ""):
    """Horizontal bars of one attack's accuracy per defense with 95% intervals (a grid's tidy rows)."""
    import matplotlib.pyplot as plt

    rows = table[table.attack == attack].drop_duplicates("defense")
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 1.0))
    ax.barh(rows.defense, rows.acc, xerr=[rows.acc - rows.ci_low, rows.ci_high - rows.acc], color="#7aa6c2",
            capsize=3, error_kw={"lw": 0.8})
    for y, (acc, n) in enumerate(zip(rows.acc, rows.n)):
        ax.text(1, y, f"{acc:.1f}  (n = {n})", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=f"accuracy under {attack} (%, 95% CI)", xlim=(0, 100), title=title)
    plt.tight_layout()
    plt.show()


def accuracy_dots(panels: dict[str, "pd.DataFrame"]):
    """One panel per title: each row's accuracy per attack as dots with 95% intervals (tidy frames with columns
    row, attack, acc, ci_low, ci_high; e.g. :func:`mspd_core.parts.bilevel.tidy_model_rows`)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.4), sharey=False, squeeze=False)
    for ax, (title, frame) in zip(axes[0], panels.items()):
        order = list(dict.fromkeys(frame.row))
        attacks = list(dict.fromkeys(frame.attack))
        for i, attack in enumerate(attacks):
            part = frame[frame.attack == attack]
            pos = [order.index(r) + 0.6 * (i - (len(attacks) - 1) / 2) / max(1, len(attacks)) for r in part.row]
            ax.errorbar(part.acc, pos, xerr=[part.acc - part.ci_low, part.ci_high - part.acc], fmt="o", capsize=3,
                        label=attack)
        ax.set_yticks(range(len(order)), order, fontsize=8)
        ax.set(title=title, xlabel="accuracy (%), 95% CI", xlim=(0, 100))
        ax.invert_yaxis()
        ax.legend(fontsize=7, loc="lower left")
    plt.tight_layout()
    plt.show()


def certified_accuracy_curves(results: dict[str, tuple], y, max_radius: float, marked: float | None = None):
    """Certified accuracy against L2 radius (Cohen et al.'s plot): per defense, the share of images CERTIFY
    classifies correctly with a radius >= r (abstentions wrong), up to the largest radius its n can certify."""
    import matplotlib.pyplot as plt
    import torch

    grid = torch.linspace(0, max_radius, 100)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, (pred, radius) in results.items():
        right = pred == y.cpu()
        ax.plot(grid, [100 * float((right & (radius >= r)).float().mean()) for r in grid], label=name)
    if marked is not None:
        ax.axvline(marked, ls="--", c="grey", lw=0.8, label=f"r = {marked:g}")
    ax.set(xlabel="L2 radius r", ylabel="certified accuracy (%)", ylim=(0, 100))
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()


#: One colour per direction verdict, shared by the summary's table, count bars and forest plot.
VERDICT_COLOURS = {"reproduced": "#2e7d32", "contradicted": "#c62828", "inconclusive": "#f9a825", "not testable here": "#9e9e9e"}
VERDICT_BACKGROUNDS = {"reproduced": "#d4edda", "contradicted": "#f8d7da", "inconclusive": "#fff3cd", "not testable here": "#e2e3e5"}


def forest_plot(rows: Sequence[dict], margins: dict[str, float] | None = None):
    """Every testable claim as a row: our effect with the interval that decided it, the paper's effect (black
    diamond) with its registered size band (grey: the size is "consistent" only when the bar lies inside it), the
    null line and the equivalence margin (shaded blue), coloured by the direction verdict, one panel per unit
    (points; speed ratios on a log axis; rank correlations, cosines, ...). Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from .claims.registry import effect_band

    margins = margins or {}
    shown = [r for r in rows if r.get("effect") is not None and r["verdict"] != "not testable here"]
    if not shown:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.text(0.5, 0.5, "no testable claim recorded", ha="center", va="center")
        ax.axis("off")
        return fig
    groups: dict[str, list[dict]] = {}
    for r in shown:
        unit = "speed ratio (x, log scale)" if r["comparison"] == "time_ratio" else (r.get("unit") or "-")
        groups.setdefault(unit, []).append(r)
    heights = [len(g) + 1.2 for g in groups.values()]
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 0.36 * sum(heights) + 0.9),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (unit, group) in zip(axes[:, 0], groups.items()):
        ratio = unit.startswith("speed ratio")
        for i, r in enumerate(group):
            y = len(group) - 1 - i
            colour = VERDICT_COLOURS[r["verdict"]]
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=colour, lw=2.5, solid_capstyle="butt")
            ax.plot(r["effect"], y, "o", color=colour, ms=6)
            if r.get("paper_effect") is not None:
                band = effect_band(r["paper_effect"], "x" if ratio else r.get("unit") or "points")
                if band is not None:  # the size rule's registered band: "consistent" = the bar lies inside it
                    ax.fill_betweenx([y - 0.3, y + 0.3], band[0], band[1], color="#bdbdbd", alpha=0.6, lw=0, zorder=0)
                ax.plot(r["paper_effect"], y, "D", color="black", ms=6, mfc="white", mew=1.5)
            if r["key"] in margins:
                m = margins[r["key"]]
                ax.fill_betweenx([y - 0.4, y + 0.4], -m, m, color="#90caf9", alpha=0.5, lw=0)
        ax.axvline(1.0 if ratio else 0.0, color="grey", lw=1, ls="--")
        if ratio:
            ax.set_xscale("log")
        labels = [f"{r['key']} ({r.get('size', '-')})" for r in group]
        ax.set_yticks(range(len(group)))
        ax.set_yticklabels(labels[::-1], fontsize=8)
        ax.set_ylim(-0.7, len(group) - 0.3)
        ax.set_xlabel(unit, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color=c, lw=2.5, marker="o", label=v) for v, c in VERDICT_COLOURS.items() if v != "not testable here"]
    handles += [Line2D([], [], color="black", marker="D", mfc="white", ls="", label="paper's effect"),
                Line2D([], [], color="#bdbdbd", lw=8, alpha=0.6, label="size band (consistent inside)"),
                Line2D([], [], color="#90caf9", lw=8, alpha=0.5, label="equivalence margin"),
                Line2D([], [], color="grey", ls="--", label="no effect")]
    axes[0, 0].legend(handles=handles, fontsize=8, ncol=3, loc="lower left", bbox_to_anchor=(0, 1.02), frameon=False)
    fig.tight_layout()
    return fig


def planned_n_plot(plans: "pd.DataFrame"):
    """The registered power analyses at a glance: per claim, the n this build ran (dot, coloured by the direction
    verdict) and its planned n (black bar; a cross where no n up to the grid's end decides it), log axis; claims run
    below their plan have a line up to it. ``plans``: :func:`mspd_core.claims.design.design_table`. Returns the
    figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    shown = plans[(plans["planned n"] != "-") & plans["n here"].notna()] if len(plans) else plans
    if not len(shown):
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.text(0.5, 0.5, "no registered design", ha="center", va="center")
        ax.axis("off")
        return fig
    fig, ax = plt.subplots(figsize=(10, 0.22 * len(shown) + 1.2))
    top = max(int(p) for p in shown["planned n"] if p != "none") * 1.6 if any(shown["planned n"] != "none") else 2000
    for y, (_, r) in enumerate(shown.iloc[::-1].iterrows()):
        here = float(r["n here"])
        ax.plot(here, y, "o", color=VERDICT_COLOURS.get(r["direction"], "#9e9e9e"), ms=5, zorder=3)
        if r["planned n"] == "none":
            ax.plot(top, y, "x", color="black", ms=6)
        else:
            planned = float(r["planned n"])
            ax.plot(planned, y, "|", color="black", ms=10, mew=2)
            if here < planned:
                ax.plot([here, planned], [y, y], color="#9e9e9e", lw=1, zorder=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([f"{k} ({u})" if u != "images" else k for k, u in zip(shown["claim"][::-1], shown["unit"][::-1])],
                       fontsize=7)
    ax.set_ylim(-0.7, len(shown) - 0.3)
    ax.set_xlabel("n (log scale)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color=c, marker="o", ls="", label=f"n here ({v})") for v, c in VERDICT_COLOURS.items()
               if v != "not testable here"]
    handles += [Line2D([], [], color="black", marker="|", ls="", ms=10, mew=2, label="planned n"),
                Line2D([], [], color="black", marker="x", ls="", label="no n on the grid decides it")]
    ax.legend(handles=handles, fontsize=7, ncol=5, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
    fig.tight_layout()
    return fig
