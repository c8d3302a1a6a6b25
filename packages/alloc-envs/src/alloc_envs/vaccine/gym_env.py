"""Gymnasium view of vaccine allocation: one controller splits the daily budget over all regions."""

from __future__ import annotations

from typing import Any

from alloc_envs.core.views import JointGymEnv
from alloc_envs.vaccine.config import VaccineConfig
from alloc_envs.vaccine.scenario import CityLike, VaccineScenario, build_config


class VaccineAllocationEnv(JointGymEnv):
    """Vaccine allocation with a joint action over all N regions.

    Observation: ``{"observation": (N, F) float32}`` (columns in
    :mod:`alloc_envs.vaccine.observation`; confirmed cases and deaths, not the latent epidemic).
    Action: (N, 1) float32 in [-1, 1], one number per region: doses go in proportion to
    ``exp(logit_scale * (a - 1))``, capped by each region's remaining capacity, and ``a = -1``
    switches a region off (all off: no doses that day); see :mod:`alloc_envs.vaccine.allocation`.
    Reward: the team reward, the sum of the regions' rewards (``reward_mode``). ``info``:
    infections / confirmed / deaths (episode to date) with their no-vaccination counterparts,
    ``*_averted`` and ``*_averted_pct``, ``deaths_averted_eventual``, doses given / offered /
    unused, ``vaccinated_share``, ``day``, ``decision``, ``step_doses``, ``step_infections`` and
    ``agent_rewards`` (N,). The episode is truncated (never terminated) after ``n_decisions``
    (62) decisions.

    Args:
        preset: ``"medical-small"`` (100 regions, the default) or ``"medical"`` (3,130 regions,
            7.19 M people: the DyPS paper's scale).
        config: a full :class:`VaccineConfig` instead of a preset (not both).
        city: a :class:`~alloc_envs.vaccine.city.City` or a path to an ``.npz`` city file
            (:func:`alloc_envs.vaccine.data.load_city`) instead of the synthetic city.
        render_mode: ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (a picture; needs
            ``alloc-envs[render]``).
        **overrides: any :class:`VaccineConfig` field, e.g. ``reward_mode="confirmed_sqrt"``.
    """

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: VaccineConfig | None = None,
        city: CityLike = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = VaccineScenario(build_config(preset, config, overrides), city)
        super().__init__(scenario, render_mode)
        self.config = scenario.config
