"""QMIX hyper-parameters (:class:`QMIXConfig`) and the scenario presets (:data:`QMIX_PRESETS`).

Defaults are EPyMARL's QMIX configuration (Papoudakis et al., NeurIPS 2021 benchmarks, its
``qmix.yaml``): Adam lr 5e-4, γ 0.99, batches of 32 episodes, a 5,000-episode buffer, ε from 1.0
to 0.05 over 50,000 env steps, the target networks copied every 200 episodes, double Q, a
gradient-norm clip of 10, a GRU agent of 64 units and a mixer embedding of 32 (hypernetworks of
64 units).
"""

from __future__ import annotations

from dataclasses import dataclass

from alloc_agents.options import Options, check_int, check_number


@dataclass(frozen=True)
class QMIXConfig(Options):
    """Hyper-parameters of QMIX, validated at construction (``ValueError`` naming the field).

    Attributes:
        lr: Adam learning rate of the agents' networks and the mixer together.
        gamma: discount factor.
        batch_episodes: episodes per update batch.
        buffer_episodes: capacity of the episode replay buffer (oldest episodes leave first).
        updates_per_iteration: gradient steps after every iteration (one episode per env copy),
            once the buffer holds ``batch_episodes`` episodes.
        epsilon_start: ε of ε-greedy exploration at env step 0.
        epsilon_finish: ε once ``epsilon_anneal_steps`` env steps are done (and after).
        epsilon_anneal_steps: env steps (summed over copies) over which ε falls linearly.
        target_update_episodes: the target networks are copied from the online ones every this
            many episodes (summed over copies).
        double_q: the target's next action is the online network's greedy one (double Q), else
            the target network's own.
        max_grad_norm: gradient-norm clip of the whole update.
        hidden_size: width of the agent network's layers (its encoder and, when ``recurrent``,
            its GRU).
        recurrent: a GRU agent over the episode's observations (QMIX's), else a feed-forward one
            on the current observation.
        mixer_embed: width of the mixer's hidden layer.
        hypernet_embed: width of the hypernetworks' hidden layer.
        reward_scale: the team reward (the sum of the acting agents' rewards at a step) is
            multiplied by this before it enters the TD target (Ride-Hailing's rewards are GMV
            in the thousands per step).
        truncation_bootstrap: at a truncation (a time limit) bootstrap from the final
            observation, or (``False``, default) end the return there: the same fixed-horizon
            choice as :attr:`~alloc_agents.ppo.config.PPOConfig.truncation_bootstrap`.
        checkpoint_every: iterations between checkpoints (and at the end); a checkpoint holds
            the replay buffer too, so that a resumed run (or one given a larger budget)
            continues exactly.
    """

    lr: float = 5e-4
    gamma: float = 0.99
    batch_episodes: int = 32
    buffer_episodes: int = 5000
    updates_per_iteration: int = 1
    epsilon_start: float = 1.0
    epsilon_finish: float = 0.05
    epsilon_anneal_steps: int = 50_000
    target_update_episodes: int = 200
    double_q: bool = True
    max_grad_norm: float = 10.0
    hidden_size: int = 64
    recurrent: bool = True
    mixer_embed: int = 32
    hypernet_embed: int = 64
    reward_scale: float = 1.0
    truncation_bootstrap: bool = False
    checkpoint_every: int = 10

    def __post_init__(self) -> None:
        check_number("lr", self.lr, 0.0, low_open=True)
        check_number("gamma", self.gamma, 0.0, 1.0)
        check_int("batch_episodes", self.batch_episodes, 1)
        check_int("buffer_episodes", self.buffer_episodes, 1)
        if self.buffer_episodes < self.batch_episodes:
            raise ValueError(
                f"buffer_episodes ({self.buffer_episodes}) must be at least batch_episodes "
                f"({self.batch_episodes})"
            )
        check_int("updates_per_iteration", self.updates_per_iteration, 1)
        check_number("epsilon_start", self.epsilon_start, 0.0, 1.0)
        check_number("epsilon_finish", self.epsilon_finish, 0.0, 1.0)
        check_int("epsilon_anneal_steps", self.epsilon_anneal_steps, 0)
        check_int("target_update_episodes", self.target_update_episodes, 1)
        for name in ("double_q", "recurrent", "truncation_bootstrap"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_number("max_grad_norm", self.max_grad_norm, 0.0, low_open=True)
        check_int("hidden_size", self.hidden_size, 1)
        check_int("mixer_embed", self.mixer_embed, 1)
        check_int("hypernet_embed", self.hypernet_embed, 1)
        check_number("reward_scale", self.reward_scale, 0.0, low_open=True)
        check_int("checkpoint_every", self.checkpoint_every, 1)

    def epsilon(self, env_steps: int) -> float:
        """ε after ``env_steps`` env steps (linear from ``epsilon_start`` to
        ``epsilon_finish``, then constant)."""
        if self.epsilon_anneal_steps == 0:
            return self.epsilon_finish
        done = min(1.0, env_steps / self.epsilon_anneal_steps)
        return self.epsilon_start + done * (self.epsilon_finish - self.epsilon_start)


#: Ride-Hailing (1) and (2) at the DyPS paper's budget (30,000 env steps: 208 days of 144
#: steps): a feed-forward agent (the observation holds the time of day), ε annealed over the
#: first third of the budget, batches of 8 days and 4 updates per day (832 updates in all), the
#: target copied every 10 days, the buffer the last 64 days (~7 MB a day on (1), ~20 on (2): a
#: checkpoint every 50 days), the team reward scaled by 1e-2 (the
#: sum of the cells' rewards is ~19 per 10-minute step on (1) under a random dispatcher, a few
#: times that under a good one). Ours: the DyPS paper does not configure QMIX.
_RIDE_HAILING = QMIXConfig(
    batch_episodes=8,
    buffer_episodes=64,
    updates_per_iteration=4,
    epsilon_anneal_steps=10_000,
    target_update_episodes=10,
    recurrent=False,
    reward_scale=1e-2,
    checkpoint_every=50,
)

#: Named QMIX configurations: ``"default"`` (:class:`QMIXConfig`'s defaults) and the scenarios'.
QMIX_PRESETS: dict[str, QMIXConfig] = {
    "default": QMIXConfig(),
    "ride-hailing-1": _RIDE_HAILING,
    "ride-hailing-2": _RIDE_HAILING,
}


def get_qmix_preset(name: str) -> QMIXConfig:
    """The preset ``name`` of :data:`QMIX_PRESETS` (``ValueError`` listing them otherwise)."""
    if name not in QMIX_PRESETS:
        raise ValueError(f"unknown QMIX preset {name!r}; presets: {sorted(QMIX_PRESETS)}")
    return QMIX_PRESETS[name]
