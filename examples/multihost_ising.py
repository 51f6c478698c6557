"""One periodic Ising lattice sampled on every device of every host (``ebm.parallel``).

The lattice is cut into slabs of rows, one per device (``jax.shard_map``; halo rows go to
the neighbouring devices by ``lax.ppermute`` each half sweep, energy and magnetization are
``lax.psum``-reduced), and the chain is bit for bit that of
``ebm.TemperedGibbs(potential_fn=ebm.potential(lattice), temperature=T)`` on one device.
The script prints the mean energy per spin next to Kaufman's exact finite-lattice value.

One process (this machine, any number of local devices)::

    python examples/multihost_ising.py --size 256 --sweeps 2000
    XLA_FLAGS=--xla_force_host_platform_device_count=4 python examples/multihost_ising.py

N hosts: run the same command on every host, with the address of host 0 and each host's
rank (``jax.distributed.initialize`` connects them; ``jax.devices()`` then lists all the
hosts' devices and the mesh spans them)::

    python examples/multihost_ising.py --coordinator host0:12345 --num-processes N --process-id i

Under SLURM, Open MPI or on Cloud TPU pods, ``--coordinator auto`` lets JAX read these
from the environment. Two processes on one CPU machine (a rehearsal of the above)::

    python examples/multihost_ising.py --coordinator localhost:12345 --num-processes 2 --process-id 0 &
    python examples/multihost_ising.py --coordinator localhost:12345 --num-processes 2 --process-id 1
"""

from __future__ import annotations

import argparse
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="lattice side L (a multiple of 2 x devices)")
    parser.add_argument("--sweeps", type=int, default=1000)
    parser.add_argument("--burn-in", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=2.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--coordinator", default=None,
                        help="host:port of process 0, or 'auto' (SLURM, MPI, TPU pods); omit for one process")
    parser.add_argument("--num-processes", type=int, default=None)
    parser.add_argument("--process-id", type=int, default=None)
    args = parser.parse_args(argv)

    import jax

    if args.coordinator is not None:  # before any other JAX call
        if args.coordinator == "auto":
            jax.distributed.initialize()
        else:
            jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)

    import numpy as np

    import ebm_numpyro as ebm

    lead = jax.process_index() == 0
    mesh = ebm.parallel.make_mesh((ebm.parallel.ROWS,))  # every device of every process
    lattice = ebm.Ising.square_lattice(args.size)
    if lead:
        print(f"{jax.process_count()} process(es), {jax.device_count()} device(s) "
              f"({jax.local_device_count()} local, {jax.devices()[0].platform}); "
              f"L = {args.size}: {args.size // jax.device_count()} rows per device")
    start = time.perf_counter()
    run = ebm.parallel.lattice_sweeps(lattice, jax.random.key(args.seed), args.sweeps, args.temperature, mesh=mesh)
    energy = np.asarray(run.physical_energy) / args.size**2  # replicated: every process can read it
    seconds = time.perf_counter() - start
    kept = energy[args.burn_in:]
    exact = float(ebm.exact.kaufman_mean_energy(args.size, args.size, args.temperature, per_spin=True))
    if lead:
        print(f"T = {args.temperature}: <E>/N = {kept.mean():.5f} (exact {exact:.5f}, "
              f"{kept.size} sweeps after {args.burn_in}); "
              f"{args.sweeps * args.size**2 / seconds / 1e6:.1f} M updates/s with compilation")
    return kept.mean(), exact


if __name__ == "__main__":
    main()
