"""Fix-ups of the HTML assets that Jupyter Book 1 (Sphinx 7.4) emits.

Inline scripts added after the builder starts (sphinx-thebe's `const THEBE_JS_URL = ...`,
sphinx-togglebutton's selector) are listed twice in every page, once with the filename None
and once with '', and the second `const` is a SyntaxError in the reader's console. This
extension drops the repeated entries from each page's script list.
"""

from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (
            getattr(js, "filename", js) or "",
            tuple(sorted((k, str(v)) for k, v in attrs.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
