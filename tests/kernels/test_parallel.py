"""ebm.parallel and chain_method="parallel" on four (forced) CPU devices.

JAX reads ``XLA_FLAGS`` when it is imported, so every check runs in a subprocess that sets
``--xla_force_host_platform_device_count=4`` first (never in the pytest process). Each check
is a function of this module run by name in that subprocess (:func:`on_four_devices`).

Against the single-device sampler the checks are bit-for-bit (same key, same draws: discrete
states leave no room for rounding); against the exact answer (Kaufman's finite-lattice mean
energy) with the MCSE tolerance of ``tests/helpers.py``.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

DEVICES = 4
HERE = Path(__file__).resolve().parent  # tests/kernels/
ROOT = HERE.parents[1]  # the repository
_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count={devices}"
    sys.path[:0] = {paths!r}  # this module and tests/helpers.py
    import jax
    assert jax.local_device_count() == {devices}, jax.devices()
    import test_parallel as t
    for name in {names!r}:
        getattr(t, name)()
        print("passed", name, flush=True)
    print("OK")
    """
)


def on_four_devices(*names, timeout=600):
    """Run the checks ``names`` (functions of this module) in a subprocess with 4 CPU devices."""
    script = _SCRIPT.format(devices=DEVICES, paths=[str(HERE), str(HERE.parent)], names=list(names))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                          cwd=str(ROOT))
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-5000:]


# ----------------------------------------------------------------------------- checks (subprocess)
def _kernel_chain(model, key, num_sweeps, temperature, x=None):
    """Reference: the single-device TemperedGibbs chain (init + jitted scan)."""
    import jax

    import ebm_numpyro as ebm

    kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(model), temperature=temperature, store_states=False)
    state = kernel.init(key, 0, init_params=x)
    last, traces = kernel.scan(state, num_sweeps, ("physical_energy", "magnetization"))
    return np.asarray(jax.device_get(last.x[0])), traces


def check_slabs_equal_single_device_chain():
    """One 64x16 lattice in four slabs of 16 rows: the same spins, energies and magnetizations
    as the undivided kernel, bit for bit, from a random start (drawn slab by slab) and from a
    given one, with a field (2^18 decisions per run: about 4 ties, resolved by the exact second
    stage with their global unit numbers)."""
    import jax

    import ebm_numpyro as ebm

    mesh = ebm.parallel.make_mesh((ebm.parallel.ROWS,))
    model = ebm.Ising.square_lattice(64, 16, coupling=1.0, field=0.2)
    x0 = np.where(np.random.default_rng(0).random((64, 16)) < 0.7, 1, -1).astype(np.int8)
    for x, temperature, key in ((None, 2.5, 3), (x0, 1.8, 4)):
        ref_x, ref = _kernel_chain(model, jax.random.key(key), 256, temperature, x)
        run = ebm.parallel.lattice_sweeps(model, jax.random.key(key), 256, temperature, mesh=mesh, x=x)
        assert run.x.sharding.spec[0] == ebm.parallel.ROWS
        assert {d for s in run.x.addressable_shards for d in s.data.devices()} == set(jax.devices())
        np.testing.assert_array_equal(np.asarray(run.x), ref_x)
        np.testing.assert_array_equal(run.physical_energy, ref["physical_energy"])
        np.testing.assert_array_equal(run.magnetization, ref["magnetization"])
        np.testing.assert_allclose(run.physical_energy[-1], model.energy(ref_x), rtol=1e-6)


