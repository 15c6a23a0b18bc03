"""Values into Markdown documents (handouts, CI job summaries): shown as text, never as markup."""

from __future__ import annotations

import re
import unicodedata

_MD_SPECIAL = frozenset("\\`*_[]<>&|!~")


def one_line(text: str) -> str:
    """Line breaks and other control or format characters become spaces."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)


def md_text(text: str) -> str:
    """Plain text for Markdown, on one line, with every character that could start markup escaped.

    CommonMark renders a backslash-escaped ASCII punctuation character literally
    (https://spec.commonmark.org/0.31.2/#backslash-escapes), so no value can open HTML, an entity,
    a link, an image, emphasis, code or a table cell. Values never start a line (the templates
    put fixed text first) and cannot contain one, so block markup (`#`, `-`, `>`) cannot begin.
    (A GitHub renderer may still turn a bare https://... inside a name into a visible link.)
    """
    return "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in one_line(text))


def md_code(text: str) -> str:
    """A Markdown code span (literal: HTML and emphasis are not parsed inside) for a table cell."""
    value = one_line(text).replace("|", "\\|")  # GFM splits cells at | even inside code
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"
