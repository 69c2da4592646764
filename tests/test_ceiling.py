"""The ETAS ceiling (export/ceiling.py) against brute-force double loops written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from export.ceiling import background_density, omori_normaliser, p_background, triggered_intensity
from export.etas import ETASParams, simulate
from export.realism import great_circle_km, planar_to_geographic

PARAMS = ETASParams(
    mu=0.5, A=0.4, alpha=1.2, c=0.01, p=1.2, d=0.8, q=1.6, gamma=1.1, b=1.0, mc=2.0,
    mmax=7.0, Lx=40.0, Ly=30.0, duration=400.0, burn_in=200.0, buffer=10.0, tau=300.0,
    magnitude_bin=0.1,
)  # fmt: skip


def _brute(t, x, y, m, P, targets, parents, dist=None):
    z = omori_normaliser(P.c, P.p, P.tau)
    out = []
    for j in np.flatnonzero(targets):
        lam = 0.0
        for i in range(len(t)):
            if not parents[i] or not t[i] < t[j]:
                continue
            dt = t[j] - t[i]
            g = (1 + dt / P.c) ** -P.p * (math.exp(-dt / P.tau) if P.tau else 1.0) / z
            d2 = P.d**2 * math.exp(P.gamma * (m[i] - P.mc))
            r2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 if dist is None else dist(i, j) ** 2
            f = (P.q - 1) / (math.pi * d2) * (1 + r2 / d2) ** -P.q
            lam += P.A * math.exp(P.alpha * (m[i] - P.mc)) * g * f
        out.append(lam)
    return np.array(out)


@pytest.fixture(scope="module")
def cat():
    c = simulate(PARAMS, 7)
    assert 80 < len(c) < 2000
    return c


@pytest.mark.parametrize("tau", [None, 300.0, 5.0])
def test_omori_normaliser_integrates_to_one(tau):
    z = omori_normaliser(0.01, 1.2, tau)
    taper = (lambda t: math.exp(-t / tau)) if tau else (lambda t: 1.0)
    val, _ = integrate.quad(lambda t: (1 + t / 0.01) ** -1.2 * taper(t) / z, 0, np.inf, limit=500)
    assert abs(val - 1.0) < 1e-7


def test_planar_sums_match_brute_force(cat):
    t, x, y, m = cat["time"], cat["x"], cat["y"], cat["magnitude"]
    targets = m >= 2.2
    every = np.ones(len(t), dtype=bool)
    got = triggered_intensity(t, x, y, m, PARAMS, targets, [targets, every], max_pairs=997)
    np.testing.assert_allclose(got[0], _brute(t, x, y, m, PARAMS, targets, targets), rtol=1e-10)
    np.testing.assert_allclose(got[1], _brute(t, x, y, m, PARAMS, targets, every), rtol=1e-10)
    pb = p_background(t, x, y, m, PARAMS, targets, [every])[0]
    bg = PARAMS.mu / (PARAMS.Lx * PARAMS.Ly)
    np.testing.assert_allclose(pb, bg / (bg + got[1]), rtol=1e-12)


def test_tied_times_are_not_parents():
    P = PARAMS
    t = np.array([0.0, 1.0, 1.0])
    x = y = np.zeros(3)
    m = np.full(3, 3.0)
    got = triggered_intensity(t, x, y, m, P, np.ones(3, bool), [np.ones(3, bool)])[0]
    assert got[0] == 0 and got[1] == got[2] > 0


def test_sphere_sums_match_brute_force(cat):
    t, m = cat["time"], cat["magnitude"]
    lon, lat = planar_to_geographic(cat["x"] * 30, cat["y"] * 30, 179.0, 60.0)  # crosses 180
    targets = m >= 2.0

    def dist(i, j):
        return float(great_circle_km(lon[i], lat[i], lon[j], lat[j]))

    every = np.ones(len(t), dtype=bool)
    got = triggered_intensity(t, cat["x"], cat["y"], m, PARAMS, targets, [every], lon=lon, lat=lat)
    want = _brute(t, None, None, m, PARAMS, targets, every, dist=dist)
    np.testing.assert_allclose(got[0], want, rtol=1e-6)  # arccos vs haversine rounding


def test_rate_map_background_density():
    P = ETASParams(**{**PARAMS.to_dict(), "rate_map": [[1.0, 3.0]]})
    dens = background_density(np.array([5.0, 35.0, -1.0]), np.array([1.0, 29.0, 5.0]), P)
    cell = 20.0 * 30.0
    np.testing.assert_allclose(dens, P.mu * np.array([0.25, 0.75, 0.25]) / cell)
