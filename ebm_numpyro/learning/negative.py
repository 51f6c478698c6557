"""Negative phases as objects: where the model's expectation of :math:`-\\nabla_\\theta F` comes from.

The log-likelihood gradient is the positive phase minus the negative phase
(:mod:`.gradients`); a negative phase is an object with two pure functions (optax's shape):

* ``init(model, data, key, batch_size) -> chains``: its persistent state (empty for CD and exact);
* ``gradient(model, batch, chains, key) -> (gradient, chains)``: one minibatch gradient.

:class:`Exact` differentiates the exact enumeration, :class:`CD` (CD-k, Hinton 2002) runs k
block-Gibbs sweeps from the batch, :class:`PCD` (Tieleman 2008) k sweeps of persistent chains
carried across updates; :class:`Langevin` runs k Langevin steps (ULA or MALA) of continuous
states, from the batch or persistent. They are frozen dataclasses (hashable: :func:`ebm_numpyro.learning.fit`
compiles its epoch once per phase). The functions :func:`exact_gradient`, :func:`cd_gradient`,
:func:`pcd_gradient` are the validated, jitted one-call forms.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from .._checks import check_int, check_positive
from ..models import check_discrete_model
from .gradients import contrastive_gradient, exact_model_gradient, gibbs_chain, validate_data

__all__ = ["NegativePhase", "Exact", "CD", "PCD", "Langevin", "langevin_step", "negative_phase", "exact_gradient", "cd_gradient", "pcd_gradient",
           "init_chains"]


class NegativePhase:
    """Base of the negative phases (see the module doc)."""

    #: whether the phase carries persistent chains across updates
    persistent = False

    def init(self, model, data, key, batch_size=None):
        """The phase's state before the first update: data-shaped chains, or an empty array."""
        return jnp.zeros((0,) + tuple(data.shape[1:]), data.dtype)

    def gradient(self, model, batch, chains, key):  # pragma: no cover - abstract
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Exact(NegativePhase):
    """The exact negative phase :math:`\\nabla_\\theta \\log Z` (enumeration; small models)."""

    def gradient(self, model, batch, chains, key):
        return exact_model_gradient(model, batch), chains


@dataclasses.dataclass(frozen=True)
class CD(NegativePhase):
    """CD-k: the negative phase at :math:`v_k`, k block-Gibbs sweeps started at the batch."""

    k: int = 1

    def __post_init__(self):
        check_int(self.k, "k", 1)

    def gradient(self, model, batch, chains, key):
        return contrastive_gradient(model, batch, gibbs_chain(key, model, batch, self.k)), chains


@dataclasses.dataclass(frozen=True)
class PCD(NegativePhase):
    """Persistent CD: ``num_chains`` chains (default: the batch size) started at random data rows
    and advanced k sweeps per update; the negative phase at the chains."""

    k: int = 1
    num_chains: int | None = None

    persistent = True

    def __post_init__(self):
        check_int(self.k, "k", 1)
        if self.num_chains is not None:
            check_int(self.num_chains, "num_chains", 1)

    def init(self, model, data, key, batch_size=None):
        n = self.num_chains or batch_size or data.shape[0]
        return init_chains(model, key, n, data)

    def gradient(self, model, batch, chains, key):
        chains = gibbs_chain(key, model, chains, self.k)
        return contrastive_gradient(model, batch, chains), chains


