"""Adapters over third-party multi-agent environments: LBF (``lbforaging`` 2.0.0) and RWARE
(``rware`` 2.0.0), installed with ``pip install 'alloc-envs[third-party]'``.

The adapters fix what the upstream packages get wrong for a benchmark (irreproducible
``reset(seed)``, time limits reported as termination, agent types that do not persist across
resets, ``Tuple`` spaces) and present them like every ``alloc/`` environment: a Gymnasium view
with a joint action and a PettingZoo ``ParallelEnv`` view, both over one scenario object.

Ids (registered on ``import alloc_envs``; the upstream packages are imported only when an
environment is made): ``alloc/LBF-v0`` (presets ``lbf-1``, ``lbf-2``) and ``alloc/RWARE-v0``
(presets ``rware-1``, ``rware-2``). Modules:

* :mod:`~alloc_envs.third_party.lbf_env` / :mod:`~alloc_envs.third_party.rware_env`: the views
  (the shared :mod:`alloc_envs.core.views`);
* ``*_config``: validated dataclass configs and presets;
* ``*_scenario``: spaces, seeding, time limit, observation layout (the ``JointScenario`` shape);
* :mod:`~alloc_envs.third_party.lbf_upstream`, :mod:`~alloc_envs.third_party.rware_typed`: the
  small subclasses of the upstream simulators (seeded spawning and fixed levels; colours);
* :mod:`~alloc_envs.third_party.actions`, :mod:`~alloc_envs.third_party.upstream`: shared
  helpers;
* :mod:`~alloc_envs.third_party.rollouts`: seeded random rollouts (tests, benchmark).
"""
