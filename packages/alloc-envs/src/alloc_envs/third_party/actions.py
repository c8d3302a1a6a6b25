"""Validation of joint discrete actions (one integer per agent, agent-major)."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_joint_discrete_action(
    action: Any, n_agents: int, n_actions: int, agent_prefix: str
) -> np.ndarray:
    """The (N,) int64 joint action, or ``ValueError`` naming the problem and the agent.

    Accepts integer arrays and float arrays holding whole numbers; rejects other shapes, NaN or
    inf, non-integers, booleans and non-numeric dtypes, and values outside ``[0, n_actions)``.
    """
    try:
        arr = np.asarray(action)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"joint action must be an array of shape ({n_agents},): {exc}") from exc
    if arr.shape != (n_agents,):
        raise ValueError(
            f"joint action must have shape ({n_agents},) (one action per agent), got {arr.shape}"
        )
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise ValueError(f"action of {agent_prefix}_{i} is NaN or inf ({arr[i]})")
        whole = arr == np.round(arr)
        if not whole.all():
            i = int(np.flatnonzero(~whole)[0])
            raise ValueError(f"action of {agent_prefix}_{i} must be an integer, got {arr[i]}")
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"actions must be integers in [0, {n_actions - 1}], got dtype {arr.dtype}")
    bad = (arr < 0) | (arr >= n_actions)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"action of {agent_prefix}_{i} out of range: {arr[i]}; actions are 0 .. {n_actions - 1}"
        )
    return arr.astype(np.int64)
