"""NumPyro plumbing shared by the kernels (one place each): chain keys, parameter dtypes, pickling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import random
from numpyro.infer.mcmc import MCMCKernel
from numpyro.util import is_prng_key


def split_init_key(rng_key):
    """Split the key ``MCMC`` passes to ``init`` into ``(vectorized, rng_key, key_init)``.

    With ``chain_method="vectorized"`` NumPyro passes one key per chain; the split is then
    done per chain.
    """
    vectorized = not is_prng_key(rng_key)
    if vectorized:
        rng_key, key_init = jnp.swapaxes(jax.vmap(random.split)(rng_key), 0, 1)
    else:
        rng_key, key_init = random.split(rng_key)
    return vectorized, rng_key, key_init


def float_params(params):
    """Cast integer leaves of ``params`` to the default float dtype (continuous positions)."""
    return jax.tree.map(
        lambda x: jnp.asarray(x, jnp.result_type(float))
        if jnp.issubdtype(jnp.result_type(x), jnp.integer)
        else jnp.asarray(x),
        params,
    )


class CachedFnKernel(MCMCKernel):
    """An ``MCMCKernel`` that caches compiled functions; they are dropped when pickled."""

    _cached_fns: tuple[str, ...] = ("_sample_fn",)

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in self._cached_fns:
            state[name] = None
        return state
