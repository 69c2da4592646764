"""Candidate parents below Mc (feature specification field ``parent_floor``): which events are
searched, which are labelled, and what a run writes for the events between Mc - floor and Mc.
Checked against brute force on the pool and against an independent selection by magnitude."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from test_features import brute_force

from lite_decluster.completeness import parse_mc
from lite_decluster.feature_spec import get_spec
from lite_decluster.magnitudes import estimate_b
from lite_decluster.pipeline import add_features, select_events

SPEC = replace(get_spec("v1"), parent_floor=0.5)


def _catalog(n=900, seed=11):
    rng = np.random.default_rng(seed)
    m = np.round(1.7 + np.floor(rng.exponential(1 / np.log(10), n) * 10) / 10, 1)
    return pd.DataFrame({"time": np.sort(rng.uniform(0, 1000, n)), "x": rng.uniform(0, 40, n),
                         "y": rng.uniform(0, 40, n), "magnitude": m,
                         "row": np.arange(n)})  # fmt: skip


def test_floor_zero_is_the_plain_cut():
    cat = _catalog()
    a = select_events(cat, mc=2.5, b=1.0, spec="v1")
    assert a.target is None and a.n_target == int((cat["magnitude"] >= 2.5 - 1e-6).sum())


def test_pool_and_target_by_magnitude():
    cat = _catalog()
    sel = select_events(cat, mc=2.5, b="auto", spec=SPEC)
    m = cat["magnitude"].to_numpy()
    np.testing.assert_array_equal(sel.table["row"], np.flatnonzero(m >= 2.0 - 1e-6))
    np.testing.assert_array_equal(sel.target, sel.table["magnitude"].to_numpy() >= 2.5 - 1e-6)
    assert sel.n_target == int((m >= 2.5 - 1e-6).sum())
    # the b-value comes from the events above Mc only
    assert sel.b == pytest.approx(estimate_b(m[m >= 2.5 - 1e-6], 2.5).b)


def test_pool_follows_mc_periods():
    cat = _catalog()
    sel = select_events(cat, mc=parse_mc("0:3.0,500:2.5"), b=1.0, spec=SPEC)
    t, m = cat["time"].to_numpy(), cat["magnitude"].to_numpy()
    mc = np.where(t >= 500, 2.5, 3.0)
    np.testing.assert_array_equal(sel.table["row"], np.flatnonzero(m >= mc - 0.5 - 1e-6))
    np.testing.assert_array_equal(sel.target, (m >= mc - 1e-6)[sel.table["row"].to_numpy()])


def test_features_search_the_whole_pool():
    cat = _catalog()
    prep = add_features(select_events(cat, mc=2.5, b=1.0, spec=SPEC), workers=1)
    pool = cat[cat["magnitude"] >= 2.0 - 1e-6].reset_index(drop=True)
    t, m = pool["time"].to_numpy(), pool["magnitude"].to_numpy()
    x, y = pool["x"].to_numpy(), pool["y"].to_numpy()
    par, eta = brute_force(t, m, lambda i, j: np.hypot(x[i] - x[j], y[i] - y[j]),
                           b=1.0, df=1.6, rmin=0.1)  # fmt: skip
    np.testing.assert_array_equal(prep.features["parent"], par)
    np.testing.assert_allclose(prep.features["eta"], eta, rtol=1e-12)
    # some events above Mc have their nearest parent below Mc: the point of the floor
    assert np.any(prep.target & (par >= 0) & ~prep.target[np.maximum(par, 0)])


@pytest.fixture(scope="module")
def floor_models(tmp_path_factory):
    """A tiny forest on v1 features with parent_floor 0.5, in the shipped layout."""
    pytest.importorskip("sklearn")
    from _fixtures import write_manifest
    from sklearn.ensemble import RandomForestClassifier

    from export.convert import count_nodes, forest_to_onnx, save_model_atomic

    folder = tmp_path_factory.mktemp("floor_models")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] + rng.normal(scale=0.5, size=2000) < 0).astype(int)
    forest = RandomForestClassifier(n_estimators=4, max_depth=5, random_state=1).fit(X, y)
    saved = save_model_atomic(forest_to_onnx(forest, feature_names=list(SPEC.features),
                                             model_name="rf_td100"), folder / "rf_td100.onnx")
    entry = {"name": "rf_td100", "file": "rf_td100.onnx", "sha256": saved["sha256"],
             "bytes": saved["bytes"], "td_fraction": 100, "n_trees": 4,
             "n_nodes": count_nodes(forest), "feature_spec": SPEC.to_dict(), "input_name": "X",
             "output_name": "p_aftershock",
             "metrics": {"accuracy": {"median": 0.9, "p32": 0.8, "p68": 0.95, "n": 1}}}
    golden = {"X": X[:50], "p__rf_td100": forest.predict_proba(X[:50])[:, 1]}
    write_manifest(folder, [entry], golden, default="rf_td100")
    return folder, forest


def test_run_labels_only_events_above_mc(floor_models):
    from lite_decluster.declustering import run_decluster

    folder, forest = floor_models
    cat = _catalog().drop(columns="row")
    out, info = run_decluster(cat, models_directory=folder, mc=2.5, b=1.0, threads=1)
    assert len(out) == len(cat)
    m = cat["magnitude"].to_numpy()
    above, pool_only = m >= 2.5 - 1e-6, (m >= 2.0 - 1e-6) & (m < 2.5 - 1e-6)
    label = out["label"].to_numpy(dtype=object, na_value=None)
    assert all(v is None for v in label[~above])
    assert set(out["reason"][pool_only]) == {"below Mc 2.5: candidate parent only"}
    assert set(out["reason"][m < 2.0 - 1e-6]) == {"below Mc 2.5"}
    assert info.n_below_mc == int((~above).sum())
    assert info.n_parent_only == int(pool_only.sum())
    assert info.n_classified == int(above.sum())
    # probabilities: the forest on the features searched over the pool, independently
    prep = add_features(select_events(_catalog(), mc=2.5, b=1.0, spec=SPEC), workers=1)
    rows = prep.table["row"].to_numpy()
    ok = prep.target & np.isfinite(prep.X).all(axis=1) & (prep.features["parent"] >= 0)
    np.testing.assert_allclose(out["p_aftershock"].to_numpy()[rows[ok]],
                               forest.predict_proba(prep.X[ok])[:, 1], atol=1e-6)  # fmt: skip
    # parent links may point below Mc, and name the right input row
    parent_row = out["parent_row"].to_numpy(dtype=float, na_value=np.nan)
    linked = np.isfinite(parent_row) & above
    assert np.any(~above[parent_row[linked].astype(int)])
    par = prep.features["parent"].to_numpy()
    np.testing.assert_array_equal(parent_row[rows[ok]], rows[par[ok]])