def langevin_step(model, x, key, step_size, noise_scale, metropolis):
    """One Langevin step of the states ``x`` (leading batch axis) of a continuous energy model:

    .. math::  x' = x - \\epsilon\\,\\nabla_x E(x) + \\sigma\\,\\xi, \\qquad \\xi \\sim \\mathcal N(0, I)

    (ULA); with ``metropolis`` (MALA) the proposal is accepted with probability
    :math:`\\min\\big(1, e^{-(E(x') - E(x))/T} q(x \\mid x') / q(x' \\mid x)\\big)`, :math:`q` the Gaussian
    proposal density, which makes :math:`e^{-E/T}` with :math:`T = \\sigma^2 / (2\\epsilon)` its exact
    stationary law (:math:`T = 1` for the Langevin noise :math:`\\sigma = \\sqrt{2\\epsilon}`). Returns
    ``(x', acceptance probability per state)`` (ones for ULA)."""
    energy_and_grad = jax.vmap(jax.value_and_grad(lambda y: model.energy(y)))
    e, g = energy_and_grad(x)
    proposal = x - step_size * g + noise_scale * jax.random.normal(key, x.shape, x.dtype)
    if not metropolis:
        return proposal, jnp.ones(x.shape[:1], x.dtype)
    e_new, g_new = energy_and_grad(proposal)
    temperature = noise_scale**2 / (2.0 * step_size)
    axes = tuple(range(1, x.ndim))

    def log_q(to, frm, grad):  # log q(to | frm), up to a constant
        return -jnp.sum((to - frm + step_size * grad) ** 2, axis=axes) / (2.0 * noise_scale**2)

    log_ratio = -(e_new - e) / temperature + log_q(x, proposal, g_new) - log_q(proposal, x, g)
    accept_prob = jnp.exp(jnp.minimum(log_ratio, 0.0))
    u = jax.random.uniform(jax.random.fold_in(key, 1), x.shape[:1], x.dtype)
    accept = u < accept_prob
    return jnp.where(accept.reshape(accept.shape + (1,) * (x.ndim - 1)), proposal, x), accept_prob


@dataclasses.dataclass(frozen=True)
class Langevin(NegativePhase):
    """Langevin negative chains for a continuous energy model (:class:`~ebm_numpyro.GaussianEnergy`,
    or any :class:`~ebm_numpyro.models.EnergyModel` on real-valued states): ``k`` steps of
    :func:`langevin_step` (ULA, or MALA with ``metropolis=True``) per update, from the batch
    (``persistent=False``: CD-k) or of ``num_chains`` persistent chains started at random data rows
    (``persistent=True``: PCD; default one chain per batch example).

    ``step_size`` :math:`\\epsilon` and ``noise_scale`` :math:`\\sigma` are explicit; the default
    :math:`\\sigma = \\sqrt{2\\epsilon}` is Langevin proper. The common practice of a smaller noise
    (Du & Mordatch 2019, Nijkamp et al. 2019, JEM: step 1, noise 0.01) samples the tempered law
    :math:`e^{-E/T}` with :math:`T = \\sigma^2 / (2\\epsilon)` (:attr:`implied_temperature`; exactly
    with MALA, up to ULA's discretisation bias without it), so the model it trains is sharper than
    the data by that factor. :func:`~ebm_numpyro.learning.gaussian_cd_bias` gives the exact
    expected gradient of the ULA form on a Gaussian energy."""

    k: int = 20
    step_size: float = 0.01
    noise_scale: float | None = None
    metropolis: bool = False
    persistent: bool = False
    num_chains: int | None = None

    def __post_init__(self):
        check_int(self.k, "k", 1)
        check_positive(self.step_size, "step_size")
        if self.noise_scale is not None:
            check_positive(self.noise_scale, "noise_scale")
        if self.num_chains is not None:
            check_int(self.num_chains, "num_chains", 1)
        if self.num_chains is not None and not self.persistent:
            raise ValueError("`num_chains` applies to persistent chains only (persistent=True)")

    @property
    def sigma(self) -> float:
        """The noise scale :math:`\\sigma` (default :math:`\\sqrt{2\\epsilon}`)."""
        return math.sqrt(2.0 * self.step_size) if self.noise_scale is None else float(self.noise_scale)

    @property
    def implied_temperature(self) -> float:
        """:math:`T = \\sigma^2 / (2\\epsilon)`: the temperature of the law the chains sample."""
        return self.sigma**2 / (2.0 * self.step_size)

    def init(self, model, data, key, batch_size=None):
        if not self.persistent:
            return super().init(model, data, key, batch_size)
        n = self.num_chains or batch_size or data.shape[0]
        return data[jax.random.randint(key, (n,), 0, data.shape[0])]

    def chains(self, model, x, key):
        """``k`` Langevin steps of the states ``x``: ``(x, mean acceptance probability)``."""

        def body(carry, t):
            x, acc = carry
            x, a = langevin_step(model, x, jax.random.fold_in(key, t), self.step_size, self.sigma, self.metropolis)
            return (x, acc + jnp.mean(a) / self.k), None

        (x, acc), _ = jax.lax.scan(body, (x, jnp.zeros((), x.dtype)), jnp.arange(self.k, dtype=jnp.uint32))
        return x, acc

    def gradient(self, model, batch, chains, key):
        start = chains if self.persistent else batch
        negatives, _ = self.chains(model, start, key)
        return contrastive_gradient(model, batch, negatives), (negatives if self.persistent else chains)


