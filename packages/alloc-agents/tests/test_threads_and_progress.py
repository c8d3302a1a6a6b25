"""One torch thread unless asked (every trainer), and progress that shows also when stderr is not
a terminal: a tqdm bar on a terminal, plain lines with steps, rate and ETA otherwise."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from alloc_agents import PPOConfig, train
from alloc_agents.ppo.logger import Progress
from alloc_agents.threads import set_threads
from alloc_envs.ride_hailing import RideHailingParallelEnv

EXE = shutil.which("alloc-agents") or str(Path(sys.executable).parent / "alloc-agents")
TINY = PPOConfig(n_steps=4, n_epochs=1, n_minibatches=1, hidden_sizes=(8,))
#: A plain progress line: steps done/total, the rate and the ETA.
LINE = re.compile(r"^train: [\d,]+/[\d,]+ env steps \(\d+%\), (\?|[\d,]+) steps/s, .*ETA \S+")


def tiny_env() -> RideHailingParallelEnv:
    return RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=4)


@pytest.fixture
def restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def test_training_uses_one_thread_unless_asked(restore_threads: None) -> None:
    torch.set_num_threads(2)  # e.g. torch's default on a multi-core machine
    train(tiny_env, total_env_steps=4, n_envs=1, config=TINY, device="cpu", progress=False)
    assert torch.get_num_threads() == 1
    train(tiny_env, total_env_steps=4, n_envs=1, config=TINY, device="cpu", progress=False,
          threads=2)  # fmt: skip
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads"):
        train(tiny_env, total_env_steps=4, n_envs=1, config=TINY, threads=0)


def test_the_other_entry_points_use_one_thread_unless_asked(restore_threads: None) -> None:
    from alloc_agents.cli import _build_parser
    from alloc_agents.stackelberg import make_trainer
    from alloc_envs.edrp import make_game

    assert _build_parser().parse_args(["train", "--env", "x"]).threads is None  # -> one
    torch.set_num_threads(2)
    make_trainer("smfu", make_game("edrp-small"), iterations=0, progress=False, device="cpu")
    assert torch.get_num_threads() == 1
    make_trainer(
        "smfu", make_game("edrp-small"), iterations=0, progress=False, device="cpu", threads=2
    )
    assert torch.get_num_threads() == 2
    assert set_threads(None) == 1 and torch.get_num_threads() == 1


def run_cli(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``alloc-agents train`` on a tiny budget, stdout and stderr piped (not a terminal)."""
    return subprocess.run(
        [EXE, "train", "--env", "alloc/RideHailing-v0", "--preset", "ride-hailing-1",
         "--steps", "12", "--n-envs", "1", "--device", "cpu", "--env-arg", "episode_steps=4",
         "--set", "n_steps=4", "--set", "n_epochs=1", "--set", "hidden_sizes=(8,)",
         "--log-dir", str(tmp_path / "run"), *extra],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def test_progress_lines_with_rate_and_eta_when_not_a_terminal(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--progress-interval", "0")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("train: ")]
    assert all(LINE.match(line) for line in lines), lines
    # The first line at the start; with a 0 s interval one per iteration (3), the last at 100%.
    assert lines[0].startswith("train: 0/12 env steps (0%), ? steps/s")
    assert len(lines) == 4, lines
    assert lines[-1].startswith("train: 12/12 env steps (100%), ") and "ETA 00:00" in lines[-1]
    assert re.search(r", [\d,]+ steps/s, ", lines[-1]) and "\r" not in result.stderr
    assert '"env_steps": 12' in result.stdout  # the summary on stdout, the progress on stderr


def test_no_progress_prints_none(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    result = run_cli(tmp_path, "--no-progress", "--progress-interval", "0")
    assert result.returncode == 0, result.stderr
    assert "train: " not in result.stderr and "steps/s" not in result.stderr
    train(tiny_env, total_env_steps=8, n_envs=1, config=TINY, progress=False,
          progress_interval=0)  # fmt: skip
    assert "steps/s" not in capfd.readouterr().err
    train(tiny_env, total_env_steps=8, n_envs=1, config=TINY, progress_interval=0)
    assert "train: 8/8 env steps (100%)" in capfd.readouterr().err  # the default: progress


def test_plain_lines_every_interval_and_a_tqdm_bar_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("alloc_agents.ppo.logger.time.monotonic", lambda: clock[0])
    stream = io.StringIO()
    progress = Progress(1000, stream=stream, interval_s=30)
    for done, dt in ((100, 10), (200, 10), (300, 11), (400, 5)):
        clock[0] += dt
        progress.update(done, **{"return": 1.5})
    progress.close()
    lines = stream.getvalue().splitlines()
    # At the start, after 31 s (not after 10 or 20 s), and at the end.
    assert [line.split(" env steps")[0] for line in lines] == [
        "train: 0/1,000", "train: 300/1,000", "train: 400/1,000",
    ]  # fmt: skip
    assert lines[1] == (
        "train: 300/1,000 env steps (30%), 10 steps/s, elapsed 00:31, ETA 01:12, return 1.5"
    )

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    bar = Progress(1000, stream=tty, desc="train")
    bar.update(250, **{"return": 2.0})
    bar.close()
    text = tty.getvalue()
    assert "\r" in text and "250/1" in text and "steps/s" in text and "return 2" in text
