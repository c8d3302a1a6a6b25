"""Rule-based vaccine allocators (research note A.5: Hao et al. 2022's baselines and Chen et al.'s
elder-first flooding) for ``alloc/VaccineAllocation-v0``.

They read only the agent-major observation ((N, F) rows of ``observation``, columns as in
``alloc_envs.vaccine.observation``; no hidden state) and return an (N, 1) float32 action in
[-1, 1]. The environment weighs region i by ``exp(logit_scale * (a_i - 1))`` and switches it off
at ``a_i = -1``; doses go in proportion to the weights, capped by each region's remaining
capacity (the overflow goes to the other regions switched on). Each rule therefore computes a
target share s_i >= 0 and maps it to ``a_i = 1 + ln(s_i / max s) / logit_scale``, clipped to
[-1, 1]: the largest share gets 1, a zero share gets -1 (off), and shares below
``exp(-2 logit_scale)`` times the largest (2e-9 at the default 10) are dropped.

* ``none``: every region off (a = -1): no doses at all (the no-vaccination baseline).
* ``random``: shares from a flat Dirichlet (i.i.d. exponentials), new ones every day.
* ``population``: shares proportional to the population N_i.
* ``new-cases``: proportional to the last day's new confirmed cases (per-1,000 rate x N_i), as
  Hao et al. 2022; population shares on a day without any.
* ``cumulative-cases``: proportional to cumulative confirmed cases (population as fallback).
* ``elder-first``: Chen et al.'s flooding. Regions in decreasing order of elder (70+) share are
  filled to their remaining capacity until the day's budget is used: the targets are the
  capacities of the first regions and the remainder for the last one, everything else is off.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping

import numpy as np

from alloc_agents.policy import BatchObservation, Policy

#: Observation columns (``alloc_envs.vaccine.observation.OBSERVATION_COLUMNS``; the tests check
#: the two agree).
COLUMNS: tuple[str, ...] = (
    "log_population", "elder_share", "ifr", "confirmed", "deaths", "new_confirmed",
    "new_deaths", "vaccinated", "capacity", "day", "budget",
)  # fmt: skip
LOG_POPULATION, ELDER_SHARE = COLUMNS.index("log_population"), COLUMNS.index("elder_share")
CONFIRMED, NEW_CONFIRMED = COLUMNS.index("confirmed"), COLUMNS.index("new_confirmed")
CAPACITY, BUDGET = COLUMNS.index("capacity"), COLUMNS.index("budget")
#: The environment's default ``logit_scale``.
LOGIT_SCALE = 10.0


def observation_rows(observation: BatchObservation, policy: str) -> np.ndarray:
    """(N, F) float64 rows of a vaccine observation (a dict with ``observation`` or an array)."""
    rows = observation["observation"] if isinstance(observation, Mapping) else observation
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] < len(COLUMNS):
        raise ValueError(
            f"{policy} needs the vaccine observation: (N, >= {len(COLUMNS)}) rows, got shape "
            f"{rows.shape}"
        )
    return rows


def shares_to_actions(shares: np.ndarray, logit_scale: float = LOGIT_SCALE) -> np.ndarray:
    """(N, 1) float32 actions whose dose weights are proportional to ``shares`` (zero: off)."""
    shares = np.asarray(shares, dtype=np.float64)
    actions = np.full(shares.shape, -1.0)
    top = shares.max() if shares.size else 0.0
    if top > 0:
        positive = shares > 0
        actions[positive] = 1.0 + np.log(shares[positive] / top) / logit_scale
    return np.clip(actions, -1.0, 1.0).astype(np.float32).reshape(-1, 1)


class _SharePolicy(Policy):
    """A rule that sets target shares; ``logit_scale`` must match the environment's."""

    def __init__(self, seed: int | None = None, logit_scale: float = LOGIT_SCALE) -> None:
        super().__init__(seed)
        self.logit_scale = logit_scale

    def act(self, observation: BatchObservation) -> np.ndarray:
        rows = observation_rows(observation, self.name)
        return shares_to_actions(self.shares(rows), self.logit_scale)

    @abstractmethod
    def shares(self, rows: np.ndarray) -> np.ndarray:
        """(N,) non-negative target shares (any scale)."""


class NoVaccine(_SharePolicy):
    """Give no doses: every region off."""

    name = "none"

    def shares(self, rows: np.ndarray) -> np.ndarray:
        return np.zeros(rows.shape[0])


class RandomAllocation(_SharePolicy):
    """Random shares from a flat Dirichlet, drawn every day from the policy's generator."""

    name = "random"

    def shares(self, rows: np.ndarray) -> np.ndarray:
        return self.rng.exponential(size=rows.shape[0])


class PopulationProportional(_SharePolicy):
    """Shares proportional to the regions' populations."""

    name = "population"

    def shares(self, rows: np.ndarray) -> np.ndarray:
        return np.exp(rows[:, LOG_POPULATION])


class NewCasesProportional(_SharePolicy):
    """Shares proportional to the last day's new confirmed cases (population if there are none)."""

    name = "new-cases"
    column = NEW_CONFIRMED

    def shares(self, rows: np.ndarray) -> np.ndarray:
        cases = np.maximum(rows[:, self.column], 0.0) * np.exp(rows[:, LOG_POPULATION])
        return cases if cases.sum() > 0 else np.exp(rows[:, LOG_POPULATION])


class CumulativeCasesProportional(NewCasesProportional):
    """Shares proportional to cumulative confirmed cases (population if there are none)."""

    name = "cumulative-cases"
    column = CONFIRMED


class ElderFirst(_SharePolicy):
    """Flood regions in decreasing order of elder share, each to its remaining capacity."""

    name = "elder-first"

    def shares(self, rows: np.ndarray) -> np.ndarray:
        population = np.exp(rows[:, LOG_POPULATION])
        capacity = np.maximum(rows[:, CAPACITY], 0.0) * population
        budget = float(rows[0, BUDGET]) * population.sum()
        order = np.argsort(-rows[:, ELDER_SHARE], kind="stable")
        before = np.cumsum(capacity[order]) - capacity[order]  # capacity filled ahead of each
        target = np.zeros_like(capacity)
        target[order] = np.clip(budget - before, 0.0, capacity[order])
        return target


#: The vaccine family of ``alloc_agents.POLICIES``, in the order of the research note.
VACCINE_POLICIES: tuple[type[Policy], ...] = (
    NoVaccine,
    RandomAllocation,
    PopulationProportional,
    NewCasesProportional,
    CumulativeCasesProportional,
    ElderFirst,
)
