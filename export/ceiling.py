"""The ETAS ceiling: p_background with a catalog's true ETAS parameters.

Units: time in days, distances in km, intensities in events / day / km^2.

For a target event j::

    p_background(j) = mu u(x_j) / lambda(t_j, x_j),
    lambda(t_j, x_j) = mu u(x_j)
                       + sum_{i in parents, t_i < t_j} kappa(m_i) g(t_j - t_i) f(r_ij | m_i)

with exactly the kernels of ``export/etas.py``'s docstring (tapered or plain Omori-Utsu time
kernel, power-law spatial kernel with D(m)^2 = d^2 exp(gamma (m - Mc))), the catalog's true
parameters and its *reported* magnitudes (as the notes in ``../shared/notes/etas-ceiling.md``).
No method can do better with the same events in expectation; the label is background when
p_background > 0.5.

The pair sums are **exact**: every earlier parent, no truncation, evaluated block by block
(targets x all earlier events, at most ``max_pairs`` pairs in memory at once). Events with
the same time are not each other's parents. ``parent_masks`` selects the allowed parents: e.g.
every observed event, or the events above the Mc a method uses; all masks are summed in the
same pass.

Distances: planar (x, y) km, or great-circle km on a 6371 km sphere when longitudes and
latitudes are given (catalogs on the sphere are simulated on the local tangent plane, see
``export/realism.py``, so for them the great-circle kernel differs from the generating one by
less than 1 % in distance for pairs within a few hundred km). The background density
``mu u(x)`` is always evaluated on the simulation's planar coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

from export.etas import ETASParams
from export.realism import EARTH_RADIUS_KM

__all__ = ["background_density", "omori_normaliser", "p_background", "triggered_intensity"]


def _upper_gamma(s: float, x: float) -> float:
    """Upper incomplete gamma Gamma(s, x) for any real s and x > 0 (recurrence downwards
    from s + k > 0: Gamma(s + 1, x) = s Gamma(s, x) + x^s e^-x)."""
    k = 0
    while s + k <= 0:
        k += 1
    val = special.gamma(s + k) * special.gammaincc(s + k, x)  # Gamma(s + k, x)
    for j in range(k, 0, -1):
        a = s + j - 1  # Gamma(a, x) = (Gamma(a + 1, x) - x^a e^-x) / a
        val = (val - x**a * math.exp(-x)) / a
    return float(val)


def omori_normaliser(c: float, p: float, tau: float | None) -> float:
    """Z (days) with g(t) = (1 + t/c)^-p exp(-t/tau) / Z a density on t > 0.

    Plain Omori (tau None): Z = c / (p - 1). Tapered:
    Z = c (c/tau)^(p-1) exp(c/tau) Gamma(1 - p, c/tau).
    """
    if tau is None:
        return c / (p - 1.0)
    x = c / tau
    return float(c * x ** (p - 1.0) * math.exp(x) * _upper_gamma(1.0 - p, x))


def background_density(x: np.ndarray, y: np.ndarray, params: ETASParams) -> np.ndarray:
    """mu u(x, y) in events / day / km^2 (uniform, or the piecewise-constant rate map;
    points outside the region take the nearest edge cell, as the simulator's buffer)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if params.rate_map is None:
        return np.full(x.shape, params.mu / (params.Lx * params.Ly))
    w = np.asarray(params.rate_map, dtype=float)
    ny, nx = w.shape
    ix = np.clip(np.floor(x / (params.Lx / nx)).astype(np.int64), 0, nx - 1)
    iy = np.clip(np.floor(y / (params.Ly / ny)).astype(np.int64), 0, ny - 1)
    cell_area = (params.Lx / nx) * (params.Ly / ny)
    return params.mu * w[iy, ix] / w.sum() / cell_area


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


def triggered_intensity(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    m: np.ndarray,
    params: ETASParams,
    targets: np.ndarray,
    parent_masks: Sequence[np.ndarray],
    *,
    lon: np.ndarray | None = None,
    lat: np.ndarray | None = None,
    max_pairs: int = 4_000_000,
) -> np.ndarray:
    """Exact triggered intensity at each target, one row per parent mask.

    t, x, y, m : shape (n,), sorted by time (days, km, magnitudes).
    targets : bool (n,), the events at which lambda is evaluated.
    parent_masks : bool arrays (n,), the events allowed as parents.
    lon, lat : degrees, (n,); when given, distances are great-circle km.
    Returns float64 (len(parent_masks), targets.sum()) in events / day / km^2.
    """
    t, x, y, m = (np.asarray(v, dtype=float) for v in (t, x, y, m))
    if np.any(np.diff(t) < 0):
        raise ValueError("events must be sorted by time")
    tidx = np.flatnonzero(targets)
    masks = np.column_stack([np.asarray(k, dtype=float) for k in parent_masks])
    out = np.zeros((masks.shape[1], tidx.size))
    d2 = params.d**2 * np.exp(params.gamma * (m - params.mc))  # D(m)^2, km^2
    logw = (
        math.log(params.A) + params.alpha * (m - params.mc)  # log kappa
        + math.log((params.q - 1.0) / math.pi) - np.log(d2)  # log f(0 | m)
        - math.log(omori_normaliser(params.c, params.p, params.tau))
    ) if params.A > 0 else np.full(m.shape, -np.inf)  # fmt: skip
    inv_d2, inv_c = 1.0 / d2, 1.0 / params.c
    inv_tau = 0.0 if params.tau is None else 1.0 / params.tau
    sphere = lon is not None and lat is not None
    u = _unit_vectors(np.asarray(lon), np.asarray(lat)) if sphere else None
    start = 0
    while start < tidx.size:
        block = max(1, max_pairs // (int(tidx[start]) + 1))
        while block > 1 and block * (int(tidx[min(start + block, tidx.size) - 1]) + 1) > max_pairs:
            block //= 2  # the last target of the block has the most sources
        jj = tidx[start : start + block]
        s = int(np.searchsorted(t, t[jj[-1]], side="left"))  # all strictly earlier events
        if s == 0:
            start += jj.size
            continue
        dt = t[jj, None] - t[None, :s]
        dt[dt <= 0] = np.inf
        if sphere:
            cosang = np.clip(u[jj] @ u[:s].T, -1.0, 1.0)
            r2 = (EARTH_RADIUS_KM * np.arccos(cosang)) ** 2
        else:
            r2 = (x[jj, None] - x[None, :s]) ** 2 + (y[jj, None] - y[None, :s]) ** 2
        arg = (
            logw[None, :s]
            - params.p * np.log1p(dt * inv_c)
            - params.q * np.log1p(r2 * inv_d2[None, :s])
        )
        if inv_tau:
            arg -= dt * inv_tau
        out[:, start : start + jj.size] = (np.exp(arg) @ masks[:s]).T
        start += jj.size
    return out


def p_background(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    m: np.ndarray,
    params: ETASParams,
    targets: np.ndarray,
    parent_masks: Sequence[np.ndarray],
    *,
    lon: np.ndarray | None = None,
    lat: np.ndarray | None = None,
) -> np.ndarray:
    """p_background = mu u / lambda at the targets, shape (len(parent_masks), targets.sum()).

    See :func:`triggered_intensity` for the arguments; ``mu u`` uses the planar x, y.
    """
    targets = np.asarray(targets, dtype=bool)
    bg = background_density(np.asarray(x)[targets], np.asarray(y)[targets], params)
    trig = triggered_intensity(t, x, y, m, params, targets, parent_masks, lon=lon, lat=lat)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bg > 0, bg / (bg + trig), 0.0)
