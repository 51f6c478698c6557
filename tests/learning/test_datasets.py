"""The small data sets of ebm_numpyro.datasets."""

import numpy as np
import pytest

import ebm_numpyro as ebm


def test_bars_and_stripes():
    for size, count in ((2, 6), (3, 14), (4, 30)):
        d = ebm.datasets.bars_and_stripes(size)
        assert d.shape == (count, size * size) and d.dtype == np.int8
        imgs = d.reshape(-1, size, size)
        rows_const = (imgs == imgs[:, :, :1]).all(axis=(1, 2))
        cols_const = (imgs == imgs[:, :1, :]).all(axis=(1, 2))
        assert np.all(rows_const | cols_const)
    with pytest.raises(ValueError, match="size"):
        ebm.datasets.bars_and_stripes(0)


def test_digits_binary():
    pytest.importorskip("sklearn")
    train, test = ebm.datasets.digits_binary(seed=0)
    assert train.shape == (1437, 64) and test.shape == (360, 64) and train.dtype == np.int8
    assert set(np.unique(train)) == {0, 1}
