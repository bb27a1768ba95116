"""The locked environment: the lock's pins and fingerprint, and the guard against known advisories (issue 35).

``requirements/lock.txt`` (uv pip compile --generate-hashes, from pyproject.toml; ``make lock``) is what
``scripts/setup.sh`` installs with ``pip --require-hashes``; ``requirements/advisories.json`` lists published
advisories by package and affected versions (kept by hand: pip-audit's online database is not reachable
offline). ``tests/test_dependencies.py`` applies both to the installed environment and to the lock.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .paths import PROJECT_ROOT

LOCK_FILE = PROJECT_ROOT / "requirements" / "lock.txt"
ADVISORIES_FILE = PROJECT_ROOT / "requirements" / "advisories.json"
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
CONSTRAINTS_FILE = PROJECT_ROOT / "requirements" / "constraints.txt"


@dataclass(frozen=True)
class Pin:
    """One ``name==version ; marker`` line of the lock."""
    name: str
    version: str
    marker: str | None

    def applies(self, environment: dict | None = None) -> bool:
        """Whether this pin is for the given (default: the running) interpreter and platform."""
        return self.marker is None or Marker(self.marker).evaluate(environment)


@dataclass(frozen=True)
class Finding:
    """A package at a version that a known advisory affects."""
    package: str
    version: str
    affected: str
    fixed: str
    ids: tuple[str, ...]
    summary: str

    def __str__(self) -> str:
        return (f"{self.package} {self.version} is affected by {', '.join(self.ids)} ({self.summary}): "
                f"needs >= {self.fixed}")


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def lock_pins(path: Path = LOCK_FILE) -> list[Pin]:
    """Every pinned requirement of a pip-format lock (hash and comment lines skipped)."""
    return [entry.pin for entry in lock_entries(path)]


@lru_cache(maxsize=1)
def lock_fingerprint(path: Path = LOCK_FILE) -> str:
    """The lock's SHA-256 (first 12 hex digits), or "no lock" outside a checkout: named on every page."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "no lock"


def known_advisories(path: Path = ADVISORIES_FILE) -> list[dict]:
    """The advisories of ``requirements/advisories.json``."""
    return json.loads(path.read_text())["advisories"]


def advisory_findings(versions: dict[str, str], advisories: list[dict] | None = None) -> list[Finding]:
    """Each (package, version) of ``versions`` that an advisory's affected range admits."""
    advisories = known_advisories() if advisories is None else advisories
    by_name = {canonicalize_name(k): v for k, v in versions.items()}
    findings = []
    for adv in advisories:
        version = by_name.get(canonicalize_name(adv["package"]))
        if version is not None and SpecifierSet(adv["affected"]).contains(Version(version), prereleases=True):
            findings.append(Finding(adv["package"], version, adv["affected"], adv["fixed"], tuple(adv["ids"]),
                                    adv["summary"]))
    return findings


def installed_versions() -> dict[str, str]:
    """Every distribution installed in the running environment's site-packages, by canonical name (not the copies
    that packages vendor, such as setuptools' ``_vendor``, which it adds to ``sys.path`` when imported)."""
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions(path=_site_packages())
            if d.metadata["Name"]}


def _print_lines(lines: list[str]) -> None:
    """Print each line; nothing at all (not an empty line) for none, so that ``[ -s file ]`` in set-up means "some"."""
    if lines:
        print("\n".join(lines))


def _site_packages() -> list[str]:
    """The running environment's site-packages folders (pure and platform)."""
    return sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})


