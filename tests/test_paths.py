"""User paths are resolved once against the directory the command was typed in."""
from __future__ import annotations

from pathlib import Path

from mspd_core.paths import CACHE_ENV, CIFAR10_ENV, absolutize_user_paths


def test_relative_paths_become_absolute_against_the_invocation_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(CIFAR10_ENV, "../shared/data/cifar10-jpeg.zip")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "abs"))
    changed = absolutize_user_paths(tmp_path / "repo")
    assert changed == {CIFAR10_ENV: str((tmp_path / "shared/data/cifar10-jpeg.zip").resolve())}
    import os

    assert Path(os.environ[CIFAR10_ENV]).is_absolute() and os.environ[CACHE_ENV] == str(tmp_path / "abs")


def test_readme_commands_are_what_ci_runs():
    root = Path(__file__).resolve().parent.parent
    ci = (root / ".ci" / "run").read_text()
    readme = (root / "README.md").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert any("make test" in line for line in block.splitlines()) and any("make book" in line for line in block.splitlines())
    assert "readme_command 'make test'" in ci and "readme_command 'make book'" in ci and "readme_command 'make course'" in ci
    assert "readme_command 'make paper-dry'" in ci and "make paper-dry" in readme
    assert "MSPD_CIFAR10=" not in ci  # CI must not fix the README's path for it
