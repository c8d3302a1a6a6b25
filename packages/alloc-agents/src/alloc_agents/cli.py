"""``alloc-agents``: train PPO, QMIX and RODE agents from the command line.

    alloc-agents train --env alloc/RideHailing-v0 --preset ride-hailing-1 --algorithm ippo \\
        --sharing ps --steps 20000 --seed 0 --log-dir runs/x
    alloc-agents train --env alloc/RideHailing-v0 --preset ride-hailing-1 --algorithm qmix
    alloc-agents train --env mpe2.simple_spread_v3:parallel_env --steps 50000 --log-dir runs/s
    alloc-agents presets

``--env`` is a PettingZoo parallel registry id (``alloc/...`` ids are registered by importing
``alloc_envs``, which the CLI does) or ``module:function`` returning a ``ParallelEnv``.
``--env-arg key=value`` passes keyword arguments to the env (values parsed as Python literals
when possible); ``--set key=value`` overrides a :class:`~alloc_agents.ppo.PPOConfig` field (with
``--algorithm qmix`` a :class:`~alloc_agents.qmix.QMIXConfig` field: the preset's QMIX
configuration when it has one, :data:`~alloc_agents.qmix.QMIX_PRESETS`, else the defaults; with
``--algorithm rode`` a :class:`~alloc_agents.rode.RODEConfig` field, from
:data:`~alloc_agents.rode.RODE_PRESETS` likewise; for both, one env copy unless ``--n-envs``
and sharing ``ps-id`` unless ``--sharing``).
With ``--sharing seps``, ``--seps-clusters K|auto``, ``--seps-max-clusters``,
``--seps-pretrain-fraction``, ``--seps-z-dim`` and ``--seps-opt field=value`` set
:class:`~alloc_agents.ppo.sharing.SePSConfig` fields; with ``--sharing dyps``, ``--dyps-groups``,
``--dyps-variant`` and ``--dyps-opt field=value`` set :class:`~alloc_agents.ppo.sharing.DyPSConfig`
fields; with ``--sharing role-as-state``, ``--role-as-state-dim`` and ``--role-as-state-opt
field=value`` set :class:`~alloc_agents.ppo.sharing.RoleAsStateConfig` fields. With
``--algorithm copo``, ``--lcf-lr``, ``--lcf-iters`` and ``--copo-opt field=value`` set
:class:`~alloc_agents.ppo.copo.CoPOConfig` fields.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import json
import math
import sys
import textwrap
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from alloc_agents.ppo.config import PRESETS, PPOConfig, get_preset
from alloc_agents.ppo.copo import CoPOConfig
from alloc_agents.ppo.evaluate import evaluate
from alloc_agents.ppo.logger import PROGRESS_INTERVAL_S
from alloc_agents.ppo.sharing import (
    AUTO,
    DYPS_VARIANTS,
    SHARING,
    DyPSConfig,
    RoleAsStateConfig,
    SePSConfig,
)
from alloc_agents.qmix import QMIX_PRESETS, QMIXConfig
from alloc_agents.rode import RODE_PRESETS
from alloc_agents.training import ALGORITHMS, train


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (``ValueError`` on a malformed pair)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} must be key=value, got {pair!r}")
        out[key.strip()] = _literal(value.strip())
    return out


def make_env_fn(env: str, kwargs: dict[str, Any]) -> Callable[[], Any]:
    """A zero-argument constructor for ``env`` (registry id or ``module:function``)."""
    if ":" in env:
        module_name, _, attr = env.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load env constructor {env!r}: {exc}") from exc
        return partial(factory, **kwargs)
    import pettingzoo

    try:
        import alloc_envs  # noqa: F401  (registers the alloc/ ids)
    except ImportError:
        pass
    if env not in pettingzoo.parallel_registry:
        raise ValueError(
            f"unknown parallel env id {env!r}; give a registered id or module:function"
        )
    return partial(pettingzoo.make, "parallel", env, **kwargs)


def _clusters(text: str) -> int | str:
    if text.strip().lower() in (AUTO, "none"):
        return AUTO
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'auto', got {text!r}")
    return value


#: The strategies with options: label, config class, dedicated flags (argparse dest -> field;
#: every other field through ``--<name>-opt FIELD=VALUE``, argparse dest ``<name>_opt`` with
#: the name's hyphens as underscores).
STRATEGY_OPTIONS: dict[str, tuple[str, type, dict[str, str]]] = {
    "seps": (
        "SePS",
        SePSConfig,
        {
            "seps_clusters": "n_clusters",
            "seps_max_clusters": "max_clusters",
            "seps_pretrain_fraction": "pretrain_fraction",
            "seps_z_dim": "z_dim",
        },
    ),
    "dyps": ("DyPS", DyPSConfig, {"dyps_groups": "n_groups", "dyps_variant": "variant"}),
    "role-as-state": ("Role-As-State", RoleAsStateConfig, {"role_as_state_dim": "role_dim"}),
}


def sharing_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The strategy options of the command line (``None`` when none is given), validated by the
    strategy's config class (``ValueError`` naming the field); ``--seps-*`` need ``--sharing
    seps``, ``--dyps-*`` need ``--sharing dyps`` and ``--role-as-state-*`` need ``--sharing
    role-as-state``."""
    chosen = None
    for name, (label, config_class, flags) in STRATEGY_OPTIONS.items():
        dest = name.replace("-", "_")
        options = parse_pairs(getattr(args, f"{dest}_opt"), f"--{name}-opt")
        for flag, field in flags.items():
            value = getattr(args, flag)
            if value is not None:
                if field in options:
                    raise ValueError(
                        f"{label} option {field} given twice (--{name}-opt and a flag)"
                    )
                options[field] = value
        if not options:
            continue
        if args.sharing != name:
            raise ValueError(
                f"{label} options need --sharing {name} (got --sharing {args.sharing})"
            )
        try:
            config_class.from_any(options)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{label} options: {exc}") from None
        chosen = options
    return chosen


