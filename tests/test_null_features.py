"""The v2 features: the time-permuted null and the relative and context columns, checked
against an explicit permuted catalog searched by brute force."""

import numpy as np
import pandas as pd
import pytest
from test_features import brute_force

from lite_decluster.feature_spec import FeatureSpec, get_spec
from lite_decluster.features import compute_features
from lite_decluster.null_features import stratified_permutation


def _catalog(n=400, seed=3):
    rng = np.random.default_rng(seed)
    m = np.round(2.0 + np.floor(rng.exponential(1 / np.log(10), n) * 10) / 10, 1)
    return pd.DataFrame({"time": np.sort(rng.uniform(0, 1000, n)), "x": rng.uniform(0, 50, n),
                         "y": rng.uniform(0, 50, n), "magnitude": m})


def test_stratified_permutation_keeps_magnitude_bins():
    m = _catalog()["magnitude"].to_numpy()
    perm = stratified_permutation(m, 5)
    assert np.array_equal(np.sort(perm), np.arange(m.size))  # a permutation
    assert np.array_equal(np.floor(m[perm] / 0.1 + 1e-6), np.floor(m / 0.1 + 1e-6))
    assert not np.array_equal(perm, np.arange(m.size))
    assert np.array_equal(perm, stratified_permutation(m, 5))  # seeded


def test_null_summary_equals_brute_force_on_the_permuted_catalog():
    cat = _catalog()
    b = 1.0
    f = compute_features(cat, spec="v2", b=b, workers=1)
    t, m = cat["time"].to_numpy(), cat["magnitude"].to_numpy()
    x, y = cat["x"].to_numpy(), cat["y"].to_numpy()
    perm = stratified_permutation(m, get_spec("v2").null_seed)
    xp, yp, mp = x[perm], y[perm], m[perm]

    def dist(i, j):
        return np.hypot(xp[i] - xp[j], yp[i] - yp[j])

    par, eta = brute_force(t, mp, dist, b=b, df=1.6, rmin=0.1)
    has = par >= 0
    i, j = par[has], np.flatnonzero(has)
    r = np.maximum(dist(i, j), 0.1)
    log_t = np.log10((t[j] - t[i]) * 10 ** (-0.5 * b * mp[i]))
    log_r = np.log10(r**1.6 * 10 ** (-0.5 * b * mp[i]))
    null = f.attrs["null"]
    assert null["log10_T_median"] == pytest.approx(np.median(log_t), abs=1e-12)
    assert null["log10_R_median"] == pytest.approx(np.median(log_r), abs=1e-12)
    assert null["log10_eta_q05"] == pytest.approx(np.quantile(np.log10(eta[has]), 0.05), abs=1e-9)
    # relative columns are the catalog's own log10 T, R shifted by the null's medians
    own = compute_features(cat, spec="v1", b=b, workers=1)
    ok = own["parent"].to_numpy() >= 0
    np.testing.assert_allclose(f["rel_log10_T"][ok], np.log10(own["T"][ok]) - np.median(log_t))
    np.testing.assert_allclose(f["rel_log10_R"][ok], np.log10(own["R"][ok]) - np.median(log_r))
    le = own["log10_eta"].to_numpy()[ok]
    assert f["ctx_clustered"].iloc[0] == pytest.approx(
        np.mean(le < np.quantile(np.log10(eta[has]), 0.05)))
    assert f["ctx_sparse"].iloc[0] == pytest.approx(np.mean(le > np.median(np.log10(eta[has]))))


def test_poisson_catalog_is_its_own_null():
    """Without clustering the catalog and its null agree: relative medians near 0, context
    shares near 0.05 and 0.5 (independent of density: two boxes 100x apart)."""
    for side in (1.0, 100.0):
        rng = np.random.default_rng(11)
        n = 20000
        m = np.round(2.0 + np.floor(rng.exponential(1 / np.log(10), n) * 10) / 10, 1)
        cat = pd.DataFrame({"time": np.sort(rng.uniform(0, 3650, n)),
                            "x": rng.uniform(0, side, n), "y": rng.uniform(0, side, n),
                            "magnitude": m})
        f = compute_features(cat, spec="v2", b=1.0, workers=1)
        assert abs(np.nanmedian(f["rel_log10_T"])) < 0.05
        assert abs(np.nanmedian(f["rel_log10_R"])) < 0.05
        assert abs(f["ctx_clustered"].iloc[0] - 0.05) < 0.01
        assert abs(f["ctx_sparse"].iloc[0] - 0.5) < 0.03


def test_null_features_need_a_null():
    with pytest.raises(ValueError, match="null"):
        FeatureSpec(features=("rel_log10_T",))
    with pytest.raises(ValueError, match="unknown null"):
        FeatureSpec(null="shuffle")
    assert get_spec(get_spec("v2").to_dict()) == get_spec("v2")


def test_search_of_some_children_equals_brute_force_for_them():
    from lite_decluster.geometry import _geometry
    from lite_decluster.neighbours import nearest_parents

    cat = _catalog(n=3000, seed=8)
    t, m = cat["time"].to_numpy(), cat["magnitude"].to_numpy()
    x, y = cat["x"].to_numpy(), cat["y"].to_numpy()
    geom = _geometry(get_spec("v1"), x=x, y=y, lat=None, lon=None, depth=None)
    queries = np.random.default_rng(2).random(t.size) < 0.1
    par, eta = nearest_parents(t, m, geom, b=1.0, df=1.6, min_distance=0.1, workers=1,
                               queries=queries)  # fmt: skip
    bpar, beta = brute_force(t, m, lambda i, j: np.hypot(x[i] - x[j], y[i] - y[j]), b=1.0,
                             df=1.6, rmin=0.1)  # fmt: skip
    np.testing.assert_array_equal(par[queries], bpar[queries])
    np.testing.assert_allclose(eta[queries], beta[queries], rtol=1e-12)


def test_null_sample_summarises_a_seeded_subset():
    from dataclasses import replace

    cat = _catalog(n=3000, seed=9)
    spec = replace(get_spec("v2"), null_sample=500)
    a = compute_features(cat, spec=spec, b=1.0, workers=1).attrs["null"]
    assert a == compute_features(cat, spec=spec, b=1.0, workers=1).attrs["null"]  # seeded
    full = compute_features(cat, spec=replace(spec, null_sample=0), b=1.0, workers=1)
    assert a != full.attrs["null"]  # a subset, not every event
    assert a["log10_T_median"] == pytest.approx(full.attrs["null"]["log10_T_median"], abs=0.15)
