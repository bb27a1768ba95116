"""Launch buttons (Colab, Binder) open the committed notebook, not the build's executed copy.

The book's chapters are the executed copies in ``notebooks/_executed/`` (not in the repository);
their committed, output-free twins are ``notebooks/<name>.ipynb``. This rewrites each launch
link to the committed twin (for the course's exercises: the student notebook ``course/``, never the
one with solutions), and drops the launch group of a page that has none, so that no
launch button points at a file the repository lacks.
"""
from __future__ import annotations

from pathlib import Path

EXECUTED = "notebooks/_executed/"
STUDENT_EDITIONS = {"course_exercises": "course/"}  # pages whose buttons open the student notebook (no solutions)


def _rewrite(value, folder: str = "notebooks/"):
    """Every string inside ``value`` with the executed folder replaced by the committed ``folder``."""
    if isinstance(value, dict):
        return {k: _rewrite(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, folder) for v in value]
    if isinstance(value, str):
        for executed, committed in ((EXECUTED, folder), (EXECUTED.replace("/", "%2F"), folder.replace("/", "%2F"))):
            if executed in value:
                value = value.replace(executed, committed)
        return value
    return value


def retarget_launch_buttons(app, pagename, templatename, context, doctree):
    if not pagename.startswith(EXECUTED) or "header_buttons" not in context:
        return
    name = pagename[len(EXECUTED):]
    folder = STUDENT_EDITIONS.get(name, "notebooks/")
    committed = Path(app.srcdir) / folder / f"{name}.ipynb"
    buttons = []
    for group in context["header_buttons"]:
        if isinstance(group, dict) and group.get("label") == "launch-buttons":
            if not committed.exists():
                continue  # nothing committed to launch: no button rather than a broken one
            group = _rewrite(group, folder)
        buttons.append(group)
    context["header_buttons"] = buttons


def setup(app):
    app.connect("html-page-context", retarget_launch_buttons, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
