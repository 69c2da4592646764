"""Event positions, distances and the region: planar x/y (km) or lon/lat on the sphere.

Distances: Euclidean km for x/y; for lon/lat the great-circle distance on a sphere of radius
``EARTH_RADIUS_KM``, from 3-D unit vectors (chord ``c`` -> arc ``2 R arcsin(c / 2R)``), so
nothing special happens at the antimeridian or the poles.

Region: a polygon, counter-clockwise (reoriented if given clockwise). For lon/lat its edges are
great-circle arcs, except that a lon/lat box keeps its parallels: they are split into pieces of
at most ``_BOX_STEP_DEG`` degrees of longitude (a parallel deviates from the chord of such a
piece by at most ``R (step in rad)^2 sin(2 lat) / 16``, under 4 m), and membership in a box is
the exact lon/lat test. Default region: the convex hull of the epicentres (for lon/lat in the
gnomonic projection about their mean direction, where great circles are straight lines).

Kernel shares: the share of an isotropic kernel centred on event i that falls inside the
region is ``(1 / K) sum_k sum_crossings s F(r)`` over ``K`` equally spaced azimuths, where the
rays from the event (straight lines, or great circles) cross the boundary at distances r, with
``s = +1`` where the ray leaves the region and ``-1`` where it enters, and F is the kernel's
radial CDF (``F(0) = 0``, so events on the boundary need no special case). For lon/lat, r is
the great-circle distance along the ray and the kernel is taken as a density in the
azimuthal-equidistant coordinates about its centre (its area element differs from the
sphere's by ``r / (R sin(r / R)) - 1 < 1e-4`` within 150 km).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from lite_decluster.etas.errors import EtasError

__all__ = ["EARTH_RADIUS_KM", "EventGeometry", "Rays", "Region", "make_geometry", "make_region"]

EARTH_RADIUS_KM = 6371.0
N_ANGLES = 64
_BOX_STEP_DEG = 0.25
_CHUNK = 512  # events per block in the ray-crossing computation
_NEAR_SHARE = 0.05


@dataclass(frozen=True)
class EventGeometry:
    """Event positions: ``points`` (n, 2) km for x/y, or (n, 3) km on the sphere.

    ``sphere`` is True for lon/lat (points are ``R * unit vectors``).
    """

    points: np.ndarray
    sphere: bool

    def dist2(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Squared distance (km^2, great-circle for lon/lat) between events i and j."""
        pts = self.points
        acc = np.square(pts[i, 0] - pts[j, 0])
        for c in range(1, pts.shape[1]):
            acc += np.square(pts[i, c] - pts[j, c])
        if not self.sphere:
            return acc
        return np.square(self.arc(np.sqrt(acc)))

    def arc(self, chord: np.ndarray) -> np.ndarray:
        """Distance (km) for straight-line lengths ``chord`` (km)."""
        if not self.sphere:
            return chord
        two_r = 2.0 * EARTH_RADIUS_KM
        return two_r * np.arcsin(np.minimum(chord / two_r, 1.0))

    def chord_for(self, r: np.ndarray) -> np.ndarray:
        """Straight-line radius (km) holding every point within distance ``r`` (km)."""
        if not self.sphere:
            return r
        two_r = 2.0 * EARTH_RADIUS_KM
        return np.where(r >= math.pi * EARTH_RADIUS_KM, two_r,
                        two_r * np.sin(np.minimum(r / two_r, math.pi / 2)))


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Unit vectors (n, 3) of lon/lat in degrees."""
    lam, phi = np.radians(lon), np.radians(lat)
    cphi = np.cos(phi)
    return np.column_stack([cphi * np.cos(lam), cphi * np.sin(lam), np.sin(phi)])


def make_geometry(
    x: np.ndarray | None, y: np.ndarray | None, lon: np.ndarray | None, lat: np.ndarray | None
) -> EventGeometry:
    """Positions from x/y (km) or lon/lat (degrees); exactly one pair must be given."""
    if (x is None) != (y is None) or (lon is None) != (lat is None) or (x is None) == (lon is None):
        raise EtasError("give either x and y (km) or lon and lat (degrees)")
    if x is not None:
        return EventGeometry(np.column_stack([x, y]).astype(float), False)
    if np.any(np.abs(lat) > 90):
        raise EtasError("latitudes must be within [-90, 90] degrees")
    return EventGeometry(EARTH_RADIUS_KM * unit_vectors(lon, lat), True)


def _tangent_basis(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East and north unit vectors (each (n, 3)) at unit vectors c (n, 3); any orthonormal
    pair at the poles. ``east x north = c``."""
    z = np.array([0.0, 0.0, 1.0])
    east = np.cross(z, c)
    norm = np.linalg.norm(east, axis=1)
    polar = norm < 1e-12
    east[polar] = np.cross(np.array([1.0, 0.0, 0.0]), c[polar])
    east /= np.linalg.norm(east, axis=1)[:, None]
    north = np.cross(c, east)
    return east, north