#: CoPO's dedicated flags (argparse dest -> CoPOConfig field); the others via ``--copo-opt``.
COPO_FLAGS = {"lcf_lr": "lcf_lr", "lcf_iters": "lcf_iters"}


def algorithm_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """CoPO's options of the command line (``None`` when none is given), validated by
    :class:`~alloc_agents.ppo.copo.CoPOConfig` (``ValueError`` naming the field); they need
    ``--algorithm copo``."""
    options = parse_pairs(args.copo_opt, "--copo-opt")
    for flag, field in COPO_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            if field in options:
                raise ValueError(f"CoPO option {field} given twice (--copo-opt and a flag)")
            options[field] = value
    if not options:
        return None
    if args.algorithm != "copo":
        raise ValueError(f"CoPO options need --algorithm copo (got --algorithm {args.algorithm})")
    try:
        CoPOConfig.from_any(options)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"CoPO options: {exc}") from None
    return options


#: Examples shown by ``alloc-agents --help`` (plain text: no reStructuredText markup).
EXAMPLES = """examples:
  alloc-agents train --env alloc/RideHailing-v0 --preset ride-hailing-1 --algorithm ippo \\
      --sharing ps --steps 20000 --seed 0 --log-dir runs/x
  alloc-agents train --env mpe2.simple_spread_v3:parallel_env --steps 50000 --log-dir runs/s
  alloc-agents train --env alloc/RideHailing-v0 --preset ride-hailing-1 --algorithm qmix
  alloc-agents train --env alloc/LBF-v0 --env-arg preset=lbf-1 --algorithm rode --steps 50000
  alloc-agents presets
  alloc-agents train --help    (every option, and every PPOConfig field for --set)"""


