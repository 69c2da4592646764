"""Statistical and structural tests of the ETAS simulator (export/etas.py).

Every statistical check compares a simulated quantity with its exact expectation under the
simulator's own parameters, accepting it within a confidence interval at family-wise level
ALPHA (Bonferroni within a test): exact Poisson tests for counts, z-tests (CLT) for means, KS
and chi-square tests for distributions. Seeds are fixed, so the outcomes are deterministic.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from export import etas
from export.etas import ETASParams

ALPHA = 1e-3  # per-test family-wise level of the statistical checks
CONFIG_DIR = Path(__file__).resolve().parents[1] / "export" / "configs"

BASE = ETASParams(
    mu=2.0, A=0.4, alpha=1.0, c=0.01, p=1.3, d=0.5, q=1.6, gamma=1.0, b=1.0,
    mc=2.0, mmax=7.0, Lx=50.0, Ly=50.0, duration=2000.0, burn_in=1000.0, buffer=20.0,
)  # fmt: skip


@pytest.fixture(scope="module")
def full() -> etas.Catalog:
    return etas.simulate_full(BASE, 20240601)


@pytest.fixture(scope="module")
def observed(full: etas.Catalog) -> etas.Catalog:
    return etas.observe(full)


def _poisson_pvalue(k: int, lam: float) -> float:
    """Two-sided exact Poisson p-value of a count k with mean lam."""
    return min(1.0, 2.0 * min(stats.poisson.cdf(k, lam), stats.poisson.sf(k - 1, lam)))


def _z_check(estimate: float, expected: float, se: float, level: float = ALPHA) -> None:
    z = stats.norm.isf(level / 2.0)
    assert abs(estimate - expected) <= z * se, (
        f"estimate {estimate:.5g} outside {expected:.5g} +/- {z * se:.3g} (z={z:.2f})"
    )


def _children(cat: etas.Catalog) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (child, parent) of triggered events in a full simulation."""
    child = np.flatnonzero(cat["parent"] >= 0)
    return child, cat["parent"][child]


def _gr_moments(beta: float, span: float) -> tuple[float, float]:
    """Mean and variance of Exp(beta) truncated to [0, span]."""
    e = math.exp(-beta * span)
    norm = 1.0 - e
    m1 = (1.0 / beta - e * (span + 1.0 / beta)) / norm
    m2 = (2.0 / beta**2 - e * (span**2 + 2.0 * span / beta + 2.0 / beta**2)) / norm
    return m1, m2 - m1**2


def _tapered_omori_cdf(t: np.ndarray, c: float, p: float, tau: float) -> np.ndarray:
    """CDF of (1 + t/c)^-p exp(-t/tau), normalised, for 1 < p < 2 (via Gamma(1-p, x))."""
    a = 1.0 - p  # in (-1, 0): Gamma(a, x) = (Gamma(a + 1, x) - x^a e^-x) / a

    def upper_gamma(x: np.ndarray) -> np.ndarray:
        return (special.gamma(a + 1) * special.gammaincc(a + 1, x) - x**a * np.exp(-x)) / a

    x0 = c / tau
    return 1.0 - upper_gamma(x0 + np.asarray(t) / tau) / upper_gamma(x0)


# --------------------------------------------------------------------------- parameters


def test_branching_ratio_closed_form_matches_quadrature() -> None:
    for alpha, b, mc, mmax in [(1.0, 1.0, 2.0, 7.0), (2.302585092994046, 1.0, 2.0, 6.0),
                               (2.5, 1.0, 3.0, 5.0), (1.23, 1.3, 2.5, 7.5)]:  # fmt: skip
        p = dataclasses.replace(BASE, alpha=alpha, b=b, mc=mc, mmax=mmax, A=0.3)
        beta, span = p.beta, mmax - mc
        density = beta / -math.expm1(-beta * span)
        expected, _ = integrate.quad(
            lambda x, a=alpha, be=beta: math.exp(a * x - be * x), 0.0, span
        )
        assert etas.branching_ratio(p) == pytest.approx(0.3 * density * expected, rel=1e-10)


def test_shipped_configs_are_subcritical() -> None:
    expected = {"socal": 0.9335, "italy": 0.8933}
    for name, n in expected.items():
        path = CONFIG_DIR / f"{name}.json"
        params = ETASParams.from_file(path)
        assert etas.branching_ratio(params) == pytest.approx(n, abs=1e-4)
        assert "_comment" in json.loads(path.read_text())


