"""The documentation site: it builds with ``mkdocs build --strict`` (a broken link, anchor,
snippet or docstring reference fails), every subpackage has an API page, the Results pages are
what their commands print, and the READMEs stay short and point to the site."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
READMES = [ROOT / "README.md", *sorted((ROOT / "packages").glob("*/README.md"))]

sys.path.insert(0, str(ROOT / "benchmarks"))
import docs_results  # noqa: E402


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "reference" / "alloc_envs" / "ride_hailing" / "index.html").exists()
    assert (tmp_path / "getting-started" / "index.html").exists()


@pytest.mark.parametrize("package", ["alloc_envs", "alloc_agents"])
def test_every_subpackage_has_an_api_page_in_the_nav(package: str) -> None:
    module = importlib.import_module(package)
    subpackages = {info.name for info in pkgutil.iter_modules(module.__path__)}
    pages = {path.stem for path in (DOCS / "reference" / package).glob("*.md")}
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert subpackages <= pages, sorted(subpackages - pages)
    for name in subpackages:
        assert f"reference/{package}/{name}.md" in nav


def test_the_results_pages_are_what_their_commands_print() -> None:
    assert docs_results.stale_pages() == []


def test_every_generated_page_is_included_by_a_results_page() -> None:
    pages = "".join(p.read_text(encoding="utf-8") for p in (DOCS / "results").glob("*.md"))
    for name in docs_results.PAGES:
        assert f'--8<-- "docs/results/generated/{name}"' in pages


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.DOTALL)


PACKAGE_EXAMPLES = [(p, i) for p in READMES[1:] for i in range(len(_python_blocks(p)))]


@pytest.mark.parametrize(
    ("readme", "index"),
    PACKAGE_EXAMPLES,
    ids=lambda x: x.parent.name if isinstance(x, Path) else str(x),
)
def test_package_readme_examples_run(readme: Path, index: int) -> None:
    code = _python_blocks(readme)[index]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]


def test_package_readmes_have_examples() -> None:
    assert len(PACKAGE_EXAMPLES) >= 2


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_readmes_are_short_and_point_to_the_site(readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "mkdocs serve" in text or "docs/" in text


def test_grouped_docstring_entries_are_split_per_name_for_the_api_reference() -> None:
    sys.path.insert(0, str(DOCS / "hooks"))
    from grouped_params import split_grouped_entries

    text = (
        "Doc.\n\nArgs:\n    a, b (int): shared\n        text.\n    c: one, two.\n\n"
        "Returns:\n    x, y: kept.\n"
    )
    assert split_grouped_entries(text).splitlines() == [
        "Doc.", "", "Args:",
        "    a (int): shared", "        text.",
        "    b (int): shared", "        text.",
        "    c: one, two.", "", "Returns:", "    x, y: kept.",
    ]  # fmt: skip
