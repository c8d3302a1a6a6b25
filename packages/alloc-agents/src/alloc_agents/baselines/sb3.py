"""stable-baselines3 PPO on the Gymnasium joint view: the single-controller baseline.

One SB3 PPO policy acts for every agent at once through the Gymnasium view of an ``alloc``
environment (``gymnasium.make("alloc/RideHailing-v0")``): its observation is the whole joint,
agent-major observation and its action the whole joint action. SB3 accepts flat spaces only
(its MultiCategorical needs a 1-D ``MultiDiscrete``), so it trains on
:class:`alloc_envs.wrappers.FlatJointView` (numpy only; ``SB3JointView`` here is the same
class), whose :class:`~alloc_envs.wrappers.JointSpaces` flattens every observation key and the
action (``MultiDiscrete`` (N, K) -> N * K components; a bounded ``Box`` -> ``Box(-1, 1)``,
rescaled back to the env's bounds).

:func:`train_sb3_ppo` trains ``stable_baselines3.PPO`` on it (``MultiInputPolicy`` for dict
observations) with running observation and reward normalisation (``VecNormalize``: the joint
views hold raw counts and prices), and returns the model and a :class:`SB3Policy` — the
:class:`alloc_agents.Policy` interface, so ``alloc-bench`` can evaluate it on the Gymnasium view
like any rule-based policy. When every component of a ``MultiDiscrete`` action has the same size
(every ``alloc`` joint view), the policy uses :class:`~._sb3_policies.UniformMultiCategorical`, the
same distribution as SB3's MultiCategorical (independent categoricals) evaluated as one
log-softmax over (components, choices) instead of one ``Categorical`` object per component
(1,800 of them for Ride-Hailing (1) dispatch).

A trained run is saved as SB3's ``model.zip`` plus plain-data files, and
:func:`load_sb3_policy` reads it without unpickling anything (:mod:`.sb3_files`).

stable-baselines3 is an optional dependency: ``pip install alloc-agents[sb3]``. This module
imports it only inside :func:`train_sb3_ppo`, :func:`load_sb3_policy` and
:meth:`SB3Policy.act`, raising an ``ImportError`` that names the extra when it is missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from alloc_agents.baselines import sb3_files
from alloc_agents.policy import BatchObservation, Policy
from alloc_agents.threads import set_threads
from alloc_envs.wrappers import FlatJointView, JointSpaces

__all__ = [
    "JointSpaces",
    "SB3JointView",
    "SB3Policy",
    "check_finite",
    "joint_action_size",
    "load_sb3_policy",
    "require_sb3",
    "train_sb3_ppo",
]

_INSTALL_HINT = (
    "stable-baselines3 is not installed; the SB3 baseline needs the optional extra: "
    "pip install 'alloc-agents[sb3]'"
)


def require_sb3() -> Any:
    """The ``stable_baselines3`` module, or an ``ImportError`` naming the extra to install."""
    try:
        import stable_baselines3
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return stable_baselines3


#: The wrapper this baseline trains on (the flat spaces of :class:`JointSpaces`); it lives in
#: ``alloc_envs.wrappers`` (numpy only) as ``FlatJointView``.
SB3JointView = FlatJointView


# ---------------------------------------------------------------------------------- policy
class SB3Policy(Policy):
    """A trained SB3 policy behind :class:`alloc_agents.Policy`, acting on the joint view.

    ``policy``: the ``stable_baselines3`` policy (``model.policy``); ``joint``: the
    :class:`JointSpaces` of the view it was trained on; ``normalizer``: the frozen observation
    statistics (:class:`~.sb3_files.ObservationNormalizer`; ``None``: observations as they are).

    :meth:`act` takes the Gymnasium view's joint observation (agent-major arrays, every agent)
    and returns its joint action; :meth:`~alloc_agents.Policy.act_parallel` stacks a PettingZoo
    observation dict of *all* agents (in ``possible_agents`` order) into that form.
    ``deterministic=True`` takes the mode of every action component; ``False`` samples with a
    torch generator seeded from the policy's ``rng`` (reproducible after ``reset(seed)``; the
    global torch generator is left as it was).
    """

    name = "sb3-ppo"

    def __init__(
        self,
        policy: Any,
        joint: JointSpaces,
        normalizer: sb3_files.ObservationNormalizer | None = None,
        deterministic: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.policy = policy
        self.joint = joint
        self.normalizer = normalizer
        self.deterministic = deterministic

    def act(self, observation: BatchObservation) -> np.ndarray:
        import torch

        flat = self.joint.observation(observation)
        if self.normalizer is not None:
            flat = self.normalizer.normalize_obs(flat)
        if self.deterministic:
            action, _ = self.policy.predict(flat, deterministic=True)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(self.rng.integers(2**63)))
                action, _ = self.policy.predict(flat, deterministic=False)
        return np.asarray(self.joint.action(action))


# ---------------------------------------------------------------------------------- training
def _make_env(env_id: str | Callable[[], gymnasium.Env], env_kwargs: dict[str, Any]):
    if callable(env_id):
        return env_id(**env_kwargs)
    if not isinstance(env_id, str):
        raise ValueError(f"env_id must be a Gymnasium id or a callable, got {env_id!r}")
    try:
        import alloc_envs  # noqa: F401  (registers the alloc/ ids)
    except ImportError:
        pass
    if env_id not in gymnasium.registry and ":" not in env_id:
        raise ValueError(f"unknown Gymnasium id {env_id!r}")
    return gymnasium.make(env_id, **env_kwargs)


def _metric_keys(env: gymnasium.Env) -> tuple[str, ...]:
    """Numeric scalar keys of the first ``info`` (logged per episode by SB3's ``Monitor``)."""
    _, info = env.reset(seed=0)
    return tuple(
        k
        for k, v in info.items()
        if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
    )


def train_sb3_ppo(
    env_id: str | Callable[..., gymnasium.Env],
    *,
    env_kwargs: dict[str, Any] | None = None,
    total_timesteps: int,
    seed: int = 0,
    device: str = "cpu",
    log_dir: str | Path | None = None,
    n_envs: int = 1,
    normalize: bool = True,
    threads: int | None = None,
    **ppo_kwargs: Any,
) -> tuple[Any, SB3Policy]:
    """Train stable-baselines3 PPO on the Gymnasium joint view of ``env_id``.

    Args:
        env_id: a Gymnasium id (``alloc/...`` ids are registered by importing ``alloc_envs``,
            done here) or a callable returning the joint-view env (called with ``env_kwargs``).
        env_kwargs: keyword arguments of the env (e.g. ``{"preset": "ride-hailing-1"}``).
        total_timesteps: env steps, summed over the ``n_envs`` copies (SB3 rounds up to whole
            rollouts of ``n_steps * n_envs``).
        seed: seeds python, numpy and torch (SB3's ``set_random_seed``), the action space and
            the first reset of copy ``i`` (``seed + i``); later episodes continue the env's
            generator, so a run is a function of its seed (on CPU).
        device: ``"cpu"`` (SB3's advice for MLP policies), ``"cuda"`` or ``"auto"``.
        log_dir: if given: SB3's ``progress.csv``, ``monitor_<i>.monitor.csv`` (per episode:
            return, length and the env's scalar ``info`` metrics, e.g. ``gmv``), and the
            trained ``model.zip``, ``sb3-policy.json`` and ``vecnormalize.npz``
            (:func:`load_sb3_policy`; :mod:`.sb3_files`).
        n_envs: env copies (SB3 ``DummyVecEnv``, stepped in one process).
        normalize: wrap in ``VecNormalize`` (running mean / std of every observation key and of
            the discounted return, clipped at 10); the policy applies the frozen statistics.
        threads: torch CPU threads (process-wide); ``None`` (the default): one
            (:mod:`alloc_agents.threads`). Ask for more with ``threads=N``.
        **ppo_kwargs: ``stable_baselines3.PPO`` arguments (``n_steps``, ``batch_size``,
            ``learning_rate``, ``gamma``, ``policy_kwargs``, ...); SB3's defaults otherwise.
            With ``log_dir``, ``policy_kwargs`` must be plain data (an ``activation_fn`` from
            ``torch.nn`` is fine), checked before training.

    Returns:
        ``(model, policy)``: the ``stable_baselines3.PPO`` model and a deterministic
        :class:`SB3Policy` for the joint view.
    """
    sb3 = require_sb3()
    from stable_baselines3.common.logger import Logger, configure
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from alloc_agents.baselines._sb3_policies import policy_class

    env_kwargs = dict(env_kwargs or {})
    if isinstance(total_timesteps, bool) or not isinstance(total_timesteps, int):
        raise ValueError(f"total_timesteps must be a positive integer, got {total_timesteps!r}")
    if total_timesteps < 1:
        raise ValueError(f"total_timesteps must be a positive integer, got {total_timesteps!r}")
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    if device not in ("cpu", "cuda", "auto") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    set_threads(threads)
    policy_meta = sb3_files.encode_policy_kwargs(dict(ppo_kwargs.get("policy_kwargs") or {}))
    probe = _make_env(env_id, env_kwargs)
    joint = JointSpaces(probe.observation_space, probe.action_space)
    info_keys = _metric_keys(probe)
    probe.close()
    log_path = None if log_dir is None else Path(log_dir)
    if log_path is not None:
        log_path.mkdir(parents=True, exist_ok=True)

    def factory(i: int) -> Callable[[], gymnasium.Env]:
        def make() -> gymnasium.Env:
            env = SB3JointView(_make_env(env_id, env_kwargs))
            filename = None if log_path is None else str(log_path / f"monitor_{i}")
            return Monitor(env, filename=filename, info_keywords=info_keys)

        return make

    venv: Any = DummyVecEnv([factory(i) for i in range(n_envs)])
    if normalize:
        venv = VecNormalize(venv, gamma=float(ppo_kwargs.get("gamma", 0.99)))
    model = sb3.PPO(
        policy_class(joint.dict_observation),
        venv,
        seed=seed,
        device=device,
        verbose=0,
        **ppo_kwargs,
    )
    # Without a log_dir, a logger with no outputs: SB3's default one makes an empty
    # SB3-<date> folder in the temp directory on every learn().
    logger = Logger(None, []) if log_path is None else configure(str(log_path), ["csv"])
    model.set_logger(logger)
    model.learn(total_timesteps=total_timesteps)
    check_finite(model)
    normalizer = None
    if normalize:
        normalizer = sb3_files.ObservationNormalizer.from_vec_normalize(
            model.get_vec_normalize_env()
        )
    if log_path is not None:
        model.save(log_path / sb3_files.MODEL_FILE)
        sb3_files.save_policy_meta(log_path, policy_meta, bool(ppo_kwargs.get("use_sde", False)))
        if normalizer is not None:
            sb3_files.save_normalizer(normalizer, log_path)
    return model, SB3Policy(model.policy, joint, normalizer)


def check_finite(model: Any) -> None:
    """``RuntimeError`` if training left non-finite parameters in ``model``'s policy.

    PPO's probability ratio of a joint action is the product of the ratios of its components
    (1,800 for Ride-Hailing (1) dispatch), so a small step on every logit can overflow it; SB3
    then turns the infinite loss into NaN weights, whose policy would act as if untrained (the
    argmax of NaN logits) without any error.
    """
    bad = [name for name, p in model.policy.named_parameters() if not bool(p.isfinite().all())]
    if bad:
        raise RuntimeError(
            f"SB3 PPO diverged: non-finite parameters ({', '.join(bad[:3])}) after "
            f"{model.num_timesteps} steps. With a large joint action the PPO ratio overflows; "
            "lower learning_rate (e.g. 3e-5) or n_epochs."
        )


def load_sb3_policy(
    log_dir: str | Path,
    env: gymnasium.Env,
    deterministic: bool = True,
    seed: int | None = None,
    device: str = "cpu",
) -> SB3Policy:
    """The :class:`SB3Policy` saved by :func:`train_sb3_ppo` in ``log_dir``, for the joint-view
    ``env`` it was trained on (its spaces give the conversions and rebuild the policy).

    Nothing from the files is unpickled (:mod:`.sb3_files`): the weights are read with
    ``torch.load(weights_only=True)`` and the statistics with ``numpy.load(allow_pickle=False)``.

    Raises:
        ValueError: a malformed, foreign or pickled file (named), or weights that do not fit
            ``env``'s spaces.
    """
    require_sb3()
    path = Path(log_dir)
    joint = JointSpaces(env.observation_space, env.action_space)
    policy = sb3_files.load_policy(path, joint, device)
    normalizer = sb3_files.load_normalizer(path, joint)
    return SB3Policy(policy, joint, normalizer, deterministic=deterministic, seed=seed)


def joint_action_size(env: gymnasium.Env) -> int:
    """Number of outputs of SB3's action head on ``env``'s joint view (logits, or means for a
    Box): what makes a joint view too large for one controller."""
    space = JointSpaces(env.observation_space, env.action_space).action_space
    if isinstance(space, spaces.MultiDiscrete):
        return int(space.nvec.sum())
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    return int(math.prod(space.shape))
