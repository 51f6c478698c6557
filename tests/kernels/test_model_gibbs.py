"""TemperedGibbs(model=...) and ebm.gibbs_fn: exact heat-bath Gibbs on the discrete sites of
ordinary NumPyro models, checked against enumeration (every state, every rung of a ladder),
against TemperedGibbs on the equivalent Ising model, and inside NumPyro's HMCGibbs against
enumeration x quadrature. Fixed keys; tolerances from the MCSE (tests/helpers.py)."""

import itertools

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import assert_state_frequencies as assert_frequencies
from helpers import mcse_mean, summary_text, z_crit
from helpers import run_mcmc as run
from numpyro.infer import NUTS, HMCGibbs

import ebm_numpyro as ebm


# ----------------------------------------------------------------------------- 10 Bernoulli sites
N_BITS = 10
_W = np.random.default_rng(5).normal(size=(N_BITS,)) * 0.6


def bits_log_density(x):
    """A non-quadratic log density of 10 binary units: a three-body term and a cosine."""
    x = jnp.asarray(x, jnp.float32)
    return 1.2 * x[..., 0] * x[..., 3] * x[..., 7] + jnp.cos(2.0 * (x @ _W)) - 0.8 * x[..., 2] * x[..., 5]


def bits_model():
    """Ten separate Bernoulli sites (different priors) plus a factor."""
    xs = [numpyro.sample(f"b{i}", dist.Bernoulli(0.3 + 0.04 * i)) for i in range(N_BITS)]
    numpyro.factor("f", bits_log_density(jnp.stack(xs)))


def bits_exact(beta):
    states = np.array(list(itertools.product((0, 1), repeat=N_BITS)))[:, ::-1]  # code bit i = unit i
    prior = np.array([0.3 + 0.04 * i for i in range(N_BITS)])
    lp = (np.log(np.where(states == 1, prior, 1 - prior)).sum(1)
          + np.asarray(bits_log_density(jnp.asarray(states)), np.float64))
    w = beta * lp
    p = np.exp(w - w.max())
    return p / p.sum()


@pytest.mark.slow
def test_ten_bernoulli_sites_every_rung_against_enumeration():
    ladder = np.array([1.0, 1.8, 3.2])
    kernel = ebm.TemperedGibbs(model=bits_model, temperatures=ladder)
    mcmc = run(kernel, samples=6000, chains=4, extra=("x", "swap_accept"))
    slots = mcmc.get_extra_fields(group_by_chain=True)["x"]
    bits = np.stack([np.asarray(slots[f"b{i}"]) for i in range(N_BITS)], -1)  # (chain, draw, slot, unit)
    codes = bits @ (1 << np.arange(N_BITS))
    for k, t in enumerate(ladder):
        assert_frequencies(codes[:, :, k], bits_exact(1.0 / t), f"rung {k} (T = {t})")
    assert np.mean(np.asarray(mcmc.get_extra_fields()["swap_accept"])) > 0.2


# ----------------------------------------------------------------------------- Boltzmann sites
_RING = np.array([(i, (i + 1) % 6) for i in range(6)] + [(0, 3)])
RING = ebm.Ising.from_edges(6, _RING, np.array([0.6, -0.4, 0.5, 0.7, -0.3, 0.4, 0.5]), 0.1 * np.ones(6))
Y6 = np.asarray(np.random.default_rng(0).normal(size=6), np.float32)


def ising_regression(y):
    s = numpyro.sample("s", ebm.Boltzmann(RING, 1.3))
    numpyro.sample("y", dist.Normal(0.8 * s, 1.0), obs=y)


def ring_posterior():
    states = np.array(list(itertools.product((0, 1), repeat=6)))[:, ::-1]
    s = 2 * states - 1
    lp = -np.asarray(RING.energy(jnp.asarray(s, jnp.int8)), np.float64) / 1.3 - 0.5 * ((Y6 - 0.8 * s) ** 2).sum(1)
    p = np.exp(lp - lp.max())
    return p / p.sum()


