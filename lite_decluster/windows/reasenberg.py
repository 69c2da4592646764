"""Reasenberg (1985) cluster declustering.

Events are processed in time order. Event i looks ahead ``tau`` days: ``tau_min`` if i is not
in a cluster (or is its cluster's largest event so far), otherwise Reasenberg's eq. for the
time within which the next event of the sequence is expected with probability ``p``,

    tau = -ln(1 - p) * (t_i - t_main) / 10**(2/3 * (dM - 1)),
    dM = max((1 - xk) M_main - xmeff, 0),

clipped to [tau_min, tau_max] (t_main, M_main: the cluster's largest event; ``xmeff`` raised by
``xk M_main`` during clusters). A later event j with ``t_j - t_i < tau`` that is not yet in i's
cluster is linked to it when it lies within the interaction zone of

- the most recent event i: ``d(i, j) < rfact * r(M_i)``, or
- the cluster's largest event k: ``d(k, j) < r(M_k)`` (tested, as in the reference
  implementations ZMAP, OpenQuake and bruces, only while ``tau > tau_min``),

where ``r(M)`` is the source radius of :data:`INTERACTIONS` (``kanamori``: the circular-crack
radius 0.011 * 10**(0.4 M) km of Reasenberg 1985, from Kanamori & Anderson 1975). A link joins
(or merges) clusters. Distances are hypocentral with the location errors taken off, as in ZMAP's
and OpenQuake's Reasenberg:

    d = sqrt(max(h - horiz_error, 0)**2 + max(|z_i - z_j| - depth_error, 0)**2),

h the great-circle epicentral distance (km). Each cluster's mainshock is its largest event,
earliest on ties; singles and mainshocks are kept.

The links to the most recent event come from one space-time cKDTree search before the loop (the
zone does not change); the largest-event zone, which depends on the clusters found so far, is
tested inside the loop against the events of the look-ahead window only (at most ``tau_max``
days of events): no O(N^2) loop.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import numpy as np

from lite_decluster.windows._common import WindowResult, as_inputs
from lite_decluster.windows._geo import (
    EARTH_RADIUS_KM,
    great_circle_km,
    surface_points,
    window_pairs,
)

__all__ = ["INTERACTIONS", "reasenberg"]

# Events scanned at least at a time for a largest event's zone (tuning only).
_SCAN_AHEAD = 512

INTERACTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    # Reasenberg (1985): circular crack of Kanamori & Anderson (1975), 0.011 * 10**(0.4 M) km.
    "kanamori": lambda m: 0.011 * 10.0 ** (0.4 * m),
    # Alternative in OpenQuake's Reasenberg (Wells & Coppersmith 1994, after Helmstetter 2007).
    "wells-coppersmith": lambda m: 0.01 * 10.0 ** (0.5 * m),
}
"""Interaction-radius name -> function of magnitudes returning r(M) in km."""


def _distance(
    pts: np.ndarray,
    z: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    eh: float,
    ez: float,
) -> np.ndarray:
    """Hypocentral distance (km) less location errors, for index arrays i, j."""
    h = np.maximum(great_circle_km(pts, i, j) - eh, 0.0)
    v = np.maximum(np.abs(z[i] - z[j]) - ez, 0.0)
    return np.hypot(h, v)


def _links_to_recent(
    t: np.ndarray,
    pts: np.ndarray,
    z: np.ndarray,
    zone: np.ndarray,
    tau_min: float,
    tau_max: float,
    eh: float,
    ez: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs i < j with t_j - t_i < tau_max and d(i, j) < zone[i], as CSR.

    Returns ``ptr`` (n + 1,), ``cut`` (n,) and ``cols``: row i is ``cols[ptr[i]:ptr[i + 1]]``
    (ascending j), of which ``cols[ptr[i]:cut[i]]`` have t_j - t_i < tau_min.
    """
    n = t.size
    everyone = np.arange(n)
    reach = zone + eh  # epicentral bound of the zone
    cls = np.floor(np.log2(reach)).astype(np.int64)  # similar zone sizes per tree query
    keys = []
    two_r = 2.0 * EARTH_RADIUS_KM
    for c in np.unique(cls):
        q = np.flatnonzero(cls == c)
        k = q.size
        pairs = window_pairs(
            t, pts, q, reach[q], np.zeros(k), np.full(k, tau_max), everyone, chunk=2048
        )
        for qi, cj in pairs:
            ok = (cj > qi) & (t[cj] - t[qi] < tau_max)
            ok &= np.abs(z[cj] - z[qi]) < (zone[qi] + ez) * (1 + 1e-9) + 1e-9  # slack: rounding
            qi, cj = qi[ok], cj[ok]
            # Chord bound of the epicentral reach first (no arcsin), exact distance after.
            d = pts[qi] - pts[cj]
            ch = two_r * np.sin(np.minimum(reach[qi] / two_r, 1.5))
            ok = np.einsum("ij,ij->i", d, d) < ch * ch * (1 + 1e-9) + 1e-12
            qi, cj = qi[ok], cj[ok]
            ok = _distance(pts, z, qi, cj, eh, ez) < zone[qi]
            qi, cj = qi[ok], cj[ok]
            # One int64 sort key per pair: (row, column, 1 if t_j - t_i >= tau_min).
            key = qi * n + cj
            key *= 2
            key += t[cj] - t[qi] >= tau_min
            keys.append(key)
    key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    del keys
    key.sort()
    early = (key & 1) == 0
    key >>= 1
    rows = key // n
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    cut = ptr[:-1] + np.bincount(rows[early], minlength=n)
    del early
    key -= rows * n
    del rows
    index = np.int32 if n < 2**31 else np.int64
    return ptr, cut, key.astype(index)


