"""Export stage: forest -> ONNX conversion, parity with scikit-learn, skl2onnx, ort-compat."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import joblib  # noqa: E402
import onnx  # noqa: E402
import onnxruntime  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    ExtraTreesClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)

from export import convert, ort_compat  # noqa: E402
from export.convert import (  # noqa: E402
    ParityError,
    check_parity,
    forest_to_onnx,
    skl2onnx_crosscheck,
    synthetic_rows,
)

NAMES = ["T", "R", "dm", "n_siblings", "n_offspring"]


def make_data(n: int, seed: int, nan_fraction: float = 0.0):
    """5 features with repeated values: continuous, 0.1-rounded, small integer counts."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, 5), dtype=np.float32)
    X[:, 0] = rng.lognormal(0.0, 2.0, n)  # T
    X[:, 1] = np.round(rng.lognormal(1.0, 1.0, n), 1)  # R, many ties
    X[:, 2] = np.round(rng.normal(0.0, 0.8, n), 1)  # dm
    X[:, 3] = rng.poisson(1.5, n)  # n_siblings
    X[:, 4] = rng.poisson(0.7, n)  # n_offspring
    score = -np.log(X[:, 0]) * 0.4 - np.log1p(X[:, 1]) + 0.4 * X[:, 4] + rng.normal(0, 1, n)
    y = (score > -0.5).astype(np.int64)
    if nan_fraction:
        X[rng.random(X.shape) < nan_fraction] = np.nan
    return X, y


