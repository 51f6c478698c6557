"""Builds the tutorial notebooks from their cell sources (run: python tutorials/_build.py)."""

import sys

import nbformat as nbf


def notebook(cells):
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, src in cells:
        nb.cells.append(nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src))
    return nb


ENERGY = [
    ("md", """# 1. Energy is loss: Ising models, Boltzmann machines and the partition function

The storyline: a Boltzmann machine's loss *is* an Ising energy, the Boltzmann distribution
p(x) ∝ exp(-E(x)/T) turns energies into probabilities, and the partition function
Z = Σ exp(-E/T) is a log-sum-exp that overflows unless computed with care. On small models
`ebm_numpyro.exact` computes it exactly; on the periodic lattice Kaufman's closed form does."""),
    ("code", """import jax, jax.numpy as jnp, numpy as np
import ebm_numpyro as ebm
rng = np.random.default_rng(0)"""),
    ("md", """## The Boltzmann machine is an Ising model
With x = (s + 1)/2 the weights of a {0,1} Boltzmann machine become couplings J = W/4 and the
energies agree state by state, up to one constant."""),
    ("code", """n = 8
W = np.triu(rng.normal(size=(n, n)), 1); W = W + W.T
bm = ebm.BoltzmannMachine(W, rng.normal(size=n))
ising, constant = bm.to_ising()
x = ebm.exact.enumerate_states(bm)            # all 256 states
gap = jnp.max(jnp.abs(bm.energy(x) - (ising.energy(2 * x - 1) + constant)))
print(f"max |E_BM(x) - E_Ising(2x-1) - c| over all {len(x)} states: {float(gap):.2e}")"""),
    ("md", """## Why log-sum-exp: the naive sum overflows
At T = 0.01 the Boltzmann weights exp(-E/T) of this model are far beyond float32's range."""),
    ("code", """e = np.asarray(bm.energy(x), np.float32)
with np.errstate(over="ignore"):
    naive = np.log(np.sum(np.exp(-e / np.float32(0.01))))
print("naive float32 log Z at T = 0.01:", naive)
print("streaming log-sum-exp        :", float(ebm.exact.log_partition(bm, 0.01)))
print("-E_min/T (+ log degeneracy)  :", -e.min() / 0.01)"""),
    ("md", """## Temperature as a knob: exact thermodynamics of a frustrated magnet
Heat capacity C = Var(E)/T² peaks where the system freezes into its low-energy states."""),
    ("code", """J = np.triu(rng.choice([-1.0, 1.0], size=(12, 12)), 1); J = J + J.T
glass = ebm.Ising(J)
temps = np.geomspace(0.1, 10, 25)
moments = [ebm.exact.moments(glass, T) for T in temps]
for T, m in list(zip(temps, moments))[::4]:
    print(f"T = {T:6.2f}  <E> = {float(m.mean_energy):8.3f}  C = {float(m.heat_capacity):6.3f}  log Z = {float(m.log_partition):8.3f}")
print("high-T limit N log 2 =", 12 * np.log(2))"""),
    ("md", """## Kaufman's exact lattice and Onsager's transition
On a 4×4 torus Kaufman's formula agrees with enumeration of all 65,536 states; on a
256×256 lattice it gives the energy per spin, approaching Onsager's infinite-lattice value."""),
    ("code", """lattice = ebm.Ising.square_lattice(4, 4)
for T in (1.5, 2.269, 3.5):
    print(f"T = {T}: enumeration {float(ebm.exact.log_partition(lattice, T)):.6f}  "
          f"Kaufman {float(ebm.exact.kaufman_log_partition(4, 4, T)):.6f}")
tc = float(ebm.exact.onsager_critical_temperature())
print(f"Tc = {tc:.4f}")
for T in (1.5, 2.0, 3.0):
    print(f"T = {T}: u(256x256) = {float(ebm.exact.kaufman_mean_energy(256, 256, T)):.5f}  "
          f"u(Onsager) = {float(ebm.exact.onsager_mean_energy(T)):.5f}  M = {float(ebm.exact.onsager_magnetization(T)):.4f}")"""),
    ("md", """## Continuous landscapes in NumPyro
`ebm.potential(model, T)` is a `potential_fn` for NumPyro's own kernels. At T = 0.1 NUTS
started in the left well of E(x) = (x² - 1)² stays there: the barrier is 10 kT high.
Annealing and tempering (later tutorials) fix that."""),
    ("code", """from numpyro.infer import MCMC, NUTS
for T in (1.0, 0.1):
    mcmc = MCMC(NUTS(potential_fn=ebm.potential(ebm.DoubleWell(), T)), num_warmup=300,
                num_samples=1000, progress_bar=False)
    mcmc.run(jax.random.key(0), init_params=jnp.array([-1.0]))
    xs = mcmc.get_samples()[:, 0]
    print(f"T = {T}: fraction of draws in the right well = {float(jnp.mean(xs > 0)):.3f}")"""),
]

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "tutorials"
    nbf.write(notebook(ENERGY), f"{out}/01_energy_and_exact_answers.ipynb")