def reasenberg(
    t_days: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    m: np.ndarray,
    depth: np.ndarray,
    *,
    tau_min: float = 1.0,
    tau_max: float = 10.0,
    p: float = 0.95,
    xk: float = 0.5,
    xmeff: float = 1.5,
    rfact: float = 10.0,
    horiz_error: float = 1.5,
    depth_error: float = 2.0,
    interaction: str = "kanamori",
) -> WindowResult:
    """Reasenberg (1985) declustering with its published default parameters.

    Parameters
    ----------
    t_days : (n,) float
        Origin times in days (any origin), sorted ascending; ties allowed.
    lat, lon : (n,) float
        Epicentres in degrees.
    m : (n,) float
        Magnitudes.
    depth : (n,) float
        Depths in km.
    tau_min, tau_max : float
        Shortest and longest look-ahead times (days).
    p : float
        Probability of observing the next event of a sequence within tau (0 < p < 1).
    xk : float
        Fraction of the cluster's largest magnitude by which ``xmeff`` is raised in clusters.
    xmeff : float
        Effective lower magnitude cutoff of the catalog.
    rfact : float
        Interaction zone of the most recent event, in source radii.
    horiz_error, depth_error : float
        Epicentral and depth location errors (km) taken off distances (0 disables).
    interaction : str
        Source-radius formula, a key of :data:`INTERACTIONS`.

    Returns
    -------
    WindowResult
        ``parent`` is the other event of the link that first put the event in its cluster.
    """
    x = as_inputs(t_days=t_days, lat=lat, lon=lon, m=m, depth=depth)
    if not 0 < tau_min <= tau_max < np.inf:
        raise ValueError(f"need 0 < tau_min <= tau_max < inf, got {tau_min}, {tau_max}")
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not (rfact > 0 and horiz_error >= 0 and depth_error >= 0):
        raise ValueError("rfact must be > 0 and the location errors >= 0")
    try:
        radius = INTERACTIONS[interaction]
    except KeyError:
        raise ValueError(
            f"unknown interaction {interaction!r}; known: {sorted(INTERACTIONS)}"
        ) from None
    t, mag, z = x["t_days"], x["m"], x["depth"]
    n = t.size
    pts = surface_points(x["lat"], x["lon"])
    r_main = radius(mag)
    zone = rfact * r_main
    eh, ez = float(horiz_error), float(depth_error)
    ptr, cut, cols = _links_to_recent(t, pts, z, zone, tau_min, tau_max, eh, ez)

    lab = np.full(n, -1, dtype=np.int64)  # cluster id of each event, -1: not clustered
    parent = np.full(n, -1, dtype=np.int64)
    main: list[int] = []  # cluster id -> its largest event (earliest on ties)
    members: list[list[int] | None] = []
    ln_q = -math.log1p(-p)
    end = np.searchsorted(t, t + tau_max, side="left").tolist()  # look-ahead bound at tau_max
    # Python scalars for the loop (much faster than numpy scalars one at a time).
    ptr_l, cut_l, t_l, m_l = ptr.tolist(), cut.tolist(), t.tolist(), mag.tolist()
    lab_item = lab.item
    zones = _MainZones(pts, z, r_main, eh, ez)
    for i in range(n - 1):
        li = lab_item(i)
        a = ptr_l[i]
        dup = False
        if li < 0 or main[li] == i:
            # Look ahead tau_min: the precomputed links only.
            b = cut_l[i]
            if a == b:
                continue
            row = cols[a:b]
        else:
            k = main[li]
            dm = (1.0 - xk) * m_l[k] - xmeff
            tau = ln_q * (t_l[i] - t_l[k]) / 10.0 ** (((dm if dm > 0 else 0.0) - 1.0) / 1.5)
            if tau <= tau_min:
                b = cut_l[i]
                if a == b:
                    continue
                row = cols[a:b]
            else:
                if tau >= tau_max:
                    hi = end[i]
                else:
                    hi = bisect.bisect_left(t_l, t_l[i] + tau, i + 1, end[i])
                b = ptr_l[i + 1]
                if a < b and cols[b - 1] >= hi:
                    b = a + int(np.searchsorted(cols[a:b], hi))
                row = cols[a:b]
                near = zones.near(k, i + 1, hi)
                if near.size:
                    dup = a < b
                    row = np.concatenate((row, near)) if dup else near
                elif a == b:
                    continue
            row = row[lab[row] != li]
            if row.size == 0:
                continue
        _link(i, row, li, lab, parent, main, members, mag, m_l, dup)

    ids = np.arange(n)
    mains = np.asarray(main, dtype=np.int64)
    clustered = lab >= 0
    cluster = np.where(clustered, mains[np.maximum(lab, 0)] if mains.size else ids, ids)
    mainshock = cluster == ids
    parent[mainshock] = -1
    return WindowResult(cluster=cluster, mainshock=mainshock, parent=parent)