@pytest.mark.slow
@pytest.mark.parametrize("blocks", [None, "model"])
def test_boltzmann_site_with_likelihood_against_enumeration(blocks):
    kernel = ebm.TemperedGibbs(model=ising_regression, temperature=1.0, blocks=blocks)
    mcmc = run(kernel, Y6, samples=5000)
    steps = kernel._plan.steps
    assert {type(step).__name__ for step in steps} == {"ModelStep"}
    assert all(type(step.rest).__name__ == "RestByTerms" for step in steps)  # the likelihood's terms, proved per unit
    s = np.asarray(mcmc.get_samples(group_by_chain=True)["s"])
    codes = (s == 1).astype(np.int64) @ (1 << np.arange(6))
    assert_frequencies(codes, ring_posterior(), f"blocks={blocks}")


@pytest.mark.slow
def test_boltzmann_prior_takes_the_fast_path():
    def prior():
        numpyro.sample("s", ebm.Boltzmann(RING, 1.3))

    kernel = ebm.TemperedGibbs(model=prior, temperatures=[1.0, 2.0])
    mcmc = run(kernel, samples=4000)
    assert {type(step).__name__ for step in kernel._plan.steps} == {"ModelStep"}
    s = np.asarray(mcmc.get_samples(group_by_chain=True)["s"])
    codes = (s == 1).astype(np.int64) @ (1 << np.arange(6))
    p = np.exp(np.asarray(ebm.Boltzmann(RING, 1.3).log_prob(ebm.distributions.all_states_of(RING)), np.float64))
    assert_frequencies(codes, p, "Boltzmann prior")


# ----------------------------------------------------------------------------- denoising
def denoising_pair(side, temperature=2.0, sigma=0.8, seed=0):
    """A noisy image and the two samplers' targets: the NumPyro model with an Ising prior and
    a Gaussian likelihood, and the equivalent Ising model with fields h = y / sigma^2 at T = 1
    (log N(y | s, sigma) = y s / sigma^2 + const for s = ±1)."""
    rng = np.random.default_rng(seed)
    truth = np.where(np.add.outer(np.arange(side), np.arange(side)) < side, 1, -1)
    y = np.asarray(truth + sigma * rng.normal(size=truth.shape), np.float32)
    lattice = ebm.Ising.square_lattice(side)

    def model(y):
        s = numpyro.sample("s", ebm.Boltzmann(lattice, temperature))
        numpyro.sample("y", dist.Normal(s, sigma).to_event(2), obs=y)

    idx = np.arange(side * side).reshape(side, side)
    edges = np.concatenate([np.stack([idx.ravel(), np.roll(idx, -1, a).ravel()], 1) for a in (0, 1)])
    ising = ebm.Ising.from_edges(side * side, edges, np.full(len(edges), 1.0 / temperature),
                                 fields=(y / sigma**2).ravel())
    return model, y, ising


def check_denoising(side, samples, chains):
    model, y, ising = denoising_pair(side)
    a = run(ebm.TemperedGibbs(model=model, temperature=1.0, blocks="model"), y, samples=samples, chains=chains, warmup=100)
    b = run(ebm.TemperedGibbs(potential_fn=ebm.potential(ising), temperature=1.0, store_states=True), samples=samples, chains=chains,
            warmup=100)
    sa = np.asarray(a.get_samples(group_by_chain=True)["s"], np.float64).reshape(chains, samples, -1)
    sb = np.asarray(b.get_samples(group_by_chain=True)["spins"], np.float64)
    ma, mb = sa.mean(1), sb.mean(1)  # per-chain means of every pixel
    se = np.sqrt(ma.var(0, ddof=1) / chains + mb.var(0, ddof=1) / chains)
    se = np.maximum(se, np.sqrt(2.0 / (chains * samples)) * np.sqrt(np.maximum(1 - sa.mean((0, 1)) ** 2, 1e-3)))
    z = (ma.mean(0) - mb.mean(0)) / se
    assert np.abs(z).max() < z_crit(side * side), f"max |z| = {np.abs(z).max():.2f}"


