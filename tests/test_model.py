"""Runtime model loading (lite_decluster.model): manifest, sha256 checks, batching, golden."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _fixtures import EXAMPLE, tiny_models, write_manifest

__all__ = ["tiny_models"]  # fixture used here

from lite_decluster import model as lm
from lite_decluster.model import ModelError, load_manifest, load_model, verify_models

NAMES = ["T", "R", "dm", "n_siblings", "n_offspring"]


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.lognormal(0, 2, n),
            np.round(rng.lognormal(1, 1, n), 1),
            np.round(rng.normal(0, 0.8, n), 1),
            rng.poisson(1.5, n),
            rng.poisson(0.7, n),
        ]
    ).astype(np.float32)
    y = (-0.4 * np.log(X[:, 0]) - np.log1p(X[:, 1]) + rng.normal(0, 1, n) > -0.5).astype(int)
    return X, y


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A tiny models folder: two forests, manifest.json and golden.npz (built with sklearn)."""
    pytest.importorskip("sklearn")
    from sklearn.ensemble import RandomForestClassifier

    from export.convert import forest_to_onnx

    d = tmp_path_factory.mktemp("models")
    X, y = _data(4000, 0)
    Xg, _ = _data(3000, 1)
    Xg[:50, 2] = np.nan
    golden = {"X": Xg}
    entries = []
    forests = {}
    for td, kw in ((10, {"min_samples_leaf": 10}), (25, {"max_leaf_nodes": 50})):
        name = f"rf_td{td:03d}"
        forest = RandomForestClassifier(n_estimators=5, random_state=td, **kw).fit(X, y)
        data = forest_to_onnx(forest, feature_names=NAMES, model_name=name).SerializeToString()
        (d / f"{name}.onnx").write_bytes(data)
        entries.append(
            {
                "name": name,
                "file": f"{name}.onnx",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "td_fraction": td,
                "n_trees": 5,
                "feature_spec": {"name": "aden2021", "features": NAMES},
                "input_name": "X",
                "output_name": "p_aftershock",
            }
        )
        golden[f"p__{name}"] = forest.predict_proba(Xg)[:, 1]
        forests[name] = forest
    write_manifest(d, entries, golden, default="rf_td010")
    return d


def _copy(models_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "copy"
    shutil.copytree(models_dir, d)
    return d


def test_selectors(models_dir):
    assert load_model(directory=models_dir).name == "rf_td010"
    assert load_model(25, directory=models_dir).name == "rf_td025"
    assert load_model("25", directory=models_dir).name == "rf_td025"
    assert load_model("rf_td025", directory=models_dir).name == "rf_td025"
    m = load_model(models_dir / "rf_td025.onnx", threads=1)
    assert m.name == "rf_td025" and m.n_features == 5 and m.path == models_dir / "rf_td025.onnx"
    assert m.spec_dict["name"] == "aden2021" and m.entry["td_fraction"] == 25
    assert m.sha256 == m.entry["sha256"]
    m = load_model(str(models_dir / "rf_td010.onnx"))
    assert m.name == "rf_td010"
    with pytest.raises(ModelError, match="TD fraction 50"):
        load_model(50, directory=models_dir)
    with pytest.raises(ModelError, match="no model named"):
        load_model("rf_nope", directory=models_dir)
    assert load_manifest(models_dir)["default"] == "rf_td010"


def test_path_needs_manifest_entry(models_dir, tmp_path):
    lone = tmp_path / "lone.onnx"
    shutil.copy(models_dir / "rf_td010.onnx", lone)
    with pytest.raises(ModelError, match="manifest.json"):
        load_model(lone)
    d = _copy(models_dir, tmp_path)
    shutil.copy(d / "rf_td010.onnx", d / "other.onnx")
    with pytest.raises(ModelError, match="not listed"):
        load_model(d / "other.onnx")


def test_sha_mismatch_refused(models_dir, tmp_path):
    d = _copy(models_dir, tmp_path)
    path = d / "rf_td025.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    expected = load_manifest(d)["models"][1]["sha256"]
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ModelError) as err:
        load_model("rf_td025", directory=d)
    msg = str(err.value)
    assert str(path) in msg and expected in msg and actual in msg
    assert isinstance(err.value, ValueError)

    res = {r["name"]: r for r in verify_models(d)}
    assert res["rf_td010"]["sha_ok"] and res["rf_td010"]["golden_ok"]
    assert not res["rf_td025"]["sha_ok"] and not res["rf_td025"]["golden_ok"]


