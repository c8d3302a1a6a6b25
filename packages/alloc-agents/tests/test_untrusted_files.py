"""Files a user loads never run code, and bad ones are a ValueError naming the file.

Each malicious file carries a pickle payload that writes a marker file when it is unpickled; a
test fails if the marker appears. The SB3 tests first show that stable-baselines3's own loaders
do run the payload (so the files are really malicious), then that ours refuse or ignore it.
"""

from __future__ import annotations

import base64
import json
import pickle
import zipfile
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

import alloc_envs  # noqa: F401  (registers the alloc/ ids)
from alloc_agents.baselines import sb3_files
from alloc_agents.ppo import checkpoint as ckpt

RH = "alloc/RideHailing-v0"
ENV_KWARGS = {"episode_steps": 12}
TINY = {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "policy_kwargs": {"net_arch": [16]}}


class Payload:
    """Unpickling this runs code: it writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


# ------------------------------------------------------------------------------ PPO checkpoints
def test_a_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": ckpt.FORMAT, "meta": Payload(marker)}, path)
    with pytest.raises(ValueError, match=r"checkpoint\.pt.*refused"):
        ckpt.load(path)
    assert not marker.exists(), "loading the checkpoint ran code"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", ": empty$"),
        (b"hello, this is text\n", "not a torch file"),
        ("truncated", "cut off or another format"),
    ],
    ids=["empty", "text", "truncated"],
)
def test_bad_checkpoints_name_the_file(tmp_path: Path, content: bytes | str, message: str) -> None:
    path = tmp_path / "checkpoint.pt"
    if content == "truncated":
        torch.save({"format": ckpt.FORMAT, "w": torch.zeros(1000)}, path)
        content = path.read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        ckpt.load(path)
    assert str(path) in str(info.value)


def test_a_foreign_torch_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="is not an alloc-agents checkpoint"):
        ckpt.load(path)


# ------------------------------------------------------------------------------ SB3 runs
@pytest.fixture(scope="module")
def sb3_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained SB3 run saved in a folder (model.zip, sb3-policy.json, vecnormalize.npz)."""
    pytest.importorskip("stable_baselines3")
    from alloc_agents.baselines.sb3 import train_sb3_ppo

    folder = tmp_path_factory.mktemp("sb3")
    train_sb3_ppo(RH, env_kwargs=ENV_KWARGS, total_timesteps=64, seed=0, log_dir=folder, **TINY)
    return folder


def _copy_run(run: Path, into: Path) -> Path:
    into.mkdir()
    for name in (sb3_files.MODEL_FILE, sb3_files.POLICY_FILE, sb3_files.NORMALIZER_FILE):
        (into / name).write_bytes((run / name).read_bytes())
    return into


