"""Tests of the ETAS fit (lite_decluster.etas) against computations written here.

Every reference is independent of the module: brute-force double loops for the intensity,
scipy quadrature for the time and space integrals, haversine for great-circle distances,
Monte Carlo for kernel shares, the simulator (export.etas) for parameter recovery.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate

from export.etas import ETASParams, simulate
from lite_decluster.etas import EtasError, decluster_etas, load_etas_params, save_etas_params
from lite_decluster.etas.background import homogeneous
from lite_decluster.etas.geometry import make_geometry, make_region, ray_crossings
from lite_decluster.etas.kernels import PARAM_NAMES, spatial_cdf
from lite_decluster.etas.likelihood import Likelihood
from lite_decluster.etas.pairs import build_pairs

PRM = {"mu": 0.05, "A": 0.4, "alpha": 1.1, "c": 0.02, "p": 1.2, "tau": 300.0, "d": 1.5,
       "q": 1.6, "gamma": 0.9}
MC = 2.0
BOX = (0.0, 40.0, 0.0, 30.0)


def _small_catalog(n: int = 45, seed: int = 3):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 500.0, n))
    t[7] = t[6]  # equal times: not each other's parents
    x = rng.uniform(BOX[0], BOX[1], n)
    y = rng.uniform(BOX[2], BOX[3], n)
    x[:5] = rng.uniform(-10.0, 50.0, 5)  # a few parents outside the region
    m = MC + rng.exponential(1.0 / math.log(10.0), n)
    return t, x, y, m


def _omori(s: float, prm: dict) -> float:
    return (1.0 + s / prm["c"]) ** (-prm["p"]) * math.exp(-s / prm["tau"])


def _brute_loglik(t, x, y, m, prm, t0, t1):
    """Double loop for lambda, quad for the time integral, dblquad for the space integral."""
    z = integrate.quad(lambda s: _omori(s, prm), 0, np.inf, limit=200)[0]
    inside = (x >= BOX[0]) & (x <= BOX[1]) & (y >= BOX[2]) & (y <= BOX[3])
    area = (BOX[1] - BOX[0]) * (BOX[3] - BOX[2])
    ll = 0.0
    for j in range(t.size):
        if not (inside[j] and t[j] >= t0):
            continue
        lam = prm["mu"] / area
        for i in range(t.size):
            if t[i] < t[j]:
                k = prm["A"] * math.exp(prm["alpha"] * (m[i] - MC))
                d2 = prm["d"] ** 2 * math.exp(prm["gamma"] * (m[i] - MC))
                r2 = (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2
                f = (prm["q"] - 1) / (math.pi * d2) * (1 + r2 / d2) ** (-prm["q"])
                lam += k * _omori(t[j] - t[i], prm) / z * f
        ll += math.log(lam)
    ll -= prm["mu"] * (t1 - t0)
    masses, shares = [], []
    for i in range(t.size):
        k = prm["A"] * math.exp(prm["alpha"] * (m[i] - MC))
        d2 = prm["d"] ** 2 * math.exp(prm["gamma"] * (m[i] - MC))
        lo, hi = max(t0 - t[i], 0.0), t1 - t[i]
        gt = integrate.quad(lambda s: _omori(s, prm), lo, hi, limit=200)[0] / z
        fs = integrate.dblquad(
            lambda yy, xx, i=i, d2=d2: (prm["q"] - 1) / (math.pi * d2)
            * (1 + ((xx - x[i]) ** 2 + (yy - y[i]) ** 2) / d2) ** (-prm["q"]),
            BOX[0], BOX[1], BOX[2], BOX[3], epsabs=1e-11, epsrel=1e-10)[0]
        ll -= k * gt * fs
        masses.append(gt)
        shares.append(fs)
    return ll, np.array(masses), np.array(shares)


def _likelihood(t, x, y, m, t0, prm=PRM, log_eps=None):
    geom = make_geometry(x, y, None, None)
    reg = make_region(BOX, geom)
    target = reg.contains(geom) & (t >= t0)
    if log_eps is None:
        log_eps = np.full(t.size, -np.inf)
    pairs = build_pairs(t, m, geom, target, log_eps, prm, MC)
    u = homogeneous(int(target.sum()), reg.area)
    return Likelihood(t, m, MC, target, t0, float(t[-1]), u, pairs, ray_crossings(geom, reg))


@pytest.fixture(scope="module")
def small():
    return _small_catalog()


def test_loglik_equals_brute_force(small):
    t, x, y, m = small
    t0 = float(t[10])  # events before: auxiliary window (parents only)
    lik = _likelihood(t, x, y, m, t0)
    ll = lik(PRM, grad=False)[0]
    ref, masses, shares = _brute_loglik(t, x, y, m, PRM, t0, float(t[-1]))
    assert lik.time_mass(PRM) == pytest.approx(masses, rel=1e-9, abs=1e-12)
    # the one approximation: the 64-angle quadrature of the kernel shares (corners of the box)
    s = lik.shares(PRM)
    assert s == pytest.approx(shares, abs=1e-4)
    kappa = PRM["A"] * np.exp(PRM["alpha"] * (m - MC))
    share_error = float(np.sum(kappa * masses * (s - shares)))  # its effect on log L
    assert ll == pytest.approx(ref - share_error, rel=1e-11)


def test_gradient_equals_central_differences(small):
    t, x, y, m = small
    lik = _likelihood(t, x, y, m, float(t[10]))
    _, g = lik(PRM)
    for k in PARAM_NAMES:
        h = 1e-6 * PRM[k]
        up, dn = dict(PRM), dict(PRM)
        up[k] += h
        dn[k] -= h
        fd = (lik(up, grad=False)[0] - lik(dn, grad=False)[0]) / (2 * h)
        assert g[k] == pytest.approx(fd, rel=2e-5, abs=1e-6), k


def test_pruned_pairs_keep_every_term_above_the_threshold():
    p = ETASParams(mu=0.5, A=0.35, alpha=1.2, c=0.01, p=1.2, d=0.5, q=1.5, gamma=1.0, b=1.0,
                   mc=MC, mmax=7.0, Lx=60.0, Ly=60.0, duration=1500.0, burn_in=0.0,
                   buffer=0.0, tau=400.0)
    cat = simulate(p, 11)
    t, x, y, m = cat["time"], cat["x"], cat["y"], cat["magnitude"]
    prm = {k: getattr(p, k) for k in PARAM_NAMES}
    n = t.size
    geom = make_geometry(x, y, None, None)
    tol = 1e-4
    eps = np.full(n, tol * prm["mu"] / 3600.0)  # tol times the background
    pairs = build_pairs(t, m, geom, np.ones(n, bool), np.log(eps), prm, MC)
    kept = set(zip(pairs.i.tolist(), pairs.j.tolist(), strict=True))
    exact = np.zeros(n)
    missing_above = 0
    neglected = np.zeros(n)
    z = integrate.quad(lambda s: _omori(s, prm), 0, np.inf, limit=200)[0]
    for j in range(n):
        i = np.flatnonzero(t < t[j])
        k = prm["A"] * np.exp(prm["alpha"] * (m[i] - MC))
        d2 = prm["d"] ** 2 * np.exp(prm["gamma"] * (m[i] - MC))
        r2 = (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2
        g = (1 + (t[j] - t[i]) / prm["c"]) ** (-prm["p"]) * np.exp(-(t[j] - t[i]) / 400.0) / z
        v = k * g * (prm["q"] - 1) / (np.pi * d2) * (1 + r2 / d2) ** (-prm["q"])
        exact[j] = v.sum()
        inset = np.array([(a, j) in kept for a in i.tolist()], dtype=bool)
        missing_above += int(np.sum(~inset & (v >= eps[j] * (1 + 1e-9))))
        assert np.all(v[inset] >= eps[j] * (1 - 1e-9))
        neglected[j] = v[~inset].sum()
    assert missing_above == 0
    pruned = np.bincount(pairs.j, weights=None, minlength=n)  # noqa: F841 (count only)
    # the documented bound: neglected_j < tol * background * (number of earlier events)
    assert np.all(neglected <= eps * np.arange(n) + 1e-300)
    assert len(pairs) < n * (n - 1) / 2 / 5  # far from dense


def _haversine(lon1, lat1, lon2, lat2, r=6371.0):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(a))


def test_sphere_distances_across_antimeridian_and_pole():
    lon = np.array([179.9, -179.9, 10.0, -170.0, 0.0, 120.0])
    lat = np.array([10.0, 10.2, 89.95, 89.9, -89.99, -89.9])
    geom = make_geometry(None, None, lon, lat)
    i = np.array([0, 2, 4, 0])
    j = np.array([1, 3, 5, 5])
    r = np.sqrt(geom.dist2(i, j))
    assert r == pytest.approx(_haversine(lon[i], lat[i], lon[j], lat[j]), rel=1e-9)
    assert r[0] < 40 and r[1] < 20  # short across the antimeridian and the pole


@pytest.mark.parametrize("box", [(175.0, -175.0, 60.0, 70.0), (-20.0, 20.0, 80.0, 88.0)])
def test_sphere_kernel_share_vs_monte_carlo(box):
    rng = np.random.default_rng(5)
    lo, hi, b0, b1 = box
    width = (hi - lo) % 360
    lon = lo + rng.uniform(0, width, 4)
    lon = np.where(lon > 180, lon - 360, lon)
    lat = rng.uniform(b0, b1, 4)
    geom = make_geometry(None, None, lon, lat)
    reg = make_region(box, geom, lon, lat)
    assert reg.contains(geom, lon, lat).all()
    q, d = 1.5, 60.0
    share = ray_crossings(geom, reg).share(lambda e, r2: spatial_cdf(r2, 1 / d**2, q))
    n = 200_000
    for k in range(4):
        u = rng.random(n)
        r = d * np.sqrt((1 - u) ** (1 / (1 - q)) - 1)
        az = rng.uniform(0, 2 * np.pi, n)
        # destination point on the sphere (independent formula)
        p1, l1, s = np.radians(lat[k]), np.radians(lon[k]), np.minimum(r / 6371.0, np.pi)
        p2 = np.arcsin(np.sin(p1) * np.cos(s) + np.cos(p1) * np.sin(s) * np.cos(az))
        l2 = l1 + np.arctan2(np.sin(az) * np.sin(s) * np.cos(p1),
                             np.cos(s) - np.sin(p1) * np.sin(p2))
        lon2, lat2 = np.degrees(l2), np.degrees(p2)
        inside = (np.mod(lon2 - lo, 360) <= width) & (lat2 >= b0) & (lat2 <= b1)
        se = math.sqrt(share[k] * (1 - share[k]) / n)
        assert share[k] == pytest.approx(inside.mean(), abs=4 * se + 2e-3)


def test_sphere_area_of_a_box():
    geom = make_geometry(None, None, np.array([170.0, -170.0]), np.array([0.0, 10.0]))
    reg = make_region((170.0, -170.0, 0.0, 10.0), geom, None, None)
    exact = 6371.0**2 * math.radians(20) * math.sin(math.radians(10))
    assert reg.area == pytest.approx(exact, rel=1e-12)
    octant = make_region(np.array([[0.0, 0.0], [0.0, 90.0], [90.0, 0.0]]), geom)  # clockwise
    assert octant.area == pytest.approx(4 * math.pi * 6371.0**2 / 8, rel=1e-12)


RECOVER = ETASParams(mu=0.8, A=0.3, alpha=1.3, c=0.01, p=1.2, d=0.6, q=1.7, gamma=1.1, b=1.0,
                     mc=MC, mmax=6.0, Lx=80.0, Ly=80.0, duration=2000.0, burn_in=0.0,
                     buffer=0.0, tau=None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fit_recovers_simulated_parameters(seed):
    cat = simulate(RECOVER, seed)
    res = decluster_etas(cat["time"], cat["magnitude"], x=cat["x"], y=cat["y"], mc=MC,
                         region=(0.0, 80.0, 0.0, 80.0), params={"tau": math.inf})
    assert res.converged
    assert res.params["tau"] == math.inf and math.isnan(res.stderr["tau"])
    for k in PARAM_NAMES:
        if k == "tau":
            continue
        true = getattr(RECOVER, k)
        assert abs(res.params[k] - true) < 4 * res.stderr[k], (k, res.params[k], true,
                                                              res.stderr[k])
    bg = cat["generation"] == 0
    assert np.mean((res.p_background > 0.5) == bg) > 0.8
    assert res.parent.shape == (len(cat),) and res.in_target.all()
    json.dumps(res.to_dict())


def test_fixed_parameters_and_json_roundtrip(tmp_path):
    cat = simulate(RECOVER, 4)
    prm = {k: getattr(RECOVER, k) for k in PARAM_NAMES}
    prm["tau"] = math.inf
    res = decluster_etas(cat["time"], cat["magnitude"], x=cat["x"], y=cat["y"], mc=MC,
                         region=(0.0, 80.0, 0.0, 80.0), params=prm, fixed=PARAM_NAMES,
                         target_start=500.0)
    assert res.params == pytest.approx(prm)
    assert res.n_evals == 0
    aux = cat["time"] < 500.0
    assert np.isnan(res.p_background[aux]).all() and not res.in_target[aux].any()
    assert np.all((res.p_background[~aux] > 0) & (res.p_background[~aux] <= 1))
    path = tmp_path / "p.json"
    save_etas_params(path, res)
    assert load_etas_params(path) == pytest.approx(prm)
    path.write_text(json.dumps({"mu": 1.0, "tau": None, "zeta": 2}))
    with pytest.raises(EtasError, match="unknown"):
        load_etas_params(path)


def test_bad_input_raises_etas_error():
    t, x, y, m = _small_catalog(300, seed=9)
    kw = {"x": x, "y": y, "mc": MC}
    with pytest.raises(EtasError, match="sorted"):
        decluster_etas(t[::-1], m, **kw)
    bad = t.copy()
    bad[3] = np.nan
    with pytest.raises(EtasError, match="non-finite"):
        decluster_etas(bad, m, **kw)
    with pytest.raises(EtasError, match="too few"):
        decluster_etas(t[:40], m[:40], x=x[:40], y=y[:40], mc=MC)
    with pytest.raises(EtasError, match="zero area"):
        decluster_etas(t, m, x=x, y=np.zeros_like(y), mc=MC)
    with pytest.raises(EtasError, match="zero area"):
        decluster_etas(t, m, region=(0.0, 0.0, 0.0, 10.0), **kw)
    with pytest.raises(EtasError, match=">= mc"):
        decluster_etas(t, m - 1.0, **kw)
    with pytest.raises(EtasError, match="either"):
        decluster_etas(t, m, x=x, mc=MC)
    with pytest.raises(EtasError, match="zero area"):
        decluster_etas(t, m, lon=np.full(300, 10.0), lat=np.linspace(0, 1, 300), mc=MC)


def test_real_catalog_lonlat_fit_converges(shared_data):
    import pandas as pd

    import lite_decluster as ld

    cat = ld.read_catalog(shared_data / "scsn_socal_1932_2026_M2.5.csv")
    cat = cat[(cat["time"] >= pd.Timestamp("2010-01-01", tz="UTC"))
              & (cat["time"] < pd.Timestamp("2011-01-01", tz="UTC"))
              & (cat["magnitude"] >= 2.5)].sort_values("time")
    t = (cat["time"] - cat["time"].iloc[0]).dt.total_seconds().to_numpy() / 86400.0
    res = decluster_etas(t, cat["magnitude"].to_numpy(float),
                         lon=cat["longitude"].to_numpy(float),
                         lat=cat["latitude"].to_numpy(float), mc=2.5, target_start=30.0)
    assert res.converged and res.info["geometry"].startswith("lon/lat")
    pb = res.p_background[res.in_target]
    assert np.all((pb > 0) & (pb <= 1)) and np.isnan(res.p_background[t < 30.0]).all()
    assert 0.05 < np.mean(pb > 0.5) < 0.8  # the El Mayor-Cucapah year is mostly aftershocks
    assert 0.3 < res.branching_ratio < 1.2
