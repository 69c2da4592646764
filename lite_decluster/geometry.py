"""Event positions for the neighbour search: 3-D points whose chord distances give the metric's
distances (great-circle via unit-sphere chords, Euclidean km, or raw degrees), and the exact
pair distance used to confirm candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lite_decluster.feature_spec import FeatureSpec

__all__ = ["pair_eta"]


@dataclass(frozen=True)
class _Geometry:
    """Points in a Euclidean space whose straight-line length maps monotonically to r."""

    points: np.ndarray  # (n, k) float64
    sphere_radius: float | None  # set when r is the great-circle distance on this sphere

    def distance(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Distance r between events i and j (km or degrees), shape of i."""
        # Column by column: a third of the scratch memory of whole (n, k) differences.
        pts = self.points
        return self.arc(_norm([pts[i, c] - pts[j, c] for c in range(pts.shape[1])]))

    def arc(self, chord: np.ndarray) -> np.ndarray:
        """Distance r for straight-line lengths ``chord`` (changed in place)."""
        if self.sphere_radius is None:
            return chord
        two_r = 2.0 * self.sphere_radius
        chord /= two_r
        np.minimum(chord, 1.0, out=chord)
        np.arcsin(chord, out=chord)
        chord *= two_r
        return chord

    def chord_for(self, r: np.ndarray) -> np.ndarray:
        """Straight-line radius that contains every point within distance r (r >= 0)."""
        if self.sphere_radius is None:
            return r
        two_r = 2.0 * self.sphere_radius
        # Beyond half the circumference every point qualifies; 2R covers the whole sphere.
        half = np.minimum(r / two_r, np.pi / 2)
        return np.where(r >= np.pi * self.sphere_radius, two_r, two_r * np.sin(half))


def _norm(diffs: list[np.ndarray]) -> np.ndarray:
    """Euclidean length from per-coordinate differences, summed in coordinate order (one
    formula for every pair, wherever it is evaluated; columns are faster than einsum)."""
    acc = np.square(diffs[0])
    for d in diffs[1:]:
        acc += np.square(d)
    return np.sqrt(acc, out=acc)


def _geometry(
    spec: FeatureSpec,
    *,
    lat: np.ndarray | None,
    lon: np.ndarray | None,
    x: np.ndarray | None,
    y: np.ndarray | None,
    depth: np.ndarray | None,
) -> _Geometry:
    if x is not None:
        cols = [x, y] + ([depth] if spec.hypocentral and depth is not None else [])
        return _Geometry(np.column_stack(cols).astype(float), None)
    if spec.distance == "euclidean_degrees":
        return _Geometry(np.column_stack([lon, lat]).astype(float), None)
    phi = np.radians(lat)
    lam = np.radians(lon)
    radius = np.full(lat.shape, spec.earth_radius_km)
    if spec.hypocentral:
        # Straight-line distance between hypocentres: exact 3-D geometry, no sphere mapping.
        radius = radius - (depth if depth is not None else 0.0)
    cphi = np.cos(phi)
    pts = np.column_stack(
        [radius * cphi * np.cos(lam), radius * cphi * np.sin(lam), radius * np.sin(phi)]
    )
    return _Geometry(pts, None if spec.hypocentral else spec.earth_radius_km)


def pair_eta(
    t: np.ndarray,
    logw: np.ndarray,
    geom: _Geometry,
    i: np.ndarray,
    j: np.ndarray,
    *,
    df: float,
    min_distance: float,
) -> np.ndarray:
    """eta for parent i and child j (index arrays, t_i < t_j assumed); ``logw = -b m ln 10``."""
    r = np.maximum(geom.distance(i, j), min_distance)
    return (t[j] - t[i]) * np.power(r, df) * np.exp(logw[i])
