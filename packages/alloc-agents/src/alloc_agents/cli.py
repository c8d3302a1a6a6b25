"""``alloc-agents``: train PPO agents from the command line.

    alloc-agents train --env alloc/RideHailing-v0 --preset ride-hailing-1 --algorithm ippo \\
        --sharing ps --steps 20000 --seed 0 --log-dir runs/x
    alloc-agents train --env mpe2.simple_spread_v3:parallel_env --steps 50000 --log-dir runs/s
    alloc-agents presets

``--env`` is a PettingZoo parallel registry id (``alloc/...`` ids are registered by importing
``alloc_envs``, which the CLI does) or ``module:function`` returning a ``ParallelEnv``.
``--env-arg key=value`` passes keyword arguments to the env (values parsed as Python literals
when possible); ``--set key=value`` overrides a :class:`~alloc_agents.ppo.PPOConfig` field.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from alloc_agents.ppo.config import PRESETS, PPOConfig, get_preset
from alloc_agents.ppo.evaluate import evaluate
from alloc_agents.ppo.model import ALGORITHMS
from alloc_agents.ppo.sharing import SHARING
from alloc_agents.ppo.trainer import train


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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alloc-agents", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train IPPO / MAPPO with a parameter-sharing strategy")
    t.add_argument("--env", required=True, help="parallel registry id or module:function")
    t.add_argument("--preset", default="default", help=f"one of {sorted(PRESETS)}")
    t.add_argument("--algorithm", default="ippo", choices=ALGORITHMS)
    t.add_argument("--sharing", default="ps", choices=sorted(SHARING))
    t.add_argument("--steps", type=int, help="env steps (default: the preset's budget)")
    t.add_argument("--n-envs", type=int, help="env copies (default: the preset's)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t.add_argument("--log-dir", help="directory for progress.csv, tb/ and checkpoint.pt")
    t.add_argument("--checkpoint", help="checkpoint path (default <log-dir>/checkpoint.pt)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    t.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE")
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    t.add_argument(
        "--eval-episodes", type=int, default=0, help="evaluate the final policy (deterministic)"
    )
    t.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("presets", help="list the presets")
    return parser


def _train(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset)
    config: PPOConfig = preset.config.replace(**parse_pairs(args.set, "--set"))
    env_kwargs = dict(preset.env_kwargs) if args.env == "alloc/RideHailing-v0" else {}
    env_kwargs.update(parse_pairs(args.env_arg, "--env-arg"))
    env_fn = make_env_fn(args.env, env_kwargs)
    result = train(
        env_fn,
        algorithm=args.algorithm,
        sharing=args.sharing,
        total_env_steps=args.steps if args.steps is not None else preset.total_env_steps,
        n_envs=args.n_envs if args.n_envs is not None else preset.n_envs,
        seed=args.seed,
        device=args.device,
        config=config,
        log_dir=args.log_dir,
        checkpoint=args.checkpoint,
        resume=args.resume,
        progress=False if args.no_progress else None,
        threads=args.threads,
    )
    last = result.history[-1] if result.history else {}
    summary: dict[str, Any] = {
        "method": result.policy.name,
        "env_steps": last.get("env_steps"),
        "episode_return": last.get("episode_return"),
    }
    summary.update({k: v for k, v in last.items() if k.startswith("info/")})
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
            return 0
        return _train(args)
    except ValueError as exc:
        print(f"alloc-agents: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
