"""Baselines from other libraries on the ``alloc`` environments.

* :mod:`alloc_agents.baselines.sb3`: stable-baselines3 PPO as the single-controller baseline on
  the Gymnasium joint view (optional extra ``alloc-agents[sb3]``; stable-baselines3 is imported
  only when a model is trained or loaded);
* :mod:`alloc_agents.baselines.sb3_files`: its saved files, read without unpickling anything.
"""
