"""The simulator extensions of export/realism.py, each against its own parameters.

As in tests/test_etas.py, statistical checks compare a simulated quantity with its exact
expectation within a confidence interval at family-wise level ALPHA; seeds are fixed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from export import realism
from export.etas import CATALOG_DTYPE, Catalog, ETASParams, simulate

ALPHA = 1e-3
BASE = ETASParams(
    mu=3.0, A=0.4, alpha=1.0, c=0.01, p=1.3, d=0.5, q=1.6, gamma=1.0, b=1.0,
    mc=2.0, mmax=7.0, Lx=60.0, Ly=40.0, duration=1500.0, burn_in=300.0, buffer=10.0,
    magnitude_bin=0.1,
)  # fmt: skip


def _z(k: float, n: float, p: float, level: float) -> None:
    se = math.sqrt(n * p * (1 - p))
    z = stats.norm.isf(level / 2)
    assert abs(k - n * p) <= z * se + 1e-9, f"{k} vs {n * p:.1f} +/- {z * se:.1f}"


def _catalog(magnitudes: np.ndarray, times: np.ndarray | None = None) -> Catalog:
    n = magnitudes.size
    ev = np.zeros(n, dtype=CATALOG_DTYPE)
    ev["magnitude"] = magnitudes
    ev["time"] = np.arange(n, dtype=float) if times is None else times
    ev["parent"] = -1
    ev["event_id"] = np.arange(n)
    return Catalog(events=ev, params=BASE, observed=True)


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return simulate(BASE, 11)


def test_fault_map_background_follows_the_map():
    faults = [((5.0, 5.0), (55.0, 30.0))]
    rate = realism.fault_rate_map(30, 20, 60.0, 40.0, faults, width=2.0, floor=0.05)
    w = np.asarray(rate)
    assert w.shape == (20, 30) and w.max() <= 1.05 + 1e-9 and w.min() >= 0.05
    params = ETASParams(**{**BASE.to_dict(), "A": 0.0, "rate_map": rate, "mu": 20.0})
    bg = simulate(params, 3)
    ix = np.clip((bg["x"] / 2.0).astype(int), 0, 29)
    iy = np.clip((bg["y"] / 2.0).astype(int), 0, 19)
    on = w > 0.5  # cells near the fault
    share = w[on].sum() / w.sum()
    _z(int(on[iy, ix].sum()), len(bg), share, ALPHA)


def test_helmstetter_mc_values():
    t = np.array([0.0, 0.01, 1.0, 10.0])
    m = np.array([6.0, 2.0, 2.0, 2.0])
    mc = realism.helmstetter_mc(t, np.zeros(4), np.zeros(4), m, m_large=5.0, mc0=1.0)
    np.testing.assert_allclose(mc, [1.0, 3.0, 1.5, 1.0])  # 6 - 4.5 - 0.75 log10(dt)


def test_short_term_incompleteness_removes_exactly_below_mc_t(cat):
    ev = cat.events
    mc_t = realism.helmstetter_mc(ev["time"], ev["x"], ev["y"], ev["magnitude"], m_large=4.0)
    out = realism.apply_short_term_incompleteness(cat, m_large=4.0)
    assert len(out) == int(np.sum(ev["magnitude"] >= mc_t)) < len(cat)
    kept = np.isin(ev["event_id"], out["event_id"])
    assert np.all(ev["magnitude"][~kept] < mc_t[~kept])
    assert np.all(np.isin(ev["event_id"][ev["magnitude"] >= 4.0], out["event_id"]))
    # parents re-indexed into the new catalog
    par = out["parent"]
    ok = par >= 0
    assert np.all(out["event_id"][par[ok]] == out["true_parent_id"][ok])


def test_detection_rolloff_keeps_phi_share_per_bin():
    rng = np.random.default_rng(5)
    m = np.round(rng.uniform(1.0, 3.0, 200_000), 1)
    out = realism.apply_detection_rolloff(_catalog(m), np.random.default_rng(6), 2.0, 0.2)
    bins = np.unique(m)
    for v in bins:
        p = float(realism.detection_probability(v, 2.0, 0.2))
        n = int(np.sum(m == v))
        k = int(np.sum(out["magnitude"] == v))
        if 0 < p < 1:
            _z(k, n, p, ALPHA / bins.size)
    assert realism.detection_probability(2.0, 2.0, 0.2) == pytest.approx(0.5)


def test_location_errors_have_their_sigma(cat):
    out = realism.apply_location_errors(cat, np.random.default_rng(2), sigma=1.0)
    dx = np.concatenate([out["x"] - cat["x"], out["y"] - cat["y"]])
    n = dx.size
    z = stats.norm.isf(ALPHA / 4)
    assert abs(dx.mean()) <= z / math.sqrt(n)
    lo, hi = stats.chi2.ppf([ALPHA / 4, 1 - ALPHA / 4], n)
    assert lo <= np.sum(dx**2) <= hi
    assert np.array_equal(out["generation"], cat["generation"])


def test_time_varying_mc_is_exact(cat):
    steps = [(0.0, 3.0), (500.0, 2.5), (1000.0, 2.0)]
    np.testing.assert_allclose(realism.stepped_mc([-1.0, 0.0, 499.0, 500.0, 1400.0], steps),
                               [3.0, 3.0, 3.0, 2.5, 2.0])  # fmt: skip
    out = realism.apply_time_varying_mc(cat, steps)
    want = cat["magnitude"] >= realism.stepped_mc(cat["time"], steps) - 1e-9
    assert np.array_equal(out["event_id"], cat["event_id"][want])


def test_planar_to_geographic_preserves_distance_from_centre():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1500, 1500, (2, 1000))
    for lon0, lat0 in [(0.0, 0.0), (179.5, -20.0), (20.0, 85.0)]:
        lon, lat = realism.planar_to_geographic(x, y, lon0, lat0)
        assert np.all((lon >= -180) & (lon < 180)) and np.all(np.abs(lat) <= 90)
        d = realism.great_circle_km(lon0, lat0, lon, lat)
        np.testing.assert_allclose(d, np.hypot(x, y), rtol=1e-9, atol=1e-6)
    lon, lat = realism.planar_to_geographic(np.array([0.0]), np.array([111.19]), 0.0, 0.0)
    assert lat[0] == pytest.approx(1.0, abs=1e-3) and lon[0] == pytest.approx(0.0, abs=1e-9)


def test_uniform_sphere_box_is_uniform_in_area():
    rng = np.random.default_rng(1)
    lon, lat = realism.uniform_sphere_box(rng, 100_000, 175.0, -175.0, 60.0, 90.0)
    assert np.all((lon >= 175.0) | (lon <= -175.0))
    s = np.sin(np.radians(lat))
    mid = (math.sin(math.radians(60.0)) + 1.0) / 2
    _z(int(np.sum(s < mid)), lon.size, 0.5, ALPHA)
