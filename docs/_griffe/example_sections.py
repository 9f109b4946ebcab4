"""A griffe extension for the API reference: read a Google-style ``Example:`` as ``Examples:``.

chainrule's docstrings end with ``Example:`` and ``>>>`` lines, as the Google style guide
allows. griffe's Google parser knows only the plural as a section and renders the singular as an
admonition of plain Markdown, where ``>>> x[0][1]`` becomes a quote and a broken link. Renaming
the heading before parsing makes it an examples section: the lines render as Python console code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename each docstring's ``Example:`` heading to ``Examples:`` when its object loads."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        docstring = getattr(obj, "docstring", None)
        if docstring is not None:
            docstring.value = _EXAMPLE.sub(r"\1Examples:", docstring.value)
