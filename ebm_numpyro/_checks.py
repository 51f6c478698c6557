"""Input validation shared by every public entry point (one place for each check).

Checks run on concrete (non-traced) values before anything is compiled; under
``jax.jit`` the values are tracers and only static properties (shapes) are checked.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds actual values (not a JAX tracer inside a transformation)."""
    return not isinstance(x, jax.core.Tracer)


def check_text_free(value: Any, name: str) -> Any:
    """Raise ``ValueError`` if a number or array argument is given as text (``"2.0"``, ``"1,2,3"``)
    or holds non-numeric entries: NumPy would otherwise convert some strings silently."""
    if isinstance(value, (str, bytes)) or (
        isinstance(value, (list, tuple, np.ndarray)) and np.asarray(value, dtype=object).size
        and any(isinstance(v, (str, bytes)) for v in np.asarray(value, dtype=object).reshape(-1))
    ):
        raise ValueError(f"`{name}` must be a number or an array of numbers, not text; got {value!r}")
    return value


def check_temperature(temperature: Any, name: str = "temperature") -> Any:
    """Raise ``ValueError`` unless every temperature is a finite number > 0 (when concrete)."""
    check_text_free(temperature, name)
    if is_concrete(temperature):
        t = np.asarray(temperature, dtype=np.float64)
        if t.size == 0 or not np.all(np.isfinite(t)) or not np.all(t > 0):
            raise ValueError(
                f"`{name}` must be finite and > 0 (k_B = 1, beta = 1/T); got {temperature!r}"
            )
    return temperature


def check_positive(value: Any, name: str) -> Any:
    """Raise ``ValueError`` unless ``value`` is a finite number > 0 (when concrete)."""
    check_text_free(value, name)
    if is_concrete(value):
        v = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(v)) or not np.all(v > 0):
            raise ValueError(f"`{name}` must be finite and > 0; got {value!r}")
    return value


def check_int(value: Any, name: str, minimum: int) -> int:
    """Raise ``ValueError`` unless ``value`` is a Python integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_units(x: Any, values: tuple[int, ...], name: str = "x") -> None:
    """Raise ``ValueError`` if a concrete state holds entries outside ``values``.

    ``values`` is ``(-1, 1)`` for Ising spins, ``(0, 1)`` for Boltzmann-machine units,
    ``(0, ..., q-1)`` for q-state (Potts) labels.
    """
    if not is_concrete(x):
        return
    arr = np.asarray(x)
    if arr.size == 0:
        return
    bad = ~np.isin(arr, np.asarray(values))
    if bad.any():
        example = arr[bad].flat[0]
        values = tuple(values)
        if values == (-1, 1):
            kind = "spins must be -1 or +1"
        elif values == (0, 1):
            kind = "units must be 0 or 1"
        else:
            kind = f"units must be one of {values}"
        raise ValueError(
            f"`{name}`: {kind}; found {example!r} ({int(bad.sum())} of {arr.size} entries invalid)"
        )


def check_event_shape(x: Any, event_shape: tuple[int, ...], name: str = "x") -> None:
    """Raise ``ValueError`` unless the trailing axes of ``x`` equal ``event_shape``."""
    shape = tuple(jnp.shape(x))
    k = len(event_shape)
    if len(shape) < k or (k and shape[-k:] != tuple(event_shape)):
        raise ValueError(
            f"`{name}` must have trailing shape {tuple(event_shape)} (leading axes are batch); "
            f"got shape {shape}"
        )


def check_square_symmetric(matrix: Any, name: str, n: int | None = None) -> None:
    """Raise ``ValueError`` unless ``matrix`` is square (n x n), symmetric, zero-diagonal."""
    shape = tuple(jnp.shape(matrix))
    if len(shape) != 2 or shape[0] != shape[1] or (n is not None and shape[0] != n):
        want = f"({n}, {n})" if n is not None else "(n, n)"
        raise ValueError(f"`{name}` must be a square matrix of shape {want}; got shape {shape}")
    if is_concrete(matrix):
        m = np.asarray(matrix, dtype=np.float64)
        if not np.all(np.isfinite(m)):
            raise ValueError(f"`{name}` must be finite")
        scale = max(1.0, float(np.abs(m).max(initial=0.0)))
        asym = float(np.abs(m - m.T).max(initial=0.0))
        if asym > 1e-5 * scale:
            raise ValueError(f"`{name}` must be symmetric; max |{name} - {name}.T| = {asym:.3g}")
        diag = float(np.abs(np.diag(m)).max(initial=0.0))
        if diag > 0:
            raise ValueError(
                f"`{name}` must have a zero diagonal (no self-coupling); max |diag| = {diag:.3g}"
            )


def check_vector(vector: Any, name: str, n: int) -> None:
    """Raise ``ValueError`` unless ``vector`` has shape ``(n,)`` and finite entries."""
    shape = tuple(jnp.shape(vector))
    if shape != (n,):
        raise ValueError(f"`{name}` must have shape ({n},); got shape {shape}")
    if is_concrete(vector) and not np.all(np.isfinite(np.asarray(vector, dtype=np.float64))):
        raise ValueError(f"`{name}` must be finite")


def float_dtype():
    """The default floating dtype: float64 under ``jax_enable_x64``, else float32."""
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def format_power_of_two(bits: int, scale: float = 1.0) -> str:
    """``scale * 2^bits`` as text, e.g. ``2^40 = 1.1e+12`` (no overflow for any ``bits``)."""
    exponent = bits * math.log10(2.0) + math.log10(scale)
    whole = math.floor(exponent)
    mantissa = 10 ** (exponent - whole)
    text = f"{mantissa:.2g}e+{whole:02d}" if whole >= 0 else f"{mantissa:.2g}e-{-whole:02d}"
    return text if scale != 1.0 else f"2^{bits} = {text}"


def format_count(n: float) -> str:
    """Human-readable count such as ``2^40 = 1.1e+12``."""
    return f"2^{int(round(math.log2(n)))} = {n:.3g}" if n > 0 else "0"
