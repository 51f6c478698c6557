"""ImportanceTemperedGibbs (TGS and weighted TGS, Zanella & Roberts 2019): on every rung of a ladder the
chain's states follow the extended law pi_T(x) Z_T(x), computed here by enumeration independently of the
library; the weighted Rao-Blackwellised marginals agree with the exact marginals within their MCSE, on energy
models and on a NumPyro model."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from helpers import assert_every_state_on_every_rung, exact_state_probabilities, run_mcmc, z_crit
from test_metropolis import dense_with_three_body

import ebm_numpyro as ebm


def enumerated(model):
    """digits (S, N) of every state in the order of helpers.state_codes, and their energies (float64)."""
    q, n = model.num_values, model.num_units
    digits = np.array(list(itertools.product(range(q), repeat=n)))[:, ::-1]
    x = np.asarray(model.unit_values)[digits].reshape((-1,) + tuple(model.event_shape))
    return digits, np.asarray(model.energy(x), np.float64)


def single_unit_conditionals(digits, energies, q, t):
    """pi_T(x_i = v | x_-i) for every state, unit and value, (S, N, q), from the enumerated energies."""
    n = digits.shape[1]
    codes = (digits * q ** np.arange(n)).sum(-1)
    moved = codes[:, None, None] + (np.arange(q)[None, None, :] - digits[:, :, None]) * (q ** np.arange(n))[None, :, None]
    logits = -energies[moved] / t
    logits -= logits.max(-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(-1, keepdims=True)


def extended_law(model, weighted, exploration=1.0, alpha=0.0):
    """t -> the stationary state probabilities pi_T(x) Z_T(x) of the chain (the module doc's law)."""
    digits, energies = enumerated(model)
    q, n = model.num_values, model.num_units

    def law(t):
        cond = single_unit_conditionals(digits, energies, q, t)
        f = cond**alpha / (cond**alpha).sum(-1, keepdims=True)
        at = lambda a: np.take_along_axis(a, digits[..., None], -1)[..., 0]  # noqa: E731
        rate = at(f) / at(cond)
        if weighted:
            rate = rate * (1 - cond[..., 0] + exploration / n)
        p = exact_state_probabilities(model, t) * rate.mean(-1)
        return p / p.sum()

    return law


def exact_marginals(model, t=1.0):
    digits, energies = enumerated(model)
    p = exact_state_probabilities(model, t)
    return np.stack([(p[:, None] * (digits == v)).sum(0) for v in range(model.num_values)], -1)  # (N, q)


def assert_marginals(run, exact, label):
    est = ebm.diagnostics.weighted_marginals(run)
    with np.errstate(divide="ignore", invalid="ignore"):  # exact zeros (padding) have no error
        z = (est["mean"].values - exact) / est["mcse"].values
    keep = np.isfinite(z) & (exact > 1e-6) & (exact < 1 - 1e-6)
    bound = z_crit(int(keep.sum()))
    assert np.abs(z[keep]).max() < bound, f"{label}: max |z| {np.abs(z[keep]).max():.2f} > {bound:.2f}"
    return est


POTTS = dict(num_states=3, num_sites=6, edges=[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 3)])


def potts():
    return ebm.Potts(3, 6, POTTS["edges"], np.linspace(-0.5, 1.2, 7),
                     fields=np.random.default_rng(1).normal(size=(6, 3)) * 0.4)


@pytest.mark.slow
@pytest.mark.parametrize("name, weighted, alpha", [("dense-three-body", True, 0.0), ("dense-three-body", False, 0.0),
                                                    ("potts", True, 0.0), ("potts", False, 0.5)])
def test_every_state_on_every_rung_and_the_weighted_marginals(name, weighted, alpha):
    model = dense_with_three_body() if name == "dense-three-body" else potts()
    ladder = [1.0, 1.6, 2.5]
    kernel = ebm.ImportanceTemperedGibbs(potential_fn=ebm.potential(model), temperatures=ladder, weighted=weighted,
                                         alpha=alpha)
    mcmc, swap = assert_every_state_on_every_rung(kernel, model, ladder, name, samples=200, warmup=200,
                                                  law=extended_law(model, weighted, alpha=alpha))
    assert swap > 0.2
    est = assert_marginals(mcmc, exact_marginals(model), name)
    assert est.attrs["kish_ess"] > 0.3 * 512 * 200  # the weights cost little here


def test_weights_match_the_extended_law_at_one_temperature():
    # each draw's weight is 1/Z(x), Z the mean flip rate: recompute it by enumeration for the drawn states
    model = dense_with_three_body()
    mcmc = run_mcmc(ebm.ImportanceTemperedGibbs(potential_fn=ebm.potential(model), temperature=1.3), warmup=5,
                    samples=20, chains=4)
    digits, energies = enumerated(model)
    cond = single_unit_conditionals(digits, energies, 2, 1.3)
    s = np.asarray(mcmc.get_samples()["spins"])
    codes = ((s > 0) * 2 ** np.arange(8)).sum(-1)
    at = np.take_along_axis(cond[codes], digits[codes][..., None], -1)[..., 0]
    z = (0.5 / at * (1 - cond[codes][..., 0] + 1 / 8)).mean(-1)
    fields = mcmc.get_extra_fields()
    np.testing.assert_allclose(np.asarray(fields["importance_weight"]), 1 / z, rtol=2e-5)
    np.testing.assert_allclose(np.asarray(fields["conditional"]), cond[codes], atol=2e-6)


