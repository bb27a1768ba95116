"""The registry's audit trail: every change to a claim's decision fields, with its date and reason.

    python -m mspd_core.claims.history                      # show the history and whether it is current
    python -m mspd_core.claims.history --check              # exit 1 when a decision field changed unrecorded
    python -m mspd_core.claims.history --reason "why"       # record the current changes (added/changed/removed)

``history.json`` (beside this file) holds the entries and each claim's fingerprint after the last
one (:func:`registry.claim_fingerprint`, over :data:`registry.DECISION_FIELDS`). The history
starts on 2026-12-01; changes before it are in the project's git history only. An entry may also list
``method_changed``: claims whose decision fields stayed the same but whose measurement changed (a defense or model
re-implemented), with the verdicts that change supersedes.
"""
from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from .registry import REGISTRY, claim_fingerprint, registry_fingerprint

HISTORY = Path(__file__).with_name("history.json")


def load(path: Path = HISTORY) -> dict:
    if not path.exists():
        return {"entries": [], "fingerprints": {}}
    return json.loads(path.read_text())


def pending(history: dict | None = None) -> dict[str, list[str]]:
    """Claims whose decision fields differ from the last recorded fingerprints."""
    recorded = (history or load())["fingerprints"]
    current = {k: claim_fingerprint(s) for k, s in REGISTRY.items()}
    return {"added": sorted(set(current) - set(recorded)), "removed": sorted(set(recorded) - set(current)),
            "changed": sorted(k for k in set(current) & set(recorded) if current[k] != recorded[k])}


def add_entry(reason: str, date: str | None = None, path: Path = HISTORY, method_changed: list[str] | None = None,
              superseded: list[dict] | None = None) -> dict:
    """Record the pending changes with ``reason`` and store the new fingerprints. ``method_changed`` names claims whose
    decision fields stayed but whose measurement changed; ``superseded`` holds the verdicts the entry supersedes
    (:data:`SUPERSEDED_FIELDS` and a ``why``)."""
    if not reason.strip():
        raise ValueError("say why the claims changed (--reason)")
    history = load(path)
    changes = pending(history)
    method_changed = sorted(method_changed or [])
    unknown = [k for k in method_changed + [s.get("key") for s in superseded or []] if k not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown claim(s) {unknown}")
    missing = [f"{s.get('key')}: {f}" for s in superseded or [] for f in SUPERSEDED_FIELDS if f not in s]
    if missing:
        raise ValueError(f"superseded verdicts lack fields: {missing}")
    if not any(changes.values()) and not method_changed:
        raise ValueError("no decision field changed since the last entry and no --method-changed claim: nothing to record")
    entry = {"date": date or datetime.date.today().isoformat(), "reason": reason.strip(),
             **{k: v for k, v in changes.items() if v}, **({"method_changed": method_changed} if method_changed else {}),
             "registry": registry_fingerprint(), **({"superseded": superseded} if superseded else {})}
    history["entries"].append(entry)
    history["fingerprints"] = {k: claim_fingerprint(s) for k, s in sorted(REGISTRY.items())}
    path.write_text(json.dumps(history, indent=2) + "\n")
    return entry


#: The fields of a superseded verdict in an entry's ``superseded`` list (what the summary and chapters show).
SUPERSEDED_FIELDS = ("key", "verdict", "size", "n", "effect", "ci_low", "ci_high", "unit", "comparison", "discordant",
                     "profile", "sample", "measured")


def superseded(history: dict | None = None) -> list[dict]:
    """Every superseded verdict recorded in the history, each with the date and reason of the entry that superseded
    it (``superseded_on``, ``reason``), oldest first."""
    out = []
    for e in (history or load())["entries"]:
        for item in e.get("superseded", []):
            out.append({**item, "superseded_on": e["date"], "reason": item.get("why") or e["reason"]})
    return out


def superseded_for(key: str, history: dict | None = None) -> list[dict]:
    """The superseded verdicts of claim ``key`` (none for most claims)."""
    return [s for s in superseded(history) if s["key"] == key]


def last_entry(history: dict | None = None) -> dict | None:
    entries = (history or load())["entries"]
    return entries[-1] if entries else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reason", help="record the pending changes with this reason")
    parser.add_argument("--date", help="the entry's date (default: today)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a decision field changed without an entry")
    parser.add_argument("--method-changed", nargs="+", default=[], metavar="CLAIM",
                        help="claims whose measurement changed (a defense or model re-implemented), decision fields alike")
    parser.add_argument("--superseded", type=Path, help="a JSON file: the list of verdicts this entry supersedes")
    args = parser.parse_args(argv)
    if args.reason is not None:
        try:
            superseded = json.loads(args.superseded.read_text()) if args.superseded else None
            entry = add_entry(args.reason, args.date, method_changed=args.method_changed, superseded=superseded)
        except ValueError as err:
            parser.error(str(err))
        print(f"recorded: {json.dumps(entry)}")
        return 0
    history = load()
    for e in history["entries"]:
        keys = ", ".join(f"{what.replace('_', ' ')}: {' '.join(e[what])}"
                         for what in ("added", "changed", "removed", "method_changed") if e.get(what))
        print(f"{e['date']}  {e['reason']}\n            {keys}")
    todo = pending(history)
    print(f"registry fingerprint {registry_fingerprint()}")
    if any(todo.values()):
        print("UNRECORDED changes: " + json.dumps(todo) + "\nrecord them: python -m mspd_core.claims.history --reason '...'")
        return 1
    print("every decision field is recorded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
