"""The files of a trained SB3 baseline, written and read without pickle.

stable-baselines3's own loaders unpickle: ``PPO.load`` runs ``cloudpickle.loads`` on parts of the
zip's ``data`` entry and ``VecNormalize.load`` is ``pickle.load``, so a crafted file runs code
when it is loaded. :func:`load_policy` and :func:`load_normalizer` read plain data only:

* ``model.zip`` (SB3's ``model.save``, kept so that SB3 users can continue training from it):
  only its ``policy.pth`` entry is read, the policy's ``state_dict`` (tensors), with
  ``torch.load(weights_only=True)``; the ``data`` entry is never unpickled;
* ``sb3-policy.json`` (:data:`POLICY_FILE`): what rebuilds the policy object that the weights go
  into — ``{"format": 1, "use_sde": bool, "policy_kwargs": {...}}``. ``policy_kwargs`` holds plain
  JSON values; an activation function is stored by its ``torch.nn`` class name
  (``{"activation_fn": "ReLU"}``); the optimizer's settings are left out (acting needs no
  optimizer). Runs saved before this file existed are read from the plain-JSON
  ``policy_kwargs`` and ``use_sde`` fields of the zip's ``data`` entry (never its
  ``:serialized:`` fields);
* ``vecnormalize.npz`` (:data:`NORMALIZER_FILE`): the frozen observation statistics of
  ``VecNormalize`` as arrays, read with ``numpy.load(allow_pickle=False)``: ``keys`` (the
  normalised keys of a Dict observation; empty for a lone Box), ``mean_<i>`` / ``var_<i>``
  (float64, the shape of key ``i``'s flat observation), ``clip_obs`` and ``epsilon``.

Every problem with a file is a ``ValueError`` naming it. A pickled ``vecnormalize.pkl`` of an
older run is refused (it is not deleted): if you trust it, convert it once with
:func:`save_normalizer` (see the error message).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

#: Files :func:`alloc_agents.baselines.sb3.train_sb3_ppo` writes to ``log_dir``.
MODEL_FILE = "model.zip"
POLICY_FILE = "sb3-policy.json"
NORMALIZER_FILE = "vecnormalize.npz"
#: The pickled statistics older versions wrote; refused by :func:`load_normalizer`.
LEGACY_NORMALIZER_FILE = "vecnormalize.pkl"
_FORMAT = 1
#: ``policy_kwargs`` entries that only configure the optimizer: not needed to act.
_OPTIMIZER_KEYS = ("optimizer_class", "optimizer_kwargs")


# ---------------------------------------------------------------------------------- policy
def encode_policy_kwargs(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``policy_kwargs`` as plain JSON values (module doc); ``ValueError`` naming an entry that
    has no plain form (it could not be rebuilt without unpickling)."""
    import torch

    out: dict[str, Any] = {}
    for key, value in policy_kwargs.items():
        if key in _OPTIMIZER_KEYS:
            continue
        if key == "activation_fn":
            if (
                not (isinstance(value, type) and issubclass(value, torch.nn.Module))
                or getattr(torch.nn, value.__name__, None) is not value
            ):
                raise ValueError(
                    f"policy_kwargs['activation_fn'] must be a torch.nn class such as "
                    f"torch.nn.ReLU, got {value!r}"
                )
            out[key] = value.__name__
            continue
        try:
            out[key] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            raise ValueError(
                f"policy_kwargs[{key!r}] = {value!r} is not plain data (numbers, strings, lists, "
                "dicts), so the saved policy could not be rebuilt without unpickling; leave it "
                "out or train without log_dir"
            ) from None
    return out


def decode_policy_kwargs(encoded: dict[str, Any], source: str) -> dict[str, Any]:
    """Inverse of :func:`encode_policy_kwargs`; ``ValueError`` naming ``source``."""
    import torch

    out = dict(encoded)
    if "activation_fn" in out:
        name = out["activation_fn"]
        cls = getattr(torch.nn, name, None) if isinstance(name, str) else None
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise ValueError(f"{source}: activation_fn {name!r} is not a torch.nn class")
        out["activation_fn"] = cls
    return out


def save_policy_meta(log_dir: Path, policy_kwargs: dict[str, Any], use_sde: bool) -> Path:
    """Write :data:`POLICY_FILE` (module doc) into ``log_dir``."""
    path = log_dir / POLICY_FILE
    meta = {"format": _FORMAT, "use_sde": bool(use_sde), "policy_kwargs": policy_kwargs}
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None


