"""Run folders: where a run's checkpoint, ``progress.csv``, TensorBoard events (``tb/``) and
``run.log`` go, inside the store's artifacts folder (:func:`alloc_bench.store.artifacts_dir`).

A run's folder is ``<artifacts>/<scenario>/<method>/seed<k>-<h>``, ``h`` the first
:data:`SHORT_HASH` hex digits of its config hash, so that runs of the same scenario, method and
seed with other options or budgets get folders of their own (e.g.
``alloc-bench-artifacts/ride-hailing-1/PS_IPPO/seed0-3f2a9c1e``; TensorBoard pointed at the
artifacts folder names its runs ``ride-hailing-1/PS_IPPO/seed0-3f2a9c1e/tb``). Characters other
than letters, digits, ``.``, ``_`` and ``-`` become ``_`` (``PS+IPPO`` → ``PS_IPPO``,
``SMFU-w/o-L`` → ``SMFU-w_o-L``).

Folders written by older versions, ``<artifacts>/<config hash>``, are still found: when a run has
no folder under the new name and the old one exists, the old one is used (so an interrupted
run's checkpoint is resumed there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alloc_bench.config import RunConfig

#: Hex digits of the config hash in a run folder's name.
SHORT_HASH = 8

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_part(text: str) -> str:
    """``text`` as one path component: runs of other characters than ``A-Za-z0-9._-`` as
    ``_``, without leading or trailing ``.``, ``_`` or ``-`` (never empty, ``.`` or ``..``)."""
    return _UNSAFE.sub("_", str(text)).strip("._-") or "_"


def run_folder(scenario: str, method: str, seed: int, config_hash: str) -> Path:
    """The run folder's path relative to the artifacts folder (module doc)."""
    leaf = f"seed{int(seed)}-{config_hash[:SHORT_HASH]}"
    return Path(safe_part(scenario)) / safe_part(method) / leaf


def run_dir(artifacts: str | Path, run: RunConfig | Mapping[str, Any]) -> Path:
    """The folder of ``run`` (a :class:`RunConfig`, or a store row with ``scenario``,
    ``method``, ``seed`` and ``config_hash``) under ``artifacts``: the readable name (module doc),
    or the older ``<artifacts>/<config hash>`` when only that one exists."""
    if isinstance(run, RunConfig):
        scenario, method, seed, config_hash = run.scenario, run.method, run.seed, run.config_hash
    else:
        scenario, method, seed = run["scenario"], run["method"], run["seed"]
        config_hash = run["config_hash"]
    root = Path(artifacts)
    folder = root / run_folder(scenario, method, seed, config_hash)
    legacy = root / config_hash
    if not folder.exists() and legacy.is_dir():
        return legacy
    return folder
