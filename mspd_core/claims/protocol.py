"""Protocol cards: for every claim, the paper's protocol beside ours, field by field (issue 33).

A claim tested under another protocol than the paper's is a different claim, whatever its interval.
Each card says, for the fields of :data:`FIELDS`, what the paper did and what this build does; a field
where ours differs is a *named deviation* and must say why. Two kinds of entry:

- :class:`Setting` (narrative): the paper's setting and ours as text. ``ours=None`` means "as the paper".
  ``ours`` may name profile facts in braces (``{n_images}``, ``{autoattack}``, ``{bl_epochs}`` ...,
  :func:`profile_facts`), resolved for the profile the chapter ran with; a resolved text equal to the
  paper's is "as the paper" (the ``paper`` profile runs several fields as the paper does).
- ``checked`` settings: the paper's *value* of a setting the chapter reports from the objects it actually
  ran (``claims.check(..., used={...})``, built by :func:`used_settings` from its Attack/Defense; the sample
  size ``n`` is always the outcome's own). Ours is never written on the card, so a card cannot call a
  setting "as the paper" that the code sets differently: a reported value that differs from the paper's
  is a deviation, and one without a reason in ``why`` is an *unexplained* deviation (the summary flags it
  and ``book_tests`` fail on it). A checked setting the chapter did not report is flagged the same way.

The summary counts claims tested "as the paper" and "with N deviations", and each claim row (summary and
chapter) opens its card in a "protocol" dropdown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

#: The narrative fields every card fills, in display order.
FIELDS = ("threat model", "defense", "attack", "models", "labeller", "sample", "metric", "paper row")


@dataclass(frozen=True)
class Setting:
    """One narrative field: the paper's setting, ours (None = as the paper) and why ours differs."""

    paper: str
    ours: str | None = None
    why: str = ""

    def __post_init__(self) -> None:
        if self.ours is not None and not self.why.strip():
            raise ValueError(f"a deviation needs its reason (paper: {self.paper!r}, ours: {self.ours!r})")


@dataclass(frozen=True)
class Card:
    """A claim's protocol: the narrative :data:`FIELDS`, the paper's value of each checked setting, and why ours
    may differ from it (per checked setting)."""

    settings: Mapping[str, Setting]
    checked: Mapping[str, Any] = field(default_factory=dict)
    why: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [f for f in FIELDS if f not in self.settings]
        unknown = [f for f in self.settings if f not in FIELDS]
        if missing or unknown:
            raise ValueError(f"a card fills exactly {FIELDS}; missing {missing}, unknown {unknown}")
        stray = set(self.why) - set(self.checked)
        if stray:
            raise ValueError(f"reasons for settings the card does not check: {sorted(stray)}")


#: The papers' AutoAttack (MSPD Table III, Fast Preemption, Bi-Level: the standard version).
AUTOATTACK_STANDARD = "AutoAttack standard (APGD-CE, APGD-T, FAB-T, Square 5,000 queries)"


def profile_facts(profile) -> dict[str, Any]:
    """The profile facts a card's ``ours`` text may name in braces."""
    from ..experiments import autoattack_label

    standard = profile.autoattack_version == "standard" and profile.aa_iterations is None \
        and profile.aa_target_classes is None and profile.square_queries == 5000
    return {"profile": profile.name, "n_images": profile.n_images, "n_large": profile.n_large,
            "autoattack": AUTOATTACK_STANDARD if standard else f"{autoattack_label(profile)} (AutoAttack's "
            f"{'standard attacks at reduced settings' if profile.autoattack_version == 'standard' else 'own attacks'}, "
            f"profile {profile.name})", "baseline_epochs": profile.baseline_epochs,
            "bl_epochs": profile.bl_epochs, "bl_restarts": profile.bl_restarts, "pgd_steps": profile.pgd_steps,
            "certify_n": f"{profile.certify_n:,}", "smoothed_attack_samples": profile.smoothed_attack_samples,
            "square_queries": profile.square_queries, "eot_samples": profile.eot_samples,
            "zoo": {"embedded": "the embedded zoo (small models trained on this CPU)",
                    "robustbench": "the paper's RobustBench models",
                    "robustbench-dry": "the paper's RobustBench architectures with RANDOM weights"}[profile.zoo]}


def used_settings(attack=None, defense=None, **extra) -> dict[str, Any]:
    """The checked settings of what a chapter actually ran, read off its Attack and Defense objects: the attack's
    method, steps, restarts, noise samples per step, final-budget sweep, ball (Definition 3 scores against the
    original) and the defense's outer iterations; ``extra`` adds others (e.g. ``certify_n``)."""
    from ..cells import ORIGINAL_BALL_METHODS

    used: dict[str, Any] = {}
    if attack is not None:
        p = attack.params
        used["attack"] = attack.method
        if "steps" in p:
            used["attack steps"] = p["steps"]
        if attack.method == "randomized_pgd_l2":
            used["noise samples per step"] = p.get("m")
            used["restarts"] = p.get("restarts", 1)
        if attack.method in ORIGINAL_BALL_METHODS:
            used["ball of a valid adversarial example"] = "original"
            used["final budgets (x eps)"] = list(p["sweep"])
            used["reconstruction iterations"] = p["epochs"]
            if attack.smoothed_sigma is not None:
                used["noise samples per step"] = p.get("eval_noise_samples")
        elif attack.method != "none":
            used["ball of a valid adversarial example"] = "release"
    if defense is not None and "epochs" in defense.params:
        used["outer iterations"] = defense.params["epochs"]
    used.update(extra)
    return used


