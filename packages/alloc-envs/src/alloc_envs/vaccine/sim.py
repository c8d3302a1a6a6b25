"""The metapopulation epidemic: hourly S/E/I/R per region, delayed confirmations and deaths.

Struct-of-arrays, float64 throughout (people; float64 keeps a 7.2 M-person city conserved to
~1e-9 and costs no more than float32 here). Every state array has shape (B, N): row 0 is the
policy's trajectory and, when ``config.counterfactual`` is on, row 1 is the no-vaccination
trajectory of the same city and seed, simulated side by side in the same vectorised arrays
(one kernel product per hour serves both). The two rows share their initial condition; in
stochastic mode each row draws from its own generator, both seeded identically (common random
numbers: the rows are identical until the first dose and use the same streams after).

Hourly step (research note A.3; kernel form A.9.5), for region i, with prevalence p_k = I_k/N_k
and alpha_i = max(0, 1 - efficacy V_i / N_i):

* POI exposures: X_i = min(S_i, alpha_i S_i / N_i * s(t)^2 * sum_k K_ik p_k)
  (``stochastic``: Poisson with that mean, clipped to S_i);
* home exposures: Y_i = (S_i - X_i) * min(1, beta_home alpha_i p_i) (Binomial);
* E -> I at rate 1/latent_hours, I -> R at rate 1/infectious_hours (Binomial);
* each new infectious person is confirmed with probability ``confirm_rate`` after a geometric
  delay (mean ``confirm_delay_hours``) and dies with probability IFR_i after a geometric delay
  (mean ``death_delay_hours``). Arrivals of hour h can leave the pipeline from hour h + 1 on.
  The pipelines do not feed back into the epidemic, so they are advanced once per day from the
  day's 24 hourly inflows in closed form (the same law as hour by hour).

Expected mode replaces every draw by its mean (GAT-MF); the initial exposures
E_i(0) ~ Binomial(N_i, p0) are drawn from the episode generator in both modes, so the seed matters.
"""

from __future__ import annotations

import numpy as np

from alloc_envs.vaccine.city import City
from alloc_envs.vaccine.config import HOURS_PER_DAY, VaccineConfig
from alloc_envs.vaccine.schedule import contact_multiplier

POLICY, NO_VACCINE = 0, 1


