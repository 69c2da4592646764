"""Gardner & Knopoff (1974) window declustering, with the Gruenthal and Uhrhammer (1986) windows.

Every event of magnitude M opens a window of great-circle (epicentral) radius L(M) km and
duration T(M) days after it; a later event of smaller magnitude inside the window of any event
is a dependent event (aftershock), as described by van Stiphout, Zhuang & Marsan (2012, CORSSA,
section 3.1). Windows of dependent events count too (secondary aftershocks). With
``fs_time_prop = f > 0`` the window also reaches back ``f T(M)`` days, so that smaller events
shortly before a larger one (foreshocks) are dependent as well.

Conventions: inequalities are strict (``0 < t_j - t_i < T``, ``d < L``, ``m_j < m_i``), so
events of equal magnitude never capture each other; with ``f > 0`` the time test is
``-f T < t_j - t_i < T`` (an equal-time smaller event is captured). An event's parent is the
largest-magnitude event whose window holds it (earliest on ties); following parents, whose
magnitudes increase strictly, ends at the cluster's mainshock, an event in no larger event's
window.

The search processes windows in magnitude classes from the largest down; an event captured by a
larger class is not searched again (its parent cannot change), and each class queries a
space-time cKDTree (see :func:`lite_decluster.windows._geo.window_pairs`): no O(N^2) loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lite_decluster.windows._common import WindowResult, as_inputs, roots
from lite_decluster.windows._geo import great_circle_km, surface_points, window_pairs

__all__ = ["WINDOWS", "gardner_knopoff", "window_size"]

# Width of the magnitude classes of the search (tuning only: the result does not depend on it).
_CLASS_WIDTH = 0.5


def _gardner_knopoff(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Gardner & Knopoff (1974) table, as fitted in van Stiphout et al. (2012), eq. 3.1.
    L = 10.0 ** (0.1238 * m + 0.983)
    T = np.where(m >= 6.5, 10.0 ** (0.032 * m + 2.7389), 10.0 ** (0.5409 * m - 0.547))
    return L, T


def _gruenthal(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Gruenthal (pers. comm.), van Stiphout et al. (2012), eq. 3.2; defined for M >= ~0.
    with np.errstate(invalid="ignore"):
        L = np.exp(1.77 + np.sqrt(0.037 + 1.02 * m))
        T = np.where(
            m < 6.5, np.abs(np.exp(-3.95 + np.sqrt(0.62 + 17.32 * m))), 10.0 ** (2.8 + 0.024 * m)
        )
    return L, T


def _uhrhammer(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Uhrhammer (1986), van Stiphout et al. (2012), eq. 3.3.
    return np.exp(-1.024 + 0.804 * m), np.exp(-2.87 + 1.235 * m)


WINDOWS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "gardner-knopoff": _gardner_knopoff,
    "gruenthal": _gruenthal,
    "uhrhammer": _uhrhammer,
}
"""Window name -> function of magnitudes (n,) returning (L km, T days), each (n,)."""


def window_size(m: np.ndarray, window: str = "gardner-knopoff") -> tuple[np.ndarray, np.ndarray]:
    """Window radius L (km) and duration T (days) for magnitudes ``m`` (any shape).

    Magnitudes outside a formula's domain (Gruenthal below M ~ 0, where a square root's argument
    is negative) get L = T = 0: such events open no window.
    """
    try:
        fn = WINDOWS[window]
    except KeyError:
        raise ValueError(f"unknown window {window!r}; known: {sorted(WINDOWS)}") from None
    L, T = fn(np.asarray(m, dtype=float))
    bad = ~(np.isfinite(L) & np.isfinite(T))
    return np.where(bad, 0.0, L), np.where(bad, 0.0, T)


def gardner_knopoff(
    t_days: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    m: np.ndarray,
    *,
    window: str = "gardner-knopoff",
    fs_time_prop: float = 0.0,
) -> WindowResult:
    """Gardner-Knopoff window declustering.

    Parameters
    ----------
    t_days : (n,) float
        Origin times in days (any origin), sorted ascending; ties allowed.
    lat, lon : (n,) float
        Epicentres in degrees.
    m : (n,) float
        Magnitudes.
    window : {"gardner-knopoff", "gruenthal", "uhrhammer"}
        Window formulas L(M) (km), T(M) (days); see :data:`WINDOWS`.
    fs_time_prop : float
        Foreshock window as a fraction of T(M) (>= 0); 0 looks forward only.

    Returns
    -------
    WindowResult
        ``parent`` is the largest event whose window holds the event (-1 if none).
    """
    x = as_inputs(t_days=t_days, lat=lat, lon=lon, m=m)
    if not (np.isfinite(fs_time_prop) and fs_time_prop >= 0):
        raise ValueError(f"fs_time_prop must be >= 0, got {fs_time_prop}")
    t, mag = x["t_days"], x["m"]
    n = t.size
    L, T = window_size(mag, window)
    pts = surface_points(x["lat"], x["lon"])
    parent = np.full(n, -1, dtype=np.int64)
    free = np.ones(n, dtype=bool)  # not captured by a larger class yet
    best_m = np.full(n, -np.inf)
    cls = np.floor(mag / _CLASS_WIDTH).astype(np.int64)
    opens = (L > 0) & (T > 0)
    for c in np.unique(cls[opens])[::-1]:
        q_all = np.flatnonzero((cls == c) & opens)
        top = mag[q_all].max()
        cand = np.flatnonzero(free & (mag < top))
        lo = -fs_time_prop * T[q_all]
        got = []
        for qi, cj in window_pairs(t, pts, q_all, L[q_all], lo, T[q_all], cand):
            dt = t[cj] - t[qi]
            ok = (mag[cj] < mag[qi]) & (dt < T[qi]) & (qi != cj)
            ok &= (dt > 0) if fs_time_prop == 0 else (dt > -fs_time_prop * T[qi])
            qi, cj = qi[ok], cj[ok]
            ok = great_circle_km(pts, qi, cj) < L[qi]
            qi, cj = qi[ok], cj[ok]
            if cj.size == 0:
                continue
            # Best parent per child: largest magnitude, then smallest index.
            o = np.lexsort((qi, -mag[qi], cj))
            qi, cj = qi[o], cj[o]
            first = np.r_[True, cj[1:] != cj[:-1]]
            qi, cj = qi[first], cj[first]
            better = (mag[qi] > best_m[cj]) | ((mag[qi] == best_m[cj]) & (qi < parent[cj]))
            qi, cj = qi[better], cj[better]
            best_m[cj] = mag[qi]
            parent[cj] = qi
            got.append(cj)
        if got:
            free[np.concatenate(got)] = False
    cluster = roots(parent)
    return WindowResult(cluster=cluster, mainshock=parent < 0, parent=parent)
