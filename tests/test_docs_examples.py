"""Every Python example on the documentation site runs, as written, in a fresh interpreter.

The examples use small budgets (their comments give what a real run uses), so each takes
seconds on one CPU thread; they write only under temporary directories (here the test's).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Pages generated from results; their code is not hand-written examples.
SKIP = (DOCS / "results" / "generated",)
#: A fenced block opened by ```python (or ```py, maybe with attributes such as title="..."), up
#: to its closing fence; both fences may be indented (a block in a list item or an admonition).
BLOCK = re.compile(
    r"^([ \t]*)```(?:python|py)\b[^\n]*\n(.*?)^\1```[ \t]*$", re.DOTALL | re.MULTILINE
)


def _pages() -> list[Path]:
    return sorted(
        page
        for page in DOCS.rglob("*.md")
        if not any(page.is_relative_to(skipped) for skipped in SKIP)
    )


def _examples() -> list[tuple[str, str]]:
    examples = []
    for page in _pages():
        blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
        for number, (_, code) in enumerate(blocks, start=1):
            name = f"{page.relative_to(DOCS).as_posix()}#{number}"
            examples.append((name, textwrap.dedent(code)))
    return examples


EXAMPLES = _examples()


def test_the_examples_are_collected() -> None:
    assert len(EXAMPLES) > 15, [name for name, _ in EXAMPLES]
    pages_with_python = {
        page.relative_to(DOCS).as_posix()
        for page in _pages()
        if re.search(r"```py(thon)?\b", page.read_text(encoding="utf-8"))
    }
    assert {name.split("#")[0] for name, _ in EXAMPLES} == pages_with_python


@pytest.mark.parametrize("code", [code for _, code in EXAMPLES], ids=[n for n, _ in EXAMPLES])
def test_docs_python_example_runs_in_a_fresh_interpreter(code: str, tmp_path: Path) -> None:
    # TMPDIR: what the examples write (tempfile.mkdtemp()) lands in pytest's temporary folder
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