def check_errors():
    """Bad input raises ValueError naming the argument, before compiling."""
    import jax

    import ebm_numpyro as ebm

    mesh = ebm.parallel.make_mesh((ebm.parallel.ROWS,))
    key = jax.random.key(0)
    cases = [
        (lambda: ebm.parallel.lattice_sweeps(ebm.Ising.square_lattice(12), key, 1, 2.0, mesh=mesh), "model.rows"),
        (lambda: ebm.parallel.lattice_sweeps(ebm.Ising.square_lattice(8, 7), key, 1, 2.0, mesh=mesh), "model"),
        (lambda: ebm.parallel.lattice_sweeps(ebm.Ising.square_lattice(8), key, 0, 2.0, mesh=mesh), "num_sweeps"),
        (lambda: ebm.parallel.lattice_sweeps(ebm.Ising.square_lattice(8), key, 1, -1.0, mesh=mesh), "temperature"),
        (lambda: ebm.parallel.lattice_sweeps(ebm.Ising.square_lattice(8), key, 1, 2.0, mesh=mesh,
                                             x=np.zeros((8, 8), np.int8)), "x"),
        (lambda: ebm.parallel.sample(ebm.TemperedGibbs(potential_fn=ebm.potential(ebm.Ising.square_lattice(4)),
                                                       temperature=2.0), key, 6, 2), "num_chains"),
        (lambda: ebm.parallel.sample(ebm.TemperedGibbs(potential_fn=ebm.potential(ebm.Ising.square_lattice(4)),
                                                       temperatures=[1.0, 2.0, 3.0]), key, 4, 2,
                                     mesh=ebm.parallel.make_mesh(("chains", "replicas"), (2, 2))), "replicas"),
    ]
    for call, word in cases:
        try:
            call()
        except ValueError as e:
            assert word in str(e), (word, str(e))
        else:
            raise AssertionError(f"no ValueError naming {word!r}")


def check_sharded_chains_equal_mcmc_vectorized():
    """ebm.parallel.sample over a (chains,) and a (chains, replicas) mesh gives the draws of
    MCMC(..., chain_method="vectorized") with the same key (warm-up, thinning, a ladder)."""
    import jax
    from numpyro.infer import MCMC

    import ebm_numpyro as ebm

    lattice = ebm.Ising.square_lattice(8)

    def kernel():
        return ebm.TemperedGibbs(potential_fn=ebm.potential(lattice), temperatures=ebm.geometric_ladder(2.0, 3.0, 4))

    fields = ("physical_energy", "energies", "replica_index", "x")
    mcmc = MCMC(kernel(), num_warmup=3, num_samples=5, num_chains=8, chain_method="vectorized", thinning=2,
                progress_bar=False)
    mcmc.run(jax.random.key(0), extra_fields=fields)
    ref = mcmc.get_extra_fields(group_by_chain=True)
    for names, shape in (((ebm.parallel.CHAINS,), (4,)), ((ebm.parallel.CHAINS, ebm.parallel.REPLICAS), (2, 2))):
        mesh = ebm.parallel.make_mesh(names, shape)
        last, traces = ebm.parallel.sample(kernel(), jax.random.key(0), 8, 5, mesh=mesh, num_warmup=3, thinning=2,
                                           fields=fields)
        assert traces["x"].sharding.spec[0] == ebm.parallel.CHAINS
        for f in fields:
            np.testing.assert_array_equal(np.asarray(traces[f]), np.asarray(ref[f]), err_msg=f"{names}: {f}")
        np.testing.assert_array_equal(np.asarray(last.x), np.asarray(mcmc.last_state.x))


