"""The locked environment (issue 35): the lock agrees with pyproject.toml, the environment holds exactly the lock,
no package (installed or locked) is at a version a known advisory affects, and ``pip check`` is clean."""
from __future__ import annotations

import subprocess
import sys

import pytest
from packaging.requirements import Requirement

from mspd_core import dependencies as deps


def test_the_installed_environment_has_no_package_with_a_known_advisory():
    findings = deps.advisory_findings(deps.installed_versions())
    assert not findings, "installed packages with published advisories:\n" + "\n".join(map(str, findings))


def test_the_lock_has_no_package_with_a_known_advisory():
    locked = deps.lock_pins()
    findings = [f for pin in locked for f in deps.advisory_findings({pin.name: pin.version})]
    assert not findings, "locked packages with published advisories (run make lock after raising them):\n" + "\n".join(map(str, findings))


def test_the_guard_flags_the_versions_torchattacks_pinned():
    """The guard can fail: requests 2.25.1 and idna 2.10 (what torchattacks 3.5.1's pin installed) are flagged with
    their advisories; the fixed versions are not."""
    old = deps.advisory_findings({"requests": "2.25.1", "idna": "2.10", "urllib3": "1.26.20", "Pillow": "11.2.1"})
    assert {(f.package, f.version) for f in old} == {("requests", "2.25.1"), ("idna", "2.10"), ("pillow", "11.2.1")}
    assert "CVE-2024-47081" in next(f for f in old if f.package == "requests").ids
    assert not deps.advisory_findings({"requests": "2.32.4", "idna": "3.7", "urllib3": "2.5.0", "pillow": "11.3.0"})


def test_every_advisory_names_ids_and_a_fixed_version_outside_its_range():
    for adv in deps.known_advisories():
        assert adv["ids"] and adv["summary"], adv
        assert not deps.advisory_findings({adv["package"]: adv["fixed"]}, [adv]), adv


def test_the_lock_agrees_with_pyproject():
    problems = deps.lock_disagreements(deps.lock_pins(), deps.project_requirements())
    assert not problems, "pyproject.toml and requirements/lock.txt disagree (run `make lock`):\n" + "\n".join(problems)


def test_a_requirement_the_lock_does_not_satisfy_is_reported():
    pins = [deps.Pin("requests", "2.34.2", None)]
    assert deps.lock_disagreements(pins, [Requirement("requests>=2.32.4")]) == []
    assert deps.lock_disagreements(pins, [Requirement("requests<2.30")]) == ["requests<2.30: the lock pins 2.34.2"]
    assert deps.lock_disagreements(pins, [Requirement("idna>=3.7")]) == ["idna>=3.7 is not in the lock"]


def test_every_pin_of_the_lock_is_hashed():
    entries = deps.lock_entries()
    assert len(entries) == len(deps.lock_pins()) > 100
    unhashed = [f"{e.pin.name}=={e.pin.version}" for e in entries if not e.hashes]
    assert not unhashed, "pins without a hash (run `make lock`): " + ", ".join(unhashed)


def test_the_lock_names_nothing_pyproject_dropped_and_honours_the_constraints():
    """The other direction of the agreement: a dependency removed from pyproject.toml, or a changed constraint,
    without `make lock` fails here."""
    problems = deps.lock_extra_directs(deps.lock_entries(), deps.project_requirements(), deps.constraint_requirements())
    assert not problems, "requirements/lock.txt is stale (run `make lock`):\n" + "\n".join(problems)


def test_a_stale_lock_is_reported(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("torch==2.14.1 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via\n    #   -c requirements/constraints.txt\n"
                    "    #   mspd-core (pyproject.toml)\n"
                    "torchattacks==3.5.1 \\\n    --hash=sha256:" + "b" * 64 + "\n    # via mspd-core (pyproject.toml)\n"
                    "requests==2.34.2\n    # via torchattacks\n")
    entries = deps.lock_entries(lock)
    assert [len(e.hashes) for e in entries] == [1, 1, 0]
    assert entries[1].via == ("mspd-core (pyproject.toml)",)
    problems = deps.lock_extra_directs(entries, [Requirement("torch>=2.6")], [Requirement("torch==2.15.0")])
    assert any(p.startswith("torchattacks==3.5.1") for p in problems)
    assert "constraint torch==2.15.0: the lock pins 2.14.1" in problems
    assert deps.lock_extra_directs(entries[:1], [Requirement("torch>=2.6")], [Requirement("torch==2.14.1")]) == []


def test_packages_outside_the_lock_and_local_labels():
    pins = [deps.Pin("torch", "2.14.1", None), deps.Pin("requests", "2.34.2", None)]
    versions = {"torch": "2.14.1+cpu", "requests": "2.34.2", "torchattacks": "3.5.1", "pip": "26.3", "mspd-core": "0.1"}
    assert deps.installed_disagreements(pins, versions) == ["torchattacks 3.5.1: installed, not in the lock"]
    assert deps.unlocked_packages(pins, versions) == ["torchattacks"]
    assert deps.installed_disagreements(pins, {**versions, "torch": "2.15.0"})[0] == "torch: locked 2.14.1, installed 2.15.0"


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="not in the project's virtual environment")
def test_the_environment_holds_exactly_the_lock():
    problems = deps.installed_disagreements(deps.lock_pins(), deps.installed_versions())
    assert not problems, "the environment differs from the lock (run `make setup`):\n" + "\n".join(problems)


def test_pip_check_is_clean():
    run = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_lock_fingerprint_is_the_files_hash():
    import hashlib

    assert deps.lock_fingerprint() == hashlib.sha256(deps.LOCK_FILE.read_bytes()).hexdigest()[:12]


def test_every_page_and_cache_key_names_the_lock_and_the_python():
    """Issue 35, item 5: the set-up line every chapter prints names the lock beside the code hash (and the Python,
    since the universal lock resolves some packages per Python version); cache keys change with either."""
    import platform

    from mspd_core import cells, notebook

    line = notebook.start("smoke", device="cpu").describe()
    assert f"lock `{deps.lock_fingerprint()}`" in line and f"Python {platform.python_version()}" in line
    assert f"code `{cells.code_fingerprint()[:12]}`" in line
    env = cells.environment_fingerprint("cpu")
    assert env["lock"] == deps.lock_fingerprint() and env["python"] == ".".join(platform.python_version_tuple()[:2])


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="not in the project's virtual environment")
def test_no_installed_package_has_files_missing():
    """Uninstalling torchattacks 3.5.1 (whose wheel carries an old copy of robustbench/) deleted robustbench's
    model zoo while every version still matched: set-up reinstalls such packages (2026-12-06, by hand)."""
    assert deps.damaged_distributions() == [], "run `make setup`: it reinstalls packages with files missing"


def test_the_reinstall_lines_carry_the_locks_hashes():
    line = deps.requirements_for(["requests"])
    entry = next(e for e in deps.lock_entries() if e.pin.name == "requests")
    assert line.startswith(f"requests=={entry.pin.version} ") and all(f"--hash=sha256:{h}" in line for h in entry.hashes)
    assert deps.requirements_for([]) == ""