def test_config_file_round_trip(tmp_path: Path) -> None:
    params = dataclasses.replace(
        BASE, tau=50.0, magnitude_bin=0.1, depth_range=(2.0, 15.0),
        rate_map=np.array([[1.0, 2.0], [0.0, 3.5]]),
    )  # fmt: skip
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"_comment": "test", **params.to_dict()}))
    loaded = ETASParams.from_file(path)
    assert loaded == params
    assert loaded.rate_map == ((1.0, 2.0), (0.0, 3.5))
    assert ETASParams.from_dict(BASE.to_dict()) == BASE

    path.write_text(json.dumps({**BASE.to_dict(), "typo": 1}))
    with pytest.raises(ValueError, match="unknown ETAS parameter"):
        ETASParams.from_file(path)
    missing = BASE.to_dict()
    del missing["mu"]
    path.write_text(json.dumps(missing))
    with pytest.raises(ValueError, match="missing ETAS parameter"):
        ETASParams.from_file(path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"p": 1.0}, "p must be > 1"),
        ({"q": 0.9}, "q must be > 1"),
        ({"c": 0.0}, "c must be > 0"),
        ({"d": -1.0}, "d must be > 0"),
        ({"b": 0.0}, "b must be > 0"),
        ({"mmax": 2.0}, "mmax must be > mc"),
        ({"mu": -1.0}, "mu must be >= 0"),
        ({"Lx": 0.0}, "Lx must be > 0"),
        ({"duration": 0.0}, "duration must be > 0"),
        ({"buffer": -5.0}, "buffer must be >= 0"),
        ({"tau": 0.0}, "tau must be > 0"),
        ({"magnitude_bin": -0.1}, "magnitude_bin must be >= 0"),
        ({"alpha": float("nan")}, "alpha must be finite"),
        ({"A": "lots"}, "A must be a number"),
        ({"depth_range": (10.0, 2.0)}, "depth_range"),
        ({"rate_map": [[1.0, -1.0]]}, "rate_map"),
        ({"rate_map": [1.0, 2.0]}, "rate_map"),
    ],
)
def test_invalid_parameters_raise(change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(BASE, **change)


# ------------------------------------------------------------------ branching / productivity


def test_empirical_branching_ratio(full: etas.Catalog) -> None:
    # Each event draws Poisson(kappa(m)) offspring with m ~ truncated GR independent of its
    # existence: mean n, variance n + Var(kappa(m)) = n + A^2 E[exp(2 alpha x)] - n^2.
    n = etas.branching_ratio(BASE)
    e2 = etas.branching_ratio(dataclasses.replace(BASE, A=1.0, alpha=2.0 * BASE.alpha))
    var = n + BASE.A**2 * e2 - n**2
    k = len(full)
    assert k > 30_000
    _z_check(float(full["n_offspring"].mean()), n, math.sqrt(var / k))


def test_offspring_per_parent_by_magnitude(full: etas.Catalog) -> None:
    # Given the magnitudes, the offspring total of a bin is Poisson(sum of kappa(m_i)).
    edges = [2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 7.0]
    kappa = BASE.A * np.exp(BASE.alpha * (full["magnitude"] - BASE.mc))  # independent of etas
    which = np.digitize(full["magnitude"], edges) - 1
    for i in range(len(edges) - 1):
        sel = which == i
        lam = float(kappa[sel].sum())
        total = int(full["n_offspring"][sel].sum())
        pval = _poisson_pvalue(total, lam)
        assert pval > ALPHA / (len(edges) - 1), (
            f"bin [{edges[i]}, {edges[i + 1]}): {total} offspring vs expected {lam:.1f}"
        )


def test_recorded_children_match_offspring_counts(full: etas.Catalog) -> None:
    # Kept children are the drawn offspring that fall inside the window: never more than drawn.
    kept = np.bincount(full["parent"][full["parent"] >= 0], minlength=len(full))
    assert np.all(kept <= full["n_offspring"])
    assert kept.sum() == int((full["generation"] > 0).sum())


# ------------------------------------------------------------------------------ kernels


def test_omori_delays_ks(full: etas.Catalog) -> None:
    # Parents at t <= T - H keep every child with delay <= H, so those delays follow the
    # kernel truncated at H: CDF G(t) / G(H), G(t) = 1 - (1 + t/c)^(1-p).
    horizon = BASE.duration / 2.0
    child, parent = _children(full)
    delay = full["time"][child] - full["time"][parent]
    sel = (full["time"][parent] <= BASE.duration - horizon) & (delay <= horizon)
    c, p = BASE.c, BASE.p

    g_horizon = -math.expm1((1.0 - p) * math.log1p(horizon / c))

    def cdf(t: np.ndarray) -> np.ndarray:
        return -np.expm1((1.0 - p) * np.log1p(t / c)) / g_horizon

    assert sel.sum() > 10_000
    assert stats.kstest(delay[sel], cdf).pvalue > ALPHA


@pytest.mark.parametrize("tau", [5.0, 0.02])  # Omori proposal / exponential proposal
def test_tapered_delays_ks(tau: float) -> None:
    params = dataclasses.replace(BASE, tau=tau)
    x = np.array([0.005, 0.1, 3.0])
    num = [integrate.quad(lambda s: (1 + s / BASE.c) ** -BASE.p * math.exp(-s / tau), 0, t)[0]
           for t in x]  # fmt: skip
    z = integrate.quad(lambda s: (1 + s / BASE.c) ** -BASE.p * math.exp(-s / tau), 0, np.inf)[0]
    np.testing.assert_allclose(_tapered_omori_cdf(x, BASE.c, BASE.p, tau), np.array(num) / z,
                               rtol=1e-6)  # fmt: skip
    delays = etas.sample_time_delays(np.random.default_rng(3), 20_000, params)
    cdf = functools.partial(_tapered_omori_cdf, c=BASE.c, p=BASE.p, tau=tau)
    assert stats.kstest(delays, cdf).pvalue > ALPHA


def test_tapered_simulation_delays_ks() -> None:
    tau = 2.0
    params = dataclasses.replace(BASE, tau=tau, duration=300.0, burn_in=50.0, mu=10.0)
    cat = etas.simulate_full(params, 99)
    child, parent = _children(cat)
    delay = cat["time"][child] - cat["time"][parent]
    # With tau = 2 days, a child after 100 days has probability ~ exp(-50): no truncation.
    sel = cat["time"][parent] <= params.duration - 100.0
    assert sel.sum() > 5_000
    cdf = functools.partial(_tapered_omori_cdf, c=BASE.c, p=BASE.p, tau=tau)
    assert stats.kstest(delay[sel], cdf).pvalue > ALPHA


def test_spatial_kernel_ks(full: etas.Catalog) -> None:
    # r / D(m_parent) has CDF 1 - (1 + s^2)^(1 - q); the direction is uniform.
    child, parent = _children(full)
    dx = full["x"][child] - full["x"][parent]
    dy = full["y"][child] - full["y"][parent]
    scale = BASE.d * np.exp(0.5 * BASE.gamma * (full["magnitude"][parent] - BASE.mc))
    s = np.hypot(dx, dy) / scale
    q = BASE.q
    assert child.size > 10_000
    level = ALPHA / 2
    assert stats.kstest(s, lambda v: -np.expm1((1.0 - q) * np.log1p(v**2))).pvalue > level
    assert stats.kstest(np.arctan2(dy, dx), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > level


# --------------------------------------------------------------------------- magnitudes


def test_b_value_aki_utsu(full: etas.Catalog, observed: etas.Catalog) -> None:
    # Aki-Utsu b = log10(e) / (mean(m) - Mc); test the sample mean against the exact mean of the
    # truncated GR law with its exact variance (equivalent to a CI on b). Magnitudes are iid,
    # so the full simulation (more events, more power) and the observed catalog both qualify.
    mean, var = _gr_moments(BASE.beta, BASE.mmax - BASE.mc)
    for cat in (full, observed):
        m = cat["magnitude"]
        assert m.min() >= BASE.mc and m.max() <= BASE.mmax
        _z_check(float(m.mean() - BASE.mc), mean, math.sqrt(var / m.size), ALPHA / 2)
    b_hat = math.log10(math.e) / (full["magnitude"].mean() - BASE.mc)
    assert b_hat == pytest.approx(BASE.b, abs=0.03)  # summary, implied by the check above


def test_binned_magnitudes_and_depths() -> None:
    params = dataclasses.replace(
        BASE, magnitude_bin=0.1, depth_range=(2.0, 12.0), duration=600.0, burn_in=200.0
    )
    cat = etas.simulate(params, 5)
    m = cat["magnitude"]
    k = np.round((m - params.mc) / 0.1)
    np.testing.assert_allclose(m, params.mc + 0.1 * k, atol=1e-9)
    assert m.min() == pytest.approx(params.mc)
    # Exact mean / variance of the reported (lower bin edge) magnitude.
    edges = params.mc + 0.1 * np.arange(0, 51)
    cdf = -np.expm1(-params.beta * (edges - params.mc)) / -math.expm1(-params.beta * 5.0)
    prob = np.diff(cdf)
    mean = float(np.sum(prob * edges[:-1]))
    var = float(np.sum(prob * edges[:-1] ** 2)) - mean**2
    level = ALPHA / 2
    _z_check(float(m.mean()), mean, math.sqrt(var / m.size), level)
    # Utsu-corrected Aki estimator with dm / 2 stays close to b.
    b_hat = math.log10(math.e) / (m.mean() - (params.mc - 0.05))
    assert b_hat == pytest.approx(params.b, abs=0.05)
    depth = cat["depth"]
    assert stats.kstest(depth, stats.uniform(2.0, 10.0).cdf).pvalue > level


# --------------------------------------------------------------------------- background


def test_background_rate_and_uniformity(full: etas.Catalog, observed: etas.Catalog) -> None:
    level = ALPHA / 5
    bg = observed.events[observed.is_background]
    lam = BASE.mu * BASE.duration  # mu is the rate inside the target region
    assert _poisson_pvalue(bg.size, lam) > level, f"{bg.size} background vs {lam}"
    # Full simulation: the same density over the buffered region and the burn-in.
    area = (BASE.Lx + 2 * BASE.buffer) * (BASE.Ly + 2 * BASE.buffer) / (BASE.Lx * BASE.Ly)
    lam_full = BASE.mu * (BASE.duration + BASE.burn_in) * area
    n_full = int(full.is_background.sum())
    assert _poisson_pvalue(n_full, lam_full) > level, f"{n_full} background vs {lam_full}"
    assert stats.kstest(bg["time"] / BASE.duration, "uniform").pvalue > level
    assert stats.kstest(bg["x"] / BASE.Lx, "uniform").pvalue > level
    assert stats.kstest(bg["y"] / BASE.Ly, "uniform").pvalue > level


def test_rate_map_background() -> None:
    weights = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 4.0]])  # rows along y, columns along x
    params = dataclasses.replace(
        BASE, A=0.0, mu=40.0, Lx=30.0, Ly=20.0, buffer=10.0, duration=100.0, burn_in=50.0,
        rate_map=weights,
    )  # fmt: skip
    full = etas.simulate_full(params, 11)
    cat = etas.observe(full)
    assert np.all(cat["generation"] == 0)
    level = ALPHA / 3
    assert _poisson_pvalue(len(cat), params.mu * params.duration) > level
    counts, _, _ = np.histogram2d(cat["y"], cat["x"], bins=[[0, 10, 20], [0, 10, 20, 30]])
    assert np.all(counts[weights == 0] == 0)
    pos = weights > 0
    expected = weights[pos] / weights.sum() * counts.sum()
    assert stats.chisquare(counts[pos], expected).pvalue > level
    # Buffer strip left of the region (x < 0, 0 <= y <= Ly) continues the edge column's
    # density: weights 1 and 3 over 10 x 10 km cells, strip cells 10 x 10 km -> mass 0.4 mu.
    ev = full.events
    strip = (ev["x"] < 0) & (ev["y"] >= 0) & (ev["y"] <= params.Ly)
    lam = params.mu * (params.duration + params.burn_in) * 0.4
    assert _poisson_pvalue(int(strip.sum()), lam) > level


