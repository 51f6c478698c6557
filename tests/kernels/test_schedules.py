"""Schedules: values, validation, typed metadata; every temperature schedule takes (t_min, t_max, ...)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_numpyro import schedules


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: schedules.constant(0.0), "value"),
        (lambda: schedules.polynomial_decay(-1.0, 1.0, 0.55), "`a`"),
        (lambda: schedules.polynomial_decay(1.0, 0.0, 0.55), "`b`"),
        (lambda: schedules.polynomial_decay(1.0, 1.0, -0.1), "gamma"),
        (lambda: schedules.cyclical_step_size(0.1, 100, 0, 0.5), "num_cycles"),
        (lambda: schedules.cyclical_step_size(0.1, 100, 200, 0.5), "num_cycles"),
        (lambda: schedules.cyclical_step_size(0.1, 100, 4, 1.0), "exploration_fraction"),
        (lambda: schedules.cyclical_step_size(0.0, 100, 4, 0.5), "initial"),
        (lambda: schedules.cyclic_cosine(0.0, 1.0, 10), "t_min"),
        (lambda: schedules.cyclic_cosine(1.0, 0.1, 10), "t_min"),
        (lambda: schedules.cyclic_cosine(0.1, 1.0, 0), "period"),
        (lambda: schedules.sawtooth(0.1, 1.0, 1), "period"),
        (lambda: schedules.sawtooth(0.1, 1.0, 10, base_fraction=1.0), "base_fraction"),
        (lambda: schedules.cyclic_cosine(0.1, 1.0, 10, base_fraction=-0.1), "base_fraction"),
        (lambda: schedules.exponential_cooling(1.0, 0.1, 100), "t_min"),
        (lambda: schedules.exponential_cooling(0.1, 1.0, 1), "num_steps"),
    ],
)
def test_schedule_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_schedule_values():
    t = jnp.arange(6)
    np.testing.assert_allclose(schedules.polynomial_decay(2.0, 1.0, 0.5)(t), 2.0 / np.sqrt(1 + np.arange(6)), rtol=1e-6)
    np.testing.assert_allclose(schedules.constant(0.3)(t), 0.3)
    cos = schedules.cyclic_cosine(0.1, 1.0, 4)
    np.testing.assert_allclose(cos(t), [1.0, 0.55, 0.1, 0.55, 1.0, 0.55], atol=1e-6)
    saw = schedules.sawtooth(0.1, 1.0, 3)
    np.testing.assert_allclose(saw(t), [1.0, 0.55, 0.1, 1.0, 0.55, 0.1], atol=1e-6)
    cool = schedules.exponential_cooling(0.01, 1.0, 3)
    np.testing.assert_allclose(cool(jnp.arange(5)), [1.0, 0.1, 0.01, 0.01, 0.01], rtol=1e-5)
    np.testing.assert_allclose(schedules.cyclic_cosine(0.1, 1.0, 8, base_fraction=0.25)(jnp.arange(9)),
                               [1.0, 0.775, 0.325, 0.1, 0.1, 0.1, 0.325, 0.775, 1.0], atol=1e-6)
    np.testing.assert_allclose(schedules.sawtooth(0.1, 1.0, 6, base_fraction=0.34)(jnp.arange(7)),
                               [1.0, 0.7, 0.4, 0.1, 0.1, 0.1, 1.0], atol=1e-6)
    assert cos.base_temperature == 0.1 and saw.base_temperature == 0.1 and cool.base_temperature == 0.01
    jitted = jax.jit(schedules.cyclical_step_size(1.0, 10, 2, 0.2))
    assert float(jitted(0)) == pytest.approx(1.0)


def test_schedules_carry_typed_metadata_and_numbers_become_constants():
    cyc = schedules.cyclical_step_size(0.1, 100, 4, 0.5)
    assert isinstance(cyc, schedules.Schedule) and cyc.base_temperature is None
    np.testing.assert_array_equal(cyc.sampling_phase(jnp.arange(4) * 25 + 20), [True] * 4)
    const = schedules.as_schedule(2.0, "temperature")
    assert const.base_temperature == 2.0 and float(const(7)) == 2.0
    plain = schedules.as_schedule(lambda t: 1.0 + 0 * t, "temperature")
    assert isinstance(plain, schedules.Schedule) and plain.base_temperature is None
    assert schedules.as_schedule(cyc, "step_size") is cyc
    with pytest.raises(ValueError, match="`temperature`"):
        schedules.as_schedule(-1.0, "temperature")
    with pytest.raises(ValueError, match="`step_size` schedule .* step 3"):
        schedules.check_schedule(lambda t: 3.0 - t, "step_size")
    values = schedules.check_schedule(schedules.cyclic_cosine(0.5, 2.0, 10), "temperature", 10)
    assert values.min() == pytest.approx(0.5) and values.max() == pytest.approx(2.0)
