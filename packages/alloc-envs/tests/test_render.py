"""``render_mode="rgb_array"`` on every view of every registered id: (H, W, 3) uint8 pictures of
one size per environment that change with the state, Gymnasium's ``check_env`` with its render
checks, the ``ansi`` mode beside it, the errors (before ``reset()``, without matplotlib), and
figures released by ``close()``. The picture tests skip when matplotlib (the extra
``alloc-envs[render]``) is not installed; the ``ImportError`` test runs without it."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import pickle
import sys
import warnings
from dataclasses import replace
from typing import Any

import gymnasium
import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import check_env

import alloc_envs
from alloc_envs.registration import ENVIRONMENTS
from alloc_envs.rendering import RENDER_MODES, Frame, FrameRenderer, Panel, nice_ceil
from alloc_envs.vaccine.gym_env import VaccineAllocationEnv

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAS_MPL, reason="needs matplotlib (alloc-envs[render])")

#: Small configurations of every registered id (both views take the same keywords, but for
#: ``n_followers``: the Stackelberg leader view's fidelity, the per-follower view's N).
CASES: dict[str, dict[str, Any]] = {
    "alloc/RideHailing-v0": {"preset": "ride-hailing-1", "episode_steps": 12},
    "alloc/VaccineAllocation-v0": {"n_regions": 10, "population": 23_000, "n_decisions": 6},
    "alloc/LBF-v0": {"preset": "lbf-1", "time_limit": 12},
    "alloc/RWARE-v0": {"preset": "rware-1", "time_limit": 10},
    "alloc/EDRP-v0": {"preset": "edrp-small"},
    "alloc/EDRP-v1": {"preset": "edrp-small", "n_followers": 40},
    "alloc/MTFG-v0": {"preset": "mtfg-small"},
    "alloc/HiddenTypes-v0": {"n_agents": 6, "n_types": 3, "episode_steps": 5},
}
REQUIRES = {"alloc/LBF-v0": "lbforaging", "alloc/RWARE-v0": "rware"}
#: Further Gymnasium configurations whose pictures differ (action mode, fidelity, size).
EXTRA_GYM = {
    "RideHailing-reposition-2": (
        "alloc/RideHailing-v0",
        {"preset": "ride-hailing-2", "episode_steps": 8, "action_mode": "reposition"},
    ),
    "MTFG-n-agent": ("alloc/MTFG-v0", {"preset": "mtfg-small", "n_followers": 50}),
}


def test_every_registered_id_has_a_case() -> None:
    assert set(CASES) == set(ENVIRONMENTS)


def _marks(env_id: str) -> list[Any]:
    module = REQUIRES.get(env_id)
    if module is not None and importlib.util.find_spec(module) is None:
        return [pytest.mark.skip(reason="needs alloc-envs[third-party]")]
    return []


def _views() -> list[Any]:
    params = []
    for env_id, kwargs in CASES.items():
        name = env_id.split("/")[1]
        params.append(pytest.param("gym", env_id, kwargs, id=f"gym-{name}", marks=_marks(env_id)))
        par_kwargs = {k: v for k, v in kwargs.items() if k != "n_followers"}
        params.append(
            pytest.param("parallel", env_id, par_kwargs, id=f"par-{name}", marks=_marks(env_id))
        )
    for name, (env_id, kwargs) in EXTRA_GYM.items():
        params.append(pytest.param("gym", env_id, kwargs, id=f"gym-{name}"))
    return params


def _make(view: str, env_id: str, kwargs: dict[str, Any], render_mode: str | None) -> Any:
    if view == "gym":
        return gymnasium.make(env_id, render_mode=render_mode, **kwargs)
    return pettingzoo.make("parallel", env_id, render_mode=render_mode, **kwargs)


def _step(view: str, env: Any) -> bool:
    """One step with random actions; whether the episode is over."""
    if view == "gym":
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        return terminated or truncated
    env.step({a: env.action_space(a).sample() for a in env.agents})
    return not env.agents


def _assert_picture(frame: Any) -> None:
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.ndim == 3 and frame.shape[2] == 3 and min(frame.shape[:2]) >= 64
    assert frame.std() > 5.0, "a blank picture"


@needs_mpl
@pytest.mark.parametrize(("view", "env_id", "kwargs"), _views())
def test_rgb_array_pictures_have_one_shape_and_follow_the_state(
    view: str, env_id: str, kwargs: dict[str, Any]
) -> None:
    env = _make(view, env_id, kwargs, "rgb_array")
    assert "rgb_array" in env.metadata["render_modes"] and env.metadata["render_fps"] > 0
    if view == "gym":
        env.action_space.seed(0)
    env.reset(seed=0)
    first = env.render()
    _assert_picture(first)
    np.testing.assert_array_equal(env.render(), first)  # the same state, the same picture
    frames = [first]
    for _ in range(3):
        done = _step(view, env)
        frames.append(env.render())
        _assert_picture(frames[-1])
        assert frames[-1].shape == first.shape
        if done:
            break
    assert not np.array_equal(frames[-1], first), "the picture did not change with the state"
    env.reset(seed=1)  # a new episode, the same size
    assert env.render().shape == first.shape
    env.close()


@needs_mpl
@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [pytest.param(i, k, id=i.split("/")[1], marks=_marks(i)) for i, k in CASES.items()]
    + [pytest.param(i, k, id=n) for n, (i, k) in EXTRA_GYM.items()],
)
def test_gymnasium_check_env_checks_rendering(env_id: str, kwargs: dict[str, Any]) -> None:
    """Gymnasium's checker renders the env and a copy made by its spec in every declared mode
    (``ansi`` and ``rgb_array``), with no warning about rendering."""
    env = gymnasium.make(env_id, render_mode="rgb_array", **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught if "render" in str(w.message).lower()] == []


@needs_mpl
def test_pettingzoo_aec_view_renders_pictures() -> None:
    env = pettingzoo.make("aec", "alloc/HiddenTypes-v0", render_mode="rgb_array", n_agents=4)
    env.reset(seed=0)
    _assert_picture(env.render())
    env.close()


@needs_mpl
def test_render_before_reset_is_an_error_and_none_without_a_mode() -> None:
    env = gymnasium.make("alloc/RideHailing-v0", render_mode="rgb_array").unwrapped
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        env.render()
    leader = gymnasium.make("alloc/MTFG-v0", preset="mtfg-small", render_mode="rgb_array")
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        leader.unwrapped.render()
    plain = gymnasium.make("alloc/RideHailing-v0", episode_steps=4).unwrapped
    plain.reset(seed=0)
    assert plain.render() is None
    # (gymnasium.make turns "human" into its HumanRendering wrapper over "rgb_array")
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        VaccineAllocationEnv(render_mode="human")


def test_every_view_declares_both_modes() -> None:
    from alloc_envs.registration import register_environments

    register_environments()
    for env_id in ENVIRONMENTS:
        for entry in ENVIRONMENTS[env_id][:2]:
            module, name = entry.split(":")
            cls = getattr(importlib.import_module(module), name)
            assert list(cls.metadata["render_modes"]) == list(RENDER_MODES), entry
            assert cls.metadata["render_fps"] > 0, entry


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib: ``rgb_array`` fails when the env is made, naming the extra; ``ansi``
    and no render mode work."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for env_id in ("alloc/RideHailing-v0", "alloc/EDRP-v1"):
        with pytest.raises(ImportError, match=r"pip install 'alloc-envs\[render\]'"):
            gymnasium.make(env_id, render_mode="rgb_array")
    with pytest.raises(ImportError, match=r"alloc-envs\[render\]"):
        pettingzoo.make("parallel", "alloc/HiddenTypes-v0", render_mode="rgb_array")
    env = gymnasium.make("alloc/RideHailing-v0", render_mode="ansi", episode_steps=4)
    env.reset(seed=0)
    assert env.render().startswith("step 0/4")


@needs_mpl
def test_close_releases_the_figure_and_copies_carry_none() -> None:
    env = gymnasium.make("alloc/HiddenTypes-v0", render_mode="rgb_array").unwrapped
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    clone = copy.deepcopy(env)
    assert clone._renderer._frames._figure is None
    np.testing.assert_array_equal(clone.render(), frame)
    restored = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(restored.render(), frame)
    env.close()
    assert env._renderer._frames._figure is None
    np.testing.assert_array_equal(env.render(), frame)  # a fresh figure after close()
    env.close()


@needs_mpl
def test_ride_hailing_picture_is_the_hexagonal_city() -> None:
    env = gymnasium.make("alloc/RideHailing-v0", render_mode="rgb_array", episode_steps=4)
    env.reset(seed=0)
    frame = env.unwrapped.scenario.render_frame()
    idle, orders = frame.panels
    sim = env.unwrapped.scenario.sim
    assert idle.hex_columns and idle.values.shape == (6, 6)
    np.testing.assert_array_equal(idle.values.ravel(), sim.idle)
    np.testing.assert_array_equal(orders.values.ravel(), sim.pending_count)
    assert idle.text[0, 0] == str(sim.idle[0])
    assert "step 0/4" in frame.title and "GMV" in frame.title


@needs_mpl
def test_vaccine_regions_without_coordinates_are_drawn_as_a_grid() -> None:
    env = gymnasium.make("alloc/VaccineAllocation-v0", **CASES["alloc/VaccineAllocation-v0"])
    city = env.unwrapped.scenario.city
    assert env.unwrapped.scenario.render_frame().panels[0].kind == "points"
    flat = replace(city, coords=np.zeros_like(city.coords))
    env = gymnasium.make(
        "alloc/VaccineAllocation-v0", city=flat, render_mode="rgb_array", n_decisions=3
    )
    env.reset(seed=0)
    panels = env.unwrapped.scenario.render_frame().panels
    assert [p.kind for p in panels] == ["heatmap", "heatmap"]
    assert panels[0].values.shape == (3, 4) and np.isnan(panels[0].values[-1, -1])
    _assert_picture(env.render())


@needs_mpl
def test_edrp_zone_maps_follow_the_city() -> None:
    from alloc_envs.edrp.config import build_config
    from alloc_envs.edrp.synthetic import synthetic_city

    env = gymnasium.make("alloc/EDRP-v1", preset="edrp-small", render_mode="rgb_array")
    game = env.unwrapped.game
    assert game.hex_layout  # the synthetic city's hexagonal strip, 4 x 2
    env.reset(seed=0)
    panels = game.render_frame(0, game.initial_distribution, game.initial_exogenous,
                               game.incentive_high, {}).panels  # fmt: skip
    assert [p.values.shape for p in panels] == [(4, 2)] * 3 and panels[0].hex_columns
    np.testing.assert_allclose(panels[2].values, 75.0)  # the charge, % of the fare
    # a city whose adjacency is not the config's grid: zones in order on a 3 x 3 grid
    other = synthetic_city(build_config("edrp-small", None, {"rows": 2, "cols": 4}))
    env = gymnasium.make("alloc/EDRP-v1", preset="edrp-small", city=other, render_mode="rgb_array")
    assert not env.unwrapped.game.hex_layout
    env.reset(seed=0)
    env.step(env.action_space.sample())
    _assert_picture(env.render())


@needs_mpl
def test_renderer_draws_a_changed_layout_and_keeps_scales_in_steps() -> None:
    renderer = FrameRenderer()
    heat = Panel("a", np.arange(6.0).reshape(2, 3), text=np.full((2, 3), "x", dtype=object))
    one = renderer.draw(Frame("one", (heat,)))
    two = renderer.draw(Frame("two", (heat, Panel("b", [1.0, 2.0], kind="bars"))))
    assert one.shape[0] == two.shape[0] and one.shape[1] < two.shape[1]
    renderer.close()
    assert [nice_ceil(x) for x in (0.03, 1.0, 1.2, 2.2, 3.0, 7.0, 101.0)] == [
        0.05, 1.0, 2.0, 2.5, 5.0, 10.0, 200.0,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="kind"):
        Panel("c", np.zeros(3), kind="pie")
    with pytest.raises(ValueError, match="2-D"):
        Panel("d", np.zeros(3))


@needs_mpl
def test_alloc_envs_import_does_not_load_matplotlib() -> None:
    import subprocess

    code = "import sys, gymnasium, alloc_envs; gymnasium.make('alloc/RideHailing-v0').reset(); "
    code += "print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert alloc_envs.__version__
