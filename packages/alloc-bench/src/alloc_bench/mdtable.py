"""Markdown that fits a terminal: tables split into column blocks, prose wrapped.

:func:`table` renders a pipe table (``| a | b |`` rows under a ``|---|---:|`` rule); with a
``width`` it splits the columns after the first ``keep`` (the row labels, repeated in every
part) into parts whose lines fit ``width`` characters, moving ``group`` columns at a time (a
result and its published value stay together). :func:`wrap` wraps the other lines (paragraphs and
list items) at ``width`` without changing what the Markdown renders to. A line can only be longer
than ``width`` where one cell, or one word, is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Characters per line of the terminal leaderboard.
WIDTH = 120

#: Words that would start a Markdown block (list item, heading, quote, rule, table) at the start
#: of a line.
_BLOCK_START = re.compile(r"^(?:[-+*>|]|#{1,6}|\d+[.)]|=+|-+)$|^[>|]")


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    rule: Sequence[str],
    *,
    keep: int = 1,
    group: int | Sequence[int] = 1,
    width: int | None = None,
) -> list[str]:
    """The table as Markdown, one string per part (one part without ``width`` or when it fits).

    Args:
        header: the column names.
        rows: the cells of each row (as many as ``header``).
        rule: per column, its rule cell (``"---"``, ``"---:"``).
        keep: leading columns repeated in every part.
        group: columns moved together from one part to the next, or the sizes of the
            successive groups.
        width: the longest line wanted (``None``: one part, however long).
    """
    lines = [list(header), *[list(r) for r in rows]]
    moving = list(range(keep, len(header)))
    sizes = [group] * len(moving) if isinstance(group, int) else list(group)
    blocks: list[list[int]] = []
    for size in sizes:
        if len(moving) > sum(map(len, blocks)):
            start = sum(map(len, blocks))
            blocks.append(moving[start : start + size])
    blocks = blocks or [[]]

    def length(columns: list[int]) -> int:
        return max(sum(len(line[j]) for j in columns) for line in lines) + 3 * len(columns) + 1

    parts: list[list[int]] = []
    current: list[int] = []
    for block in blocks:
        fixed = list(range(keep))
        if current and width is not None and length(fixed + current + block) > width:
            parts.append(current)
            current = []
        current = current + block
    parts.append(current)
    out = []
    for part in parts:
        columns = list(range(keep)) + part
        text = [
            _line([header[j] for j in columns]),
            "|" + "".join(f"{rule[j]}|" for j in columns),
            *(_line([row[j] for j in columns]) for row in rows),
        ]
        out.append("\n".join(text))
    return out


def _wrap_words(words: list[str], width: int, indent: str) -> list[str]:
    lines: list[list[str]] = [[]]

    def length(line: list[str], first: bool) -> int:
        return (0 if first else len(indent)) + len(" ".join(line))

    for word in words:
        current = lines[-1]
        if current and length([*current, word], len(lines) == 1) > width:
            carried = []
            if _BLOCK_START.match(word) and len(current) > 1:
                carried = [current.pop()]  # a line never starts with a block marker
            lines.append(carried)
        lines[-1].append(word)
    return [(indent if i else "") + " ".join(line) for i, line in enumerate(lines)]


def wrap(text: str, width: int = WIDTH) -> str:
    """``text`` (Markdown) with every paragraph or list-item line longer than ``width`` wrapped
    at spaces (list items continue indented by two spaces); headings and table rows are left
    as they are."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width or line.startswith(("|", "#", "    ", "```")):
            out.append(line)
            continue
        indent = "  " if line.startswith("- ") else ""
        out.extend(_wrap_words(line.split(), width, indent))
    return "\n".join(out)
