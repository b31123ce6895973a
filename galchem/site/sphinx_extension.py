"""Sphinx extension for the galchem book: small fixes to what Jupyter Book 1.x renders.

Listed in ``_config.yml`` under ``sphinx.extra_extensions``.  It

* declares every page script once: Sphinx 7.4 registers a body-only script
  (``app.add_js_file(None, body=...)``, as sphinx-thebe and
  sphinx-togglebutton do) once with the file name ``None`` and once with
  ``''``, so ``const THEBE_JS_URL`` was declared twice and every page threw a
  JavaScript error;
* gives every figure image its caption as ``alt`` text (not the file path);
* registers the bibliography style ``galchem``: author-year labels such as
  "Önal Taş et al. 2016", entries sorted by first author and year, and links
  to NASA ADS (``adsurl``), arXiv (``eprint``) and DOIs.
"""
from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from typing import Any

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import field, href, optional, sentence

__all__ = ["AuthorYearLabels", "AuthorYearSorting", "BookStyle", "alt_from_captions", "plain_name",
           "setup", "unique_scripts"]


def unique_scripts(scripts: list) -> list:
    """The page's scripts with repeats removed (a body-only script's name may be ``None`` or ``''``)."""
    seen, kept = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _page_context(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(list(context["script_files"]))


def alt_from_captions(doctree: nodes.Node) -> int:
    """Set each figure image's ``alt`` text to its caption (when it has none of its own); return how many."""
    changed = 0
    for figure in doctree.findall(nodes.figure):
        caption = next(iter(figure.findall(nodes.caption)), None)
        if caption is None:
            continue
        text = " ".join(caption.astext().split())
        for image in figure.findall(nodes.image):
            if not image.get("alt") or image.get("alt") == image.get("uri"):
                image["alt"] = text
                changed += 1
    return changed


def _doctree_read(app, doctree) -> None:
    alt_from_captions(doctree)


def plain_name(latex: str) -> str:
    """A BibTeX name part as plain text: ``{\\"O}nal Ta{\\c s}`` becomes ``Önal Taş``."""
    return re.sub(r"[{}]", "", codecs.decode(latex, "ulatex"))


def _last_names(entry) -> list[str]:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    return [plain_name(" ".join(person.prelast_names + person.last_names)) for person in people]


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Hawkins 2023", "Drimmel & Poggio 2018", "Reid et al. 2014"; repeats get a, b, ..."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [self.label(entry) for entry in entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                yield f"{label}{chr(ord('a') + seen[label] - 1)}"
            else:
                yield label

    @staticmethod
    def label(entry) -> str:
        names = _last_names(entry)
        year = entry.fields.get("year", "")
        others = [n for n in names[1:] if n.lower() != "others"]
        if not names:
            who = entry.key
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2 and others:
            who = f"{names[0]} & {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who} {year}".strip()


class AuthorYearSorting(BaseSortingStyle):
    """Entries by first author's last name (accents ignored), then year, then title."""

    def sorting_key(self, entry):
        names = _last_names(entry)
        first = names[0] if names else entry.key
        return (_fold(first), entry.fields.get("year", ""), entry.fields.get("title", ""))


def _fold(text: str) -> str:
    """Lower case without accents, for sorting."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


class BookStyle(UnsrtStyle):
    """pybtex's ``unsrt`` entries with author-year labels, sorted, and ADS, arXiv and DOI links."""

    default_label_style = AuthorYearLabels
    default_sorting_style = AuthorYearSorting

    def format_web_refs(self, e):
        return sentence[
            optional[href[field("adsurl", raw=True), "NASA ADS"]],
            optional[self.format_eprint(e)],
            optional[self.format_doi(e)],
            optional[self.format_url(e)],
        ]


def setup(app) -> dict[str, Any]:
    """Register the event handlers and the ``galchem`` bibliography style."""
    register_plugin("pybtex.style.formatting", "galchem", BookStyle, force=True)
    app.connect("html-page-context", _page_context)
    app.connect("doctree-read", _doctree_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
