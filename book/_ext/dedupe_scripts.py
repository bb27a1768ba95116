"""Sphinx extension: drop duplicate <script> entries from each page.

sphinx-thebe 0.3.1 under Sphinx 7 adds its inline configuration script twice, which makes
browsers report "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for js in context.get("script_files", []):
        name = (js.filename if hasattr(js, "filename") else str(js)) or ""  # None and "" both mean an inline script
        key = (name, tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"][:] = kept  # in place: later handlers (MathJax) still append to this list


def setup(app):
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
