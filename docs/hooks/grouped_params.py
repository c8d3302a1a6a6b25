"""A griffe extension for our docstrings' grouped entries: ``a, b: text`` documents both.

Our Google-style docstrings document parameters and attributes that share a meaning on one line
(``rows, cols: hex grid size``, ``preset, config, **overrides: as for the Gymnasium view``).
Griffe reads such a line as one entry named ``rows,`` of type ``cols``. This extension rewrites
the docstring text before it is parsed, for the API reference only: each name gets its own
entry with the shared text (continuation lines included), so every name is listed, typed from
its annotation, and checked against the signature (``mkdocs build --strict`` fails on a name
that is not a parameter).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

SECTIONS = re.compile(
    r"^(\s*)(Args|Arguments|Parameters|Attributes|Keyword Args|Other Parameters):\s*$"
)
GROUPED = re.compile(r"^(\s+)(\*{0,2}\w+(?:,\s*\*{0,2}\w+)+)(\s*\([^)]*\))?:(.*)$")


def split_grouped_entries(text: str) -> str:
    """``text`` with every grouped entry of a parameter / attribute section split per name."""
    lines = text.splitlines()
    out: list[str] = []
    section_indent: int | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        header = SECTIONS.match(line)
        if header:
            section_indent = len(header.group(1))
            out.append(line)
            i += 1
            continue
        stripped = len(line) - len(line.lstrip())
        if section_indent is not None and line.strip() and stripped <= section_indent:
            section_indent = None
        grouped = GROUPED.match(line) if section_indent is not None else None
        if not grouped:
            out.append(line)
            i += 1
            continue
        indent = grouped.group(1)
        body = [line[len(indent) :].split(":", 1)[1]]
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > len(indent)):
            last = i + 1 >= len(lines)
            if not lines[i].strip() and (last or _indent(lines[i + 1]) <= len(indent)):
                break
            body.append("\n" + lines[i])
            i += 1
        for name in re.split(r",\s*", grouped.group(2)):
            out.append(f"{indent}{name}{grouped.group(3) or ''}:{''.join(body)}")
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


class GroupedParams(griffe.Extension):
    """Split grouped docstring entries before griffe parses them (module doc)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        del kwargs
        if obj.docstring is not None and "," in obj.docstring.value:
            obj.docstring.value = split_grouped_entries(obj.docstring.value)
