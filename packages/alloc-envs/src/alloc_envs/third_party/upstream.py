"""Importing the optional upstream packages with a helpful error, and checking their versions.

The adapters subclass upstream internals (``ForagingEnv.spawn_players``, ``Warehouse.step``'s
delivery rule, ...), so they are tested against exactly the versions in :data:`TESTED_VERSIONS`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from types import ModuleType

#: Distribution name -> the version the adapters were written and tested against.
TESTED_VERSIONS: dict[str, str] = {"lbforaging": "2.0.0", "rware": "2.0.0"}


def import_upstream(module: str, distribution: str, env_id: str) -> ModuleType:
    """Import ``module`` from the optional ``distribution``.

    Raises ``ImportError`` telling how to install it when missing; warns (``UserWarning``) when
    the installed version differs from :data:`TESTED_VERSIONS`.
    """
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{env_id} needs the optional dependency {distribution}=="
            f"{TESTED_VERSIONS[distribution]}: pip install 'alloc-envs[third-party]'"
        ) from exc
    installed = importlib.metadata.version(distribution)
    if installed != TESTED_VERSIONS[distribution]:
        warnings.warn(
            f"{env_id} was tested with {distribution}=={TESTED_VERSIONS[distribution]}, "
            f"found {installed}; its adapter relies on upstream internals",
            UserWarning,
            stacklevel=2,
        )
    return mod