@pytest.mark.slow
def test_denoising_matches_ising_with_fields_8x8():
    check_denoising(8, 1000, 8)


@pytest.mark.slow
def test_denoising_matches_ising_with_fields_32x32():
    check_denoising(32, 2000, 8)


# ----------------------------------------------------------------------------- MCMC plumbing
def small_model():
    a = numpyro.sample("a", dist.Bernoulli(0.3).expand([3]).to_event(1))
    c = numpyro.sample("c", dist.Categorical(probs=jnp.array([0.2, 0.5, 0.3])))
    numpyro.factor("f", jnp.sin(a.sum() * 1.3 + c) * 1.5)
    numpyro.deterministic("total", a.sum() + c)


def check_summary_and_arviz(mcmc):
    """Samples under the site names (deterministic sites included, as NumPyro's HMC returns
    them); print_summary, az.from_numpyro and to_inference_data work."""
    samples = mcmc.get_samples()
    assert set(samples) == {"a", "c", "total"} and samples["a"].shape == (40, 3) and samples["c"].shape == (40,)
    np.testing.assert_array_equal(samples["total"], samples["a"].sum(-1) + samples["c"])
    text = summary_text(mcmc)
    assert "a[0]" in text and "c" in text
    idata = az.from_numpyro(mcmc)
    assert {"a", "c", "total"} <= set(idata.posterior.data_vars) and "lp" in idata.sample_stats.data_vars
    idata2 = ebm.diagnostics.to_inference_data(mcmc)
    assert idata2.sample_stats["swap_accept"].dims == ("chain", "draw", "pair")


@pytest.mark.arviz
def test_summary_and_arviz():
    mcmc = run(ebm.TemperedGibbs(model=small_model, temperatures=[1.0, 2.0]), samples=20, chains=2,
               extra=("potential_energy", "swap_accept"))
    check_summary_and_arviz(mcmc)


@pytest.mark.slow
@pytest.mark.arviz
def test_chain_methods_summary_and_arviz():
    def make():
        return ebm.TemperedGibbs(model=small_model, temperatures=[1.0, 2.0])

    ref = run(make(), samples=20, chains=2, extra=("potential_energy", "swap_accept"))
    for method in ("sequential", "parallel"):
        other = run(make(), samples=20, chains=2, method=method, extra=("potential_energy", "swap_accept"))
        for k, v in ref.get_samples().items():
            np.testing.assert_array_equal(np.asarray(other.get_samples()[k]), np.asarray(v), err_msg=f"{method}: {k}")
    check_summary_and_arviz(ref)


@pytest.mark.slow
def test_temper_prior_keeps_the_likelihood_at_temperature_one():
    kernel = ebm.TemperedGibbs(model=ising_regression, temperatures=[1.0, 3.0], temper="prior", blocks="model")
    mcmc = run(kernel, Y6, samples=3000, extra=("x",))
    s = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["x"]["s"])[:, :, 1]  # the hot rung
    states = np.array(list(itertools.product((0, 1), repeat=6)))[:, ::-1]
    sp = 2 * states - 1
    lp = (-np.asarray(RING.energy(jnp.asarray(sp, jnp.int8)), np.float64) / 1.3 / 3.0
          - 0.5 * ((Y6 - 0.8 * sp) ** 2).sum(1))
    p = np.exp(lp - lp.max())
    assert_frequencies((s == 1).astype(np.int64) @ (1 << np.arange(6)), p / p.sum(), "hot rung, prior tempered")


def test_bad_input():
    def continuous():
        numpyro.sample("x", dist.Normal(0, 1))

    with pytest.raises(ValueError, match="continuous"):
        run(ebm.TemperedGibbs(model=continuous), samples=2, chains=1)

    def poisson():
        numpyro.sample("n", dist.Poisson(3.0))

    with pytest.raises(ValueError, match="support"):
        run(ebm.TemperedGibbs(model=poisson), samples=2, chains=1)
    with pytest.raises(ValueError, match="temper"):
        ebm.TemperedGibbs(model=small_model, temper="likelihood")
    with pytest.raises(ValueError, match="blocks"):
        ebm.TemperedGibbs(model=small_model, blocks="checkerboard")
    with pytest.raises(ValueError, match="exactly once"):
        run(ebm.TemperedGibbs(model=small_model, blocks=[{"a": [0, 1]}, {"c": [0]}]), samples=2, chains=1)
    with pytest.raises(ValueError, match="model="):
        ebm.TemperedGibbs(potential_fn=ebm.potential(RING), blocks="model")