class _MainZones:
    """Events inside the interaction zone of a cluster's largest event, found window by window.

    For a largest event k, the events j in [start, stop) with ``d(k, j) < r(M_k)``; the scanned
    range only grows (the loop's look-ahead windows move forward), so every event is tested
    against a given k at most once.
    """

    def __init__(
        self, pts: np.ndarray, z: np.ndarray, r_main: np.ndarray, eh: float, ez: float
    ) -> None:
        self.pts, self.z, self.r_main, self.eh, self.ez = pts, z, r_main, eh, ez
        self.found: dict[int, tuple[int, int, np.ndarray]] = {}

    def _scan(self, k: int, a: int, b: int) -> np.ndarray:
        """Events j in [a, b) with d(k, j) < r(M_k), ascending."""
        r = float(self.r_main[k])
        # Cheap bounds first (chord of the epicentral bound, depth), exact distance after.
        c = 2 * EARTH_RADIUS_KM * math.sin(min((r + self.eh) / (2 * EARTH_RADIUS_KM), 1.5))
        d = self.pts[a:b] - self.pts[k]
        close = np.einsum("ij,ij->i", d, d) < c * c * (1 + 1e-9) + 1e-12
        close &= np.abs(self.z[a:b] - self.z[k]) < (r + self.ez) * (1 + 1e-9) + 1e-9
        j = a + np.flatnonzero(close)
        if j.size:
            j = j[_distance(self.pts, self.z, np.full(j.size, k), j, self.eh, self.ez) < r]
        return j

    def near(self, k: int, a: int, b: int) -> np.ndarray:
        """Events j in [a, b) inside k's zone (a never decreases between calls for one k)."""
        got = self.found.get(k)
        n = self.z.size
        if got is None or a > got[1]:
            stop = min(n, max(b, a + _SCAN_AHEAD))
            start, js = a, self._scan(k, a, stop)
        else:
            start, stop, js = got
            if b > stop:
                # Scan ahead (doubling the range): later windows reach further.
                new = min(n, max(b, stop + max(_SCAN_AHEAD, stop - start)))
                js = np.concatenate([js, self._scan(k, stop, new)])
                stop = new
        self.found[k] = (start, stop, js)
        return js[np.searchsorted(js, a) : np.searchsorted(js, b)]


def _link(
    i: int,
    row: np.ndarray,
    li: int,
    lab: np.ndarray,
    parent: np.ndarray,
    main: list[int],
    members: list[list[int] | None],
    mag: np.ndarray,
    m_l: list[float],
    dup: bool,
) -> None:
    """Join event i, the events ``row`` (later, linked to i) and their clusters into one.

    ``dup``: ``row`` may hold an event twice (linked through both zones).
    """
    row_lab = lab[row]
    free = row_lab < 0
    if free.all():
        fresh, ids = row, ({li} if li >= 0 else set())
    else:
        fresh = row[free]
        ids = set(row_lab[~free].tolist())
        if li >= 0:
            ids.add(li)
    if dup and fresh.size > 1:
        fresh = np.unique(fresh)

    def better(a: int, b: int) -> bool:  # a better mainshock than b: larger, then earlier
        return m_l[a] > m_l[b] or (m_l[a] == m_l[b] and a < b)

    if ids:
        if len(ids) == 1:
            (target,) = ids
            best = main[target]
        else:
            target = max(ids, key=lambda c: len(members[c]))  # merge small into large
            best = main[target]
            for c in ids - {target}:
                moved = members[c]
                lab[np.asarray(moved, dtype=np.int64)] = target
                members[target].extend(moved)
                if better(main[c], best):
                    best = main[c]
                members[c] = None
    else:
        target = len(main)
        main.append(i)
        members.append([])
        best = i
    if li < 0:
        lab[i] = target
        members[target].append(i)
        parent[i] = int(row[0])
        if better(i, best):
            best = i
    if fresh.size:
        lab[fresh] = target
        parent[fresh] = i
        members[target].extend(fresh.tolist())
        f = int(fresh[np.argmax(mag[fresh])]) if fresh.size > 1 else int(fresh[0])
        if better(f, best):  # f: the first of the largest fresh events, the earliest
            best = f
    main[target] = best
