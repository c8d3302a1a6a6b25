"""Checkpoint files: tensors and plain containers only, loadable with
``torch.load(path, weights_only=True)``.

Contents (``format`` 1): ``meta`` (algorithm, sharing, config dict, seed, n_envs, agent ids,
centralised input width), ``model`` and ``optimizer`` state dicts (the value normalisers'
statistics are buffers of the model), ``counters`` (iteration, env/agent steps, episodes,
elapsed seconds), ``rng`` (torch CPU and CUDA states, numpy's global state), ``runner`` (each
env copy's episode counter, return accumulators and the actions of its current episode, replayed
on resume) and ``history`` (the logged rows). QMIX's checkpoints are files of the same format
with their own contents (:mod:`alloc_agents.qmix.trainer`; ``meta["algorithm"] == "qmix"``).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: missing, empty, truncated, not a torch file, refused
    (it holds more than tensors and plain data), another format, or another run's (its config,
    seed, environment or method differ). Callers that own the file may set it aside and start
    over (``alloc-bench`` does)."""


def rng_state() -> dict[str, Any]:
    """torch (CPU, CUDA) and numpy global generator states as tensors / plain values.

    alloc-agents draws from no global numpy state itself; third-party envs (and user code in
    ``env_fn``) may, so it is seeded and checkpointed too.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (see above)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": str(kind),
            "keys": torch.as_tensor(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            np_state["kind"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached"],
        )
    )


def run_paths(
    log_dir: str | Path | None, checkpoint: str | Path | None, resume: bool
) -> tuple[Path | None, Path | None]:
    """A trainer's ``(log folder, checkpoint path)``: ``checkpoint`` when given, else
    ``<log_dir>/checkpoint.pt`` when ``log_dir`` is, else no checkpoint; ``ValueError`` when
    ``resume`` has no checkpoint to resume from."""
    log_path = None if log_dir is None else Path(log_dir)
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is None and log_path is not None:
        ckpt_path = log_path / "checkpoint.pt"
    if resume and ckpt_path is None:
        raise ValueError("resume=True needs checkpoint (or log_dir)")
    return log_path, ckpt_path


def save(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def read_tensors(source: str | Path | BinaryIO, name: str, device: str = "cpu") -> Any:
    """``torch.load(source, weights_only=True)`` onto ``device``: tensors and plain containers
    only, so no file can run code. ``name`` (the file, or the file and entry) is named in the
    ``ValueError`` for an empty, truncated, non-torch or refused file (``torch.save`` writes a
    zip archive: anything else is not one of its files)."""
    if not zipfile.is_zipfile(source):
        empty = _size(source) == 0
        raise ValueError(
            f"{name}: empty"
            if empty
            else f"{name}: not a torch file (torch.save writes a zip "
            "archive; this one is cut off or another format)"
        )
    if not isinstance(source, str | Path):
        source.seek(0)
    try:
        return torch.load(source, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise ValueError(
                f"{name}: refused: it holds objects other than tensors and plain containers, "
                "which could run code when loaded (torch.load weights_only=True)"
            ) from None
        raise ValueError(f"{name}: not a torch file ({_first_line(exc)})") from None
    except (RuntimeError, EOFError) as exc:
        raise ValueError(f"{name}: truncated or damaged ({_first_line(exc)})") from None
    except (KeyError, ValueError, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"{name}: not a torch file ({type(exc).__name__}: {exc})") from None


def _size(source: str | Path | BinaryIO) -> int:
    """Bytes in a path or a seekable file object."""
    if isinstance(source, str | Path):
        return Path(source).stat().st_size
    return source.seek(0, os.SEEK_END)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` onto the CPU; :class:`CheckpointError` (a
    ``ValueError``) naming the file when it is missing, empty, truncated, foreign or holds
    anything but tensors and plain data."""
    if not Path(path).exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        data = read_tensors(path, f"checkpoint {str(path)!r}")
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not an alloc-agents checkpoint (format {FORMAT})")
    return data