def _legacy_meta(model_path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    """``use_sde`` and ``policy_kwargs`` from the plain-JSON fields of SB3's ``data`` entry."""
    try:
        data = json.loads(archive.read("data").decode("utf-8"))
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{model_path}: no {POLICY_FILE} beside it and no readable SB3 'data' entry ({exc})"
        ) from None
    kwargs = data.get("policy_kwargs", {}) if isinstance(data, dict) else None
    if not isinstance(kwargs, dict) or ":serialized:" in kwargs:
        raise ValueError(
            f"{model_path}: no {POLICY_FILE} beside it, and its policy_kwargs are pickled "
            "(alloc-agents does not unpickle files); re-train with this version of alloc-agents"
        )
    return {"format": _FORMAT, "use_sde": bool(data.get("use_sde", False)), "policy_kwargs": kwargs}


def _policy_meta(log_dir: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    path = log_dir / POLICY_FILE
    meta = _read_json(path) if path.exists() else _legacy_meta(log_dir / MODEL_FILE, archive)
    if (
        not isinstance(meta, dict)
        or meta.get("format") != _FORMAT
        or not isinstance(meta.get("policy_kwargs"), dict)
    ):
        raise ValueError(f"{path}: not an alloc-agents SB3 policy description (format {_FORMAT})")
    return meta


def _read_state_dict(path: Path, archive: zipfile.ZipFile, device: str) -> dict[str, Any]:
    import torch

    from alloc_agents.ppo.checkpoint import read_tensors

    try:
        raw = archive.read("policy.pth")
    except KeyError:
        raise ValueError(f"{path}: no policy.pth entry (not an SB3 model.zip)") from None
    state = read_tensors(io.BytesIO(raw), f"{path} (entry policy.pth)", device)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: policy.pth does not hold a state_dict of tensors")
    return state


def load_policy(log_dir: Path, joint: Any, device: str = "cpu") -> Any:
    """The SB3 policy saved in ``log_dir`` for the flat spaces of ``joint``
    (:class:`~alloc_agents.baselines.sb3.JointSpaces`), in evaluation mode on ``device``.

    Raises:
        ValueError: a missing or malformed file (named), or weights that do not fit the spaces.
        FileNotFoundError: no ``model.zip`` in ``log_dir``.
    """
    from alloc_agents.baselines._sb3_policies import policy_class

    model_path = log_dir / MODEL_FILE
    if not model_path.is_file():
        raise FileNotFoundError(f"no {MODEL_FILE} in {str(log_dir)!r}")
    try:
        with zipfile.ZipFile(model_path) as archive:
            meta = _policy_meta(log_dir, archive)
            state = _read_state_dict(model_path, archive, device)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{model_path}: not a readable zip archive ({exc})") from None
    kwargs = decode_policy_kwargs(meta["policy_kwargs"], str(log_dir / POLICY_FILE))
    policy = policy_class(joint.dict_observation)(
        joint.observation_space,
        joint.action_space,
        lambda _: 0.0,  # learning-rate schedule: acting needs no optimizer step
        use_sde=bool(meta.get("use_sde", False)),
        **kwargs,
    )
    try:
        policy.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"{model_path}: its weights do not fit this environment's spaces or the saved "
            f"policy_kwargs ({str(exc).splitlines()[0]})"
        ) from None
    policy.set_training_mode(False)
    return policy.to(device)