def ppo_fields_text(width: int = 78) -> str:
    """Every :class:`~alloc_agents.ppo.PPOConfig` field with its default, as plain text wrapped
    to ``width`` columns (the epilog of ``alloc-agents train --help``)."""
    defaults = PPOConfig()
    pairs = [f"{f.name}={getattr(defaults, f.name)!r}" for f in dataclasses.fields(PPOConfig)]
    body = textwrap.fill(", ".join(pairs), width=width, initial_indent="  ", subsequent_indent="  ")
    return (
        "PPOConfig fields for --set FIELD=VALUE, with their defaults\n"
        f"(a --preset may change some; see 'alloc-agents presets'):\n{body}"
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alloc-agents",
        description="alloc-agents: train PPO, QMIX and RODE agents from the command line.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "train",
        help="train IPPO / MAPPO / CoPO with a parameter-sharing strategy, or QMIX or RODE",
        description="Train IPPO / MAPPO / CoPO with a parameter-sharing strategy, or QMIX or "
        "RODE,\n"
        "on a PettingZoo parallel env; prints a JSON summary.",
        epilog=ppo_fields_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--env", required=True, help="parallel registry id or module:function")
    t.add_argument("--preset", default="default", help=f"one of {sorted(PRESETS)}")
    t.add_argument("--algorithm", default="ippo", choices=ALGORITHMS)
    t.add_argument(
        "--sharing",
        choices=sorted(SHARING),
        help="default ps (qmix: ps-id; it takes ps, ps-id, nops; rode: ps-id; it takes ps, ps-id)",
    )
    t.add_argument("--steps", type=int, help="env steps (default: the preset's budget)")
    t.add_argument(
        "--n-envs", type=int, help="env copies (default: the preset's; qmix and rode: 1)"
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t.add_argument("--log-dir", help="directory for progress.csv, tb/ and checkpoint.pt")
    t.add_argument("--checkpoint", help="checkpoint path (default <log-dir>/checkpoint.pt)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    t.add_argument(
        "--env-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument for the env constructor, repeatable (VALUE parsed as a Python "
        "literal when possible, else a string); with alloc/RideHailing-v0 it overrides the "
        "preset's env arguments",
    )
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a PPOConfig field of the preset (--algorithm qmix: a QMIXConfig field; "
        "rode: a RODEConfig field), "
        "repeatable (VALUE parsed as a Python literal when possible); the PPOConfig fields and "
        "their defaults are listed below",
    )
    t.add_argument(
        "--eval-episodes", type=int, default=0, help="evaluate the final policy (deterministic)"
    )
    t.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads (default 1, the fastest for these small networks on a small or "
        "busy CPU; ask for more with --threads N)",
    )
    t.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress output (default: a progress bar on a terminal, else a plain line on "
        "stderr every --progress-interval seconds)",
    )
    t.add_argument(
        "--progress-interval",
        type=float,
        default=PROGRESS_INTERVAL_S,
        metavar="SECONDS",
        help=f"seconds between progress lines when stderr is not a terminal (default "
        f"{PROGRESS_INTERVAL_S:g})",
    )
    seps = t.add_argument_group("SePS options (with --sharing seps; see SePSConfig)")
    seps.add_argument(
        "--seps-clusters",
        type=_clusters,
        metavar="K|auto",
        help="number of clusters K, or 'auto' to choose K by the Davies-Bouldin index (default 4)",
    )
    seps.add_argument(
        "--seps-max-clusters", type=int, metavar="N", help="largest K tried by 'auto' (10)"
    )
    seps.add_argument(
        "--seps-pretrain-fraction",
        type=float,
        metavar="F",
        help="fraction of the iterations with full sharing before clustering (0.05)",
    )
    seps.add_argument("--seps-z-dim", type=int, metavar="D", help="VAE latent dimension (10)")
    seps.add_argument(
        "--seps-opt",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other SePSConfig field: vae_epochs, vae_lr, vae_batch_size, vae_hidden, "
        "kl_weight, kmeans_n_init, max_transitions",
    )
    dyps = t.add_argument_group("DyPS options (with --sharing dyps; see DyPSConfig)")
    dyps.add_argument("--dyps-groups", type=int, metavar="M", help="parameter groups M (4)")
    dyps.add_argument(
        "--dyps-variant", choices=DYPS_VARIANTS, help="the method or an ablation (full)"
    )
    dyps.add_argument(
        "--dyps-opt",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other DyPSConfig field: credit (agent|team), conditioning (normalised|raw), "
        "selector_lr, selector_steps, selector_critic_lr, selector_entropy, warmup_iterations, "
        "role_dim, vlstm_lr, cvae_steps, cvae_kl_weight, ...",
    )
    ras = t.add_argument_group(
        "Role-As-State options (with --sharing role-as-state; see RoleAsStateConfig)"
    )
    ras.add_argument(
        "--role-as-state-dim",
        type=int,
        metavar="H",
        help="role dimension = VLSTM width, appended to the network inputs (64)",
    )
    ras.add_argument(
        "--role-as-state-opt",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other RoleAsStateConfig field: vlstm_z_dim, vlstm_hidden, vlstm_lr, "
        "vlstm_sequences",
    )
    copo = t.add_argument_group("CoPO options (with --algorithm copo; see CoPOConfig)")
    copo.add_argument("--lcf-lr", type=float, metavar="LR", help="LCF Adam learning rate (1e-4)")
    copo.add_argument(
        "--lcf-iters", type=int, metavar="N", help="LCF meta-update passes per iteration (5)"
    )
    copo.add_argument(
        "--copo-opt",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other CoPOConfig field: lcf_init_mean, lcf_init_std, global_gamma, "
        "lcf_minibatch_size",
    )
    sub.add_parser("presets", help="list the presets")
    return parser


def _train(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset)
    env_kwargs = dict(preset.env_kwargs) if args.env == "alloc/RideHailing-v0" else {}
    env_kwargs.update(parse_pairs(args.env_arg, "--env-arg"))
    env_fn = make_env_fn(args.env, env_kwargs)
    overrides = parse_pairs(args.set, "--set")
    common = dict(
        total_env_steps=args.steps if args.steps is not None else preset.total_env_steps,
        seed=args.seed,
        device=args.device,
        log_dir=args.log_dir,
        checkpoint=args.checkpoint,
        resume=args.resume,
        progress=not args.no_progress,
        progress_interval=args.progress_interval,
        threads=args.threads,
    )
    if args.algorithm in ("qmix", "rode"):
        presets: dict[str, QMIXConfig] = QMIX_PRESETS if args.algorithm == "qmix" else RODE_PRESETS
        value_config = presets.get(args.preset, presets["default"])
        result = train(
            env_fn,
            algorithm=args.algorithm,
            sharing=args.sharing or "ps-id",
            sharing_options=sharing_options(args),
            algorithm_options=algorithm_options(args),
            n_envs=args.n_envs if args.n_envs is not None else 1,
            config=value_config.replace(**overrides),
            **common,
        )
    else:
        result = train(
            env_fn,
            algorithm=args.algorithm,
            sharing=args.sharing or "ps",
            sharing_options=sharing_options(args),
            algorithm_options=algorithm_options(args),
            n_envs=args.n_envs if args.n_envs is not None else preset.n_envs,
            config=preset.config.replace(**overrides),
            **common,
        )
    last = result.history[-1] if result.history else {}
    summary: dict[str, Any] = {
        "method": result.policy.name,
        "env_steps": last.get("env_steps"),
        "episode_return": last.get("episode_return"),
    }
    summary.update({k: v for k, v in last.items() if k.startswith("info/")})
    if "lcf_mean" in last:  # CoPO: the learned LCF distribution
        summary["lcf"] = {"mean": last["lcf_mean"], "std": last["lcf_std"]}
    record = getattr(result, "extra", {}).get("seps")
    if record is not None:  # the clustering, without the embeddings
        summary["seps"] = {
            "iteration": record["iteration"],
            "groups": [
                {k: v for k, v in group.items() if k != "embeddings"} for group in record["groups"]
            ],
        }
    dyps_history = getattr(result, "extra", {}).get("dyps")
    if dyps_history:  # the groups of the last iteration
        summary["dyps"] = dyps_history[-1]
    if args.eval_episodes > 0:
        summary["eval"] = evaluate(result.policy, env_fn, args.eval_episodes)
    if result.checkpoint is not None:
        summary["checkpoint"] = str(result.checkpoint)
    print(json.dumps(_finite(summary), indent=2))
    return 0


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alloc-agents`` console script."""
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "presets":
            for name, preset in PRESETS.items():
                print(f"{name}: {preset.description}")
            print(f"QMIX configurations (--algorithm qmix): {', '.join(QMIX_PRESETS)}")
            print(f"RODE configurations (--algorithm rode): {', '.join(RODE_PRESETS)}")
            return 0
        return _train(args)
    except ValueError as exc:
        print(f"alloc-agents: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