METHODS = {"exact": Exact, "cd": CD, "pcd": PCD}


def negative_phase(method="cd", k=1, num_chains=None) -> NegativePhase:
    """The phase object of the string sugar ``method`` (``"exact"``, ``"cd"``, ``"pcd"``) with ``k``
    (and ``num_chains`` for PCD); a :class:`NegativePhase` is returned as it is."""
    if isinstance(method, NegativePhase):
        return method
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {tuple(METHODS)} or a negative-phase object "
                         f"(ebm.learning.CD(k), PCD(k), Exact()); got {method!r}")
    if method == "exact":
        return Exact()
    if method == "cd":
        return CD(check_int(k, "k", 1))
    return PCD(check_int(k, "k", 1), num_chains)


@functools.partial(jax.jit, static_argnames=("phase",))
def _gradient(phase, model, data, chains, key):
    return phase.gradient(model, data, chains, key)


def exact_gradient(model, data):
    """Exact mean log-likelihood gradient: positive phase minus the exact negative phase.

    .. math::  g = \\langle -\\nabla_\\theta F\\rangle_{\\text{data}} - \\nabla_\\theta\\log Z
    """
    data = validate_data(model, data)
    return _gradient(Exact(), model, data, jnp.zeros((0,)), jax.random.key(0))[0]


def cd_gradient(model, data, key, k=1):
    """CD-k gradient (Hinton 2002): negative phase at :math:`v_k`, k block-Gibbs sweeps from the data.

    .. math::  g_{CD-k} = \\langle -\\nabla_\\theta F\\rangle_{v_0\\in\\text{data}}
               - \\langle -\\nabla_\\theta F\\rangle_{v_k},\\qquad v_0 \\to v_1 \\to\\dots\\to v_k

    For an RBM the chain is v → h → v and the statistics of :math:`v_k` use
    :math:`\\sigma(W^\\top v_k + c)` (hidden units summed out), which has the same expectation
    as the sampled hidden state but lower variance.
    """
    phase = CD(check_int(k, "k", 1))
    data = validate_data(model, data)
    return _gradient(phase, model, data, jnp.zeros((0,)), key)[0]


def pcd_gradient(model, data, chains, key, k=1):
    """PCD gradient (Tieleman 2008): the negative phase from persistent ``chains`` advanced k sweeps.

    Returns ``(gradient, new_chains)``; pass ``new_chains`` to the next update.
    """
    phase = PCD(check_int(k, "k", 1))
    data = validate_data(model, data)
    chains = validate_data(model, chains, "chains")
    return _gradient(phase, model, data, chains, key)


def init_chains(model, key, num_chains, data=None):
    """Initial persistent chains: random rows of ``data`` when given, else uniform random states
    (data-shaped, in ``model.dtype``)."""
    num_chains = check_int(num_chains, "num_chains", 1)
    if data is not None:
        data = validate_data(model, data)
        idx = jax.random.randint(key, (num_chains,), 0, data.shape[0])
        return data[idx]
    check_discrete_model(model, "model", "learning")
    return model.data_part(model.random_state(key, (num_chains,))).astype(model.dtype)
