"""The one place where benchmark scripts time a call without its compilation.

``jax.monitoring`` reports the seconds spent tracing, lowering and compiling; :func:`timed`
subtracts them from the wall-clock time of a call, so that a function re-traced on every
call (``MCMC.run`` re-traces its loop) is timed for what it computes.
"""

import time

import jax
import jax.monitoring

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_compile_seconds = [0.0]


def _on_duration(event, duration, **kwargs):
    if event in _COMPILE_EVENTS:
        _compile_seconds[0] += duration


jax.monitoring.register_event_duration_secs_listener(_on_duration)


def start():
    """Start a timing: returns the start time and resets the compile-time counter."""
    _compile_seconds[0] = 0.0
    return time.perf_counter()


def stop(t0):
    """Seconds since :func:`start`, compilation excluded."""
    return time.perf_counter() - t0 - _compile_seconds[0]


def timed(run):
    """Seconds taken by ``run()`` (blocking on its result), compilation excluded."""
    t0 = start()
    jax.block_until_ready(run())
    return stop(t0)