def project_requirements(path: Path = PYPROJECT) -> list[Requirement]:
    """pyproject.toml's dependencies and every optional extra's (what the lock is compiled from)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    project = tomllib.loads(path.read_text())["project"]
    lines = list(project["dependencies"]) + [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    return [Requirement(line) for line in lines]


def lock_disagreements(pins: list[Pin], requirements: list[Requirement]) -> list[str]:
    """Each requirement of pyproject.toml that no pin of the lock satisfies (missing, or at a version outside
    its specifier): a non-empty answer means ``make lock`` was not run after pyproject.toml changed."""
    by_name: dict[str, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
    problems = []
    for req in requirements:
        name = canonicalize_name(req.name)
        if name == "mspd-core":
            continue
        candidates = by_name.get(name, [])
        if not candidates:
            problems.append(f"{req} is not in the lock")
        elif not any(req.specifier.contains(Version(p.version), prereleases=True) for p in candidates):
            problems.append(f"{req}: the lock pins {', '.join(p.version for p in candidates)}")
    return problems


#: Installed but never in the lock: the companion itself (installed editable) and the installer
#: (requirements/installer.txt).
NOT_LOCKED = frozenset({"mspd-core", "pip"})


def _same_version(installed: str | None, locked: str) -> bool:
    """``installed`` is the locked release (a local label such as ``+cpu`` on the installed one is the same release)."""
    if installed is None:
        return False
    try:
        return SpecifierSet(f"=={locked}").contains(Version(installed), prereleases=True)
    except (InvalidVersion, InvalidSpecifier):  # a version string outside PEP 440: only the same string is the same version
        return installed == locked


@dataclass(frozen=True)
class LockEntry:
    """One pin of the lock with its hashes and what the lock says requires it (its ``# via`` lines)."""
    pin: Pin
    hashes: tuple[str, ...]
    via: tuple[str, ...]


def lock_entries(path: Path = LOCK_FILE) -> list[LockEntry]:
    """Every pin of a uv/pip-compile lock with the ``--hash`` options and ``# via`` names that follow it."""
    entries: list[LockEntry] = []
    current: tuple[Pin, list[str], list[str]] | None = None
    for raw in path.read_text().splitlines() + [""]:
        line = raw.strip()
        match = _PIN.match(line)
        if match or not raw.startswith(" "):
            if current is not None:
                entries.append(LockEntry(current[0], tuple(current[1]), tuple(current[2])))
                current = None
            if match:
                name, version, marker = match.groups()
                current = (Pin(canonicalize_name(name), version, marker.strip() if marker else None), [], [])
            continue
        if current is None:
            continue
        current[1].extend(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        via = re.sub(r"^#\s*(via)?\s*", "", line) if line.startswith("#") else ""
        if via:
            current[2].append(via)
    return entries


def lock_extra_directs(entries: list[LockEntry], requirements: list[Requirement],
                       constraints: list[Requirement]) -> list[str]:
    """Each pin the lock says pyproject.toml requires but pyproject.toml no longer names (a dependency removed
    without ``make lock``), and each constraint of requirements/constraints.txt the lock does not pin exactly."""
    named = {canonicalize_name(r.name) for r in requirements}
    problems = [f"{e.pin.name}=={e.pin.version}: locked as a pyproject.toml requirement, which pyproject.toml no longer "
                "names" for e in entries if any("pyproject.toml" in v for v in e.via) and e.pin.name not in named]
    for c in constraints:
        pins = [e.pin for e in entries if e.pin.name == canonicalize_name(c.name)]
        if not pins or not all(c.specifier.contains(Version(p.version), prereleases=True) for p in pins):
            problems.append(f"constraint {c}: the lock pins {', '.join(p.version for p in pins) or 'nothing'}")
    return problems


def constraint_requirements(path: Path = CONSTRAINTS_FILE) -> list[Requirement]:
    """The lines of requirements/constraints.txt (the torch build the lock takes)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def installed_disagreements(pins: list[Pin], versions: dict[str, str]) -> list[str]:
    """Each pin for this interpreter that the running environment does not hold at the locked version, and each
    installed package that the lock does not name (installed by hand, or left by an older lock)."""
    applicable = [p for p in pins if p.applies()]
    missing = [f"{p.name}: locked {p.version}, installed {versions.get(p.name, 'nothing')}"
               for p in applicable if not _same_version(versions.get(p.name), p.version)]
    return missing + [f"{name} {versions[name]}: installed, not in the lock" for name in unlocked_packages(pins, versions)]


#: Environment variable: names of the user's own tools (ipdb, jupyterlab, ...) that set-up keeps beside the lock.
KEEP_ENV = "MSPD_SETUP_KEEP"


def kept_packages() -> set[str]:
    """The names in ``$MSPD_SETUP_KEEP`` (space- or comma-separated), canonicalised."""
    return {canonicalize_name(n) for n in re.split(r"[\s,]+", os.environ.get(KEEP_ENV, "")) if n}


def unlocked_packages(pins: list[Pin], versions: dict[str, str]) -> list[str]:
    """Installed distributions that no pin for this interpreter names (except :data:`NOT_LOCKED` and the names in
    ``$MSPD_SETUP_KEEP``)."""
    locked = {p.name for p in pins if p.applies()} | NOT_LOCKED | kept_packages()
    return sorted(name for name in versions if name not in locked)


def damaged_distributions() -> list[str]:
    """Installed distributions (site-packages) with a file of their RECORD missing: uninstalling a package that
    shipped files of another (torchattacks 3.5.1's wheel carries an old copy of ``robustbench/``) deletes them,
    and no version check sees it. Compiled caches are not counted."""
    damaged = []
    for dist in metadata.distributions(path=_site_packages()):
        name = dist.metadata["Name"]
        if not name or canonicalize_name(name) in NOT_LOCKED:
            continue
        for file in dist.files or []:
            text = str(file)
            if text.endswith(".pyc") or "__pycache__" in text or text.startswith(".."):
                continue
            if not os.path.exists(dist.locate_file(file)):
                damaged.append(canonicalize_name(name))
                break
    return sorted(set(damaged))


def lock_closure(roots: list[str], entries: list[LockEntry] | None = None) -> list[str]:
    """The lock's names that ``roots`` need: the roots and, transitively, every pin whose ``# via`` lines name one
    of them (the course's autograder installs only these: :func:`requirements_for`)."""
    entries = lock_entries() if entries is None else entries
    needed = {canonicalize_name(r) for r in roots}
    missing = needed - {e.pin.name for e in entries}
    if missing:
        raise ValueError(f"not in the lock: {', '.join(sorted(missing))}")
    grown = True
    while grown:
        grown = False
        for entry in entries:
            if entry.pin.name not in needed and any(canonicalize_name(v.split()[0]) in needed for v in entry.via
                                                    if not v.startswith("-")):
                needed.add(entry.pin.name)
                grown = True
    return sorted(needed)


def requirements_for(names: list[str], entries: list[LockEntry] | None = None) -> str:
    """The lock's hashed lines for ``names`` (this interpreter's pins), for ``pip install --require-hashes -r``."""
    entries = lock_entries() if entries is None else entries
    wanted = set(names)
    return "\n".join(f"{e.pin.name}=={e.pin.version} " + " ".join(f"--hash=sha256:{h}" for h in e.hashes)
                     for e in entries if e.pin.name in wanted and e.pin.applies())


def main(argv: list[str] | None = None) -> int:
    """``python -m mspd_core.dependencies``: exit 1 (and say what) when the environment differs from the lock (a version
    changed, a pin missing, a package the lock does not name, a package whose files are missing); scripts/setup.sh
    runs it to decide whether to reinstall. ``--unlocked``: print only the installed packages the lock does not name (setup.sh removes them).
    Advisories are checked on the lock and the environment by tests/test_dependencies.py: an environment that
    equals the lock holds no advisory the lock does not."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mspd_core.dependencies", description=main.__doc__)
    parser.add_argument("--unlocked", action="store_true", help="print the installed packages the lock does not name")
    parser.add_argument("--damaged-requirements", action="store_true",
                        help="print the lock's hashed lines for installed packages with files missing")
    args = parser.parse_args(argv)
    versions = installed_versions()
    if args.unlocked:
        _print_lines(unlocked_packages(lock_pins(), versions))
        return 0
    if args.damaged_requirements:
        _print_lines([requirements_for(damaged)] if (damaged := damaged_distributions()) else [])
        return 0
    problems = installed_disagreements(lock_pins(), versions)
    problems += [f"{name}: files of its installation are missing (reinstall it)" for name in damaged_distributions()]
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
