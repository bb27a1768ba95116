"""The student edition (`make course`): neither its HTML nor its LMS notebook holds solution code."""
from __future__ import annotations

import html
from pathlib import Path

import pytest

from tests.test_course import _solution_lines

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "course"


def test_built_student_edition_has_no_solution():
    """After `make course` (CI runs it): neither the HTML nor the LMS notebook holds solution code."""
    out = OUT
    if not (out / "html").exists():
        pytest.skip("student edition not built (make course)")
    lines = _solution_lines()
    for path in [*sorted((out / "html").rglob("*.html")), out / "course_exercises.ipynb", *sorted((out / "html").rglob("*.ipynb"))]:
        text = html.unescape(path.read_text())
        leaked = [line for line in lines if line in text]
        assert not leaked, f"{path.relative_to(out)} contains solution code: {leaked[:2]}"
