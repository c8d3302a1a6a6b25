"""The leader's Gymnasium view of a Stackelberg scenario: the action is the incentive, the
followers are a population inside the environment that responds to it.

**Protocol of a step t** (ours; the paper evaluates a fixed leader policy against the followers'
equilibrium, §3.1, and lets the leader act first at every step, §3.2):

1. The leader observes ``(t, m_t, x_t)`` and chooses the incentive ``u_t`` (the action).
2. The followers respond: the responder (default: the exact solver) computes the followers'
   equilibrium of the rest of the game *assuming ``u_t`` stays in force until the horizon*, from
   the current ``(m_t, x_t)``, and the followers play its first step. This is a receding-horizon
   equilibrium under a persistence forecast: when the leader holds a constant incentive the
   followers play exactly the mean-field Nash equilibrium against it (the subgame of an
   equilibrium is an equilibrium), and a change of incentive is answered at once. The previous
   answer warm-starts the next one.
3. The step is simulated in the chosen fidelity: mean field (``n_followers=None``, the
   Fokker-Planck step, deterministic) or N followers (:class:`Population`, sampled; the responder
   sees the empirical distribution).

To evaluate a closed-loop leader policy in the paper's sense (followers at the equilibrium
*against that policy*), call :func:`alloc_envs.stackelberg.solver.solve_equilibrium` with the
policy instead.

Spaces: observation ``{"time": (1,) float32 step index t in [0, T], "distribution": (S,)
float32 m_t, "exogenous": (X,) float32 x_t}``; action ``Box(incentive_low, incentive_high,
(U,), float32)``. A wrong shape, a non-numeric dtype, NaN / inf or a value outside the box raises
``ValueError`` (actions are not clipped; SB3-style agents clip to the box before stepping).
Reward: the leader's reward. ``info``: the scenario's episode-to-date metrics (e.g. ``orr``,
``cr``), the step's additive statistics with a ``step_`` prefix (e.g. ``step_served``,
``step_orders``; ``step_collected``, ``step_supplied`` per type), ``time``, ``follower_reward``
(mean reward per follower this step) and ``follower_exploitability`` (of the response, when the
responder reports it). Episodes are truncated after T steps, never terminated.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from alloc_envs.rendering import RENDER_MODES, ViewRenderer
from alloc_envs.stackelberg.fokker_planck import add_statistics
from alloc_envs.stackelberg.game import check_policy, check_vector
from alloc_envs.stackelberg.matching import MatchingGame
from alloc_envs.stackelberg.population import Population
from alloc_envs.stackelberg.responder import FollowerResponder

_NOT_RUNNING = "no episode is running (not started, or over); call reset() before step()"


class LeaderEnv(gymnasium.Env):
    """The leader's view of ``game`` (see the module docstring for the protocol).

    Args:
        game: the scenario's model.
        responder: how the followers respond (:class:`FollowerResponder`).
        n_followers: ``None`` for the mean-field fidelity, or N for N sampled followers.
        render_mode: ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (a picture; needs
            ``alloc-envs[render]``).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        game: MatchingGame,
        responder: FollowerResponder,
        n_followers: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        self._renderer = ViewRenderer(render_mode, self.metadata)
        self.game = game
        self.responder = responder
        self.render_mode = render_mode
        self.population = None if n_followers is None else Population(game, n_followers)
        f32 = np.float32
        self.observation_space = spaces.Dict(
            {
                "time": spaces.Box(0.0, float(game.horizon), shape=(1,), dtype=f32),
                "distribution": spaces.Box(0.0, 1.0, shape=(game.n_states,), dtype=f32),
                "exogenous": spaces.Box(
                    np.zeros(game.exogenous_high.shape, f32), game.exogenous_high.astype(f32)
                ),
            }
        )
        self.action_space = spaces.Box(
            game.incentive_low.astype(f32), game.incentive_high.astype(f32), dtype=f32
        )
        self._low = self.action_space.low.astype(np.float64)
        self._high = self.action_space.high.astype(np.float64)
        self.t = 0
        self.distribution = np.array(game.initial_distribution)
        self.exogenous = np.array(game.initial_exogenous)
        self._totals: dict[str, np.ndarray] = {}
        self._warm: np.ndarray | None = None
        #: The incentive of the last step (the lower bound before the first step).
        self.incentive = np.array(game.incentive_low)
        self._running = False
        self._started = False

    @property
    def fidelity(self) -> str:
        """``"mean-field"`` or ``"n-agent"``."""
        return "mean-field" if self.population is None else "n-agent"

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.t, self._totals, self._warm = 0, {}, None
        self.incentive = np.array(self.game.incentive_low)
        if self.population is None:
            self.distribution = np.array(self.game.initial_distribution)
            self.exogenous = np.array(self.game.initial_exogenous)
        else:
            self.population.reset(self.np_random)
            self.distribution = self.population.distribution()
            self.exogenous = self.population.exogenous.copy()
        self._running = self._started = True
        return self._observe(), {**self.game.metrics({}), "time": 0}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        if not self._running:
            raise RuntimeError(_NOT_RUNNING)
        game, t = self.game, self.t
        action = check_vector(action, self._low, self._high, "action")  # the float32 box
        u = np.clip(action, game.incentive_low, game.incentive_high)  # float32 rounding
        self.incentive = u
        response = self.responder.respond(
            game,
            u,
            start=t,
            distribution=self.distribution,
            exogenous=self.exogenous,
            rng=self.np_random,
            warm_start=self._warm,
        )
        policy = check_policy(game, response.policy, game.horizon - t, "responder policy")
        self._warm = policy[1:] if t + 1 < game.horizon else None
        if self.population is None:
            leader_reward, statistics, follower_reward = self._mean_field_step(policy[0], u)
        else:
            actions = self.population.sample_actions(policy[0])
            step = self.population.step(actions, u)
            leader_reward, statistics = step.leader_reward, step.statistics
            follower_reward = float(step.rewards.mean())
            self.distribution = self.population.distribution()
            self.exogenous = self.population.exogenous.copy()
        add_statistics(self._totals, statistics)
        self.t += 1
        truncated = self.t >= game.horizon
        self._running = not truncated
        info = {
            **game.metrics(self._totals),
            **{f"step_{k}": v for k, v in statistics.items()},
            "time": self.t,
            "follower_reward": follower_reward,
        }
        if response.exploitability is not None:
            info["follower_exploitability"] = float(response.exploitability)
        return self._observe(), float(leader_reward), False, truncated, info

    def _mean_field_step(self, policy_t: np.ndarray, u: np.ndarray) -> tuple[float, dict, float]:
        game, t, x = self.game, self.t, self.exogenous
        joint = self.distribution[:, None] * policy_t
        outcome = game.outcome(t, joint, x, u)
        leader_reward = float(game.leader_reward(t, outcome, x, u))
        statistics = game.step_statistics(t, outcome, x, u)
        follower_reward = float((joint * game.follower_reward(t, outcome, x, u)).sum())
        self.distribution = game.push_forward(t, outcome, joint)
        self.exogenous = game.next_exogenous(t, outcome, x)
        return leader_reward, statistics, follower_reward

    def _observe(self) -> dict[str, np.ndarray]:
        return {
            "time": np.array([self.t], dtype=np.float32),
            "distribution": self.distribution.astype(np.float32),
            "exogenous": self.exogenous.astype(np.float32),
        }

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: a text picture; ``"rgb_array"``: an (H, W, 3) uint8 picture of the mean
        field and the last step's incentive (:meth:`MatchingGame.render_frame`), the same size at
        every step (after ``reset()``); no render mode: ``None``."""
        return self._renderer.render(self._started, self._render_ansi, self._render_frame)

    def _render_frame(self):
        return self.game.render_frame(
            self.t,
            self.distribution,
            self.exogenous,
            self.incentive,
            self.game.metrics(self._totals),
            note=self.fidelity,
        )

    def close(self) -> None:
        self._renderer.close()

    def _render_ansi(self) -> str:
        metrics = ", ".join(
            f"{k} {v:.3f}" for k, v in self.game.metrics(self._totals).items() if np.isscalar(v)
        )
        top = np.argsort(-self.distribution, kind="stable")[:5]
        states = "  ".join(f"s{s} {self.distribution[s]:.3f}" for s in top)
        return (
            f"t {self.t}/{self.game.horizon} ({self.fidelity})  {metrics}\n"
            f"most followers: {states}\n"
        )
