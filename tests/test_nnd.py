"""NND threshold (lite_decluster.nnd): checked against analytic two-Gaussian answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from lite_decluster import nnd
from lite_decluster.nnd import fit_two_gaussians, nnd_threshold


def _sample(rng, w1, m1, s1, m2, s2, n):
    n1 = int(round(w1 * n))
    return np.concatenate([rng.normal(m1, s1, n1), rng.normal(m2, s2, n - n1)])


def _spy_equal_density(monkeypatch):
    """Record calls of the equal-density fallback (to tell which rule set the threshold)."""
    calls = []
    orig = nnd._equal_density_point
    monkeypatch.setattr(nnd, "_equal_density_point", lambda *a: calls.append(a) or orig(*a))
    return calls


def _mixture(w1, m1, s1, m2, s2):
    def f1(x):
        return w1 * norm.pdf(x, m1, s1)

    def f2(x):
        return (1 - w1) * norm.pdf(x, m2, s2)

    return f1, f2


def test_bimodal_threshold_at_the_density_minimum(monkeypatch):
    calls = _spy_equal_density(monkeypatch)
    # clustered mode at -5, background mode at -1, like log10 eta of a real catalog
    w1, m1, s1, m2, s2 = 0.4, -5.0, 0.9, -1.0, 0.6
    x = _sample(np.random.default_rng(1), w1, m1, s1, m2, s2, 40_000)
    f1, f2 = _mixture(w1, m1, s1, m2, s2)
    # independent answers from the true densities: minimum of f1 + f2 between the means
    # (zero of its derivative) and the equal-density point
    h = 1e-6

    def slope(t):
        return (f1(t + h) + f2(t + h) - f1(t - h) - f2(t - h)) / (2 * h)

    x_min = brentq(slope, m1 + 0.5, m2 - 0.1)
    x_eq = brentq(lambda t: f1(t) - f2(t), m1, m2)
    thr = nnd_threshold(x)
    assert not calls  # a clear dip: the classic density minimum
    assert abs(thr - x_min) < 0.15, (thr, x_min)
    assert abs(thr - x_eq) < 0.3, (thr, x_eq)
    # the mixture fit recovers the components
    w, m, s = fit_two_gaussians(x)
    np.testing.assert_allclose(m, [m1, m2], atol=0.05)
    np.testing.assert_allclose(s, [s1, s2], atol=0.05)
    np.testing.assert_allclose(w, [w1, 1 - w1], atol=0.02)


def test_non_finite_values_are_ignored_and_result_is_deterministic():
    x = _sample(np.random.default_rng(2), 0.5, -4.0, 0.8, -1.0, 0.7, 5_000)
    thr = nnd_threshold(x)
    with_nan = np.concatenate([x, [np.nan, -np.inf, np.inf]])
    assert nnd_threshold(with_nan) == thr
    assert nnd_threshold(x[::-1].copy()) == pytest.approx(thr)


def test_far_tail_does_not_become_a_mode():
    # a few near-duplicate events far below the clustered mode (the old rule split there)
    rng = np.random.default_rng(3)
    x = np.concatenate([_sample(rng, 0.5, -4.0, 0.8, -1.0, 0.6, 10_000), rng.normal(-9, 0.1, 60)])
    f1, f2 = _mixture(0.5, -4.0, 0.8, -1.0, 0.6)
    x_eq = brentq(lambda t: f1(t) - f2(t), -4.0, -1.0)
    assert abs(nnd_threshold(x) - x_eq) < 0.3


def test_shoulder_without_a_dip_uses_the_equal_density_point(monkeypatch):
    calls = _spy_equal_density(monkeypatch)
    # a small clustered population that shows only as a shoulder of the background mode
    w1, m1, s1, m2, s2 = 0.25, -1.8, 0.6, 0.0, 0.8
    f1, f2 = _mixture(w1, m1, s1, m2, s2)
    grid = np.linspace(-5, 3, 4001)
    dens = f1(grid) + f2(grid)
    peaks = np.flatnonzero((dens[1:-1] > dens[:-2]) & (dens[1:-1] >= dens[2:]))
    assert peaks.size == 1  # the true density is unimodal: no minimum to split at
    x_eq = brentq(lambda t: f1(t) - f2(t), m1, m2)
    x = _sample(np.random.default_rng(4), w1, m1, s1, m2, s2, 40_000)
    thr = nnd_threshold(x)
    assert len(calls) == 1  # no dip between the means: the mixture's equal-density point
    assert m1 < thr < m2
    assert abs(thr - x_eq) < 0.2, (thr, x_eq)


@pytest.mark.parametrize(
    "values, match",
    [
        (np.arange(9.0), "at least 10"),
        (np.array([np.nan] * 50 + list(range(5))), "at least 10"),
        (np.array([]), "at least 10"),
        (np.full(100, -2.0), "no spread"),
    ],
)
def test_errors(values, match):
    with pytest.raises(ValueError, match=match):
        nnd_threshold(values)


def test_small_samples_still_give_a_threshold():
    x = _sample(np.random.default_rng(5), 0.5, -4.0, 0.5, -1.0, 0.5, 10)
    thr = nnd_threshold(x)
    assert np.isfinite(thr) and x.min() < thr < x.max()


# ------------------------------------------------------------- binned EM against exact EM


def _exact_em(x):
    """Reference: the two-Gaussian EM over every value (the rule before the binned fit).

    Written apart from lite_decluster.nnd on purpose (scipy's densities, plain loops over the
    components): same start (25 % and 75 % quantiles, sd / 2, equal weights), same variance
    floor (0.01 sd)^2 and stop (mean log-likelihood gains < 1e-10, at most 1000 steps).
    """
    sd = x.std()
    m = np.quantile(x, [0.25, 0.75])
    s, w = np.array([sd / 2, sd / 2]), np.array([0.5, 0.5])
    prev = -np.inf
    for _ in range(1000):
        dens = np.stack([w[k] * norm.pdf(x, m[k], s[k]) for k in range(2)])
        total = dens.sum(axis=0)
        resp = dens / total
        nk = resp.sum(axis=1)
        w = nk / x.size
        m = np.array([np.average(x, weights=resp[k]) for k in range(2)])
        s = np.sqrt(np.maximum(
            [np.average((x - m[k]) ** 2, weights=resp[k]) for k in range(2)], (0.01 * sd) ** 2))
        ll = np.log(total).mean()
        if ll - prev < 1e-10:
            break
        prev = ll
    order = np.argsort(m)
    return w[order], m[order], s[order]


def _reference_threshold(x):
    """The documented rule on the exact fit: the smoothed-histogram minimum between the
    means, else the equal-density point of the weighted components."""
    from scipy.ndimage import gaussian_filter1d

    w, m, s = _exact_em(x)
    edges = np.arange(x.min() - 1.0, x.max() + 1.0 + 0.05, 0.05)
    dens = gaussian_filter1d(np.histogram(x, edges)[0].astype(float), 5.0, mode="constant")
    centres = (edges[1:] + edges[:-1]) / 2
    best = None
    for i in range(1, centres.size - 1):
        inside = m[0] < centres[i - 1] and centres[i + 1] < m[1]
        if inside and dens[i] < dens[i - 1] and dens[i] <= dens[i + 1]:
            best = i if best is None or dens[i] < dens[best] else best
    if best is not None:
        return float(centres[best]), (w, m, s)
    diff = lambda t: w[0] * norm.pdf(t, m[0], s[0]) - w[1] * norm.pdf(t, m[1], s[1])  # noqa: E731
    return float(brentq(diff, m[0], m[1])), (w, m, s)


def _log_eta(catalog):
    """log10 eta of a catalog's events with a parent, as the NND method sees them."""
    from lite_decluster.declustering import decluster

    eta = decluster(catalog, method="nnd-threshold")["eta"].to_numpy(dtype=float)
    return np.log10(eta[np.isfinite(eta) & (eta > 0)])


