"""PPO hyper-parameters (:class:`PPOConfig`) and named presets (:data:`PRESETS`).

Defaults follow the MAPPO recipe of the research note (``vaccine-and-algorithms.md`` B.4 and
"Update rules on a shared PPO core"): γ 0.99, λ 0.95, clip 0.2, entropy 0.01, Adam lr 5e-4
(eps 1e-5), value normalisation, clipped Huber value loss (δ 10), gradient-norm clip 10,
advantage normalisation, 10 epochs over one minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alloc_agents.options import Options, check_int, check_number, check_sizes

ACTIVATIONS = ("tanh", "relu")


#: What each agent's PPO update learns from (:attr:`PPOConfig.reward_sharing`).
REWARD_SHARING = ("individual", "team")


@dataclass(frozen=True)
class PPOConfig(Options):
    """Hyper-parameters of the PPO core, validated at construction (``ValueError`` naming the
    field).

    Attributes:
        n_steps: rollout length, in parallel env steps per env copy per iteration.
        gamma: discount factor.
        gae_lambda: GAE λ.
        clip_coef: PPO ratio clip ε (surrogate uses ``clip(ρ, 1 - ε, 1 + ε)``).
        value_clip: clip of the value prediction around the rollout's (normalised) value;
            ``None`` disables value clipping.
        ent_coef: entropy bonus coefficient.
        vf_coef: value-loss coefficient.
        lr: actor learning rate (Adam).
        critic_lr: critic learning rate; ``None`` uses ``lr``.
        adam_eps: Adam ε.
        n_epochs: passes over the rollout per iteration.
        n_minibatches: minibatches per epoch; the rollout's (time step, env copy) samples are
            split, every agent of a sample staying in the same minibatch.
        minibatch_size: if set, the number of agent-steps per minibatch (overrides
            ``n_minibatches``: ``max(1, round(agent_steps / minibatch_size))`` minibatches).
        max_grad_norm: gradient-norm clip, applied to the actor and the critic separately.
        normalize_advantages: standardise advantages per space group over the active entries.
        value_norm: running normalisation of the value targets (MAPPO's ValueNorm).
        value_norm_beta: ValueNorm's running-average weight β.
        huber_delta: Huber δ of the value loss; ``None`` uses the squared error.
        hidden_sizes: widths of the hidden layers of the actor and critic MLPs.
        activation: ``"tanh"`` or ``"relu"``.
        log_std_init: initial log standard deviation of Gaussian (Box) actions.
        truncation_bootstrap: at a truncation (a time limit), bootstrap the return from the
            value of the final observation (``True``: the time limit only cuts a continuing task
            short), or treat it as the end of the task (``False``, default: the return stops at
            the time limit). Our scenarios and MPE are fixed-horizon tasks measured over the
            episode (a day's GMV, a 25-step MPE return), so the default optimises what is
            measured. Bootstrapping there queries the critic on final observations that it is
            never trained on (Ride-Hailing's final ``time`` is 144, never seen in 0..143) and
            optimises an infinite-horizon objective whose tail the critic's errors dominate:
            on simple_spread it ends below a random policy (README, "Time limits").
        target_kl: stop the epochs of an iteration once the mean approximate KL exceeds it;
            ``None`` never stops early.
        anneal_lr: decay the learning rates linearly to 0 over the run (the schedule depends on
            ``total_env_steps``, so a resumed run must keep the same total).
        checkpoint_every: save a checkpoint every this many iterations (and at the end).
        reward_sharing: what each agent learns from: ``"individual"`` (default) its own reward,
            as the environment gives it; ``"team"`` the mean of the step's rewards over the
            agents that acted in the same env copy (the team reward per agent: credit for what
            an action earns other agents, e.g. a Ride-Hailing trip into a cell short of
            drivers). Only the PPO update sees it: episode returns, the logged metrics and
            DyPS's per-agent selector credit stay individual.
    """

    n_steps: int = 128
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    value_clip: float | None = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 1.0
    lr: float = 5e-4
    critic_lr: float | None = None
    adam_eps: float = 1e-5
    n_epochs: int = 10
    n_minibatches: int = 1
    minibatch_size: int | None = None
    max_grad_norm: float = 10.0
    normalize_advantages: bool = True
    value_norm: bool = True
    value_norm_beta: float = 0.99999
    huber_delta: float | None = 10.0
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = 0.0
    truncation_bootstrap: bool = False
    target_kl: float | None = None
    anneal_lr: bool = False
    checkpoint_every: int = 50
    reward_sharing: str = "individual"

    def __post_init__(self) -> None:
        check_int("n_steps", self.n_steps, 1)
        check_number("gamma", self.gamma, 0.0, 1.0)
        check_number("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_number("clip_coef", self.clip_coef, 0.0, low_open=True)
        if self.value_clip is not None:
            check_number("value_clip", self.value_clip, 0.0, low_open=True)
        check_number("ent_coef", self.ent_coef, 0.0)
        check_number("vf_coef", self.vf_coef, 0.0)
        check_number("lr", self.lr, 0.0, low_open=True)
        if self.critic_lr is not None:
            check_number("critic_lr", self.critic_lr, 0.0, low_open=True)
        check_number("adam_eps", self.adam_eps, 0.0, low_open=True)
        check_int("n_epochs", self.n_epochs, 1)
        check_int("n_minibatches", self.n_minibatches, 1)
        if self.minibatch_size is not None:
            check_int("minibatch_size", self.minibatch_size, 1)
        check_number("max_grad_norm", self.max_grad_norm, 0.0, low_open=True)
        for name in ("normalize_advantages", "value_norm", "anneal_lr", "truncation_bootstrap"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        check_number("value_norm_beta", self.value_norm_beta, 0.0, 1.0, low_open=True)
        if self.huber_delta is not None:
            check_number("huber_delta", self.huber_delta, 0.0, low_open=True)
        object.__setattr__(self, "hidden_sizes", check_sizes("hidden_sizes", self.hidden_sizes))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        check_number("log_std_init", self.log_std_init, -20.0, 5.0)
        if self.target_kl is not None:
            check_number("target_kl", self.target_kl, 0.0, low_open=True)
        check_int("checkpoint_every", self.checkpoint_every, 1)
        if self.reward_sharing not in REWARD_SHARING:
            raise ValueError(
                f"reward_sharing must be one of {REWARD_SHARING}, got {self.reward_sharing!r}"
            )

    @property
    def critic_learning_rate(self) -> float:
        """The critic's learning rate (``critic_lr``, or ``lr`` when unset)."""
        return self.lr if self.critic_lr is None else self.critic_lr


@dataclass(frozen=True)
class Preset:
    """A named training setup: PPO config, environment options and a suggested budget."""

    description: str
    config: PPOConfig
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    n_envs: int = 4
    total_env_steps: int = 100_000


def _ride_hailing(preset: str) -> Preset:
    # DyPS paper Table 6 (Ride-Hailing columns): Adam, actor and critic lr 1e-3, γ 0.97, clip
    # 0.2, λ 0.95, batch size 1024, 30k training steps. From the reference repository
    # (dyps-reference.md §4.8): entropy 0.01, grad clip 10, Huber δ 10, value clip 0.2, one
    # pass over the data, 5 parallel episodes of 144 steps per update, 128-wide embeddings.
    config = PPOConfig(
        n_steps=144,
        gamma=0.97,
        gae_lambda=0.95,
        clip_coef=0.2,
        value_clip=0.2,
        ent_coef=0.01,
        lr=1e-3,
        critic_lr=1e-3,
        n_epochs=1,
        minibatch_size=1024,
        max_grad_norm=10.0,
        huber_delta=10.0,
        hidden_sizes=(128, 128),
        checkpoint_every=20,
    )
    return Preset(
        description=f"DyPS paper Table 6 for {preset} (γ 0.97, λ 0.95, lr 1e-3, batch 1024, "
        "30k env steps; one epoch, 5 env copies of 144-step days as the reference code)",
        config=config,
        env_kwargs={"preset": preset},
        n_envs=5,
        total_env_steps=30_000,
    )


def _table6(preset: str, horizon: int, lr: float, batch: int, total_env_steps: int) -> Preset:
    # DyPS paper Table 6 for the LBF, RWARE and Medical columns: Adam, actor and critic lr, batch
    # size (read as agent-steps per minibatch, as for Ride-Hailing), training steps, γ 0.99,
    # clip 0.2, λ 0.95. The paper gives nothing else for them and no code (dyps-reference.md
    # §7): the rest are PPOConfig's defaults, and an iteration is one episode of ``horizon``
    # steps per env copy.
    config = PPOConfig(
        n_steps=horizon,
        gamma=0.99,
        gae_lambda=0.95,
        clip_coef=0.2,
        lr=lr,
        critic_lr=lr,
        minibatch_size=batch,
    )
    return Preset(
        description=f"DyPS paper Table 6 for {preset} (γ 0.99, λ 0.95, lr {lr:g}, batch {batch}, "
        f"{total_env_steps:,} env steps; {horizon}-step rollouts, 4 env copies)",
        config=config,
        env_kwargs={"preset": preset},
        n_envs=4,
        total_env_steps=total_env_steps,
    )


#: The controlled task of DyPS's tests and benchmark (``alloc/HiddenTypes-v0``, 36 agents of two
#: hidden types): one 8-step episode per env copy and iteration, 4 copies, 60 iterations, a
#: 16-wide network, 4 epochs, no entropy bonus (the optimal policies are deterministic).
_HIDDEN_TYPES = Preset(
    description="alloc/HiddenTypes-v0, 36 agents, 2 types: 8-step rollouts, 4 copies, 60 "
    "iterations, lr 3e-3, 4 epochs (DyPS's controlled task)",
    config=PPOConfig(
        n_steps=8, n_epochs=4, n_minibatches=1, hidden_sizes=(16,), lr=3e-3, ent_coef=0.0
    ),
    env_kwargs={"n_agents": 36, "n_types": 2},
    n_envs=4,
    total_env_steps=60 * 8 * 4,
)


#: Named setups for :func:`alloc_agents.train` and ``alloc-agents train --preset``.
PRESETS: dict[str, Preset] = {
    "hidden-types": _HIDDEN_TYPES,
    "default": Preset(
        description="MAPPO-style defaults of the research note (γ 0.99, λ 0.95, lr 5e-4, "
        "10 epochs, 1 minibatch, 128-step rollouts)",
        config=PPOConfig(),
    ),
    "ride-hailing-1": _ride_hailing("ride-hailing-1"),
    "ride-hailing-2": _ride_hailing("ride-hailing-2"),
    # horizons: LBFConfig.time_limit 50, RWAREConfig.time_limit 500, VaccineConfig.n_decisions 62
    "lbf-1": _table6("lbf-1", 50, 5e-4, 256, 1_000_000),
    "lbf-2": _table6("lbf-2", 50, 5e-4, 256, 1_000_000),
    "rware-1": _table6("rware-1", 500, 5e-4, 256, 1_000_000),
    "rware-2": _table6("rware-2", 500, 5e-4, 256, 1_000_000),
    "medical-small": _table6("medical-small", 62, 1e-4, 512, 100_000),
    "medical": _table6("medical", 62, 1e-4, 512, 100_000),
}


def get_preset(name: str) -> Preset:
    """The preset ``name`` of :data:`PRESETS` (``ValueError`` listing the known names)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {sorted(PRESETS)}")
    return PRESETS[name]
