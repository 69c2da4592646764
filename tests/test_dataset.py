"""Synthetic training data: parameter draws, seeds, labels and features (export/dataset.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("sklearn")

from export import dataset as ds  # noqa: E402
from export.etas import ETASParams, branching_ratio, simulate  # noqa: E402
from lite_decluster.features import compute_features, feature_matrix, get_spec  # noqa: E402
from lite_decluster.magnitudes import estimate_b  # noqa: E402

CONFIG = ds.load_config()


def _in_range(value: float, law: list) -> bool:
    _, lo, hi = law
    return lo <= value <= hi


def test_parameter_draws_inside_documented_ranges():
    draws, fixed = CONFIG["draws"], CONFIG["fixed"]
    ratio_max = CONFIG["constraints"]["alpha_over_beta_max"]
    rng = np.random.default_rng(0)
    for _ in range(300):
        p, target = ds.draw_params(rng, CONFIG)
        for name in ("alpha", "c", "p", "tau", "d", "q", "gamma", "b", "duration"):
            assert _in_range(getattr(p, name), draws[name]), name
        assert _in_range(p.Lx, draws["L"]) and p.Ly == p.Lx
        assert _in_range(target["events"], draws["events"])
        assert p.alpha <= ratio_max * p.b * math.log(10) + 1e-12
        n = branching_ratio(p)
        assert n == pytest.approx(target["branching_ratio"], rel=1e-9)
        assert 0.3 <= n <= 0.95
        assert p.mu == pytest.approx(target["events"] * (1 - n) / p.duration)
        assert p.magnitude_bin == fixed["magnitude_bin"] and p.mc == fixed["mc_sim"]
        assert p.burn_in == pytest.approx(fixed["burn_in_taus"] * p.tau)


def test_ranges_cover_published_fits():
    draws = CONFIG["draws"]
    socal = dict(alpha=1.23, c=0.0035, p=1.08, d=0.20, q=1.46, gamma=1.53)
    italy = dict(alpha=1.50, c=0.0092, p=1.16, d=1.0, q=1.85, gamma=1.02)
    for fit in (socal, italy):
        for k, v in fit.items():
            assert _in_range(v, draws[k]), k
    assert draws["branching_ratio"][1] <= 0.3 and draws["branching_ratio"][2] >= 0.95
    assert draws["b"][1] <= 0.8 and draws["b"][2] >= 1.2


def test_seeds_deterministic_and_disjoint():
    a = ds.catalog_seeds(CONFIG, "train", 100)
    assert a == ds.catalog_seeds(CONFIG, "train", 100)
    assert ds.catalog_seeds(CONFIG, "train", 6) == a[:6]  # small scale = prefix
    b = ds.catalog_seeds(CONFIG, "test", 100)
    assert len(set(a) | set(b)) == 200


@pytest.fixture(scope="module")
def small_catalog():
    seed = ds.catalog_seeds(CONFIG, "train", 1)[0]
    df, meta = ds.simulate_catalog(seed, CONFIG, events_factor=0.12)
    data = ds.featurize(df, meta)
    return seed, df, data.meta, data


def test_catalog_deterministic(small_catalog):
    seed, _, _, data = small_catalog
    again = ds.make_catalog(seed, CONFIG, events_factor=0.12)
    for name in ("X_v1", "X_aden2021", "log10_eta", "aftershock"):
        np.testing.assert_array_equal(getattr(again, name), getattr(data, name))
    assert again.meta["params"] == data.meta["params"]


def test_labels_match_simulator_truth(small_catalog):
    _, df, meta, data = small_catalog
    params = ETASParams.from_dict(meta["params"])
    cat = simulate(params, meta["sim_seed"])  # independent re-simulation from the record
    keep = cat["magnitude"] >= meta["mc"] - 1e-6
    np.testing.assert_array_equal(data.aftershock, (cat["generation"][keep] > 0).astype(np.int8))
    assert data.aftershock.shape[0] == meta["n"] == int(keep.sum())
    assert 0 < data.aftershock.mean() < 1
    assert meta["background_fraction"] == pytest.approx(1 - data.aftershock.mean())


def test_features_match_independent_recomputation(small_catalog):
    _, df, meta, data = small_catalog
    # binned at 0.1 like real catalogs: Mc auto = mode + 0.2 = 2.2
    assert meta["mc"] == pytest.approx(CONFIG["fixed"]["mc_sim"] + 0.2)
    cut = df[df["magnitude"] >= meta["mc"] - 1e-6].reset_index(drop=True)
    b = estimate_b(cut["magnitude"].to_numpy(), meta["mc"], bin_width=0.1).b
    assert b == pytest.approx(meta["b"])
    v1 = replace(get_spec("v1"), b=b)
    f1 = compute_features(cut[["time", "x", "y", "magnitude"]], spec=v1, workers=1)
    np.testing.assert_array_equal(feature_matrix(f1, v1), data.X_v1)
    np.testing.assert_array_equal(f1["log10_eta"].to_numpy(), data.log10_eta)
    fa = compute_features(cut[["time", "x", "y", "magnitude"]], spec="aden2021", workers=1)
    np.testing.assert_array_equal(feature_matrix(fa, "aden2021"), data.X_aden2021)
    assert data.X_v1.dtype == np.float32 and data.X_v1.shape == (meta["n"], 5)
    assert np.isnan(data.X_v1).any(axis=1).sum() == 1  # only the first event has no parent


def test_build_dataset_is_resumable(tmp_path):
    paths = ds.build_dataset("small", tmp_path, jobs=1, log=lambda *a: None)
    assert len(paths["train"]) == CONFIG["scales"]["small"]["n_train"]
    stamp = {p: p.stat().st_mtime_ns for p in paths["train"] + paths["test"]}
    first = ds.load_catalog(paths["train"][0])
    assert first.meta["seed"] == ds.catalog_seeds(CONFIG, "train", 1)[0]
    again = ds.build_dataset("small", tmp_path, jobs=1, log=lambda *a: None)
    assert {p: p.stat().st_mtime_ns for p in again["train"] + again["test"]} == stamp


@settings(max_examples=50, deadline=None)
@given(st.integers(10, 200), st.integers(0, 2**32 - 1))
def test_stratified_order_is_a_nested_spread_permutation(n, seed):
    from export.train import stratified_order

    key = np.random.default_rng(seed).random(n)
    sizes = sorted({max(1, round(f * n / 100)) for f in (10, 25, 50, 75)})
    order = stratified_order(key, sizes)
    assert sorted(order) == list(range(n))  # a permutation of the items
    rank = np.empty(n, dtype=int)
    rank[np.argsort(key, kind="stable")] = np.arange(n)
    k = sizes[0]  # the smallest subset holds one item per k-quantile stratum
    assert {int(rank[i]) * k // n for i in order[:k]} == set(range(k))
    if n == 100:  # the shipped case: every TD prefix does
        for k in sizes:
            assert {int(rank[i]) * k // n for i in order[:k]} == set(range(k))


@pytest.mark.parametrize("seed", range(5))
def test_stratified_order_for_100_catalogs(seed):
    from export.train import stratified_order

    key = np.random.default_rng(seed).random(100)
    order = stratified_order(key, [10, 25, 50, 75])
    rank = np.empty(100, dtype=int)
    rank[np.argsort(key, kind="stable")] = np.arange(100)
    for k in (10, 25, 50, 75):
        assert {int(rank[i]) * k // 100 for i in order[:k]} == set(range(k))