def _etas_catalog(seed):
    pytest.importorskip("sklearn")  # the export package's own extra
    from export.dataset import load_config, simulate_catalog

    return simulate_catalog(seed, load_config())[0]


def _check_against_exact(x):
    thr = nnd_threshold(x)
    ref, (w_ref, m_ref, s_ref) = _reference_threshold(x)
    assert abs(thr - ref) < 0.01, (thr, ref)
    w, m, s = fit_two_gaussians(x)
    np.testing.assert_allclose(m, m_ref, atol=2e-3)
    np.testing.assert_allclose(s, s_ref, atol=2e-3)
    np.testing.assert_allclose(w, w_ref, atol=2e-3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_binned_fit_matches_exact_em_on_etas_catalogs(seed):
    _check_against_exact(_log_eta(_etas_catalog(seed)))


def test_binned_fit_matches_exact_em_on_the_example():
    from _fixtures import EXAMPLE

    _check_against_exact(_log_eta(EXAMPLE))


@pytest.mark.parametrize("name", ["scsn_socal_1932_2026_M2.5.csv",
                                  "comcat_california_2015_2025_M2.5.csv",
                                  "ingv_italy_1985_2022_M3.txt"])
def test_binned_fit_matches_exact_em_on_real_catalogs(shared_data, name):
    _check_against_exact(_log_eta(shared_data / name))


def test_binned_fit_matches_exact_em_on_shoulders_and_ties():
    rng = np.random.default_rng(7)
    shoulder = _sample(rng, 0.25, -1.8, 0.6, 0.0, 0.8, 20_000)
    # values rounded to 0.01 (ties) and a far tail of near-duplicates
    tied = np.round(np.concatenate([_sample(rng, 0.5, -4.0, 0.8, -1.0, 0.6, 20_000),
                                    rng.normal(-9, 0.05, 100)]), 2)
    for x in (shoulder, tied):
        _check_against_exact(x)
