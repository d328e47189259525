"""Author–year labels for the chapters' bibliographies.

The text cites author–year (``bibtex_reference_style: author_year``: "[Elman, 1990]"), so the
reference list must be labelled the same way, or the reader cannot find "[Elman, 1990]" in a
list of "[Elm90]". pybtex ships only numeric and alphabetic labels; this registers the pybtex
style ``author_year`` (``bibtex_default_style`` in _config.yml): pybtex's unsrt formatting,
sorted by author and year, each entry labelled as the text cites it.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    return (
        " ".join(person.prelast_names + person.last_names)
        .replace("{", "")
        .replace("}", "")
    )


def _author_year(entry) -> str:
    people = (
        entry.persons.get("author") or entry.persons.get("editor") or []
    )
    if not people:
        names = entry.fields.get("organization") or entry.fields.get(
            "title", "Anon."
        )
    elif len(people) == 1:
        names = _surname(people[0])
    elif len(people) == 2:
        names = f"{_surname(people[0])} and {_surname(people[1])}"
    else:
        names = f"{_surname(people[0])} et al."
    return f"{names}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [_author_year(entry) for entry in sorted_entries]
        # Two works of the same authors and year: 2013a, 2013b, as the in-text citation has no
        # way to tell them apart otherwise.
        repeated = {
            label for label, n in Counter(labels).items() if n > 1
        }
        seen: Counter = Counter()
        for label in labels:
            if label in repeated:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = "author_year"
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin(
        "pybtex.style.labels", "author_year", AuthorYearLabelStyle
    )
    register_plugin(
        "pybtex.style.formatting", "author_year", AuthorYearStyle
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
