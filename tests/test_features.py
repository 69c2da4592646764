"""Nearest-neighbour features against an independent brute-force implementation.

The reference below is written separately from the package: haversine distances (the package
uses Earth-centred chords), a plain loop over events, and the tie rule spelled out (smallest
eta, then earliest time, then earliest input row).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lite_decluster.features as F
import lite_decluster.neighbours as N
from lite_decluster import compute_features, read_catalog
from lite_decluster.features import FeatureSpec, feature_matrix, get_spec

R_EARTH = 6371.0


def haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def brute_force(t, m, dist, *, b, df, rmin):
    """Parent (input position) and eta of every event; dist(i_array, j) gives r in km."""
    n = len(t)
    parent = np.full(n, -1)
    eta = np.full(n, np.nan)
    for j in range(n):
        cand = np.flatnonzero(t < t[j])
        if cand.size == 0:
            continue
        r = np.maximum(dist(cand, j), rmin)
        e = (t[j] - t[cand]) * r**df * 10.0 ** (-b * m[cand])
        best = e.min()
        tied = cand[e == best]
        # earliest time, then earliest input row
        k = tied[np.lexsort((tied, t[tied]))[0]]
        parent[j], eta[j] = k, best
    return parent, eta


def assert_same_parents(ours, ref_parent, ref_eta, eta_of):
    """Same parent for every event; a different parent is only accepted when the reference's
    own eta for it equals its minimum to 1e-12 (a floating-point tie between the two distance
    formulas: haversine here, chords in the code). Each such event is checked on its own;
    their number is not capped, since generated catalogs with binned coordinates can hold
    several exact geometric ties."""
    p = ours["parent"].to_numpy()
    assert np.array_equal(p < 0, ref_parent < 0)
    diff = np.flatnonzero(p != ref_parent)
    for j in diff:
        alt = eta_of(p[j], j)
        assert alt <= ref_eta[j] * (1 + 1e-12), f"event {j}: parent {p[j]} vs {ref_parent[j]}"
    has = ref_parent >= 0
    np.testing.assert_allclose(ours["eta"].to_numpy()[has], ref_eta[has], rtol=1e-9)
    assert ours["eta"].isna().to_numpy()[~has].all()


def geo_frame(t_days, lat, lon, m, depth=None):
    time = pd.Timestamp("2000-01-01", tz="UTC") + pd.to_timedelta(np.asarray(t_days), unit="D")
    d = {"time": time, "latitude": lat, "longitude": lon, "magnitude": m}
    if depth is not None:
        d["depth"] = depth
    return pd.DataFrame(d)


def check_geo(t, lat, lon, m, *, b=1.0, df=1.6, spec=None):
    cat = geo_frame(t, lat, lon, m)
    ours = compute_features(cat, b=b, df=df) if spec is None else compute_features(cat, spec=spec)
    sp = get_spec(ours.attrs["feature_spec"])
    t_days = F._days(cat["time"])

    def dist(i, j):
        return haversine_km(lat[i], lon[i], lat[j], lon[j])

    par, eta = brute_force(t_days, m, dist, b=sp.b, df=sp.df, rmin=sp.min_distance)

    def eta_of(i, j):
        r = max(dist(np.array([i]), j)[0], sp.min_distance)
        return (t_days[j] - t_days[i]) * r**sp.df * 10.0 ** (-sp.b * m[i])

    assert_same_parents(ours, par, eta, eta_of)
    return ours, par


# ------------------------------------------------------------------------------------------
# property-based catalogs

REGIONS = {
    "california": (34.0, -117.0, 1.0),
    "antimeridian": (-17.0, 179.9, 0.3),  # Fiji: longitudes on both sides of +-180
    "pole": (89.95, 0.0, 0.04),
    "equator": (0.0, 0.0, 2.0),
}


@st.composite
def catalogs(draw, max_n=120):
    n = draw(st.integers(0, max_n))
    region = draw(st.sampled_from(sorted(REGIONS)))
    lat0, lon0, spread = REGIONS[region]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Times from a coarse grid make equal origin times common.
    coarse = draw(st.booleans())
    t = rng.integers(0, max(2, n // 3), n).astype(float) if coarse else rng.random(n) * 100
    lat = np.clip(lat0 + rng.normal(0, spread, n), -90, 90)
    lon = lon0 + rng.normal(0, spread, n)
    if region == "pole":
        lon = rng.uniform(-180, 180, n)
    lon = (lon + 180.0) % 360.0 - 180.0
    if n and draw(st.booleans()):  # co-located events
        k = rng.integers(0, n, n // 3 + 1)
        lat[k], lon[k] = lat[k[0]], lon[k[0]]
    binned = draw(st.booleans())
    m = 2.0 + rng.exponential(0.45, n)
    if binned:
        m = np.round(m, 1)
    return t, lat, lon, m


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs())
def test_geographic_parents_match_brute_force(cat):
    t, lat, lon, m = cat
    check_geo(t, lat, lon, m)


@contextmanager
def small_window(width=2):
    """A tiny brute-force window forces every level of the tree search on small catalogs."""
    old = N._WINDOW
    N._WINDOW = width
    try:
        yield
    finally:
        N._WINDOW = old


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(max_n=300))
def test_tree_search_matches_brute_force_with_small_window(cat):
    t, lat, lon, m = cat
    with small_window():
        check_geo(t, lat, lon, m)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 250), st.integers(0, 2**32 - 1), st.booleans())
def test_projected_parents_match_brute_force(n, seed, small):
    rng = np.random.default_rng(seed)
    t = np.round(rng.random(n) * 50, 2)
    x = rng.normal(0, 20, n)
    y = rng.normal(0, 20, n)
    x[::5] = x[0] if n else x[::5]
    m = np.round(1.5 + rng.exponential(0.5, n), 1)
    cat = pd.DataFrame({"time": t, "x": x, "y": y, "magnitude": m})
    with small_window(2 if small else N._WINDOW):
        ours = compute_features(cat, b=0.9)

    def dist(i, j):
        return np.hypot(x[i] - x[j], y[i] - y[j])

    par, eta = brute_force(t, m, dist, b=0.9, df=1.6, rmin=0.1)

    def eta_of(i, j):
        return (t[j] - t[i]) * max(dist(np.array([i]), j)[0], 0.1) ** 1.6 * 10 ** (-0.9 * m[i])

    assert_same_parents(ours, par, eta, eta_of)


def clustered_catalog(n, seed, lat0=35.0, lon0=-118.0):
    """A catalog with aftershock-like clusters around a few mainshocks (deterministic)."""
    rng = np.random.default_rng(seed)
    n_bg = n // 3
    t = list(rng.random(n_bg) * 3000)
    lat = list(lat0 + rng.normal(0, 1.0, n_bg))
    lon = list(lon0 + rng.normal(0, 1.0, n_bg))
    m = list(np.round(2.5 + rng.exponential(0.43, n_bg), 1))
    while len(t) < n:
        k = rng.integers(0, n_bg)
        t.append(t[k] + min(rng.pareto(0.5) * 0.01, 500.0))
        lat.append(lat[k] + rng.normal(0, 0.02))
        lon.append(lon[k] + rng.normal(0, 0.02))
        m.append(np.round(2.5 + rng.exponential(0.43), 1))
    return (np.array(v)[:n] for v in (t, lat, lon, m))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("window", [2, 64])
def test_clustered_catalog_matches_brute_force(seed, window):
    t, lat, lon, m = clustered_catalog(3000, seed)
    with small_window(window):
        check_geo(t, lat, lon, m, b=1.0)


@contextmanager
def tuning(**values):
    """Set search tuning constants of the neighbour-search modules for one test."""
    import lite_decluster.neighbour_pairs as P

    mods = {k: [m for m in (N, P) if hasattr(m, k)] for k in values}
    assert all(mods.values()), mods
    old = {k: getattr(mods[k][0], k) for k in values}
    for k, v in values.items():
        for m in mods[k]:
            setattr(m, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            for m in mods[k]:
                setattr(m, k, v)


@pytest.mark.parametrize("seed", [2, 3])
def test_rare_search_paths_match_brute_force(seed):
    # One nearest parent per tree query (a ball query whenever it is in range), a class per
    # radius, small chunks, threads for every batch, a tiny window: the paths large catalogs
    # take.
    t, lat, lon, m = clustered_catalog(2000, seed)
    with tuning(_WINDOW=2, _NEAR=1, _CLASS_MIN=1, _RADIUS_CLASS=0.25, _CHUNK=64, _THREAD_MIN=0):
        check_geo(t, lat, lon, m, b=1.0)


def test_empty_single_and_two_events():
    empty = compute_features(geo_frame([], np.array([]), np.array([]), np.array([])), b=1.0)
    assert len(empty) == 0 and list(empty.columns)[:7] == [
        "parent",
        "eta",
        "T",
        "R",
        "dm",
        "n_siblings",
        "n_offspring",
    ]
    one = compute_features(
        geo_frame([0.0], np.array([35.0]), np.array([-118.0]), np.array([3.0])), b=1.0
    )
    assert one["parent"].tolist() == [-1] and one["eta"].isna().all()
    assert one["n_offspring"].tolist() == [0.0] and one["n_siblings"].isna().all()
    two = compute_features(
        geo_frame(
            [1.0, 0.0], np.array([35.0, 35.1]), np.array([-118.0, -118.0]), np.array([3.0, 4.0])
        ),
        b=1.0,
    )
    # input order kept: row 0 is the later event, its parent is row 1
    assert two["parent"].tolist() == [1, -1]
    r = haversine_km(35.1, -118.0, 35.0, -118.0)
    assert two["eta"][0] == pytest.approx(1.0 * r**1.6 * 10**-4.0, rel=1e-12)
    assert two["dm"][0] == pytest.approx(1.0)
    assert two["n_offspring"].tolist() == [0.0, 1.0]
    assert two["n_siblings"][0] == 0.0


def test_equal_times_are_not_parents():
    cat = geo_frame(
        [0.0, 0.0, 0.0],
        np.array([35.0, 35.0, 35.0]),
        np.array([-118.0, -118.0, -118.0]),
        np.array([3.0, 3.0, 3.0]),
    )
    assert compute_features(cat, b=1.0)["parent"].tolist() == [-1, -1, -1]


def test_ties_go_to_earliest_parent_and_colocated_events_are_finite():
    # Two identical earlier events at the same place and time (rows 1 and 0 in time order
    # given as rows 2, 0): the tie goes to the earlier input row; r = 0 is floored.
    cat = geo_frame(
        [1.0, 0.0, 0.0],
        np.array([35.0, 35.0, 35.0]),
        np.array([-118.0, -118.0, -118.0]),
        np.array([3.0, 3.0, 3.0]),
    )
    f = compute_features(cat, b=1.0)
    assert f["parent"].tolist() == [1, -1, -1]
    assert f["eta"][0] == pytest.approx(1.0 * 0.1**1.6 * 10**-3.0, rel=1e-12)
    assert np.isfinite(f["log10_eta"][0])


def test_antimeridian_and_pole_distances():
    # 179.99E and 179.99W are 2.2 km apart, not 360 degrees.
    cat = geo_frame(
        [0.0, 1.0, 2.0],
        np.array([-17.0, -17.0, -17.0]),
        np.array([179.99, 150.0, -179.99]),
        np.array([3.0, 5.0, 3.0]),
    )
    f = compute_features(cat, b=1.0)
    assert f["parent"][2] == 0
    r = haversine_km(-17.0, 179.99, -17.0, -179.99)
    assert r == pytest.approx(2.126, abs=0.01)
    assert f["R"][2] == pytest.approx(r**1.6 * 10 ** (-0.5 * 3.0), rel=1e-9)
    # Near the pole, longitudes 180 degrees apart are close.
    cat = geo_frame(
        [0.0, 1.0, 2.0],
        np.array([89.99, 0.0, 89.99]),
        np.array([0.0, 0.0, 180.0]),
        np.array([3.0, 3.0, 3.0]),
    )
    f = compute_features(cat, b=1.0)
    assert f["parent"][2] == 0
    assert f["R"][2] == pytest.approx(
        haversine_km(89.99, 0, 89.99, 180) ** 1.6 * 10**-1.5, rel=1e-9
    )


def test_feature_columns_against_independent_formulas():
    t, lat, lon, m = clustered_catalog(800, 3)
    perm = np.random.default_rng(0).permutation(t.size)  # any row order
    t, lat, lon, m = t[perm], lat[perm], lon[perm], m[perm]
    f, par = check_geo(t, lat, lon, m, b=1.1)
    has = par >= 0
    i, j = par[has], np.flatnonzero(has)
    td = F._days(geo_frame(t, lat, lon, m)["time"])
    r = np.maximum(haversine_km(lat[i], lon[i], lat[j], lon[j]), 0.1)
    np.testing.assert_allclose(f["T"][has], (td[j] - td[i]) * 10 ** (-0.5 * 1.1 * m[i]), rtol=1e-9)
    np.testing.assert_allclose(f["R"][has], r**1.6 * 10 ** (-0.5 * 1.1 * m[i]), rtol=1e-9)
    np.testing.assert_allclose(f["T"][has] * f["R"][has], f["eta"][has], rtol=1e-12)
    np.testing.assert_array_equal(f["dm"][has], m[i] - m[j])
    offspring = np.array([(par == k).sum() for k in range(t.size)])
    np.testing.assert_array_equal(f["n_offspring"], offspring)
    np.testing.assert_array_equal(f["n_siblings"][has], offspring[i] - 1)
    X = feature_matrix(f, "v1")
    assert X.dtype == np.float32 and X.shape == (t.size, 5)
    np.testing.assert_allclose(X[has, 0], np.log10(f["T"][has]).astype(np.float32))


def test_hypocentral_distance():
    lat = np.array([35.0, 35.01])
    lon = np.array([-118.0, -118.0])
    depth = np.array([2.0, 12.0])
    cat = geo_frame([0.0, 1.0], lat, lon, np.array([3.0, 2.0]), depth=depth)
    f = compute_features(cat, b=1.0, hypocentral=True)
    epi = haversine_km(35.0, -118.0, 35.01, -118.0)

    # straight line between hypocentres in Earth-centred coordinates
    def xyz(la, lo, d):
        rr = R_EARTH - d
        la, lo = np.radians(la), np.radians(lo)
        return rr * np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])

    hypo = np.linalg.norm(xyz(35.0, -118.0, 2.0) - xyz(35.01, -118.0, 12.0))
    assert hypo == pytest.approx(np.hypot(epi, 10.0), rel=1e-3)
    assert f["R"][1] == pytest.approx(hypo**1.6 * 10**-1.5, rel=1e-9)


def test_aden2021_spec_matches_published_definition():
    t, lat, lon, m = clustered_catalog(600, 5)
    cat = geo_frame(t, lat, lon, m)
    f = compute_features(cat, spec="aden2021", b=1.3)  # the published script's w = 1.3
    td = F._days(cat["time"])
    par, eta = brute_force(
        td, m, lambda i, j: np.hypot(lat[i] - lat[j], lon[i] - lon[j]), b=1.3, df=1.6, rmin=0.0
    )
    np.testing.assert_array_equal(f["parent"], par)
    has = par >= 0
    np.testing.assert_allclose(f["eta"][has], eta[has], rtol=1e-9)
    # the published table holds the n - 1 events with a neighbour
    n, t_max = len(t) - 1, td.max() - td.min()
    offspring = np.array([(par == k).sum() for k in range(len(t))])
    np.testing.assert_allclose(f["n_offspring"], offspring / (n / t_max), rtol=1e-12)
    np.testing.assert_allclose(
        f["n_siblings"][has], offspring[par[has]] / (n / t_max), rtol=1e-12
    )  # the event itself counted among its siblings
    X = feature_matrix(f, "aden2021")
    np.testing.assert_allclose(X[has, 0], f["T"][has].astype(np.float32))


def test_spec_round_trip_and_validation():
    sp = get_spec("v1")
    assert FeatureSpec.from_dict(sp.to_dict()) == sp
    assert get_spec(sp.to_dict()) == sp
    with pytest.raises(ValueError, match="unknown"):
        get_spec("nope")
    with pytest.raises(ValueError, match="unknown fields"):
        FeatureSpec.from_dict({**sp.to_dict(), "future": 1})
    with pytest.raises(ValueError, match="df"):
        FeatureSpec(df=0)
    with pytest.raises(ValueError, match="either spec"):
        compute_features(
            geo_frame([0.0], np.array([0.0]), np.array([0.0]), np.array([1.0])), spec="v1", df=2.0
        )


def test_bad_input_is_a_clear_error():
    cat = geo_frame(
        [0.0, 1.0], np.array([35.0, np.nan]), np.array([-118.0, -118.0]), np.array([3.0, 3.0])
    )
    with pytest.raises(ValueError, match="'lat'.*row 1"):
        compute_features(cat, b=1.0)
    with pytest.raises(ValueError, match="latitude/longitude"):
        compute_features(pd.DataFrame({"time": [0.0], "magnitude": [1.0]}), b=1.0)


def test_b_is_estimated_when_not_given():
    t, lat, lon, m = clustered_catalog(2000, 7)
    f = compute_features(geo_frame(t, lat, lon, m))
    # Aki-Utsu with the 0.1 binning correction, computed here independently
    b = np.log10(np.e) / (m.mean() - (m.min() - 0.05))
    assert f.attrs["feature_spec"]["b"] == pytest.approx(b, rel=1e-12)


def test_scsn_first_20k_events_match_brute_force(shared_data):
    cat = read_catalog(shared_data / "scsn_socal_1932_2026_M2.5.csv").iloc[:20_000]
    cat = cat.reset_index(drop=True)
    f = compute_features(cat, b=1.0)
    t = F._days(cat["time"])
    lat, lon = cat["latitude"].to_numpy(), cat["longitude"].to_numpy()
    m = cat["magnitude"].to_numpy()

    def dist(i, j):
        return haversine_km(lat[i], lon[i], lat[j], lon[j])

    par, eta = brute_force(t, m, dist, b=1.0, df=1.6, rmin=0.1)
    np.testing.assert_array_equal(f["parent"].to_numpy(), par)  # zero mismatches
    has = par >= 0
    np.testing.assert_allclose(f["eta"].to_numpy()[has], eta[has], rtol=1e-9)