# ------------------------------------------------------------------------ termination


def test_subcritical_terminates_near_critical() -> None:
    params = dataclasses.replace(BASE, A=0.56, duration=200.0, burn_in=0.0, buffer=0.0, mu=1.0)
    assert 0.98 < etas.branching_ratio(params) < 1.0
    cat = etas.simulate_full(params, 2)
    last = cat.events[cat["generation"] == cat["generation"].max()]
    assert last.size > 0
    assert not np.isin(last["event_id"], cat["parent"]).any()  # no kept children


def test_supercritical_raises_unless_allowed() -> None:
    params = dataclasses.replace(BASE, A=1.5)
    assert etas.branching_ratio(params) > 1
    with pytest.raises(ValueError, match="supercritical"):
        etas.simulate(params, 0)
    with pytest.raises(ValueError, match="max_events"):
        etas.simulate(params, 0, allow_supercritical=True)
    with pytest.raises(RuntimeError, match="cap"):
        etas.simulate(params, 0, allow_supercritical=True, max_events=20_000)
    # On a short window the supercritical process is finite.
    short = dataclasses.replace(params, mu=50.0, duration=0.2, burn_in=0.0, buffer=0.0)
    cat = etas.simulate(short, 0, allow_supercritical=True, max_events=1_000_000)
    assert len(cat) > 0


