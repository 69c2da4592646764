"""Great-circle geometry and the space-time window pair search shared by the window methods.

Epicentres are points on a sphere of radius :data:`EARTH_RADIUS_KM` in Earth-centred Cartesian
coordinates (km), as in :mod:`lite_decluster.features`: the straight-line (chord) length between
two points maps monotonically to their great-circle distance, so a scipy ``cKDTree`` on these
points answers great-circle range queries exactly (query the chord of the arc).

:func:`window_pairs` finds, for query events ``q`` with a great-circle radius ``radius[q]`` (km)
and a time window ``lo[q] <= t_c - t_q <= hi[q]`` (days), every candidate event ``c`` inside both:
a superset, which callers filter with their own exact (strict or not) inequalities. Time is added
as a fourth tree coordinate scaled so that each query's window becomes a ball about its middle.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "EARTH_RADIUS_KM",
    "arc_from_chord",
    "chord_from_arc",
    "great_circle_km",
    "surface_points",
    "window_pairs",
]

EARTH_RADIUS_KM = 6371.0

# Search tuning (the result does not depend on them): queries per tree query; the relative
# slack on radii absorbs rounding.
_QUERY_CHUNK = 2048
_SLACK = 1.0 + 1e-9


def surface_points(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Epicentres as (n, 3) float64 Earth-centred coordinates in km (lat, lon in degrees)."""
    phi = np.radians(np.asarray(lat, dtype=float))
    lam = np.radians(np.asarray(lon, dtype=float))
    cphi = np.cos(phi)
    return EARTH_RADIUS_KM * np.column_stack([cphi * np.cos(lam), cphi * np.sin(lam), np.sin(phi)])


def arc_from_chord(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) for chord lengths (km), any shape."""
    two_r = 2.0 * EARTH_RADIUS_KM
    return two_r * np.arcsin(np.minimum(np.asarray(chord, dtype=float) / two_r, 1.0))


def chord_from_arc(arc: np.ndarray) -> np.ndarray:
    """Chord length (km) of great-circle distances ``arc`` (km, >= 0); 2R beyond half a turn."""
    arc = np.asarray(arc, dtype=float)
    two_r = 2.0 * EARTH_RADIUS_KM
    half = np.minimum(arc / two_r, np.pi / 2)
    return np.where(arc >= np.pi * EARTH_RADIUS_KM, two_r, two_r * np.sin(half))


def great_circle_km(pts: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) between events i and j (index arrays of one shape)."""
    acc = np.square(pts[i, 0] - pts[j, 0])
    acc += np.square(pts[i, 1] - pts[j, 1])
    acc += np.square(pts[i, 2] - pts[j, 2])
    return arc_from_chord(np.sqrt(acc, out=acc))


def window_pairs(
    t: np.ndarray,
    pts: np.ndarray,
    queries: np.ndarray,
    radius: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    candidates: np.ndarray,
    chunk: int = _QUERY_CHUNK,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Candidate pairs (q, c): great-circle distance <= radius[q], lo[q] <= t_c - t_q <= hi[q].

    Parameters
    ----------
    t : (n,) float, days, sorted ascending.
    pts : (n, 3) float, km, from :func:`surface_points`.
    queries : (k,) int, event indices in ascending order.
    radius, lo, hi : (k,) float, per query: great-circle radius (km, >= 0) and time window
        relative to the query's time (days, lo <= hi).
    candidates : (c,) int, event indices in ascending order.
    chunk : int
        Queries per tree query (memory and speed only).

    Yields
    ------
    (q, c) : int64 arrays of event indices, a superset of the pairs inside both windows (a pair
    may include q == c); every such pair is yielded exactly once.

    Works best when the queries of one call have windows of similar shape (radius and window
    length within a small factor): callers group queries by magnitude.
    """
    if queries.size == 0 or candidates.size == 0:
        return
    tc = t[candidates]
    a = np.searchsorted(tc, t[queries] + lo, side="left")
    b = np.searchsorted(tc, t[queries] + hi, side="right")
    keep = b > a
    queries, radius, lo, hi = queries[keep], radius[keep], lo[keep], hi[keep]
    a, b = a[keep], b[keep]
    if queries.size == 0:
        return
    chord = chord_from_arc(radius) * _SLACK + 1e-9
    half = 0.5 * (hi - lo)
    mid = t[queries] + 0.5 * (lo + hi)
    # Chunks of consecutive queries; each chunk's candidates are the union of its queries'
    # candidate ranges (split where the ranges leave a gap, so sparse queries stay cheap).
    for s in range(0, queries.size, chunk):
        e = min(s + chunk, queries.size)
        # Union of the ranges [a, b): sorted by start, merged where they overlap.
        o = np.argsort(a[s:e], kind="stable")
        ca, cb = a[s:e][o], b[s:e][o]
        top = np.maximum.accumulate(cb)
        new = np.r_[True, ca[1:] > top[:-1]]
        starts = ca[new]
        ends = np.maximum.reduceat(cb, np.flatnonzero(new))
        lengths = ends - starts
        block = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(
            lengths.sum()
        )
        cand = candidates[block]
        w = float(half[s:e].max())
        rho = float(chord[s:e].max())
        scale = rho / w if w > 0 else 1.0
        t0 = mid[s]  # a local origin keeps the scaled times small (rounding)
        data = np.column_stack([pts[cand], scale * (t[cand] - t0)])
        qpts = np.column_stack([pts[queries[s:e]], scale * (mid[s:e] - t0)])
        r4 = np.sqrt(chord[s:e] ** 2 + (scale * half[s:e]) ** 2) * _SLACK + 1e-9
        qtree = cKDTree(qpts, balanced_tree=False, compact_nodes=False)
        dtree = cKDTree(data, balanced_tree=False, compact_nodes=False)
        sdm = qtree.sparse_distance_matrix(dtree, float(r4.max()), output_type="ndarray")
        qi = sdm["i"].astype(np.int64)
        ok = sdm["v"] <= r4[qi]
        qi = qi[ok]
        yield queries[s:e][qi], cand[sdm["j"][ok]]