def test_missing_file_refused(models_dir, tmp_path):
    d = _copy(models_dir, tmp_path)
    (d / "rf_td010.onnx").unlink()
    with pytest.raises(ModelError, match="missing") as err:
        load_model(directory=d)
    assert "rf_td010.onnx" in str(err.value)
    res = verify_models(d)
    assert res[0]["error"] and not res[0]["sha_ok"]


def test_batches_match_one_batch_and_sklearn(models_dir):
    with np.load(models_dir / "golden.npz") as z:
        X, expected = z["X"], z["p__rf_td025"]
    m = load_model(25, directory=models_dir)
    whole = m.predict_proba(X, batch_size=10**6)
    calls = []
    parts = m.predict_proba(
        X.astype(np.float64), batch_size=701, progress=lambda d, t: calls.append((d, t))
    )
    assert whole.dtype == np.float64 and whole.shape == (X.shape[0],)
    assert np.array_equal(whole, parts) and np.array_equal(whole, expected)
    assert calls[-1] == (X.shape[0], X.shape[0]) and len(calls) == -(-X.shape[0] // 701)
    assert m.predict_proba(np.empty((0, 5))).shape == (0,)


def test_wrong_input_refused(models_dir):
    m = load_model(directory=models_dir)
    with pytest.raises(ModelError, match=r"\(n, 5\)"):
        m.predict_proba(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        m.predict_proba(np.zeros(5))
    with pytest.raises(ModelError, match="batch_size"):
        m.predict_proba(np.zeros((3, 5)), batch_size=0)


def test_verify_models(models_dir, tmp_path):
    res = verify_models(models_dir)
    assert [r["name"] for r in res] == ["rf_td010", "rf_td025"]
    assert all(r["sha_ok"] and r["golden_ok"] and r["max_abs_diff"] == 0.0 for r in res)
    # a changed golden value is caught (manifest golden hash updated to isolate the check)
    d = _copy(models_dir, tmp_path)
    with np.load(d / "golden.npz") as z:
        g = dict(z)
    g["p__rf_td010"][3] += 1e-12
    np.savez(d / "golden.npz", **g)
    man = json.loads((d / "manifest.json").read_text())
    man["golden"]["sha256"] = hashlib.sha256((d / "golden.npz").read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(man))
    res = {r["name"]: r for r in verify_models(d)}
    assert res["rf_td010"]["sha_ok"] and not res["rf_td010"]["golden_ok"]
    assert 0 < res["rf_td010"]["max_abs_diff"] < 1e-11
    assert res["rf_td025"]["golden_ok"]


def test_package_dir_and_runtime_imports():
    assert lm.models_dir().name == "models_onnx"
    code = (
        "import sys, lite_decluster.model; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sklearn', 'export', 'skl2onnx')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(lm.__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_predict_takes_compute_features_output(tiny_models):
    import lite_decluster as ld

    model = ld.load_model(25, directory=tiny_models)
    cat = ld.read_catalog(EXAMPLE)
    cat = cat[cat["magnitude"] >= 2.7].reset_index(drop=True)
    feats = ld.compute_features(cat, spec={**model.spec_dict, "b": 1.0})
    p = model.predict(feats)
    X = ld.feature_matrix(feats, model.spec_dict)
    ok = np.isfinite(X).all(axis=1)
    assert np.isnan(p[~ok]).all() and (~ok).sum() == 1  # the first event
    np.testing.assert_array_equal(p[ok], model.predict_proba(X[ok]))
    with pytest.raises(ModelError, match="spec"):
        model.predict(ld.compute_features(cat, b=1.0, df=1.3))
