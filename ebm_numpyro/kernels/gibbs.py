"""Heat-bath block Gibbs with optional replica exchange, as a native NumPyro kernel.

:class:`TemperedGibbs` is the heat-bath move of :class:`.tempered.TemperedKernel`, which owns the
targets, the ladder (:mod:`.tempering`) and the state: for an energy model one sweep of the
registry's sweep (:mod:`.sweeps`), for a NumPyro model one sweep of its plan
(:mod:`.model_gibbs`). The pure pieces (BlackJAX's shape) are
:func:`.tempering.tempered_step` and :func:`.tempering.replica_exchange`.
"""

from __future__ import annotations

from . import model_gibbs, sweeps
from .tempered import AUTO_STORE_UNITS, EnergyTarget, LatticeGibbsState, Move, TemperedKernel, TemperedState, observables
from .tempering import ReplicaState, replica_exchange, swap_acceptance, tempered_step

__all__ = ["TemperedGibbs", "TemperedGibbsState", "LatticeGibbsState", "ReplicaState", "replica_exchange",
           "swap_acceptance", "tempered_step", "AUTO_STORE_UNITS"]

#: the state of :class:`TemperedGibbs` (:class:`.tempered.TemperedState`)
TemperedGibbsState = TemperedState


class TemperedGibbs(TemperedKernel):
    """Heat-bath block Gibbs on a discrete energy model, optionally with replica exchange.

    ``TemperedGibbs(potential_fn=ebm.potential(model), temperature=T)`` samples
    :math:`p(x) \\propto e^{-U(x)/T}` by systematic block sweeps (checkerboard on lattices,
    the two layers of an RBM, graph colours otherwise); ``temperature`` may also be a
    schedule ``t -> T`` (annealed Gibbs). ``temperatures=ladder`` runs one replica per
    temperature :math:`T_0 < T_1 < \\dots` and after every sweep proposes swaps between
    neighbouring temperatures (even and odd pairs alternately); ``adapt_ladder=True`` moves the
    interior temperatures during warm-up to equalise the swap rates (Syed et al. 2021; the ladder
    is fixed after warm-up, :class:`~ebm_numpyro.kernels.tempering.AdaptiveLadder`). The samples
    are the states at :math:`T_0`, the target. With :math:`U = E/T_U` (the potential's own
    temperature) the target is :math:`e^{-E/(T_U T_0)}`.

    The kernel is the heat-bath move of :class:`~ebm_numpyro.kernels.tempered.TemperedKernel`:
    the sweep of an energy model is the one :func:`ebm_numpyro.kernels.sweeps.sweep_for` picks
    (checkerboard on lattices, softmax for ``q``-state units), the sweep of a NumPyro model's
    sites a plan read from its program (:mod:`ebm_numpyro.kernels.model_gibbs`). With ``model=``
    it is a block of NumPyro's ``numpyro.infer.Gibbs``, e.g.
    ``Gibbs([(NUTS(model), ["mu"]), (ebm.TemperedGibbs(model=model), ["z"])])``.

    :param potential_fn: an :class:`~ebm_numpyro.Potential` of a discrete model
        (``ebm.potential(ising)``), which gives the sampler the model's local fields.
    :param model: a NumPyro model whose latent sites are all discrete (``Bernoulli``,
        ``Categorical``, ``DiscreteUniform``, :class:`~ebm_numpyro.Boltzmann`, ...); observed
        sites may be of any kind. The conditionals are exact, from the model's own log joint
        (:mod:`ebm_numpyro.kernels.model_gibbs`): every unit is drawn from
        :math:`p_\\beta(x_i = v \\mid x_{-i}) \\propto p_t(x_{i\\to v})^{\\beta}\\, p_u(x_{i\\to v})`.
        An ``ebm.Boltzmann`` site uses its energy model's local fields.
    :param temper: with ``model=``, which part of the log joint the ladder tempers:
        ``"all"`` (default: the whole log joint, :math:`p_t = p(x, y)`, :math:`p_u = 1`) or
        ``"prior"`` (the latent sites only; the observed sites and ``numpyro.factor`` terms,
        :math:`p_u`, stay at temperature 1 on every rung). The target (first) temperature
        should then be 1 to sample the posterior.
    :param blocks: with ``model=``, how a sweep groups the units, in the vocabulary of
        :class:`~ebm_numpyro.DiscreteEnergy`. ``None`` (default, always correct): units are drawn together only where the model's log joint proves them
        conditionally independent (:mod:`ebm_numpyro.kernels.model_gibbs`: the terms each
        element of the summed log densities depends on are read from the jaxpr and the units
        coloured, e.g. the checkerboard of an Ising prior written as a ``numpyro.factor``; a
        ``Boltzmann`` site by its energy model's colour classes when the rest of the log joint
        does not couple them), every other unit on its own, in order; ``"single"``: every unit
        on its own; ``"model"``:
        ``Boltzmann`` sites always by their colour classes (valid when the rest of the log
        joint does not couple two units of one colour, e.g. an elementwise likelihood); or a
        list of blocks, each a dict ``{site name: flat unit indices}``, of conditionally
        independent units drawn together, covering every unit exactly once.
    :param store_states: keep the target state in every draw (``True``), never (``False``:
        only ``physical_energy`` and ``magnetization``, a few bytes per draw), or ``None``
        (default): keep it when the model has at most ``AUTO_STORE_UNITS`` (64) units. Use
        ``MCMC(thinning=k)`` to keep every k-th draw, or ``extra_fields=("x",)`` for every slot.

    Samples (``mcmc.get_samples()``): a dict with ``physical_energy`` (:math:`E(x_0)`),
    ``magnetization`` and, when stored, ``spins`` / ``units``; with ``model=`` the values
    of the latent sites and of the model's ``numpyro.deterministic`` sites under their names
    (``physical_energy`` is then :math:`-\\log p(x_0, y)`,
    an extra field). Extra fields for
    ``MCMC.run(extra_fields=...)``: ``potential_energy``, ``physical_energy``,
    ``magnetization``, ``energies``, ``swap_accept``, ``replica_index``, ``x``
    (see :class:`~ebm_numpyro.kernels.tempered.TemperedState`). ``init_params`` gives starting units per chain, of
    shape ``event_shape`` (every temperature) or ``(n_temperatures,) + event_shape``; without
    it every slot starts uniformly at random.

    **Example**::

        lattice = ebm.Ising.square_lattice(32)
        kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(lattice),
                                   temperatures=ebm.geometric_ladder(1.8, 3.5, 8))
        mcmc = MCMC(kernel, num_warmup=500, num_samples=2000, num_chains=4, chain_method="vectorized")
        mcmc.run(jax.random.key(0), extra_fields=("swap_accept", "replica_index"))
        mcmc.print_summary()
    """

    def __init__(self, model=None, potential_fn=None, *, temperature=None, temperatures=None,
                 adapt_ladder: bool = False, store_states: bool | None = None, blocks=None, temper: str = "all"):
        super().__init__(model, potential_fn, temperature=temperature, temperatures=temperatures,
                         adapt_ladder=adapt_ladder, store_states=store_states, temper=temper)
        if model is None and blocks is not None:
            raise ValueError("`blocks` applies to TemperedGibbs(model=...) only: an energy model declares its own "
                             "blocks (e.g. ebm.DiscreteEnergy(..., blocks=...))")
        if not (blocks is None or blocks in ("single", "model") or isinstance(blocks, (list, tuple))):
            raise ValueError("`blocks` must be None (proved from the model), 'single' (unit by unit), 'model' "
                             f"(Boltzmann sites by their colour classes) or a list of dicts {{site: indices}}; "
                             f"got {blocks!r}")
        self._blocks = blocks

    def _make_plan(self, sites, trace, model_args, model_kwargs):
        return model_gibbs.make_plan(self._model, model_args, model_kwargs, sites, trace, blocks=self._blocks,
                                     temper=self._temper)

    def _move(self, target) -> Move:
        """One heat-bath sweep of every slot: the registry's sweep of the energy model (in its
        layout), or the plan's sweep of the NumPyro model's sites."""
        if isinstance(target, EnergyTarget):
            model = target.model
            sweep = sweeps.sweep_for(model)

            def step(words, x, betas):
                x, energies, mags = sweep.step(words, model, x, betas)
                return x, energies, observables(energies, mags.astype(energies.dtype))

            return Move(step, sweep.to_layout, sweep.from_layout)

        def step(words, x, betas):
            x = model_gibbs.plan_sweep(target.plan, target, words, x, betas)
            energies, obs = target.evaluate(x)
            return x, energies, obs

        return Move(step)