@pytest.mark.slow
def test_user_blocks():
    blocks = [{"a": [0, 1, 2]}, {"c": [0]}]  # a's units are conditionally independent given c? no: coupled
    # through sin(sum a): use a model whose a-units are independent given c
    def model():
        a = numpyro.sample("a", dist.Bernoulli(0.3).expand([3]).to_event(1))
        c = numpyro.sample("c", dist.Categorical(probs=jnp.array([0.2, 0.5, 0.3])))
        numpyro.factor("f", jnp.sum(jnp.sin(a * 1.3 + c)) * 1.5)

    mcmc = run(ebm.TemperedGibbs(model=model, blocks=blocks), samples=3000)
    a, c = (np.asarray(mcmc.get_samples(group_by_chain=True)[k]) for k in ("a", "c"))
    codes = (a @ np.array([1, 2, 4])) + 8 * c
    states = [(np.array(bits), cc) for cc in range(3) for bits in itertools.product((0, 1), repeat=3)]
    lp = np.array([np.log(np.where(b[::-1] == 1, 0.3, 0.7)).sum() + np.log([0.2, 0.5, 0.3][cc])
                   + 1.5 * np.sin(b[::-1] * 1.3 + cc).sum() for b, cc in states])
    p = np.exp(lp - lp.max())
    assert_frequencies(codes, p / p.sum(), "user blocks")


# ----------------------------------------------------------------------------- HMCGibbs
Y3 = jnp.array([2.0, 2.5, 1.0])


def mixed(y):
    mu = numpyro.sample("mu", dist.Normal(0.0, 2.0))
    z = numpyro.sample("z", dist.Bernoulli(0.4).expand([3]).to_event(1))
    numpyro.sample("y", dist.Normal(mu + 1.5 * z.sum(), 1.0), obs=y)


def mixed_exact():
    """P(z) and E[mu] by enumeration over z times quadrature over mu."""
    grid = np.linspace(-14, 14, 8001)
    zs = np.array(list(itertools.product((0, 1), repeat=3)))
    logm, means = [], []
    for z in zs:
        lp = (-grid**2 / 8 - 0.5 * ((np.asarray(Y3)[None] - grid[:, None] - 1.5 * z.sum()) ** 2).sum(1)
              + np.log(np.where(z == 1, 0.4, 0.6)).sum())
        w = np.exp(lp - lp.max())
        logm.append(lp.max() + np.log(w.sum()))
        means.append((w * grid).sum() / w.sum())
    p = np.exp(np.array(logm) - max(logm))
    p /= p.sum()
    return p @ zs, p @ np.array(means)


@pytest.mark.slow
def test_hmc_gibbs_mixed_model_against_quadrature():
    kernel = HMCGibbs(NUTS(mixed), gibbs_fn=ebm.gibbs_fn(mixed, model_args=(Y3,)), gibbs_sites=["z"])
    mcmc = run(kernel, Y3, samples=4000, warmup=500, chains=2, method="sequential")
    s = mcmc.get_samples(group_by_chain=True)
    pz, emu = mixed_exact()
    bound = z_crit(4)
    for i in range(3):
        m, se = mcse_mean(np.asarray(s["z"])[..., i])
        assert abs(m - pz[i]) < bound * se, (i, m, pz[i], se)
    m, se = mcse_mean(np.asarray(s["mu"]))
    assert abs(m - emu) < bound * se, (m, emu, se)


