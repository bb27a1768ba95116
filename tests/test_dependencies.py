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


def test_every_lock_line_is_hashed():
    text = deps.LOCK_FILE.read_text()
    assert len(deps.lock_pins()) > 100
    assert text.count("==") <= text.count("--hash=sha256:"), "a pin without a hash: run `make lock`"


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