# ------------------------------------------------------------------------ reproducibility


def test_same_seed_identical_catalog() -> None:
    params = dataclasses.replace(BASE, duration=300.0, burn_in=100.0, tau=30.0)
    a = etas.simulate(params, 7)
    b = etas.simulate(params, np.random.default_rng(7))
    c = etas.observe(etas.simulate_full(params, 7))
    d = etas.simulate(params, 8)
    assert len(a) > 100
    assert np.array_equal(a.events, b.events)
    assert np.array_equal(a.events, c.events)
    assert not (len(a) == len(d) and np.array_equal(a.events, d.events))


# ------------------------------------------------------------------------ observed catalog


def test_observed_catalog_filtering(full: etas.Catalog, observed: etas.Catalog) -> None:
    ev, p = observed.events, BASE
    assert observed.observed and not full.observed
    assert np.all((ev["time"] >= 0) & (ev["time"] <= p.duration))
    assert np.all((ev["x"] >= 0) & (ev["x"] <= p.Lx) & (ev["y"] >= 0) & (ev["y"] <= p.Ly))
    assert np.all(np.diff(ev["time"]) >= 0)
    # Exactly the full-simulation events inside the window and region, each once.
    f = full.events
    inside = (f["time"] >= 0) & (f["time"] <= p.duration) & (f["x"] >= 0) & (f["x"] <= p.Lx)
    inside &= (f["y"] >= 0) & (f["y"] <= p.Ly)
    assert np.array_equal(np.sort(ev["event_id"]), np.flatnonzero(inside))
    # Parents: valid, earlier, consistent with the full simulation and generations.
    par = ev["parent"]
    has = par >= 0
    idx = np.flatnonzero(has)
    assert np.all(par[has] < idx)
    assert np.all(ev["time"][par[has]] <= ev["time"][has])
    assert np.array_equal(ev["event_id"][par[has]], ev["true_parent_id"][has])
    assert np.array_equal(ev["generation"][par[has]] + 1, ev["generation"][has])
    assert np.all((ev["generation"] == 0) == (ev["true_parent_id"] == -1))
    orphans = (~has) & (ev["generation"] > 0)  # triggered by an unobserved parent
    assert orphans.sum() > 0
    assert not np.isin(ev["true_parent_id"][orphans], ev["event_id"]).any()
    # Full simulation: ids are row indices, parents precede children.
    assert np.array_equal(f["event_id"], np.arange(len(full)))
    fp = f["parent"][f["parent"] >= 0]
    assert np.all(fp < np.flatnonzero(f["parent"] >= 0))


def test_dataframe_and_cli(tmp_path: Path, observed: etas.Catalog) -> None:
    df = observed.to_dataframe()
    assert tuple(df.columns) == etas.DATAFRAME_COLUMNS
    assert df["is_background"].dtype == bool
    assert np.array_equal(df["is_background"].to_numpy(), observed["generation"] == 0)

    params = dataclasses.replace(BASE, duration=100.0, burn_in=50.0)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(params.to_dict()))
    out = tmp_path / "out.csv"
    assert etas.cli(["simulate", str(cfg), "--seed", "1", "-o", str(out)]) == 0
    csv = pd.read_csv(out)
    assert tuple(csv.columns) == etas.CSV_COLUMNS
    ref = etas.simulate(params, 1)
    assert len(csv) == len(ref) > 0
    np.testing.assert_array_equal(csv["time"].to_numpy(), ref["time"])
    np.testing.assert_array_equal(csv["parent"].to_numpy(), ref["parent"])

    cfg.write_text(json.dumps(dataclasses.replace(params, A=1.5).to_dict()))
    assert etas.cli(["simulate", str(cfg), "-o", str(out)]) == 1  # supercritical: error
