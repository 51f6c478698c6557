"""The README's PCD example trains: ``ebm-numpyro train-rbm --method pcd --k 1 --epochs 300`` ends
far better than it starts (with Adam at CD's step size PCD's persistent chains fell behind and
the exact log-likelihood ended below its start: -6.37 -> -4.96 -> -6.53)."""

import numpy as np
import pytest
import xarray as xr

from ebm_numpyro import cli


@pytest.mark.slow
def test_readme_pcd_example_trains(tmp_path):
    status = cli.main(["train-rbm", "--method", "pcd", "--k", "1", "--epochs", "300", "--out", str(tmp_path),
                       "--no-progress"])
    assert status in (0, None)
    ds = xr.open_dataset(tmp_path / "train_rbm.nc")
    ll = np.asarray(ds["log_likelihood"])
    assert ll[-1] > ll[0] + 1.5, ll[[0, -1]]
    assert ll[-1] > ll.max() - 0.8, (ll[-1], ll.max())  # no late collapse
    assert ds.attrs["learning_rate"] == 0.02 and "100 chains" in ds.attrs["label"]
