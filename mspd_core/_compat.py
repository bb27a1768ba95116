"""The one documented workaround for robustbench 1.1.1 (SPEC, "Facts about this environment").

robustbench 1.1.1 does ``from autoattack import AutoAttack`` and ``from autoattack.state
import EvaluationState``, but its dependency on PyPI installs the official AutoAttack as
the module ``pyautoattack``. We alias ``autoattack`` (and its submodules) to ``pyautoattack``
before importing robustbench. robustbench also imports ``pkg_resources``, which needs
``setuptools<81`` (pinned in pyproject.toml).
"""
from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType


def alias_autoattack() -> None:
    """Make ``import autoattack`` (and ``autoattack.state`` etc.) resolve to ``pyautoattack``."""
    if "autoattack" in sys.modules:
        return
    try:
        importlib.import_module("autoattack")
        return  # the upstream package is installed; nothing to do
    except ImportError:
        pass
    pkg = importlib.import_module("pyautoattack")
    sys.modules["autoattack"] = pkg
    for sub in ("autoattack", "state", "autopgd_base", "fab_pt", "square", "checks", "other_utils"):
        try:
            sys.modules[f"autoattack.{sub}"] = importlib.import_module(f"pyautoattack.{sub}")
        except ImportError:  # pragma: no cover - depends on the installed version
            pass


def import_robustbench() -> ModuleType:
    """Import robustbench with the aliases in place; a clear error if it cannot be imported."""
    alias_autoattack()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources deprecation noise
            return importlib.import_module("robustbench")
    except ImportError as err:
        raise ImportError(
            f"robustbench could not be imported ({err}). Install the project with "
            "`bash scripts/setup.sh` (it pins setuptools<81 for pkg_resources)."
        ) from err
