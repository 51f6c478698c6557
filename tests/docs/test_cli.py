"""The ``ebm-numpyro`` command: help, one-line option errors, and small runs that write files."""

import os
import pathlib
import subprocess
import sys

import pytest
import xarray as xr

from ebm_numpyro import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]  # the repository (this file: tests/docs/)
PACKAGE = ROOT / "ebm_numpyro"


def _run_module(*args):
    """``python -m ebm_numpyro ARGS`` with this checkout first on the path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "ebm_numpyro", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("command", [[], ["demo"], ["ising"], ["cd-bias"], ["train-rbm"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ebm-numpyro") and "examples:" in out
    if command == ["ising"]:
        assert all(opt in out for opt in ("--size", "--temperatures", "--chains", "--samples", "--seed", "--out"))


BAD = [
    (["ising", "--temperature", "-1"], "--temperature"),
    (["ising", "--temperatures", "3.0:2.0:4"], "--temperatures"),
    (["ising", "--temperatures", "2.0,1.5"], "--temperatures"),
    (["ising", "--size", "3"], "--size"),
    (["ising", "--size", "2"], "--size"),
    (["ising", "--chains", "0"], "--chains"),
    (["ising", "--samples", "ten"], "--samples"),
    (["ising", "--seed", "-3"], "--seed"),
    (["ising", "--out", str(PACKAGE / "runs")], "--out"),
    (["cd-bias", "--ks", "0,1"], "--ks"),
    (["cd-bias", "--ks", "5,2"], "--ks"),
    (["cd-bias", "--visible", "10"], "--visible"),
    (["cd-bias", "--visible", "16", "--hidden", "9"], "--hidden"),
    (["train-rbm", "--method", "sgd"], "--method"),
    (["train-rbm", "--hidden", "21"], "--hidden"),
    (["train-rbm", "--learning-rate", "nan"], "--learning-rate"),
    (["isin"], "COMMAND"),
    ([], "COMMAND"),
]


@pytest.mark.parametrize("argv,option", BAD, ids=[" ".join(a) or "no-command" for a, _ in BAD])
def test_bad_value_is_one_line_error(argv, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("ebm-numpyro") and "error:" in lines[0] and option in lines[0]


def test_python_m_help_and_error():
    help_run = _run_module("--help")
    assert help_run.returncode == 0 and "demo" in help_run.stdout and "train-rbm" in help_run.stdout
    bad = _run_module("ising", "--temperature", "-1")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "--temperature" in bad.stderr
    assert "Traceback" not in bad.stderr


def _reopen_inference_data(path):
    import arviz as az

    from ebm_numpyro.diagnostics import get_group

    idata = az.from_netcdf(path)
    return get_group(idata, "posterior"), get_group(idata, "sample_stats")


@pytest.mark.slow
@pytest.mark.arviz
def test_ising_writes_figure_and_inference_data(tmp_path, capsys, recwarn):
    argv = ["ising", "--size", "4", "--temperatures", "2.0:3.0:3", "--chains", "2", "--samples", "60",
            "--warmup", "10", "--seed", "1", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "ess_bulk" in out and "r_hat" in out and "Kaufman" in out and "max |z|" in out
    assert "wrote" in out and "ising.png" in out
    assert not [w for w in recwarn if "IProgress" in str(w.message)]
    png = tmp_path / "ising.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    posterior, stats = _reopen_inference_data(str(tmp_path / "ising.nc"))
    assert posterior.sizes["chain"] == 2 and posterior.sizes["draw"] == 60
    assert "physical_energy" in posterior and "energies" in stats and stats.sizes["temperature"] == 3


@pytest.mark.arviz
def test_cd_bias_writes_figure_and_dataset(tmp_path, capsys):
    argv = ["cd-bias", "--visible", "4", "--hidden", "2", "--ks", "1,2,5", "--train-epochs", "0",
            "--no-progress", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert "relative_bias" in capsys.readouterr().out
    assert (tmp_path / "cd_bias.png").read_bytes()[:4] == b"\x89PNG"
    with xr.open_dataset(tmp_path / "cd_bias.nc") as ds:
        assert list(ds["k"].values) == [1, 2, 5]
        assert ds["weights"].shape == (3, 4, 2)


def test_train_rbm_writes_figure_and_dataset(tmp_path, capsys):
    argv = ["train-rbm", "--visible", "4", "--hidden", "2", "--epochs", "3", "--method", "cd",
            "--no-progress", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert "log_likelihood" in capsys.readouterr().out
    assert (tmp_path / "train_rbm.png").exists()
    with xr.open_dataset(tmp_path / "train_rbm.nc") as ds:
        assert ds["weights"].shape == (4, 2) and ds.sizes["epoch"] == 3


@pytest.mark.slow
@pytest.mark.arviz
def test_ising_single_temperature(tmp_path, capsys):
    argv = ["ising", "--size", "4", "--temperature", "2.5", "--chains", "2", "--samples", "50",
            "--warmup", "10", "--no-progress", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert "swap" not in capsys.readouterr().out
    assert (tmp_path / "ising.png").exists() and (tmp_path / "ising.nc").exists()


@pytest.mark.slow
@pytest.mark.arviz
def test_demo_writes_its_files(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "consistent with the exact values" in out and "bias_norm" in out
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"
    posterior, stats = _reopen_inference_data(str(tmp_path / "demo_ising.nc"))
    assert posterior.sizes["draw"] == cli.DEMO.samples and stats.sizes["temperature"] == cli.DEMO.temperatures[3]
    with xr.open_dataset(tmp_path / "demo_cd_bias.nc") as ds:
        assert list(ds["k"].values) == list(cli.DEMO.ks)