def _gnomonic(v: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Gnomonic coordinates (n, 2) of unit vectors v about the unit vector ``centre``;
    NaN for points on or beyond the horizon."""
    east, north = _tangent_basis(centre[None, :])
    dot = v @ centre
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.column_stack([v @ east[0], v @ north[0]]) / dot[:, None]
    out[dot <= 1e-9] = np.nan
    return out


def _signed_area(xy: np.ndarray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _inside_polygon(xy: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test of points (n, 2) against a polygon (k, 2)."""
    inside = np.zeros(xy.shape[0], dtype=bool)
    px, py = xy[:, 0], xy[:, 1]
    for a, b in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        if a[1] == b[1]:
            continue
        crosses = (a[1] > py) != (b[1] > py)
        xi = a[0] + (py - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
        inside ^= crosses & (px < xi)
    return inside


@dataclass(frozen=True)
class Region:
    """A region: counter-clockwise polygon ``vertices`` ((k, 2) km, or (k, 3) unit vectors on
    the sphere), its ``area`` (km^2), and for lon/lat the box (if given as one) and the
    gnomonic centre used for membership tests."""

    vertices: np.ndarray
    sphere: bool
    area: float
    box: tuple[float, float, float, float] | None = None
    centre: np.ndarray | None = None
    description: str = ""

    def contains(self, geom: EventGeometry, lon=None, lat=None) -> np.ndarray:
        """Boolean mask (n,): events inside (or on the boundary of) the region."""
        if not self.sphere:
            poly = self.vertices
            inside = _inside_polygon(geom.points, poly)
            return inside | _on_boundary(geom.points, poly)
        if self.box is not None and lon is not None:
            lo, hi, bmin, bmax = self.box
            dl = np.mod(np.asarray(lon) - lo, 360.0)
            width = np.mod(hi - lo, 360.0) if hi != lo + 360.0 else 360.0
            return (dl <= width + 1e-9) & (lat >= bmin - 1e-9) & (lat <= bmax + 1e-9)
        v = geom.points / EARTH_RADIUS_KM
        xy = _gnomonic(v, self.centre)
        poly = _gnomonic(self.vertices, self.centre)
        ok = np.isfinite(xy[:, 0])
        out = np.zeros(v.shape[0], dtype=bool)
        out[ok] = _inside_polygon(xy[ok], poly) | _on_boundary(xy[ok], poly)
        return out


def _on_boundary(xy: np.ndarray, poly: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Points within ``tol`` (relative to the polygon's size) of an edge."""
    scale = float(np.ptp(poly, axis=0).max()) or 1.0
    return _boundary_distance(xy, poly) <= tol * scale


def _spherical_area(v: np.ndarray) -> float:
    """Signed area (km^2) of a spherical polygon with unit-vector vertices (CCW positive)."""
    c = v.mean(axis=0)
    c /= np.linalg.norm(c)
    a, b = v, np.roll(v, -1, axis=0)
    num = np.einsum("j,ij->i", c, np.cross(a, b))
    den = 1.0 + a @ c + b @ c + np.einsum("ij,ij->i", a, b)
    return float(2.0 * np.sum(np.arctan2(num, den))) * EARTH_RADIUS_KM**2


def make_region(
    region, geom: EventGeometry, lon: np.ndarray | None = None, lat: np.ndarray | None = None
) -> Region:
    """The region from ``None`` (convex hull of the events), a box ``(x_min, x_max, y_min,
    y_max)`` / ``(lon_min, lon_max, lat_min, lat_max)`` (lon_min > lon_max crosses the
    antimeridian), or a polygon array (k, 2) of x/y or lon/lat vertices.

    Raises EtasError for a region of zero area.
    """
    if region is None:
        return _hull(geom)
    arr = np.asarray(region, dtype=float)
    if arr.ndim == 1 and arr.size == 4:
        a0, a1, b0, b1 = (float(v) for v in arr)
        if not geom.sphere:
            if not (a1 > a0 and b1 > b0):
                raise EtasError(f"the region box {tuple(arr)} has zero area")
            poly = np.array([[a0, b0], [a1, b0], [a1, b1], [a0, b1]])
            return Region(poly, False, (a1 - a0) * (b1 - b0), description=f"box {tuple(arr)}")
        width = (a1 - a0) % 360.0
        if a1 - a0 == 360.0:
            width = 360.0
        if not (width > 0 and b1 > b0) or abs(b0) > 90 or abs(b1) > 90:
            raise EtasError(f"the region box {tuple(arr)} has zero area or bad latitudes")
        if width >= 180.0:
            raise EtasError("a lon/lat box must span less than 180 degrees of longitude")
        k = max(2, math.ceil(width / _BOX_STEP_DEG) + 1)
        lons = np.linspace(a0, a0 + width, k)
        ring_lon = np.concatenate([lons, lons[::-1]])
        ring_lat = np.concatenate([np.full(k, b0), np.full(k, b1)])
        v = unit_vectors(ring_lon, ring_lat)
        v = _drop_repeats(v)
        area = EARTH_RADIUS_KM**2 * math.radians(width) * (
            math.sin(math.radians(b1)) - math.sin(math.radians(b0)))
        centre = unit_vectors(np.array([a0 + width / 2]), np.array([(b0 + b1) / 2]))[0]
        return Region(v, True, area, box=(a0, a1, b0, b1), centre=centre,
                      description=f"lon/lat box {tuple(arr)}")
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 3 or not np.isfinite(arr).all():
        raise EtasError("region must be None, a 4-tuple box or a (k, 2) polygon with k >= 3")
    if not geom.sphere:
        area = _signed_area(arr)
        if not abs(area) > 0:
            raise EtasError("the region polygon has zero area")
        poly = arr if area > 0 else arr[::-1]
        return Region(poly, False, abs(area), description=f"polygon of {len(arr)} vertices")
    v = _drop_repeats(unit_vectors(arr[:, 0], arr[:, 1]))
    centre = v.mean(axis=0)
    if np.linalg.norm(centre) < 1e-9:
        raise EtasError("the region polygon has zero area")
    centre /= np.linalg.norm(centre)
    area = _spherical_area(v) if len(v) >= 3 else 0.0
    if not abs(area) > 1e-9:
        raise EtasError("the region polygon has zero area")
    if area < 0:
        v, area = v[::-1], -area
    return Region(v, True, area, centre=centre, description=f"polygon of {len(arr)} vertices")


def _drop_repeats(v: np.ndarray) -> np.ndarray:
    nxt = np.roll(v, -1, axis=0)
    keep = np.linalg.norm(v - nxt, axis=1) > 1e-12
    return v[keep]


def _hull(geom: EventGeometry) -> Region:
    if not geom.sphere:
        xy = geom.points
        try:
            hull = ConvexHull(xy)
        except (QhullError, ValueError):
            raise EtasError("the convex hull of the epicentres has zero area") from None
        poly = xy[hull.vertices]  # counter-clockwise for 2-D input
        area = _signed_area(poly)
        if not area > 0:
            raise EtasError("the convex hull of the epicentres has zero area")
        return Region(poly, False, area, description="convex hull of the epicentres")
    v = geom.points / EARTH_RADIUS_KM
    centre = v.mean(axis=0)
    if np.linalg.norm(centre) < 1e-6:
        raise EtasError("the epicentres span the globe: give the region as a polygon or box")
    centre /= np.linalg.norm(centre)
    if np.min(v @ centre) < 0.2:
        raise EtasError("the epicentres span too much of the globe for a convex hull: give "
                        "the region as a polygon or box")
    xy = _gnomonic(v, centre)
    try:
        hull = ConvexHull(xy)
    except (QhullError, ValueError):
        raise EtasError("the convex hull of the epicentres has zero area") from None
    verts = v[hull.vertices]
    area = _spherical_area(verts)
    if not area > 1e-9:
        raise EtasError("the convex hull of the epicentres has zero area")
    return Region(verts, True, area, centre=centre, description="convex hull of the epicentres")


@dataclass
class Rays:
    """Boundary crossings of ``N_ANGLES`` rays from every event: flat arrays ``event``
    (sorted), ``r2`` (km^2) and ``weight`` (+-1 / rays: + leaving the region, - entering),
    and ``n`` events.

    ``share(cdf)`` gives each event's kernel share inside the region for a radial CDF
    ``cdf(event_index_array, r2_array)``; weights are ``sign / N_ANGLES``.
    """

    event: np.ndarray
    r2: np.ndarray
    weight: np.ndarray
    n: int

    def share(self, cdf: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        return np.bincount(self.event, self.weight * cdf(self.event, self.r2), minlength=self.n)


def ray_crossings(
    geom: EventGeometry, region: Region, n_angles: int = N_ANGLES, near_factor: int = 4
) -> Rays:
    """Crossings of the rays from every event with the region's boundary (see the module
    docstring). Events closer to the boundary than ``_NEAR_SHARE`` of the region's size get
    ``near_factor`` times as many rays (there the integrand has sharp corners). Memory
    O(n * rays * crossings per ray)."""
    n = geom.points.shape[0]
    if geom.sphere:
        xy = _gnomonic(geom.points / EARTH_RADIUS_KM, region.centre)
        poly = _gnomonic(region.vertices, region.centre)
    else:
        xy, poly = geom.points, region.vertices
    size = float(np.ptp(poly, axis=0).max())
    near = np.zeros(n, dtype=bool)
    ok = np.isfinite(xy[:, 0])
    if near_factor > 1:
        near[ok] = _boundary_distance(xy[ok], poly) < _NEAR_SHARE * size
    evs, r2s, ws = [], [], []
    for k_angles, sel in ((n_angles, ~near), (n_angles * near_factor, near)):
        idx_all = np.flatnonzero(sel)
        theta = (np.arange(k_angles) + 0.5) * (2.0 * math.pi / k_angles)
        cos_t, sin_t = np.cos(theta), np.sin(theta)
        chunk = max(1, _CHUNK * n_angles // k_angles)
        for lo in range(0, idx_all.size, chunk):
            idx = idx_all[lo : lo + chunk]
            if geom.sphere:
                e, r2, sg = _sphere_crossings(geom.points[idx] / EARTH_RADIUS_KM,
                                              region.vertices, region.centre, cos_t, sin_t)
            else:
                e, r2, sg = _plane_crossings(geom.points[idx], region.vertices, cos_t, sin_t)
            evs.append(idx[e].astype(np.int32))
            r2s.append(r2)
            ws.append(sg / k_angles)
    ev = np.concatenate(evs)
    o = np.argsort(ev, kind="stable")  # sorted by event (segment sums in the likelihood)
    return Rays(ev[o], np.concatenate(r2s)[o], np.concatenate(ws)[o], n)


def _mv(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a @ v`` for (n, k) and (k,) without BLAS (its threads stall on a busy machine)."""
    return sum((a[:, c] * v[c] for c in range(1, a.shape[1])), a[:, 0] * v[0])


def _boundary_distance(xy: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Distance from points (n, 2) to the polygon's edges, in the polygon's plane."""
    best = np.full(xy.shape[0], np.inf)
    for a, b in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        e = b - a
        ee = float(e @ e)
        if ee == 0:
            continue
        s = np.clip(_mv(xy - a, e) / ee, 0.0, 1.0)
        d = xy - (a + s[:, None] * e)
        np.minimum(best, np.einsum("ij,ij->i", d, d), out=best)
    return np.sqrt(best)


def _plane_crossings(p, poly, cos_t, sin_t):
    a = poly
    e = np.roll(poly, -1, axis=0) - poly  # (E, 2)
    ux, uy = cos_t[None, :, None], sin_t[None, :, None]  # (1, K, 1)
    apx = a[None, None, :, 0] - p[:, None, None, 0]  # (C, 1, E)
    apy = a[None, None, :, 1] - p[:, None, None, 1]
    ex, ey = e[None, None, :, 0], e[None, None, :, 1]
    denom = ux * ey - uy * ex  # (1, K, E)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (apx * ey - apy * ex) / denom
        s = (apx * uy - apy * ux) / denom
    ok = (denom != 0) & (r >= 0) & (s >= 0) & (s < 1)
    ci, ki, ei = np.nonzero(ok)
    sign = np.where(denom[0, ki, ei] > 0, 1.0, -1.0)
    return ci, np.square(r[ci, ki, ei]), sign


def _sphere_crossings(p, verts, centre, cos_t, sin_t):
    """Great-circle rays in the gnomonic projection about ``centre``, where they and the
    polygon's edges are straight: the half-ray from P (great-circle distance 0 to the
    horizon) is the half-line from g(P) along the image of its tangent, so the planar
    crossings are exactly the crossings with the region (which lies inside the horizon);
    the distance of a crossing X is the angle between P and X. Events beyond the horizon get
    no crossings (share 0)."""
    east, north = _tangent_basis(centre[None, :])
    east, north = east[0], north[0]
    pc = _mv(p, centre)
    ok = pc > 1e-6
    p_ok = p[ok]
    te, tn = _tangent_basis(p_ok)  # azimuth frame at P (any orthonormal pair works)
    gp = np.column_stack([_mv(p_ok, east), _mv(p_ok, north)]) / pc[ok][:, None]
    poly = _gnomonic(verts, centre)
    # d/ds g(P cos s + T sin s) at s = 0, for T = cos(th) te + sin(th) tn: linear in T.
    def dg(t):
        tc = _mv(t, centre)
        return np.column_stack([_mv(t, east) - gp[:, 0] * tc, _mv(t, north) - gp[:, 1] * tc])

    de, dn = dg(te), dg(tn)  # (C, 2) each
    dx = cos_t[None, :] * de[:, 0:1] + sin_t[None, :] * dn[:, 0:1]  # (C, K)
    dy = cos_t[None, :] * de[:, 1:2] + sin_t[None, :] * dn[:, 1:2]
    e = np.roll(poly, -1, axis=0) - poly
    apx = poly[None, None, :, 0] - gp[:, None, None, 0]
    apy = poly[None, None, :, 1] - gp[:, None, None, 1]
    ex, ey = e[None, None, :, 0], e[None, None, :, 1]
    ux, uy = dx[:, :, None], dy[:, :, None]
    denom = ux * ey - uy * ex
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (apx * ey - apy * ex) / denom
        s = (apx * uy - apy * ux) / denom
    hit = (denom != 0) & (r >= 0) & (s >= 0) & (s < 1)
    ci, ki, ei = np.nonzero(hit)
    sign = np.where(denom[ci, ki, ei] > 0, 1.0, -1.0)
    xy = gp[ci] + r[ci, ki, ei][:, None] * np.column_stack([dx[ci, ki], dy[ci, ki]])
    xv = centre[None, :] + xy[:, 0:1] * east[None, :] + xy[:, 1:2] * north[None, :]
    xv /= np.linalg.norm(xv, axis=1)[:, None]
    pv = p_ok[ci]
    sigma = np.arctan2(np.linalg.norm(np.cross(pv, xv), axis=1), np.einsum("ij,ij->i", pv, xv))
    idx = np.flatnonzero(ok)[ci]
    return idx, np.square(EARTH_RADIUS_KM * sigma), sign
