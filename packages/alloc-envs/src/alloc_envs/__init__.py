"""alloc-envs: Gymnasium and PettingZoo environments for spatio-temporal resource allocation.

Importing the package registers the ``alloc/`` ids in both registries::

    import gymnasium, pettingzoo, alloc_envs
    env = gymnasium.make("alloc/RideHailing-v0", preset="ride-hailing-2")
    par = pettingzoo.make("parallel", "alloc/RideHailing-v0", preset="ride-hailing-1")
"""

from alloc_envs.registration import ENVIRONMENTS, register_environments

__version__ = "0.1.0"

register_environments()

__all__ = ["ENVIRONMENTS", "__version__", "register_environments"]