def _resolve(text: str | None, facts: Mapping[str, Any]) -> str | None:
    """``text`` with each ``{fact}`` replaced by the profile's value; other braces (a set such as {1/4, 1/2}) stay."""
    import re

    if text is None:
        return None
    return re.sub(r"\{([a-z_0-9]+)\}", lambda m: str(facts[m.group(1)]) if m.group(1) in facts else m.group(0), text)


def card_rows(card: Card, profile, used: Mapping[str, Any] | None) -> list[dict]:
    """The card as run: one row per field and checked setting, with paper, ours, whether it deviates, why, and
    ``unexplained`` (a deviation without a reason, or a checked setting the chapter did not report)."""
    facts = profile_facts(profile)
    rows = []
    for name in FIELDS:
        s = card.settings[name]
        paper, ours = _resolve(s.paper, facts), _resolve(s.ours, facts)
        deviates = ours is not None and ours != paper
        rows.append({"field": name, "paper": paper, "ours": ours if deviates else "as the paper",
                     "deviation": deviates, "why": s.why if deviates else "", "unexplained": False})
    used = dict(used or {})
    for name, paper_value in card.checked.items():
        if name not in used:
            rows.append({"field": name, "paper": _show(paper_value), "ours": "not reported by the chapter",
                         "deviation": True, "why": "", "unexplained": True})
            continue
        deviates = used[name] != paper_value
        why = card.why.get(name, "") if deviates else ""
        rows.append({"field": name, "paper": _show(paper_value), "ours": _show(used[name]) if deviates else "as the paper",
                     "deviation": deviates, "why": why, "unexplained": deviates and not why.strip()})
    return rows


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def deviations(rows: list[dict]) -> int:
    return sum(r["deviation"] for r in rows)


def protocol_record(card: Card | None, profile, used: Mapping[str, Any] | None, n: int | None,
                    measured: bool = True) -> dict:
    """What a claim's record stores of its protocol (``card``: the claim's, from :data:`.cards.CARDS`): the rows as
    run (n from the outcome itself), the number of deviations and of unexplained ones; ``{"missing": True}`` when the
    claim has no card. A claim not measured in this build (``measured=False``) shows its narrative fields only."""
    if card is None:
        return {"missing": True, "rows": [], "deviations": 0, "unexplained": 0}
    used = dict(used or {})
    if n:
        used.setdefault("n", n)
    rows = card_rows(card if measured else Card(card.settings), profile, used)
    return {"missing": False, "rows": rows, "deviations": deviations(rows),
            "unexplained": sum(r["unexplained"] for r in rows)}


def card_html(record: Mapping[str, Any] | None) -> str:
    """A claim's card as an HTML table (for the "protocol" dropdowns): deviations highlighted with their reason."""
    from html import escape

    if not record or record.get("missing"):
        return "<i>no protocol card registered for this claim</i>"
    head = "<tr><th>field</th><th>paper</th><th>ours</th><th>why ours differs</th></tr>"
    body = []
    for r in record["rows"]:
        # the colour sits on the cells: a card nests inside a claims table whose own rows are styled <tr>s
        style = (' style="background:#f8d7da"' if r["unexplained"] else ' style="background:#fff3cd"' if r["deviation"]
                 else "")
        why = escape(r["why"]) or ("<b>UNEXPLAINED</b>" if r["unexplained"] else "")
        body.append("<tr>" + "".join(f"<td{style}>{cell}</td>" for cell in (escape(r["field"]), escape(r["paper"]),
                                                                            escape(r["ours"]), why)) + "</tr>")
    summary = ("as the paper" if not record["deviations"] else
               f"{record['deviations']} deviation{'s' * (record['deviations'] != 1)}")
    return (f'<p style="margin:0"><b>Protocol: {summary}</b></p><table style="font-size:90%">{head}{"".join(body)}'
            "</table>")


def protocol_label(record: Mapping[str, Any] | None) -> str:
    """Short text for a claim row: "as the paper", "3 deviations", "no card", "2 unexplained"."""
    if not record or record.get("missing"):
        return "no card"
    if record.get("unexplained"):
        return f"{record['unexplained']} unexplained"
    d = record.get("deviations", 0)
    return "as the paper" if not d else f"{d} deviation{'s' * (d != 1)}"