class EpidemicSim:
    """The epidemic of one city; :meth:`reset` then :meth:`vaccinate` / :meth:`run_day`.

    Public state (all (B, N) float64, B = 2 with the counterfactual, else 1): ``S``, ``E``,
    ``I``, ``R`` (people); ``infections``, ``confirmed``, ``deaths`` (cumulative since hour 0;
    ``infections`` counts S -> E transitions); ``pending_confirmed``, ``pending_deaths`` (people
    in the pipelines); ``vaccinated`` (cumulative doses, zero in the counterfactual row);
    ``new_infections``, ``new_confirmed``, ``new_deaths`` (the last simulated day's increments).
    ``day`` counts simulated days.
    """

    def __init__(self, config: VaccineConfig, city: City) -> None:
        self.config = config
        self.city = city
        n = city.n_regions
        self.n_regions = n
        self.rows = 2 if config.counterfactual else 1
        self.population = city.population
        self.inv_population = 1.0 / city.population
        acceptance = (
            city.acceptance
            if city.acceptance is not None
            else np.full(n, config.acceptance, dtype=np.float64)
        )
        #: (N,) most doses a region can take (acceptance x population).
        self.max_doses = acceptance * city.population
        self.ifr = city.ifr(config.death_scale)
        #: Daily budget in doses (B = floor(budget_fraction x population)).
        self.budget = float(np.floor(config.budget_fraction * city.population.sum()))
        # The kernel product, neighbour-major: for every slot j < k, gather the j-th neighbour of
        # every (row, region) from the flat (B*N) prevalence and weigh it; summing over the k
        # slots (contiguous rows) is faster than a per-region dot product.
        offsets = (np.arange(self.rows) * n)[:, None]
        self._gather = np.stack([(nbr[None, :] + offsets).reshape(-1) for nbr in city.neighbours.T])
        weights = city.kernel.T * config.contact_scale
        self._kernel = np.ascontiguousarray(np.tile(weights, (1, self.rows)))  # (k, B*N)
        self._s2 = contact_multiplier(config)
        self._rate_latent = 1.0 / config.latent_hours
        self._rate_infectious = 1.0 / config.infectious_hours
        self._stay_confirm = _stay_probabilities(config.confirm_delay_hours)
        self._stay_death = _stay_probabilities(config.death_delay_hours)
        self._stochastic = config.dynamics == "stochastic"
        self._rngs: list[np.random.Generator] = []
        self.hour = 0
        self.day = 0
        shape = (self.rows, n)
        for name in (
            "S", "E", "I", "R", "infections", "confirmed", "deaths", "pending_confirmed",
            "pending_deaths", "vaccinated", "new_infections", "new_confirmed", "new_deaths",
        ):  # fmt: skip
            setattr(self, name, np.zeros(shape))
        self._alpha_over_n = np.zeros(shape)
        self._beta_alpha = np.zeros(shape)
        self._inflow = np.zeros((HOURS_PER_DAY, *shape))

    # ------------------------------------------------------------------ episode
    def reset(self, rng: np.random.Generator) -> None:
        """Seed the epidemic from ``rng`` and simulate the warm-up days (no vaccines)."""
        exposed = rng.binomial(self.population.astype(np.int64), self.config.initial_exposed)
        exposed = np.broadcast_to(exposed.astype(np.float64), (self.rows, self.n_regions))
        self.S[...] = self.population - exposed
        self.E[...] = exposed
        for array in (
            self.I, self.R, self.infections, self.confirmed, self.deaths, self.pending_confirmed,
            self.pending_deaths, self.vaccinated, self.new_infections, self.new_confirmed,
            self.new_deaths,
        ):  # fmt: skip
            array.fill(0.0)
        self._set_alpha()
        if self._stochastic:
            seed = int(rng.integers(0, 2**63 - 1))
            self._rngs = [np.random.default_rng(seed) for _ in range(self.rows)]
        self.hour = 0
        self.day = 0
        for _ in range(self.config.warmup_days):
            self.run_day()

    def capacity(self) -> np.ndarray:
        """(N,) doses the policy's regions can still take (acceptance x N - V, at least 0)."""
        return np.maximum(self.max_doses - self.vaccinated[POLICY], 0.0)

    def vaccinate(self, doses: np.ndarray) -> None:
        """Give (N,) ``doses`` in the policy's trajectory (they must fit :meth:`capacity`)."""
        v = self.vaccinated[POLICY]
        v += doses
        np.minimum(v, self.max_doses, out=v)
        self._set_alpha()

    def _set_alpha(self) -> None:
        alpha = np.maximum(0.0, 1.0 - self.config.efficacy * self.vaccinated * self.inv_population)
        np.multiply(alpha, self.inv_population, out=self._alpha_over_n)
        np.multiply(alpha, self.config.beta_home, out=self._beta_alpha)

    def run_day(self) -> None:
        """Simulate 24 hours, then advance the confirmation and death pipelines."""
        before = (self.infections.copy(), self.confirmed.copy(), self.deaths.copy())
        step = self._hour_stochastic if self._stochastic else self._hour_expected
        for h in range(HOURS_PER_DAY):
            step(h)
            self.hour += 1
        self._advance_pipelines()
        self.day += 1
        np.subtract(self.infections, before[0], out=self.new_infections)
        np.subtract(self.confirmed, before[1], out=self.new_confirmed)
        np.subtract(self.deaths, before[2], out=self.new_deaths)

    # ------------------------------------------------------------------ hourly dynamics
    def _force(self) -> tuple[np.ndarray, np.ndarray]:
        """Prevalence (B, N) and the POI force sum_k K_ik p_k (B, N), before alpha and s^2."""
        prevalence = self.I * self.inv_population
        gathered = np.take(prevalence.reshape(-1), self._gather)  # (k, B*N)
        gathered *= self._kernel
        force = np.add.reduce(gathered, axis=0).reshape(self.rows, self.n_regions)
        return prevalence, force

    def _hour_expected(self, h: int) -> None:
        S, E, infectious = self.S, self.E, self.I
        prevalence, force = self._force()
        poi = force
        poi *= self._s2[self.hour]
        poi *= self._alpha_over_n
        poi *= S
        np.minimum(poi, S, out=poi)
        new_e = self._beta_alpha * prevalence
        np.minimum(new_e, 1.0, out=new_e)
        new_e *= S - poi  # home exposures
        new_e += poi
        new_i = E * self._rate_latent
        new_r = infectious * self._rate_infectious
        S -= new_e
        np.maximum(S, 0.0, out=S)  # new_e <= S up to an ulp
        E += new_e
        E -= new_i
        infectious += new_i
        infectious -= new_r
        self.R += new_r
        self.infections += new_e
        self._inflow[h] = new_i

    def _hour_stochastic(self, h: int) -> None:
        S, E, infectious = self.S, self.E, self.I
        prevalence, force = self._force()
        mean_poi = force * self._s2[self.hour] * self._alpha_over_n * S
        p_home = np.minimum(self._beta_alpha * prevalence, 1.0)
        new_e = np.empty_like(S)
        new_i = np.empty_like(S)
        new_r = np.empty_like(S)
        for b, rng in enumerate(self._rngs):
            poi = np.minimum(rng.poisson(mean_poi[b]), S[b])
            home = rng.binomial((S[b] - poi).astype(np.int64), p_home[b])
            new_e[b] = poi + home
            new_i[b] = rng.binomial(E[b].astype(np.int64), self._rate_latent)
            new_r[b] = rng.binomial(infectious[b].astype(np.int64), self._rate_infectious)
        S -= new_e
        E += new_e
        E -= new_i
        infectious += new_i
        infectious -= new_r
        self.R += new_r
        self.infections += new_e
        self._inflow[h] = new_i

    # ------------------------------------------------------------------ pipelines
    def _advance_pipelines(self) -> None:
        """Move a day of new infectious people through the confirmation and death pipelines.

        A person entering at the end of hour h is still pending at the end of the day with
        probability q^(23 - h), q = 1 - 1 / delay; someone pending at the start, q^24.
        """
        cfg = self.config
        if self._stochastic:
            self._pipeline_stochastic(
                self.pending_confirmed, self.confirmed, cfg.confirm_rate, self._stay_confirm
            )
            self._pipeline_stochastic(self.pending_deaths, self.deaths, self.ifr, self._stay_death)
            return
        inflow = self._inflow.sum(axis=0)
        for pending, done, share, stay in (
            (self.pending_confirmed, self.confirmed, cfg.confirm_rate, self._stay_confirm),
            (self.pending_deaths, self.deaths, self.ifr, self._stay_death),
        ):
            staying = stay[0] * pending + share * np.tensordot(stay[1:], self._inflow, axes=1)
            done += pending + share * inflow - staying
            pending[...] = staying

    def _pipeline_stochastic(
        self,
        pending: np.ndarray,
        done: np.ndarray,
        share: float | np.ndarray,
        stay: np.ndarray,
    ) -> None:
        for b, rng in enumerate(self._rngs):
            entering = rng.binomial(self._inflow[:, b].astype(np.int64), share)  # (24, N)
            cohorts = np.concatenate([pending[b][None].astype(np.int64), entering])
            staying = rng.binomial(cohorts, stay[:, None]).sum(axis=0)
            done[b] += cohorts.sum(axis=0) - staying
            pending[b] = staying


def _stay_probabilities(delay_hours: float) -> np.ndarray:
    """(25,) probability of still being pending at the end of the day: for someone pending at its
    start, then for arrivals at the end of hours 0..23 (geometric delay, mean ``delay_hours``)."""
    q = 1.0 - 1.0 / delay_hours
    return np.concatenate(([q**HOURS_PER_DAY], q ** (HOURS_PER_DAY - 1 - np.arange(HOURS_PER_DAY))))