def check_chain_method_parallel():
    """MCMC(..., chain_method="parallel") uses all four devices without a warning and gives
    the draws of chain_method="vectorized"."""
    import warnings

    import jax
    from numpyro.infer import MCMC

    import ebm_numpyro as ebm

    lattice = ebm.Ising.square_lattice(8)

    def draws(method):
        kernel = ebm.TemperedGibbs(potential_fn=ebm.potential(lattice), temperatures=ebm.geometric_ladder(2.0, 3.0, 3))
        mcmc = MCMC(kernel, num_warmup=10, num_samples=20, num_chains=4, chain_method=method, progress_bar=False)
        mcmc.run(jax.random.key(0), extra_fields=("x",))
        return mcmc.get_samples(group_by_chain=True), mcmc.get_extra_fields(group_by_chain=True)["x"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPyro warns when it falls back to sequential chains
        par, par_x = draws("parallel")
    vec, vec_x = draws("vectorized")
    assert set(par) == set(vec)
    for name in par:
        np.testing.assert_array_equal(par[name], vec[name], err_msg=name)
    np.testing.assert_array_equal(par_x, vec_x)


def check_slab_energy_against_kaufman():
    """Mean energy per spin of a 32x32 lattice in four slabs against Kaufman's exact finite-
    lattice value, at T = 2.5 and T = 3.0 (4 independent chains each, MCSE tolerance)."""
    import jax

    import ebm_numpyro as ebm
    from helpers import mcse_mean, z_crit

    mesh = ebm.parallel.make_mesh((ebm.parallel.ROWS,))
    L, sweeps, burn = 32, 3000, 200
    model = ebm.Ising.square_lattice(L)
    temperatures = (2.5, 3.0)
    zc = z_crit(len(temperatures))
    for temperature in temperatures:
        chains = [ebm.parallel.lattice_sweeps(model, jax.random.key(k), sweeps, temperature, mesh=mesh)
                  for k in range(4)]
        e = np.stack([np.asarray(c.physical_energy)[burn:] for c in chains]) / L**2
        mean, se = mcse_mean(e)
        exact = float(ebm.exact.kaufman_mean_energy(L, L, temperature, per_spin=True))
        z = (mean - exact) / se
        assert abs(z) < zc, f"T={temperature}: {mean:.5f} vs exact {exact:.5f} (MCSE {se:.1e}, z={z:.2f})"
        assert se < 3e-3, se  # the test has power


# ----------------------------------------------------------------------------- tests
@pytest.mark.slow
def test_slabs_on_four_devices_equal_the_single_device_chain():
    on_four_devices("check_errors", "check_slabs_equal_single_device_chain")


@pytest.mark.slow
def test_sharded_chains_and_parallel_chain_method_on_four_devices():
    on_four_devices("check_sharded_chains_equal_mcmc_vectorized", "check_chain_method_parallel")


@pytest.mark.slow
def test_slab_energy_matches_kaufman_on_four_devices():
    on_four_devices("check_slab_energy_against_kaufman")


def test_one_device_defaults():
    """In the test process itself (one device): the default mesh and argument errors."""
    import jax

    import ebm_numpyro as ebm

    mesh = ebm.parallel.make_mesh()
    assert mesh.axis_names == (ebm.parallel.CHAINS,) and mesh.devices.size == jax.device_count()
    with pytest.raises(ValueError, match="shape"):
        ebm.parallel.make_mesh(("chains", "replicas"), (2, 3))
    with pytest.raises(ValueError, match="axis_name"):
        ebm.parallel.lattice_sweeps(ebm.Ising.square_lattice(4), jax.random.key(0), 1, 2.0,
                                    mesh=ebm.parallel.make_mesh(("a", "b")))


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_multihost_example_in_two_processes():
    """examples/multihost_ising.py through jax.distributed.initialize: two processes with two
    CPU devices each give the energies of one process with four devices (the same chain)."""
    import os

    root = ROOT
    args = [sys.executable, str(root / "examples" / "multihost_ising.py"), "--size", "32", "--sweeps", "60",
            "--burn-in", "10"]

    def env(devices):
        return {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
                "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}

    port = _free_port()
    hosts = [subprocess.Popen(args + ["--coordinator", f"localhost:{port}", "--num-processes", "2",
                                      "--process-id", str(i)], cwd=str(root), env=env(2), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    outs = [h.communicate(timeout=600) for h in hosts]
    for h, (out, err) in zip(hosts, outs):
        assert h.returncode == 0, out[-2000:] + err[-3000:]
    single = subprocess.run(args, cwd=str(root), env=env(4), capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]

    def energy_line(text):
        return next(line for line in text.splitlines() if line.startswith("T = ")).split(";")[0]

    assert "2 process(es), 4 device(s)" in outs[0][0], outs[0][0]
    assert energy_line(outs[0][0]) == energy_line(single.stdout), (outs[0][0], single.stdout)