def test_gibbs_fn_one_sweep_is_exact_given_mu():
    """One call of the gibbs_fn draws z from p(z | mu, y): frequencies over many keys."""
    update = jax.jit(jax.vmap(ebm.gibbs_fn(mixed, model_args=(Y3,)), in_axes=(0, None, None)))
    keys = jax.random.split(jax.random.key(4), 20000)
    z0 = {"z": jnp.zeros(3, jnp.int32)}
    out = np.asarray(update(keys, z0, {"mu": jnp.asarray(0.3)})["z"])
    # a single sweep from z0 is not yet stationary, but its first unit's conditional is exact:
    # p(z_0 = 1 | z_1 = z_2 = 0, mu) from the log joint
    lp = [np.log(p) - 0.5 * float(jnp.sum((Y3 - 0.3 - 1.5 * k) ** 2)) for k, p in ((0, 0.6), (1, 0.4))]
    p1 = np.exp(lp[1] - np.logaddexp(*lp))
    m = out[:, 0].mean()
    assert abs(m - p1) < z_crit(1) * np.sqrt(p1 * (1 - p1) / out.shape[0]), (m, p1)


# ----------------------------------------------------------------------------- q-state RBM
Q_VIS, N_VIS, N_HID = 3, 3, 3
_RBM = np.random.default_rng(11)
W_Q = jnp.asarray(_RBM.normal(size=(N_VIS, Q_VIS, N_HID)), jnp.float32)  # W[i, k, j]
A_Q = jnp.asarray(0.5 * _RBM.normal(size=(N_VIS, Q_VIS)), jnp.float32)
B_Q = jnp.asarray(0.5 * _RBM.normal(size=(N_HID,)), jnp.float32)


def q_rbm_energy(v, h):
    """E(v, h) = -sum_ijk 1[v_i = k] W_ikj h_j - sum_ik 1[v_i = k] a_ik - sum_j b_j h_j, written
    elementwise (each summed element depends on one visible and one hidden unit)."""
    onehot = jax.nn.one_hot(v, Q_VIS, dtype=jnp.float32)
    return (-jnp.sum(onehot[:, :, None] * W_Q * h.astype(jnp.float32)[None, None, :])
            - jnp.sum(onehot * A_Q) - jnp.sum(B_Q * h))


def q_rbm():
    """The q-state RBM (categorical visible units, binary hidden units) as a NumPyro model."""
    v = numpyro.sample("v", dist.Categorical(logits=jnp.zeros((N_VIS, Q_VIS))).to_event(1))
    h = numpyro.sample("h", dist.Bernoulli(0.5).expand([N_HID]).to_event(1))
    numpyro.factor("energy", -q_rbm_energy(v, h))


def test_q_state_rbm_is_swept_by_layers_and_matches_enumeration():
    """A q-state RBM fits as an ordinary NumPyro model: the plan proves the two layers
    conditionally independent (one colour class each) and every joint state's frequency
    matches enumeration."""
    kernel = ebm.TemperedGibbs(model=q_rbm, temperature=1.0)
    mcmc = run(kernel, samples=4000, chains=4)
    assert [(type(s).__name__, s.site, len(s.units)) for s in kernel._plan.steps] == [("TermsStep", "v", N_VIS),
                                                                                      ("TermsStep", "h", N_HID)]
    v = np.asarray(mcmc.get_samples(group_by_chain=True)["v"])
    h = np.asarray(mcmc.get_samples(group_by_chain=True)["h"])
    codes = v @ (Q_VIS ** np.arange(N_VIS)) + (Q_VIS ** N_VIS) * (h @ (1 << np.arange(N_HID)))
    vs = np.array(list(itertools.product(range(Q_VIS), repeat=N_VIS)))[:, ::-1]
    hs = np.array(list(itertools.product((0, 1), repeat=N_HID)))[:, ::-1]
    lp = np.array([[-float(q_rbm_energy(jnp.asarray(a), jnp.asarray(b))) for a in vs] for b in hs]).ravel()
    p = np.exp(lp - lp.max())
    assert_frequencies(codes, p / p.sum(), "q-state RBM")