def _rewrite_zip(path: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries.update(replace)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _malicious_data(marker: Path, policy_kwargs: dict) -> bytes:
    """SB3's ``data`` entry with a cloudpickled class in it (``PPO.load`` unpickles it)."""
    blob = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    data = {
        "policy_class": {":type:": "<class 'abc.ABCMeta'>", ":serialized:": blob},
        "policy_kwargs": policy_kwargs,
    }
    return json.dumps(data).encode()


def _env() -> gymnasium.Env:
    return gymnasium.make(RH, **ENV_KWARGS)


def test_sb3_ppo_load_would_run_the_crafted_zip(sb3_run: Path, tmp_path: Path) -> None:
    """The control: SB3's own loader runs the payload of the crafted ``data`` entry."""
    from stable_baselines3 import PPO

    run = _copy_run(sb3_run, tmp_path / "run")
    marker = tmp_path / "marker"
    _rewrite_zip(
        run / sb3_files.MODEL_FILE, {"data": _malicious_data(marker, TINY["policy_kwargs"])}
    )
    with pytest.raises(Exception):  # noqa: B017 - the load fails after the payload ran
        PPO.load(run / sb3_files.MODEL_FILE)
    assert marker.exists()


def test_a_malicious_sb3_zip_runs_nothing(sb3_run: Path, tmp_path: Path) -> None:
    from alloc_agents.baselines.sb3 import load_sb3_policy

    marker = tmp_path / "marker"
    # 1. a pickled payload in data, and without sb3-policy.json (the older runs' path): the
    #    payload is never decoded; the policy loads from policy.pth and the plain JSON fields
    run = _copy_run(sb3_run, tmp_path / "data")
    (run / sb3_files.POLICY_FILE).unlink()
    _rewrite_zip(
        run / sb3_files.MODEL_FILE, {"data": _malicious_data(marker, TINY["policy_kwargs"])}
    )
    policy = load_sb3_policy(run, _env())
    obs, _ = _env().reset(seed=0)
    assert _env().action_space.contains(policy.act(obs))
    assert not marker.exists(), "loading model.zip ran code from its data entry"
    # 2. policy.pth itself a pickle payload: refused, naming the file and the entry
    run = _copy_run(sb3_run, tmp_path / "weights")
    buffer = tmp_path / "evil.pth"
    torch.save({"w": Payload(marker)}, buffer)
    _rewrite_zip(run / sb3_files.MODEL_FILE, {"policy.pth": buffer.read_bytes()})
    with pytest.raises(ValueError, match=r"model\.zip \(entry policy\.pth\): refused"):
        load_sb3_policy(run, _env())
    assert not marker.exists(), "loading policy.pth ran code"


def test_a_malicious_vecnormalize_pickle_is_refused(sb3_run: Path, tmp_path: Path) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from alloc_agents.baselines.sb3 import SB3JointView, load_sb3_policy

    marker = tmp_path / "marker"
    run = _copy_run(sb3_run, tmp_path / "run")
    (run / sb3_files.NORMALIZER_FILE).unlink()
    legacy = run / sb3_files.LEGACY_NORMALIZER_FILE
    legacy.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(Exception):  # noqa: B017 - control: SB3's loader runs it, then fails
        VecNormalize.load(str(legacy), DummyVecEnv([lambda: SB3JointView(_env())]))
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match=r"vecnormalize\.pkl: a pickle.*save_normalizer"):
        load_sb3_policy(run, _env())
    assert not marker.exists(), "loading vecnormalize.pkl ran code"
    assert legacy.exists()  # the user's file is left where it was


def test_a_malicious_normalizer_npz_is_refused(sb3_run: Path, tmp_path: Path) -> None:
    from alloc_agents.baselines.sb3 import load_sb3_policy

    marker = tmp_path / "marker"
    run = _copy_run(sb3_run, tmp_path / "run")
    objects = np.empty(1, dtype=object)
    objects[0] = Payload(marker)
    with open(run / sb3_files.NORMALIZER_FILE, "wb") as fh:
        np.savez(fh, keys=objects)
    with pytest.raises(ValueError, match=r"vecnormalize\.npz: not a normaliser"):
        load_sb3_policy(run, _env())
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (sb3_files.MODEL_FILE, b"not a zip", "not a readable zip archive"),
        (sb3_files.POLICY_FILE, b"\xff\xfe{", "not a JSON file"),
        (sb3_files.POLICY_FILE, b'{"format": 7}', "not an alloc-agents SB3 policy description"),
        (sb3_files.NORMALIZER_FILE, b"", "not a normaliser .npz archive"),
    ],
    ids=["zip", "json-bytes", "json-format", "npz-empty"],
)
def test_bad_sb3_files_name_the_file(
    sb3_run: Path, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    from alloc_agents.baselines.sb3 import load_sb3_policy

    run = _copy_run(sb3_run, tmp_path / "run")
    (run / name).write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        load_sb3_policy(run, _env())
    assert name in str(info.value)


def test_sb3_weights_for_other_spaces_are_a_clear_error(sb3_run: Path) -> None:
    from alloc_agents.baselines.sb3 import load_sb3_policy

    other = gymnasium.make(RH, preset="ride-hailing-2", episode_steps=12)
    with pytest.raises(ValueError, match="do not fit this environment"):
        load_sb3_policy(sb3_run, other)


def test_policy_kwargs_that_are_not_plain_data_are_refused_before_training() -> None:
    assert sb3_files.encode_policy_kwargs(
        {"net_arch": (8, 8), "activation_fn": torch.nn.Tanh, "optimizer_class": torch.optim.SGD}
    ) == {"net_arch": [8, 8], "activation_fn": "Tanh"}
    with pytest.raises(ValueError, match=r"policy_kwargs\['features_extractor_class'\]"):
        sb3_files.encode_policy_kwargs({"features_extractor_class": object})
    with pytest.raises(ValueError, match="activation_fn"):
        sb3_files.encode_policy_kwargs({"activation_fn": print})
