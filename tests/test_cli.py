"""The lite-decluster command end to end (typer's CliRunner in process, one real subprocess)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from _fixtures import REPO, example_csv, models_copy, shipped, tiny_models
from typer.testing import CliRunner

from lite_decluster import cli, output
from lite_decluster.declustering import decluster
from lite_decluster.nnd import nnd_threshold

__all__ = ["example_csv", "models_copy", "tiny_models"]  # fixtures used here

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(cli.app, [str(a) for a in args], env=env)


def read_output(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "command, words",
    [
        ([], ["run", "models", "plot", "Exit codes"]),
        (["run"], ["magnitude units", "dimensionless", "UTC", "--threshold", "--force",
                   "--time-col", "--all-types", "--skip-invalid", "km"]),
        (["models"], ["--verify", "golden"]),
        (["plot"], ["--output", "p_aftershock", "UTC"]),
    ],
)
def test_help(command, words):
    res = invoke(*command, "--help")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    for word in words:
        assert word in text, f"{word!r} missing from {command} --help"


# ------------------------------------------------------------------------- run


def test_run_on_the_example_matches_the_api(example_csv, tiny_models):
    before = sha(example_csv)
    res = invoke("run", example_csv, "--models-dir", tiny_models, "--threads", 1)
    assert res.exit_code == 0, res.stderr
    out = example_csv.with_name("example_catalog.declustered.csv")
    assert out.is_file() and sha(example_csv) == before
    got = read_output(out)
    raw = pd.read_csv(example_csv)
    assert len(got) == len(raw) and (got["id"] == raw["id"]).all()
    api = decluster(example_csv, models_directory=tiny_models)
    assert (got["label"].fillna("") == api["label"].fillna("")).all()
    # Written with 6 significant digits.
    np.testing.assert_allclose(got["p_aftershock"], api["p_aftershock"], rtol=5e-6)
    assert (got["reason"].fillna("") == api["reason"].fillna("")).all()
    assert got.loc[got["label"].isna(), "reason"].notna().all()
    err = res.stderr
    for text in ("8,455 rows", "quarry blast 40", "below Mc 2.7", "Mc          2.70",
                 "maximum curvature", "±", "rf_td025", "sha256", "background (",
                 "features", "predict", "write"):
        assert text in err, f"{text!r} missing from the summary:\n{err}"
    assert res.stdout == ""
    assert "\r" not in err and "[#" not in err  # stderr is not a terminal: no progress bar


def test_progress_only_on_a_terminal(example_csv, tiny_models, monkeypatch):
    import lite_decluster.progress as progress

    monkeypatch.setattr(progress, "stream_is_tty", lambda stream=None: True)
    res = invoke("run", example_csv, "--models-dir", tiny_models, "-o",
                 example_csv.with_name("tty.csv"))
    assert res.exit_code == 0, res.stderr
    assert "predict" in res.stderr and "features" in res.stderr
    res = invoke("run", example_csv, "--models-dir", tiny_models, "-q", "-o",
                 example_csv.with_name("quiet.csv"))
    assert res.exit_code == 0 and res.stderr == ""


def test_existing_output_and_input_refused(example_csv, tiny_models):
    before = sha(example_csv)
    res = invoke("run", example_csv, "--models-dir", tiny_models, "-o", example_csv, "--force")
    assert res.exit_code == 2 and "input" in res.stderr and "Traceback" not in res.stderr
    assert sha(example_csv) == before
    out = example_csv.with_name("out.csv")
    out.write_text("keep me\n")
    res = invoke("run", example_csv, "--models-dir", tiny_models, "-o", out)
    assert res.exit_code == 2 and "already exists" in res.stderr and "--force" in res.stderr
    assert out.read_text() == "keep me\n"
    res = invoke("run", example_csv, "--models-dir", tiny_models, "-o", out, "--force")
    assert res.exit_code == 0 and len(read_output(out)) == 8455


def test_interrupted_write_keeps_the_previous_output(example_csv, tiny_models, monkeypatch):
    out = example_csv.with_name("out.csv")
    out.write_text("previous\n")

    import lite_decluster.labelled_text as text

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(output, "_write_csv", broken)
    monkeypatch.setattr(text, "format_fields", broken)  # after the header is written
    res = invoke("run", example_csv, "--models-dir", tiny_models, "-o", out, "--force")
    assert res.exit_code == 2 and "No space left" in res.stderr
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["example_catalog.csv", "out.csv"]


def test_corrupted_model_refused(example_csv, models_copy):
    manifest = json.loads((models_copy / "manifest.json").read_text())
    entry = next(e for e in manifest["models"] if e["name"] == "rf_td025")
    path = models_copy / entry["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    res = invoke("run", example_csv, "--models-dir", models_copy)
    assert res.exit_code == 2
    assert entry["sha256"] in res.stderr and sha(path) in res.stderr
    assert "Traceback" not in res.stderr
    assert not example_csv.with_name("example_catalog.declustered.csv").exists()
    res = invoke("models", "--verify", "--models-dir", models_copy)
    assert res.exit_code == 1 and "FAILED" in res.stdout and "rf_td025" in res.stdout


def test_model_with_an_unusable_feature_spec(example_csv, models_copy):
    path = models_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["models"][0]["feature_spec"]["from_the_future"] = 1
    path.write_text(json.dumps(manifest))
    res = invoke("run", example_csv, "--models-dir", models_copy)
    assert res.exit_code == 2 and "feature specification" in res.stderr


def test_type_and_magnitude_options(example_csv, tiny_models):
    out = example_csv.with_name("all.csv")
    res = invoke("run", example_csv, "--models-dir", tiny_models, "--all-types", "--mc", "none",
                 "--b", "1.0", "-o", out)
    assert res.exit_code == 0, res.stderr
    got = read_output(out)
    assert got["reason"].isna().sum() == len(got) - 1  # only the first event has a reason
    assert "Mc          none" in res.stderr and "b           1.000 (given" in res.stderr
    res = invoke("run", example_csv, "--models-dir", tiny_models, "--mag-col", "magnitude",
                 "-o", example_csv.with_name("bad.csv"))
    assert res.exit_code == 2 and "'magnitude'" in res.stderr and "not found" in res.stderr


def test_model_by_path_and_fraction(example_csv, tiny_models):
    res = invoke("run", example_csv, "--model", tiny_models / "rf_td050.onnx", "-o",
                 example_csv.with_name("a.csv"))
    assert res.exit_code == 0 and "rf_td050" in res.stderr
    res = invoke("run", example_csv, "--model", "50", "--models-dir", tiny_models, "-o",
                 example_csv.with_name("b.csv"))
    assert res.exit_code == 0 and "rf_td050" in res.stderr
    res = invoke("run", example_csv, "--model", "75", "--models-dir", tiny_models, "-o",
                 example_csv.with_name("c.csv"))
    assert res.exit_code == 2 and "TD fraction 75" in res.stderr


def test_nnd_threshold_method(example_csv):
    out = example_csv.with_name("nnd.csv")
    res = invoke("run", example_csv, "--method", "nnd-threshold", "-o", out)
    assert res.exit_code == 0, res.stderr
    got = read_output(out)
    eta = got["eta"].to_numpy()
    finite = np.isfinite(eta)
    cut = nnd_threshold(np.log10(eta[finite]))
    expected = np.where(np.log10(eta[finite]) < cut, "aftershock", "background")
    assert (got["label"].to_numpy()[finite] == expected).all()
    assert got["p_aftershock"].isna().all()
    assert f"log10 eta < {cut:.2f}" in res.stderr


def test_parquet_output(example_csv, tiny_models, monkeypatch):
    pytest.importorskip("pyarrow")
    res = invoke("run", example_csv, "--models-dir", tiny_models, "--format", "parquet")
    assert res.exit_code == 0, res.stderr
    got = pd.read_parquet(example_csv.with_name("example_catalog.declustered.parquet"))
    assert len(got) == 8455 and "label" in got
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    res = invoke("run", example_csv, "--models-dir", tiny_models, "-o",
                 example_csv.with_name("x.parquet"))
    assert res.exit_code == 2 and "pip install pyarrow" in res.stderr
    assert not example_csv.with_name("x.parquet").exists()


def test_exit_codes(example_csv, tiny_models, tmp_path, monkeypatch):
    res = invoke("run", tmp_path / "missing.csv", "--models-dir", tiny_models)
    assert res.exit_code == 2 and "file not found" in res.stderr
    res = invoke("run", example_csv, "--mc", "high", "--models-dir", tiny_models)
    assert res.exit_code == 2 and "--mc" in res.stderr
    res = invoke("run", example_csv, "--no-such-option")
    assert res.exit_code == 2
    res = invoke("run", example_csv, "--threshold", "1.0", "--models-dir", tiny_models)
    assert res.exit_code == 2 and "threshold" in res.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("time,latitude,longitude,mag\n2020-01-01T00:00:00Z,35,-118,abc\n")
    res = invoke("run", bad, "--models-dir", tiny_models)
    assert res.exit_code == 2 and "line 2" in res.stderr and "mag" in res.stderr

    import lite_decluster.declustering as dec

    def boom(*a, **k):
        raise RuntimeError("unexpected state")

    monkeypatch.setattr(dec, "label_catalog", boom)
    res = invoke("run", example_csv, "--models-dir", tiny_models)
    assert res.exit_code == 1 and "internal error" in res.stderr
    assert "unexpected state" in res.stderr and "Traceback" not in res.stderr
    res = invoke("run", example_csv, "--models-dir", tiny_models,
                 env={cli.DEBUG_ENV: "1"})
    assert res.exit_code == 1 and "Traceback" in res.stderr


def test_models_listing(tiny_models):
    res = invoke("models", "--models-dir", tiny_models)
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    default = next(line for line in lines if "rf_td025" in line)
    assert default.startswith("*") and "v1" in default and "kB" in default
    assert "[0.800-0.950]" in default and "* default: the tiny test model" in res.stdout
    other = next(line for line in lines if "rf_td050" in line)
    assert not other.startswith("*")
    res = invoke("models", "--verify", "--models-dir", tiny_models)
    assert res.exit_code == 0 and res.stdout.count("ok ") == 2
    res = invoke("models", "--models-dir", tiny_models / "nowhere")
    assert res.exit_code == 2 and "manifest" in res.stderr


def test_subprocess_end_to_end(example_csv, tiny_models):
    cmd = [sys.executable, "-m", "lite_decluster.cli", "run", str(example_csv),
           "--models-dir", str(tiny_models), "--threads", "1"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "classified" in proc.stderr and "\r" not in proc.stderr and proc.stdout == ""
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------- real catalogs


@pytest.mark.parametrize(
    "name, sep, raw_id, out_id",
    [
        ("scsn_socal_1932_2026_M2.5.csv", ",", "evid", "evid"),
        ("comcat_california_2015_2025_M2.5.csv", ",", "id", "id"),
        ("ingv_italy_1985_2022_M3.txt", "|", "#EventID", "#EventID"),
    ],
)
def test_real_catalogs(shared_data, tiny_models, tmp_path, name, sep, raw_id, out_id):
    src = shared_data / name
    if not src.is_file():
        pytest.skip(f"{src} is absent")
    out = tmp_path / f"{name}.declustered.csv"
    res = invoke("run", src, "--models-dir", tiny_models, "-o", out, "--skip-invalid")
    assert res.exit_code == 0, res.stderr
    got = pd.read_csv(out, sep=sep, keep_default_na=False, na_values=[""], dtype={out_id: str})
    raw = pd.read_csv(src, sep=sep, usecols=[raw_id], dtype=str)
    assert len(got) == len(raw)
    assert (got[out_id].astype(str).to_numpy() == raw[raw_id].to_numpy()).all()
    unlabelled = got["label"].isna()
    assert got.loc[unlabelled, "reason"].notna().all()
    assert got.loc[~unlabelled, "label"].isin(["background", "aftershock"]).all()
    assert "classified" in res.stderr and "b " in res.stderr


# ------------------------------------------------------------------------- shipped models


@shipped
def test_shipped_models_verify():
    res = invoke("models", "--verify")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "*" in res.stdout and "FAILED" not in res.stdout


@shipped
def test_shipped_default_model_run(example_csv):
    res = invoke("run", example_csv)
    assert res.exit_code == 0, res.stderr
    got = read_output(example_csv.with_name("example_catalog.declustered.csv"))
    scored = got["reason"].isna()
    assert got.loc[scored, "p_aftershock"].between(0, 1).all()
    assert (got.loc[scored, "label"] == got.loc[scored, "true_label"]).mean() > 0.7