def eval_rows(forest, n: int = 50_000, seed: int = 99):
    """Fresh data, rows sitting exactly on / next to thresholds, some NaN rows."""
    X, _ = make_data(n - n // 5, seed)
    X = np.vstack([X, synthetic_rows(forest, n // 5, seed=seed)])
    X[:500, 1] = np.nan
    X[500:600, :] = np.nan
    return X


FORESTS = {
    "min_samples_leaf": lambda: RandomForestClassifier(
        n_estimators=8, min_samples_leaf=20, random_state=1, n_jobs=2
    ),
    "unbounded_ties": lambda: RandomForestClassifier(n_estimators=4, random_state=2),
    "max_leaf_nodes": lambda: RandomForestClassifier(
        n_estimators=6, max_leaf_nodes=64, random_state=3
    ),
    "one_tree": lambda: RandomForestClassifier(n_estimators=1, random_state=4),
    "extra_trees": lambda: ExtraTreesClassifier(n_estimators=5, min_samples_leaf=3, random_state=5),
}


@pytest.fixture(scope="module")
def data():
    return make_data(6000, 0)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return {name: make().fit(X, y) for name, make in FORESTS.items()}


@pytest.mark.parametrize("name", list(FORESTS))
def test_bit_identical_to_predict_proba(fitted, name):
    forest = fitted[name]
    model = forest_to_onnx(forest, feature_names=NAMES)
    onnx.checker.check_model(model, full_check=True)
    X = eval_rows(forest)
    res = check_parity(forest, model.SerializeToString(), X)
    assert res["rows"] == 50_000 and res["mismatches"] == 0 and res["max_abs_diff"] == 0.0
    assert res["nan_rows"] >= 600
    if name == "unbounded_ties":
        assert res["ties_05"] > 1000  # 4 pure-leaf trees: many exact 0.5 votes


def test_nan_trained_forest_routes_missing_like_sklearn():
    X, y = make_data(4000, 7, nan_fraction=0.15)
    forest = RandomForestClassifier(n_estimators=5, min_samples_leaf=5, random_state=7).fit(X, y)
    go_left = np.concatenate([e.tree_.missing_go_to_left for e in forest.estimators_])
    assert go_left.any()
    Xt, _ = make_data(30_000, 8, nan_fraction=0.3)
    res = check_parity(forest, forest_to_onnx(forest, feature_names=NAMES).SerializeToString(), Xt)
    assert res["mismatches"] == 0 and res["nan_rows"] > 20_000


def test_single_leaf_trees(data):
    X, y = data
    forest = RandomForestClassifier(n_estimators=3, min_samples_split=10**6, random_state=0)
    forest.fit(X, y)
    assert all(e.tree_.node_count == 1 for e in forest.estimators_)
    model = forest_to_onnx(forest, feature_names=NAMES)
    onnx.checker.check_model(model, full_check=True)
    assert check_parity(forest, model, X[:1000])["mismatches"] == 0


def test_layout_and_determinism(fitted, data):
    forest = fitted["min_samples_leaf"]
    a = forest_to_onnx(forest, feature_names=NAMES, doc="d").SerializeToString()
    b = forest_to_onnx(forest, feature_names=NAMES, doc="d").SerializeToString()
    assert a == b
    # refitting with the same seed gives the same bytes too
    again = FORESTS["min_samples_leaf"]().fit(*data)
    assert forest_to_onnx(again, feature_names=NAMES, doc="d").SerializeToString() == a

    m = onnx.load_from_string(a)
    assert m.ir_version == convert.IR_VERSION
    assert {(o.domain, o.version) for o in m.opset_import} == {
        ("", convert.OPSET_DEFAULT),
        ("ai.onnx.ml", 5),
    }
    assert m.producer_name == convert.PRODUCER_NAME
    assert [i.name for i in m.graph.input] == ["X"]
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [o.name for o in m.graph.output] == ["p_aftershock"]
    assert m.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    ops = [n.op_type for n in m.graph.node]
    assert ops == ["Cast"] + ["TreeEnsemble"] * 8 + ["Sum", "Div"]
    meta = {p.key: p.value for p in m.metadata_props}
    assert meta["feature_names"] == ",".join(NAMES) and meta["n_trees"] == "8"
    n_nodes = sum(e.tree_.node_count for e in forest.estimators_)
    assert meta["n_nodes"] == str(n_nodes)


def test_refuses_unsupported(data):
    X, y = data
    y3 = y + (X[:, 3] > 2)
    multi = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0).fit(X, y3)
    with pytest.raises(ValueError, match="binary"):
        forest_to_onnx(multi, feature_names=NAMES)
    reg = RandomForestRegressor(n_estimators=2, max_depth=3, random_state=0).fit(X, y)
    with pytest.raises((TypeError, ValueError)):
        forest_to_onnx(reg, feature_names=NAMES)
    ok = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="feature names"):
        forest_to_onnx(ok, feature_names=NAMES[:4])


def test_parity_detects_a_changed_leaf(fitted):
    forest = fitted["max_leaf_nodes"]
    model = forest_to_onnx(forest, feature_names=NAMES)
    node = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
    attr = next(a for a in node.attribute if a.name == "leaf_weights")
    w = onnx.numpy_helper.to_array(attr.t).copy()
    w[:] = np.nextafter(w, 2.0)  # one ulp up on every leaf of the first tree
    attr.t.raw_data = w.tobytes()
    with pytest.raises(ParityError) as err:
        check_parity(forest, model, eval_rows(forest, 5000))
    assert err.value.result["mismatches"] > 0


def test_counts_style_values_are_normalised(data):
    """Trees pickled by scikit-learn < 1.4 store weighted counts in tree_.value."""
    X, y = data
    forest = RandomForestClassifier(n_estimators=3, min_samples_leaf=10, random_state=0)
    forest.fit(X, y)
    before = forest.predict_proba(X)[:, 1]
    for est in forest.estimators_:
        state = est.tree_.__getstate__()
        w = state["nodes"]["weighted_n_node_samples"]
        state["values"] = np.ascontiguousarray(state["values"] * w[:, None, None])
        est.tree_.__setstate__(state)
    assert convert.forest_stores_counts(forest)
    model = forest_to_onnx(forest, feature_names=NAMES)
    res = check_parity(forest, model, X)  # against the old normalising predict_proba
    assert res["mismatches"] == 0
    p = convert._run(convert._session(model), X)
    np.testing.assert_allclose(p, before, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["min_samples_leaf", "unbounded_ties", "one_tree"])
def test_skl2onnx_crosscheck(fitted, name):
    forest = fitted[name]
    res = skl2onnx_crosscheck(forest, eval_rows(forest, 20_000))
    assert res["max_abs_diff"] <= 1e-6 and res["nan_rows_skipped"] >= 600


def test_external_data_round_trip(fitted, tmp_path):
    forest = fitted["min_samples_leaf"]
    model = forest_to_onnx(forest, feature_names=NAMES)
    info = convert.save_model_atomic(model, tmp_path / "m.onnx", external_data=True)
    assert info["external_data"] == "m.onnx.data"
    assert (tmp_path / "m.onnx.data").stat().st_size > 0
    assert check_parity(forest, tmp_path / "m.onnx", eval_rows(forest, 5000))["mismatches"] == 0


def test_convert_pickle_round_trip(fitted, tmp_path, capsys):
    forest = fitted["max_leaf_nodes"]
    pkl = tmp_path / "forest.joblib"
    joblib.dump(forest, pkl)
    out = tmp_path / "sub" / "rf.onnx"
    with pytest.warns(UserWarning, match="executes code"):
        info = convert.convert_pickle(pkl, out, spec_name="aden2021", feature_names=None)
    captured = capsys.readouterr()
    assert "executes code" in captured.err
    data = out.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert info["sha256"] == sha and sha in captured.out
    assert info["bytes"] == len(data) and info["trees"] == 6
    assert info["feature_names"] == NAMES
    assert not list(out.parent.glob(".*tmp*"))  # no temp file left behind
    assert check_parity(forest, data, eval_rows(forest, 5000))["mismatches"] == 0
    # the forest object in memory and from the pickle give the same bytes
    assert (
        forest_to_onnx(forest, feature_names=NAMES).graph.node[1]
        == (onnx.load_from_string(data).graph.node[1])
    )

    out2 = tmp_path / "cli.onnx"
    with pytest.warns(UserWarning):
        code = convert.cli(["convert", str(pkl), "--spec", "aden2021", "-o", str(out2)])
    assert code == 0 and out2.read_bytes() == data


# --------------------------------------------------------------------------- ort_compat


def _write_models_dir(d: Path, forests: dict, X) -> None:
    entries = []
    golden = {"X": X.astype(np.float32)}
    for i, (name, forest) in enumerate(forests.items()):
        data = forest_to_onnx(forest, feature_names=NAMES, model_name=name).SerializeToString()
        (d / f"{name}.onnx").write_bytes(data)
        entries.append(
            {
                "name": name,
                "file": f"{name}.onnx",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "td_fraction": 10 * (i + 1),
                "n_trees": len(forest.estimators_),
                "feature_spec": {"name": "aden2021", "features": NAMES},
                "input_name": "X",
                "output_name": "p_aftershock",
                "note": "kept in place",
            }
        )
        golden[f"p__{name}"] = convert.reference_proba(forest, golden["X"])  # n_jobs=1
    np.savez(d / "golden.npz", **golden)
    gsha = hashlib.sha256((d / "golden.npz").read_bytes()).hexdigest()
    manifest = {
        "schema": 1,
        "default": entries[0]["name"],
        "models": entries,
        "golden": {"file": "golden.npz", "sha256": gsha},
    }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def test_ort_compat_with_installed_runtime(fitted, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    forests = {"rf_a": fitted["max_leaf_nodes"], "rf_b": fitted["one_tree"]}
    _write_models_dir(models, forests, eval_rows(fitted["one_tree"], 3000))
    version = onnxruntime.__version__
    # pre-seed the cache with the installed onnxruntime (no download in tests)
    target = tmp_path / "cache" / f"ort-{version}"
    target.mkdir(parents=True)
    os.symlink(Path(onnxruntime.__file__).parent, target / "onnxruntime")
    (target / ".complete").write_text(version)

    code = ort_compat.cli(
        ["--versions", version, "--models", str(models), "--cache-dir", str(tmp_path / "cache")]
        + ["--record"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 of 2 checks passed" in out
    manifest = json.loads((models / "manifest.json").read_text())
    entry = manifest["models"][0]
    assert entry["verified_onnxruntime"] == [version]
    assert list(entry)[-2:] == ["note", "verified_onnxruntime"]  # key order kept
    assert list(manifest) == ["schema", "default", "models", "golden"]

    # a wrong stored probability is reported and fails the run
    with np.load(models / "golden.npz") as z:
        g = dict(z)
    g["p__rf_b"][7] = np.nextafter(g["p__rf_b"][7], 2.0)
    np.savez(models / "golden.npz", **g)
    code = ort_compat.cli(
        ["--versions", version, "--models", str(models), "--cache-dir", str(tmp_path / "cache")]
    )
    out = capsys.readouterr().out
    assert code == 1 and "1 rows differ" in out
