"""Sizes that would exhaust memory are a ValueError stating the estimate, raised before anything
large is allocated (:mod:`alloc_envs.core.memory`). The limit is set with the environment
variable so that the tests do not depend on the machine's memory."""

from __future__ import annotations

import gymnasium
import pytest

import alloc_envs  # noqa: F401  (registers the alloc/ ids)
from alloc_envs.core.memory import LIMIT_VARIABLE, check_memory, memory_limit_bytes
from alloc_envs.stackelberg.population import BYTES_PER_FOLLOWER


@pytest.fixture
def one_gib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMIT_VARIABLE, "1")


def test_ride_hailing_too_large_for_memory_names_the_fields_and_the_estimate(one_gib) -> None:
    with pytest.raises(
        ValueError,
        match=r"RideHailing with rows x cols = 64 x 64, episode_steps = 100000, base_rate_high "
        r"= 9 needs about 3\d\d\.\d GiB of memory, more than the 1\.0 GiB of "
        r"\$ALLOC_ENVS_MEMORY_LIMIT_GB",
    ):
        gymnasium.make("alloc/RideHailing-v0", rows=64, cols=64, episode_steps=100_000)
    gymnasium.make("alloc/RideHailing-v0", preset="ride-hailing-2").reset(seed=0)  # fits


@pytest.mark.parametrize("env_id", ["alloc/EDRP-v0", "alloc/MTFG-v0"])
def test_a_population_too_large_for_memory_is_refused(one_gib, env_id: str) -> None:
    n = (1 << 30) // BYTES_PER_FOLLOWER + 1
    with pytest.raises(ValueError, match=rf"Population with n_followers = {n:,} needs about 1\.0"):
        gymnasium.make(env_id, n_followers=n)
    with pytest.raises(ValueError, match=r"n_followers = 100,000,000 needs about 10\.4 GiB"):
        gymnasium.make(env_id, n_followers=10**8)


def test_the_limit_comes_from_the_variable_or_the_machine(monkeypatch) -> None:
    monkeypatch.setenv(LIMIT_VARIABLE, "0.5")
    assert memory_limit_bytes() == (1 << 29, f"${LIMIT_VARIABLE}")
    check_memory("thing", 1 << 28, "size = 1")
    monkeypatch.setenv(LIMIT_VARIABLE, "lots")
    with pytest.raises(ValueError, match=r"must be a positive number of GiB, got 'lots'"):
        memory_limit_bytes()
    monkeypatch.delenv(LIMIT_VARIABLE)
    limit, source = memory_limit_bytes()
    assert limit > 0 and source in ("available memory", "physical memory", "default limit")