# ---------------------------------------------------------------------------------- normaliser
class ObservationNormalizer:
    """``VecNormalize``'s frozen observation normalisation: ``clip((obs - mean) / sqrt(var +
    epsilon), -clip_obs, clip_obs)`` as float32, per normalised key of a Dict observation (other
    keys pass through), or on the whole observation.

    Args:
        stats: ``{key: (mean, var)}`` float64 arrays of the flat observation's shape; the key
            ``None`` (alone) for a non-Dict observation.
        clip_obs: clipping bound (normalised units).
        epsilon: added to the variance.
    """

    def __init__(
        self,
        stats: dict[str | None, tuple[np.ndarray, np.ndarray]],
        clip_obs: float,
        epsilon: float,
    ) -> None:
        self.stats = stats
        self.clip_obs = float(clip_obs)
        self.epsilon = float(epsilon)

    @classmethod
    def from_vec_normalize(cls, normalizer: Any) -> ObservationNormalizer:
        """The frozen statistics of an SB3 ``VecNormalize``."""
        rms = normalizer.obs_rms
        if isinstance(rms, dict):
            keys = normalizer.norm_obs_keys or list(rms)
            stats: dict[str | None, tuple[np.ndarray, np.ndarray]] = {
                k: (np.array(rms[k].mean), np.array(rms[k].var)) for k in keys
            }
        else:
            stats = {None: (np.array(rms.mean), np.array(rms.var))}
        return cls(stats, normalizer.clip_obs, normalizer.epsilon)

    def _apply(self, obs: Any, key: str | None) -> np.ndarray:
        mean, var = self.stats[key]
        scaled = (obs - mean) / np.sqrt(var + self.epsilon)
        return np.clip(scaled, -self.clip_obs, self.clip_obs).astype(np.float32)

    def normalize_obs(self, obs: Any) -> Any:
        """The normalised copy of a flat observation (a dict of arrays or one array)."""
        if None in self.stats:
            return self._apply(obs, None)
        out = dict(obs)
        for key in self.stats:
            out[key] = self._apply(obs[key], key)
        return out


def save_normalizer(normalizer: ObservationNormalizer | Any, log_dir: str | Path) -> Path:
    """Write the observation statistics of ``normalizer`` (an :class:`ObservationNormalizer` or
    an SB3 ``VecNormalize``) to ``<log_dir>/vecnormalize.npz`` (module doc); returns the path.

    To convert the pickled ``vecnormalize.pkl`` of an older run *that you trust*::

        VecNormalize.load("run/vecnormalize.pkl", venv)  # unpickles: only for your own files
        save_normalizer(that_normalizer, "run")
    """
    if not isinstance(normalizer, ObservationNormalizer):
        normalizer = ObservationNormalizer.from_vec_normalize(normalizer)
    keys = [k for k in normalizer.stats if k is not None]
    arrays: dict[str, np.ndarray] = {
        "keys": np.array(keys, dtype=np.str_),
        "clip_obs": np.float64(normalizer.clip_obs),
        "epsilon": np.float64(normalizer.epsilon),
    }
    for i, (mean, var) in enumerate(normalizer.stats.values()):
        arrays[f"mean_{i}"] = np.asarray(mean, dtype=np.float64)
        arrays[f"var_{i}"] = np.asarray(var, dtype=np.float64)
    path = Path(log_dir) / NORMALIZER_FILE
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def load_normalizer(log_dir: Path, joint: Any) -> ObservationNormalizer | None:
    """The statistics saved in ``log_dir`` (``None`` when the run saved none), checked against
    the flat observation space of ``joint``; ``ValueError`` naming the file otherwise."""
    path = log_dir / NORMALIZER_FILE
    legacy = log_dir / LEGACY_NORMALIZER_FILE
    if not path.exists():
        if legacy.exists():
            raise ValueError(
                f"{legacy}: a pickle, which alloc-agents does not load (loading a pickle can run "
                f"code). If you trust it, convert it once: normalizer = VecNormalize.load(path, "
                f"venv); alloc_agents.baselines.sb3_files.save_normalizer(normalizer, "
                f"{str(log_dir)!r})"
            )
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a normaliser .npz archive ({exc})") from None
    try:
        keys = [str(k) for k in data["keys"]]
        names: list[str | None] = keys if keys else [None]
        stats = {k: (data[f"mean_{i}"], data[f"var_{i}"]) for i, k in enumerate(names)}
        clip_obs, epsilon = float(data["clip_obs"]), float(data["epsilon"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a normaliser archive (missing or bad {exc})") from None
    space = joint.observation_space
    for key, (mean, var) in stats.items():
        if key is None:
            sub = None if joint.dict_observation else space
        else:
            sub = space.spaces.get(key) if joint.dict_observation else None
        if sub is None or mean.shape != sub.shape or var.shape != sub.shape:
            raise ValueError(
                f"{path}: statistics of {key or 'the observation'!r} do not fit this "
                "environment's observation space"
            )
        if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all()):
            raise ValueError(f"{path}: statistics of {key or 'the observation'!r} are not finite")
    return ObservationNormalizer(stats, clip_obs, epsilon)
