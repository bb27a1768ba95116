"""Grading for the course's otter-grader tests: each exercise's check, from a fresh copy of the library.

The autograder's tests (written by ``scripts/course.py``) load this file by its path and call
:func:`grade`. It imports ``mspd_core.course`` anew, under a private package name, together with the
library modules it uses, so a graded notebook that redefines ``course.require``, ``course.CHECKS``,
a check, or the library's reference functions in the imported ``mspd_core`` does not change its grade.
(In-process grading, otter-grader's own included, cannot stop a student who sets out to attack the
grader's code itself; this closes the easy doors: printing a score, overwriting the checks.)
"""
from __future__ import annotations

import importlib
import sys
import types
import uuid
from pathlib import Path
from typing import Callable

LIBRARY = Path(__file__).resolve().parent


def fresh_course() -> types.ModuleType:
    """``mspd_core.course`` and the library modules it imports, executed again from their files."""
    name = f"_mspd_grading_{uuid.uuid4().hex}"
    package = types.ModuleType(name)
    package.__path__ = [str(LIBRARY)]
    sys.modules[name] = package
    return importlib.import_module(f"{name}.course")


def grade(exercise: str, fn: Callable, hidden: bool = False) -> None:
    """Run exercise ``exercise``'s check on the student's ``fn``; ``AssertionError`` with its message unless it passes."""
    course = fresh_course()
    if exercise not in course.CHECKS:
        raise ValueError(f"unknown exercise {exercise!r}; the exercises are {', '.join(course.CHECKS)}")
    check = course.CHECKS[exercise](fn, hidden=hidden)
    assert check.passed, check.message
