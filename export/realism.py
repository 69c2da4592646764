"""Realism the plain ETAS simulator lacks: observation effects and catalogs on the sphere.

Units: time in days, distances in km, magnitudes in magnitude units, angles in degrees.

Everything here acts on a simulated catalog of :mod:`export.etas` (the simulator itself is
unchanged; ``export/etas.py`` keeps the public API and already supports heterogeneous
background through ``ETASParams.rate_map``). Each observation effect returns a new observed
``Catalog`` holding a subset (or a perturbed copy) of the events, with ``parent`` re-indexed
into the new catalog (-1 when the parent was removed); ``generation`` (the truth label) is
never changed.

* :func:`fault_rate_map` - a rate map of fault-like lines: relative rate
  ``floor + sum_k exp(-dist_k^2 / (2 w^2))`` at each cell centre, ``dist_k`` the distance (km)
  to segment k, ``w`` the half-width (km).
* :func:`helmstetter_mc` / :func:`apply_short_term_incompleteness` - short-term aftershock
  incompleteness after large events (Helmstetter, Kagan & Jackson 2006):
  ``Mc(t) = max(Mc0, max_i [M_i - a - b_t log10(t - t_i)])`` over earlier events i with
  ``M_i >= m_large`` (within ``radius`` km if given), t - t_i in days, a = 4.5, b_t = 0.75;
  an event is missed when its magnitude is below Mc(t). The large events themselves are kept.
* :func:`detection_probability` / :func:`apply_detection_rolloff` - gradual detection below
  Mc: an event of magnitude m is detected with probability ``Phi((m - m50) / sigma)``
  (cumulative normal; m50 the 50 % detection magnitude), independently.
* :func:`apply_location_errors` - epicentral errors: independent normal offsets of standard
  deviation ``sigma`` km on x and on y (radial error Rayleigh, median 1.177 sigma).
* :func:`stepped_mc` / :func:`apply_time_varying_mc` - a completeness magnitude that steps
  down with time (a network that improves): events below Mc(t) are removed.
* :func:`planar_to_geographic` - the inverse azimuthal equidistant projection (sphere of
  6371 km) of planar km around a centre: catalogs simulated on the local tangent plane are
  placed on the sphere (distances from the centre are exact; at 1,500 km from the centre the
  transverse scale is off by 0.9 %).
* :func:`uniform_sphere_box` - points uniform on the sphere inside a longitude/latitude box
  (longitudes may cross the antimeridian: ``lon_min > lon_max`` wraps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

from export.etas import Catalog

__all__ = [
    "EARTH_RADIUS_KM",
    "apply_detection_rolloff",
    "apply_location_errors",
    "apply_short_term_incompleteness",
    "apply_time_varying_mc",
    "detection_probability",
    "fault_rate_map",
    "helmstetter_mc",
    "planar_to_geographic",
    "stepped_mc",
    "subset",
    "uniform_sphere_box",
]

EARTH_RADIUS_KM = 6371.0


def subset(cat: Catalog, keep: np.ndarray) -> Catalog:
    """The events where ``keep`` (bool, shape (n,)) is True, parents re-indexed (-1 if gone)."""
    keep = np.asarray(keep, dtype=bool)
    idx = np.flatnonzero(keep)
    ev = cat.events[idx]
    new_index = np.full(cat.events.shape[0], -1, dtype=np.int64)
    new_index[idx] = np.arange(idx.size)
    par = ev["parent"]
    ev["parent"] = np.where(par >= 0, new_index[np.maximum(par, 0)], -1)
    return Catalog(events=ev, params=cat.params, observed=True)


def fault_rate_map(
    nx: int,
    ny: int,
    lx: float,
    ly: float,
    faults: Sequence[tuple[tuple[float, float], tuple[float, float]]],
    width: float,
    floor: float,
) -> tuple[tuple[float, ...], ...]:
    """Relative background rates (ny, nx) of fault-like line segments, for ``rate_map``.

    ``faults``: segments ((x0, y0), (x1, y1)) in km; ``width`` the Gaussian half-width (km);
    ``floor`` the relative rate away from faults (a fault's centre line has 1 + floor).
    """
    xc = (np.arange(nx) + 0.5) * lx / nx
    yc = (np.arange(ny) + 0.5) * ly / ny
    gx, gy = np.meshgrid(xc, yc)
    rate = np.full(gx.shape, float(floor))
    for (x0, y0), (x1, y1) in faults:
        vx, vy = x1 - x0, y1 - y0
        s = np.clip(((gx - x0) * vx + (gy - y0) * vy) / max(vx * vx + vy * vy, 1e-12), 0, 1)
        d2 = (gx - x0 - s * vx) ** 2 + (gy - y0 - s * vy) ** 2
        rate += np.exp(-d2 / (2.0 * width * width))
    return tuple(tuple(float(v) for v in row) for row in rate)


def helmstetter_mc(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    m: np.ndarray,
    *,
    m_large: float = 4.5,
    a: float = 4.5,
    b_t: float = 0.75,
    mc0: float = -math.inf,
    radius: float | None = None,
) -> np.ndarray:
    """Short-term completeness Mc(t_j) at every event j (shape (n,), time-sorted input).

    ``max(mc0, max_i [m_i - a - b_t log10(t_j - t_i)])`` over events i earlier than j with
    ``m_i >= m_large`` (and epicentral distance <= ``radius`` km when given); days.
    """
    t, x, y, m = (np.asarray(v, dtype=float) for v in (t, x, y, m))
    out = np.full(t.shape, float(mc0))
    for i in np.flatnonzero(m >= m_large):
        j0 = np.searchsorted(t, t[i], side="right")
        dt = t[j0:] - t[i]
        mc = m[i] - a - b_t * np.log10(dt)
        if radius is not None:
            far = (x[j0:] - x[i]) ** 2 + (y[j0:] - y[i]) ** 2 > radius * radius
            mc[far] = -math.inf
        np.maximum(out[j0:], mc, out=out[j0:])
    return out


def apply_short_term_incompleteness(cat: Catalog, **kwargs: float | None) -> Catalog:
    """Remove the events below the Helmstetter et al. (2006) Mc(t) (see :func:`helmstetter_mc`;
    keyword arguments passed on). The catalog must be time-sorted (an observed catalog)."""
    ev = cat.events
    mc_t = helmstetter_mc(ev["time"], ev["x"], ev["y"], ev["magnitude"], **kwargs)
    return subset(cat, ev["magnitude"] >= mc_t)


def detection_probability(m: np.ndarray, m50: float, sigma: float) -> np.ndarray:
    """``Phi((m - m50) / sigma)``: probability of detecting an event of magnitude m."""
    return special.ndtr((np.asarray(m, dtype=float) - m50) / sigma)


def apply_detection_rolloff(
    cat: Catalog, rng: np.random.Generator, m50: float, sigma: float
) -> Catalog:
    """Keep each event independently with probability :func:`detection_probability`."""
    p = detection_probability(cat.events["magnitude"], m50, sigma)
    return subset(cat, rng.random(p.shape) < p)


def apply_location_errors(cat: Catalog, rng: np.random.Generator, sigma: float) -> Catalog:
    """Add independent N(0, sigma^2) offsets (km) to x and y; no event is removed."""
    ev = cat.events.copy()
    ev["x"] = ev["x"] + rng.normal(0.0, sigma, ev.shape[0])
    ev["y"] = ev["y"] + rng.normal(0.0, sigma, ev.shape[0])
    return Catalog(events=ev, params=cat.params, observed=True)


def stepped_mc(t: np.ndarray, steps: Sequence[tuple[float, float]]) -> np.ndarray:
    """Mc at times t (days): ``steps`` is [(t_start, mc), ...] sorted by t_start; before the
    first start the first mc applies."""
    starts = np.array([s for s, _ in steps], dtype=float)
    mcs = np.array([v for _, v in steps], dtype=float)
    k = np.clip(np.searchsorted(starts, np.asarray(t, dtype=float), side="right") - 1, 0, None)
    return mcs[k]


def apply_time_varying_mc(cat: Catalog, steps: Sequence[tuple[float, float]]) -> Catalog:
    """Remove events below the stepped Mc(t) of :func:`stepped_mc`."""
    ev = cat.events
    return subset(cat, ev["magnitude"] >= stepped_mc(ev["time"], steps) - 1e-9)


def planar_to_geographic(
    x: np.ndarray, y: np.ndarray, lon0: float, lat0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse azimuthal equidistant projection: (x east, y north) km from the centre
    (lon0, lat0) -> (longitude in [-180, 180), latitude) degrees on a 6371 km sphere."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rho = np.hypot(x, y) / EARTH_RADIUS_KM
    az = np.arctan2(x, y)
    phi0, lam0 = math.radians(lat0), math.radians(lon0)
    sin_phi = np.sin(phi0) * np.cos(rho) + np.cos(phi0) * np.sin(rho) * np.cos(az)
    phi = np.arcsin(np.clip(sin_phi, -1.0, 1.0))
    lam = lam0 + np.arctan2(
        np.sin(az) * np.sin(rho) * np.cos(phi0), np.cos(rho) - np.sin(phi0) * sin_phi
    )
    lon = (np.degrees(lam) + 180.0) % 360.0 - 180.0
    return lon, np.degrees(phi)


def great_circle_km(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    """Great-circle distance (km, 6371 km sphere), haversine formula, broadcasting."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def uniform_sphere_box(
    rng: np.random.Generator,
    n: int,
    lon_min: float,
    lon_max: float,
    lat_min: float,
    lat_max: float,
) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform (per unit area) on the sphere in a lon/lat box (degrees).

    ``lon_min > lon_max`` means the box crosses the antimeridian (e.g. 175 to -175).
    Longitudes are returned in [-180, 180).
    """
    width = (lon_max - lon_min) % 360.0 or 360.0
    lon = (lon_min + rng.random(n) * width + 180.0) % 360.0 - 180.0
    s0, s1 = math.sin(math.radians(lat_min)), math.sin(math.radians(lat_max))
    lat = np.degrees(np.arcsin(s0 + rng.random(n) * (s1 - s0)))
    return lon, lat
