"""Versions of the software a result was produced with (recorded in every result)."""

from __future__ import annotations

import platform
from importlib import metadata


def _version(distribution: str, module: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        try:
            return str(__import__(module).__version__)
        except (ImportError, AttributeError):
            return "unknown"


def package_versions() -> dict[str, str]:
    """``{"alloc_envs", "alloc_agents", "alloc_bench", "numpy", "python"}`` version strings."""
    return {
        "alloc_envs": _version("alloc-envs", "alloc_envs"),
        "alloc_agents": _version("alloc-agents", "alloc_agents"),
        "alloc_bench": _version("alloc-bench", "alloc_bench"),
        "numpy": _version("numpy", "numpy"),
        "python": platform.python_version(),
    }


def run_versions() -> dict[str, str]:
    """:func:`package_versions` plus ``torch`` where it is installed (read from the package
    metadata, without importing it)."""
    versions = package_versions()
    try:
        versions["torch"] = metadata.version("torch")
    except metadata.PackageNotFoundError:
        pass
    return versions