def coupled_bernoulli(n=10, seed=0):
    """10 Bernoulli sites, the probit-ish likelihood of y coupling all of them (through sum(w * z))."""
    rng = np.random.default_rng(seed)
    w = jnp.asarray(rng.normal(size=n), jnp.float32)
    prior = jnp.asarray(rng.uniform(0.2, 0.6, size=n), jnp.float32)

    def model(y=1.3):
        z = numpyro.sample("z", dist.Bernoulli(probs=prior).to_event(1))
        numpyro.sample("y", dist.Normal(jnp.sum(w * z) - 0.4 * z[0] * z[1], 0.7), obs=y)

    def log_joint(z):
        lp = np.sum(np.where(z == 1, np.log(prior), np.log1p(-prior)), -1)
        mu = z @ np.asarray(w) - 0.4 * z[:, 0] * z[:, 1]
        return lp - 0.5 * ((1.3 - mu) / 0.7) ** 2

    return model, log_joint


@pytest.mark.parametrize("weighted", [True, False])
def test_numpyro_model_marginals(weighted):
    model, log_joint = coupled_bernoulli()
    z = np.array(list(itertools.product([0, 1], repeat=10)), np.float64)
    lp = log_joint(z)
    p = np.exp(lp - lp.max())
    p /= p.sum()
    exact1 = (p[:, None] * z).sum(0)
    mcmc = run_mcmc(ebm.ImportanceTemperedGibbs(model, weighted=weighted), warmup=50, samples=2000, chains=8)
    est = assert_marginals(mcmc, np.stack([1 - exact1, exact1], -1), f"model=, weighted={weighted}")
    assert list(est.coords["unit"].values) == [f"z[{k}]" for k in range(10)]
    assert mcmc.get_samples()["z"].shape == (16000, 10)


def test_numpyro_model_with_bernoulli_and_categorical_sites():
    # q = 2 and q = 3 units in one state (padded), coupled through the likelihood
    rng = np.random.default_rng(4)
    w, v = rng.normal(size=5), rng.normal(size=(2, 3))

    def model():
        z = numpyro.sample("z", dist.Bernoulli(0.4).expand([5]).to_event(1))
        c = numpyro.sample("c", dist.Categorical(jnp.asarray([0.5, 0.3, 0.2])).expand([2]).to_event(1))
        mu = jnp.sum(jnp.asarray(w) * z) + jnp.asarray(v)[jnp.arange(2), c].sum() + 0.5 * z[0] * c[1]
        numpyro.sample("y", dist.Normal(mu, 0.8), obs=0.7)

    states = [(z, c) for z in itertools.product([0, 1], repeat=5) for c in itertools.product(range(3), repeat=2)]
    z = np.array([s[0] for s in states], np.float64)
    c = np.array([s[1] for s in states])
    mu = z @ w + v[0, c[:, 0]] + v[1, c[:, 1]] + 0.5 * z[:, 0] * c[:, 1]
    lp = (np.where(z == 1, np.log(0.4), np.log(0.6)).sum(-1) + np.log([0.5, 0.3, 0.2])[c].sum(-1)
          - 0.5 * ((0.7 - mu) / 0.8) ** 2)
    p = np.exp(lp - lp.max())
    p /= p.sum()
    exact = np.zeros((7, 3))
    for k in range(5):
        exact[k, :2] = [(p * (z[:, k] == 0)).sum(), (p * (z[:, k] == 1)).sum()]
    for k in range(2):
        exact[5 + k] = [(p * (c[:, k] == j)).sum() for j in range(3)]
    mcmc = run_mcmc(ebm.ImportanceTemperedGibbs(model, weighted=False), warmup=50, samples=2000, chains=8)
    est = assert_marginals(mcmc, exact, "Bernoulli and Categorical sites")
    np.testing.assert_array_equal(est["mean"].values[:5, 2], 0.0)  # the padding: no mass on a third value


def test_arviz_and_errors():
    import arviz as az

    model, _ = coupled_bernoulli()
    mcmc = run_mcmc(ebm.ImportanceTemperedGibbs(model), warmup=5, samples=30, chains=2)
    idata = az.from_numpyro(mcmc)
    stats = ebm.diagnostics.get_group(idata, "sample_stats")
    assert {"importance_weight", "conditional"} <= set(stats.data_vars)
    a = ebm.diagnostics.weighted_marginals(idata)["mean"].values
    b = ebm.diagnostics.weighted_marginals(mcmc)["mean"].values
    np.testing.assert_allclose(a, b, rtol=1e-6)
    for kwargs, match in [({"weighted": "yes"}, "weighted"), ({"exploration": 0}, "exploration"),
                          ({"alpha": 1.0}, "alpha"), ({"alpha": "0.5"}, "alpha")]:
        with pytest.raises(ValueError, match=match):
            ebm.ImportanceTemperedGibbs(model, **kwargs)
    with pytest.raises(ValueError, match="importance_weight"):
        ebm.diagnostics.weighted_marginals(run_mcmc(ebm.TemperedGibbs(model), warmup=2, samples=3, chains=1))
    with pytest.raises(ValueError, match="numpyro.infer.Gibbs"):
        numpyro.infer.Gibbs([(numpyro.infer.NUTS(model), ["w"]), (ebm.ImportanceTemperedGibbs(model), ["z"])])
    with pytest.raises(ValueError, match="weights"):
        ebm.diagnostics.weighted_mean(np.zeros((2, 3)), np.zeros((2, 3)))
