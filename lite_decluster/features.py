"""Nearest-neighbour features in the Zaliapin & Ben-Zion space-time-magnitude metric.

For every event j its parent is the strictly earlier event i minimising

    eta_ij = t_ij * r_ij**df * 10**(-b * m_i),      t_ij = t_j - t_i > 0 (days),

split into rescaled time ``T = t_ij * 10**(-q b m_i)`` and rescaled distance
``R = r_ij**df * 10**(-(1 - q) b m_i)`` (so ``eta = T * R``).

Decisions on the edge cases (all recorded in :class:`FeatureSpec`):

- Events with the same origin time as j are not candidate parents (t_ij must be > 0).
- Distances below ``min_distance`` (0.1 km in ``v1``) are raised to it, so that co-located
  events still get a finite, positive eta (never 0 or -inf in log10 eta).
- Ties in eta go to the earliest parent (smallest time; for equal times the earlier input row).
- An event with no earlier event gets parent -1 and NaN for eta, T, R, dm and n_siblings.

The search is exact and runs in about O(N log^2 N) (see :func:`nearest_parents`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from lite_decluster.magnitudes import estimate_b

__all__ = [
    "FeatureSpec",
    "SPECS",
    "compute_features",
    "feature_matrix",
    "get_spec",
    "nearest_parents",
    "pair_eta",
]

EARTH_RADIUS_KM = 6371.0
_NS_PER_DAY = 86_400_000_000_000

# Search tuning (exactness does not depend on them): the last _WINDOW events are brute-forced;
# time blocks grow by _BRANCH per level; magnitude bins bound 10**(-b m) within a factor
# 10**(b * _MAG_BIN); groups with at most _DIRECT parents per child skip the tree; the radius
# slack absorbs rounding in the bound; a tree query asks for the _NEAR nearest parents (a
# ball query only when all of them are in range); queries go in classes of radii within a
# factor 2**_RADIUS_CLASS, merged up to at least _CLASS_MIN queries, at most _CHUNK at a time;
# batches of fewer than _THREAD_MIN queries run on one thread; a level handles at most
# _CHILD_CHUNK children at a time (memory).
_WINDOW = 64
_BRANCH = 4
_DIRECT = 4
_MAG_BIN = 0.75
_SLACK = 1.0 + 1e-9
_THREAD_MIN = 16_384
_NEAR = 4
_RADIUS_CLASS = 1.0
_CLASS_MIN = 256
_CHUNK = 65_536
_CHILD_CHUNK = 131_072


@dataclass(frozen=True)
class FeatureSpec:
    """Every choice that defines the features a model was trained on.

    Attributes
    ----------
    name : str
        ``"v1"`` (ours) or ``"aden2021"`` (the published ``extract_features.py``).
    distance : {"great_circle", "euclidean_degrees"}
        ``great_circle``: great-circle epicentral distance in km on a sphere of radius
        ``earth_radius_km`` (with ``hypocentral``, the straight-line distance in km between
        hypocentres in Earth-centred coordinates). ``euclidean_degrees``: sqrt(dlat^2 + dlon^2)
        in degrees, as published (no antimeridian handling). Projected catalogs (x, y in km)
        always use Euclidean km.
    df : float
        Fractal dimension of epicentres (exponent of r).
    q : float
        Split of the magnitude weight between T and R.
    b : float or None
        Gutenberg-Richter b-value; None estimates it from the catalog (Aki-Utsu, Mc = the
        smallest magnitude in the catalog given, so cut the catalog at Mc first).
    min_distance : float
        Floor on r (km, or degrees for ``euclidean_degrees``); 0 disables it.
    hypocentral : bool
        Use hypocentral instead of epicentral distance (depth in km).
    features : tuple of str
        Model inputs in order; names among ``T, R, log10_T, log10_R, log10_eta, dm,
        n_siblings, n_offspring``.
    count_scale : {"none", "rate"}
        ``rate`` divides sibling and offspring counts by (N - 1) / t_max, N events and t_max
        in days since the first event, as published (its table holds the N - 1 events that
        have a neighbour).
    siblings_include_self : bool
        Count the event itself among its siblings, as published.
    time_unit : str
        Always ``"days"``.
    """

    name: str = "v1"
    distance: str = "great_circle"
    df: float = 1.6
    q: float = 0.5
    b: float | None = None
    min_distance: float = 0.1
    hypocentral: bool = False
    features: tuple[str, ...] = ("log10_T", "log10_R", "dm", "n_siblings", "n_offspring")
    count_scale: str = "none"
    siblings_include_self: bool = False
    time_unit: str = "days"
    earth_radius_km: float = EARTH_RADIUS_KM

    def __post_init__(self) -> None:
        if self.distance not in ("great_circle", "euclidean_degrees"):
            raise ValueError(f"unknown distance kind {self.distance!r}")
        if not self.df > 0:
            raise ValueError(f"df must be > 0, got {self.df}")
        if not 0.0 <= self.q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {self.q}")
        if self.b is not None and not self.b > 0:
            raise ValueError(f"b must be > 0, got {self.b}")
        if not self.min_distance >= 0:
            raise ValueError(f"min_distance must be >= 0, got {self.min_distance}")
        if self.count_scale not in ("none", "rate"):
            raise ValueError(f"unknown count_scale {self.count_scale!r}")
        unknown = set(self.features) - set(_FEATURE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown feature names {sorted(unknown)}")
        if self.time_unit != "days":
            raise ValueError("time_unit must be 'days'")
        object.__setattr__(self, "features", tuple(self.features))

    @property
    def feature_names(self) -> list[str]:
        """Model input names, in order."""
        return list(self.features)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (stored in model manifests)."""
        d = asdict(self)
        d["features"] = list(self.features)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a newer spec).

        Fields left out take the values of the built-in specification of the same name, so a
        partial ``{"name": "aden2021", ...}`` never silently gets ``v1`` choices; a partial
        dict with an unknown name is an error.
        """
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise ValueError(f"feature specification has unknown fields {sorted(extra)}")
        kw = dict(d)
        missing = known - set(kw)
        if missing:
            base = SPECS.get(str(kw.get("name", "v1")))
            if base is None:
                raise ValueError(
                    f"feature specification {kw.get('name')!r} lacks fields {sorted(missing)}"
                )
            kw = {**base.to_dict(), **kw}
        kw["features"] = tuple(kw["features"])
        return cls(**kw)


# Source column of each model input name (log10 transforms applied in feature_matrix).
_FEATURE_COLUMNS = {
    "T": "T",
    "R": "R",
    "log10_T": "T",
    "log10_R": "R",
    "log10_eta": "eta",
    "dm": "dm",
    "n_siblings": "n_siblings",
    "n_offspring": "n_offspring",
}

SPECS: dict[str, FeatureSpec] = {
    "v1": FeatureSpec(),
    "aden2021": FeatureSpec(
        name="aden2021",
        distance="euclidean_degrees",
        min_distance=0.0,
        features=("T", "R", "dm", "n_siblings", "n_offspring"),
        count_scale="rate",
        siblings_include_self=True,
    ),
}


def get_spec(spec: str | FeatureSpec | Mapping[str, Any] | None = None) -> FeatureSpec:
    """Resolve a specification given by name, dict (from a manifest) or object; None is v1."""
    if spec is None:
        return SPECS["v1"]
    if isinstance(spec, FeatureSpec):
        return spec
    if isinstance(spec, str):
        try:
            return SPECS[spec]
        except KeyError:
            raise ValueError(
                f"unknown feature specification {spec!r}; known: {list(SPECS)}"
            ) from None
    return FeatureSpec.from_dict(spec)


# --------------------------------------------------------------------------------------------
# geometry


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


# --------------------------------------------------------------------------------------------
# the nearest-neighbour search


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


class _Best:
    """Running best parent per child, with the tie rule (smaller eta, then smaller index)."""

    def __init__(self, n: int) -> None:
        self.eta = np.full(n, np.inf)
        self.parent = np.full(n, -1, dtype=np.int64)

    def offer(self, j: np.ndarray, i: np.ndarray, eta: np.ndarray) -> None:
        """Take candidate pairs (child j, parent i, eta); keep each child's best."""
        if j.size == 0:
            return
        # Per child: the smallest eta, then among exact ties the smallest parent index.
        o = np.argsort(j, kind="stable")
        j, i, eta = j[o], i[o], eta[o]
        start = np.flatnonzero(np.r_[True, j[1:] != j[:-1]])
        count = np.diff(np.r_[start, j.size])
        low = np.minimum.reduceat(eta, start)
        tied = eta == np.repeat(low, count)
        # int64 sentinel whatever the index type (a Python int would take i's type).
        pick = np.minimum.reduceat(np.where(tied, i, np.int64(np.iinfo(np.int64).max)), start)
        j, eta = j[start], low
        cur = self.eta[j]
        better = (eta < cur) | ((eta == cur) & (pick < self.parent[j]))
        self.eta[j[better]] = eta[better]
        self.parent[j[better]] = pick[better]


def _window(
    t: np.ndarray,
    logw: np.ndarray,
    geom: _Geometry,
    best: _Best,
    width: int,
    *,
    df: float,
    min_distance: float,
) -> None:
    """Brute force over the ``width`` events just before each event (by sorted position)."""
    n = t.size
    cols = [np.ascontiguousarray(geom.points[:, c]) for c in range(geom.points.shape[1])]
    w = np.exp(logw)
    for lag in range(min(width, n - 1), 0, -1):  # oldest first: equal eta keeps the earlier
        # Slices, not index arrays: parent i = j - lag for every child j >= lag.
        r = geom.arc(_norm([x[lag:] - x[:-lag] for x in cols]))
        dt = t[lag:] - t[:-lag]
        # eta = dt * max(r, r_min)**df * w, in place, with pair_eta's order of operations.
        eta = np.power(np.maximum(r, min_distance, out=r), df, out=r)
        eta *= dt
        eta *= w[:-lag]
        eta[dt <= 0] = np.inf  # equal origin times are not parents
        cur = best.eta[lag:]
        idx = np.flatnonzero(eta < cur)
        best.eta[idx + lag] = eta[idx]
        best.parent[idx + lag] = idx


def _threads(workers: int, queries: int) -> int:
    """Threads for a batch of tree queries: one for small batches, where starting threads
    costs more than it saves (much more when another process holds a core)."""
    return workers if queries >= _THREAD_MIN else 1


def _pairs_within(
    tree: cKDTree, pts: np.ndarray, radius: np.ndarray, workers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every (query, tree point) pair within the query's radius, as two index arrays.

    A query asks for its _NEAR nearest points within its radius (arrays, where a ball query
    builds a Python list per point); only a query whose list comes back full may have more,
    and only those get a ball query. Queries go in classes of radii within a factor
    2**_RADIUS_CLASS, each bounded by its own largest radius (one bound for all lets
    small-radius queries search much too far), in their given order within a class (time
    order keeps consecutive queries close in space), in chunks that bound the memory.
    """
    m = radius.size
    k = min(_NEAR, tree.n)
    cls = np.floor(np.log2(radius / radius.min()) / _RADIUS_CLASS).astype(np.int64)
    o = np.argsort(cls, kind="stable")
    owners, idxs = [], []
    a = 0
    for b in np.unique(np.cumsum(np.bincount(cls))).tolist():
        # Fold classes too small to be worth a call into the next one (larger radii).
        if b - a < _CLASS_MIN and b < m:
            continue
        for lo in range(a, b, _CHUNK):
            sel = o[lo : min(lo + _CHUNK, b)]
            r = radius[sel]
            d, idx = tree.query(
                pts[sel],
                k=k,
                distance_upper_bound=float(r.max()),
                workers=_threads(workers, sel.size),
            )
            inside = d.reshape(sel.size, k) <= r[:, None]
            full = inside[:, -1].copy() if k == _NEAR else np.zeros(sel.size, dtype=bool)
            inside[full] = False
            row, col = np.nonzero(inside)
            owners.append(sel[row])
            idxs.append(idx.reshape(sel.size, k)[row, col])
            if full.any():
                hits = tree.query_ball_point(
                    pts[sel[full]],
                    r[full],
                    return_sorted=False,
                    workers=_threads(workers, int(full.sum())),
                )
                row, pidx = _flatten(hits)
                owners.append(sel[full][row])
                idxs.append(pidx)
        a = b
    return np.concatenate(owners), np.concatenate(idxs)


def _flatten(lists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object array of index lists -> (owner position, index) flat arrays."""
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=lists.size)
    flat = np.fromiter(
        itertools.chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum())
    )
    return np.repeat(np.arange(lists.size), lengths), flat


def nearest_parents(
    t: np.ndarray,
    m: np.ndarray,
    geom: _Geometry,
    *,
    b: float,
    df: float,
    min_distance: float,
    workers: int = -1,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest parent of every event of a time-sorted catalog.

    Parameters
    ----------
    t : array of shape (n,)
        Times in days, sorted ascending.
    m : array of shape (n,)
        Magnitudes.
    geom : _Geometry
        Event positions.
    b, df, min_distance : float
        Metric parameters (see :class:`FeatureSpec`).
    workers : int
        Threads for the tree queries (-1: all cores), as in scipy; batches too small to
        gain from threads run on one.

    Returns
    -------
    parent : int64 array of shape (n,)
        Position of the parent in the sorted arrays, -1 if no strictly earlier event.
    eta : float64 array of shape (n,)
        Its eta (inf where parent is -1).

    Notes
    -----
    Divide and conquer in time (events in sorted order): at level s the events are cut into
    blocks of s and groups of 4 blocks; every child is matched against the parents in the
    earlier blocks of its group, so each pair with positions at least ``_WINDOW`` apart is
    looked at on exactly one level, and closer pairs are brute-forced first. On each level
    the parents of each magnitude bin go in one cKDTree (groups shifted apart along one axis),
    and a child only looks for parents within the radius that could still match its best eta
    so far: with tau the lag from the child to the latest parent of its group and bin that
    the window has not covered (and that is strictly earlier) and m_hi the bin's largest
    magnitude, every parent still to check has eta_ij >= tau * max(r, r_min)**df *
    10**(-b m_hi), so only r <= (eta_best * 10**(b m_hi) / tau)**(1/df) can match or beat
    it. Fine levels come first, so the bound is already tight when the large, old blocks are
    searched. The tree returns the few nearest parents within each child's radius; a child
    with more in range gets a ball query.
    """
    n = t.size
    best = _Best(n)
    if n < 2:
        return best.parent, best.eta
    logw = -b * np.log(10.0) * m
    kw = {"df": df, "min_distance": min_distance}
    # Brute force over the last _WINDOW events covers every pair closer than that in sorted
    # position, hence every level with blocks of s < _WINDOW, and gives a tight first bound.
    _window(t, logw, geom, best, _WINDOW, **kw)

    # 32-bit positions (and keys, up to 4 n) halve the memory of the index arrays below; keys
    # are widened before they are combined with positions.
    pos = np.arange(n, dtype=np.int32 if n < 2**28 else np.int64)
    # The latest position a parent still to be searched can have: the window covered the last
    # _WINDOW positions, and events at t_j itself are not parents.
    limit = np.minimum(pos - _WINDOW - 1, np.searchsorted(t, t, side="left") - 1)
    limit = limit.astype(pos.dtype)
    mbin = np.floor((m - m.min()) / _MAG_BIN).astype(np.int16)
    bins = np.unique(mbin)[::-1]  # large magnitudes first: they tighten the bound
    rmin_pow = min_distance**df
    extent = float(np.ptp(geom.points, axis=0).max()) if n else 0.0
    sep = 4.0 * (extent + 1.0) + 2.0 * (2.0 * EARTH_RADIUS_KM)  # block separation > any radius
    k = _BRANCH
    s = _WINDOW
    while s < n:
        c = (pos // s) % k  # block within its group
        key = pos // (s * k) * k  # first block of its group
        last_blk = (n - 1) // s
        children = pos[c > 0]
        ckey = key[children] + c[children]
        climit = limit[children]
        for bb in bins:
            cand = pos[(c < k - 1) & (mbin == bb)]
            if cand.size == 0 or children.size == 0:
                continue
            # Parents of block c are the earlier blocks of its group: a copy of each candidate
            # for every later block that exists, keyed (group, block), sorted by key then time
            # (a stable sort keeps the time order of the repeated candidates).
            reps = np.minimum(k - 1, last_blk - key[cand]) - c[cand]
            par = np.repeat(cand, reps)
            if par.size == 0:
                continue
            pkey = key[par] + (
                np.arange(par.size) - np.repeat(np.cumsum(reps) - reps, reps) + c[par] + 1
            )
            del cand, reps
            o = np.argsort(pkey, kind="stable")
            par, pkey = par[o], pkey[o]
            del o
            _search_level(
                t, logw, geom, best, par, pkey, children, ckey, climit, sep, rmin_pow, workers,
                **kw,
            )
            del par, pkey
        del c, key, children, ckey, climit
        s *= k
    return best.parent, best.eta


def _search_level(
    t: np.ndarray,
    logw: np.ndarray,
    geom: _Geometry,
    best: _Best,
    par: np.ndarray,
    pkey: np.ndarray,
    children: np.ndarray,
    ckey: np.ndarray,
    climit: np.ndarray,
    sep: float,
    rmin_pow: float,
    workers: int,
    *,
    df: float,
    min_distance: float,
) -> None:
    """Match children against the parents with the same key (sorted by key, then time).

    Children go _CHILD_CHUNK at a time (their arrays are the bulk of the memory); the tree of
    the parents is built once, when a chunk first needs it.
    """
    groups = _Groups(geom, logw, par, pkey)
    kw = {"df": df, "min_distance": min_distance}
    tree = None
    for a in range(0, children.size, _CHILD_CHUNK):
        part = slice(a, a + _CHILD_CHUNK)
        found = groups.bounded(t, best, children[part], ckey[part], climit[part], sep, rmin_pow,
                               df)
        if found is None:
            continue
        ch, chkey, k, radius = found
        size = (groups.end - groups.start)[k]
        if tree is None and size.sum() <= _DIRECT * ch.size:
            # A handful of parents per child (the rare large events): all pairs beat a tree.
            j = np.repeat(ch, size)
            first = np.repeat(groups.start[k] - np.cumsum(size) + size, size)
            _offer(t, logw, geom, best, par[first + np.arange(j.size)], j, **kw)
            continue
        if tree is None:
            # One tree for all groups: shifting each group along the first axis by key * sep
            # keeps groups farther apart than any search radius, without a fourth coordinate
            # (3-D trees query faster). The shift rounds coordinates, so the radius grows by a
            # margin that covers it; the tree only selects candidates, whose eta is computed
            # from the unshifted points.
            ppts = geom.points[par]
            ppts[:, 0] += pkey * sep
            pscale = float(np.abs(ppts).max())
            tree = cKDTree(ppts, leafsize=32, balanced_tree=False)
            del ppts
        cpts = geom.points[ch]
        cpts[:, 0] += chkey * sep
        scale = max(pscale, float(np.abs(cpts).max()))
        radius = radius + 8.0 * np.finfo(float).eps * scale
        owner, pidx = _pairs_within(tree, cpts, radius, workers)
        del cpts
        _offer(t, logw, geom, best, par[pidx], ch[owner], **kw)


class _Groups:
    """The parents of one level and magnitude bin, in groups of equal key (sorted by key, then
    time): where each group starts and ends, its weight's lower bound and bounding box."""

    def __init__(self, geom: _Geometry, logw: np.ndarray, par: np.ndarray, pkey: np.ndarray):
        self.par, self.pkey = par, pkey
        self.start = np.flatnonzero(np.r_[True, pkey[1:] != pkey[:-1]])
        self.end = np.r_[self.start[1:], par.size]
        self.key = pkey[self.start]
        # 10**(-b m) is smallest for the group's largest magnitude: the weight's lower bound.
        self.w_lo = np.exp(np.minimum.reduceat(logw[par], self.start))
        # Bounding box of each group's parents: a child farther from it than its radius is
        # done. Cheap, and decisive for the few, scattered large events of the upper bins.
        self.box = []
        for c in range(geom.points.shape[1]):
            pc = geom.points[par, c]
            self.box.append(
                (np.minimum.reduceat(pc, self.start), np.maximum.reduceat(pc, self.start))
            )
        self.geom = geom
        # (key, position) as one sortable number, to find a child's latest parent.
        self.n = logw.size
        self.sortable = pkey.astype(np.int64) * self.n + par

    def bounded(
        self,
        t: np.ndarray,
        best: _Best,
        ch: np.ndarray,
        chkey: np.ndarray,
        climit: np.ndarray,
        sep: float,
        rmin_pow: float,
        df: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The children that may still find a better parent in their group: (child, key,
        group index, search radius), or None."""
        # Per child, its group's latest parent at or before the child's limit (parents are
        # sorted by position within a group): the lag to it bounds every lag still to be
        # checked, and a child without one has nothing left to find here.
        last = np.searchsorted(
            self.sortable, chkey.astype(np.int64) * self.n + climit, side="right"
        ) - 1
        has = last >= 0
        has[has] = self.pkey[last[has]] == chkey[has]
        ch, chkey, last = ch[has], chkey[has], last[has]
        k = np.searchsorted(self.key, chkey)
        lag = t[ch] - t[self.par[last]]
        eta = best.eta[ch]
        ok = np.isfinite(eta)
        q = np.zeros(ch.size)
        q[ok] = eta[ok] / (lag[ok] * self.w_lo[k[ok]])
        ok &= q >= rmin_pow / _SLACK
        radius = np.zeros(ch.size)
        radius[ok] = self.geom.chord_for(np.power(q[ok], 1.0 / df) * _SLACK) * _SLACK + 1e-12
        # Children without a finite bound yet (rare after the window) search the whole group.
        unbounded = ~np.isfinite(eta)
        radius[unbounded] = sep / 4.0
        ok |= unbounded
        if not ok.any():
            return None
        ch, radius, k, chkey = ch[ok], radius[ok], k[ok], chkey[ok]
        gap = np.zeros(ch.size)
        for c, (lo, hi) in enumerate(self.box):
            x = self.geom.points[ch, c]
            gap += np.maximum(np.maximum(lo[k] - x, x - hi[k]), 0.0) ** 2
        near = gap <= radius * radius
        if not near.any():
            return None
        return ch[near], chkey[near], k[near], radius[near]


def _offer(
    t: np.ndarray,
    logw: np.ndarray,
    geom: _Geometry,
    best: _Best,
    i: np.ndarray,
    j: np.ndarray,
    *,
    df: float,
    min_distance: float,
) -> None:
    """Offer candidate pairs (parent i, child j) that are strictly earlier to ``best``."""
    valid = t[i] < t[j]
    i, j = i[valid], j[valid]
    best.offer(j, i, pair_eta(t, logw, geom, i, j, df=df, min_distance=min_distance))


# --------------------------------------------------------------------------------------------
# the table-level API


def compute_features(
    catalog: pd.DataFrame,
    *,
    b: float | None = None,
    df: float = 1.6,
    q: float = 0.5,
    hypocentral: bool = False,
    spec: str | FeatureSpec | Mapping[str, Any] | None = None,
    workers: int = -1,
) -> pd.DataFrame:
    """Nearest-neighbour features of every event of a catalog.

    Parameters
    ----------
    catalog : DataFrame
        Any row order. Geographic: ``time`` (datetime64, UTC), ``latitude``, ``longitude``
        (degrees), ``magnitude``, optional ``depth`` (km). Projected: ``time`` (float, days),
        ``x``, ``y`` (km), ``magnitude``, optional ``depth`` (km).
    b : float, optional
        b-value; when None, the spec's b, or else the Aki-Utsu estimate from the catalog's
        magnitudes (Mc = the smallest magnitude: cut the catalog at Mc first).
    df, q, hypocentral
        Metric parameters for the default ``v1`` specification. Give either these or ``spec``.
    spec : str, FeatureSpec or dict, optional
        Feature specification (``"v1"``, ``"aden2021"``, or a model's stored spec).
    workers : int
        Threads for the neighbour search (-1: all cores).

    Returns
    -------
    DataFrame aligned with ``catalog`` (same index and order) with columns ``parent`` (int64
    positional index of the parent row in ``catalog``, -1 for none), ``eta``, ``T``, ``R``
    (days, km**df or degrees**df), ``dm`` (m_parent - m_child), ``n_siblings``,
    ``n_offspring``, ``log10_eta``. ``attrs["feature_spec"]`` holds the resolved spec (with
    the b used) as a dict.
    """
    if spec is None:
        sp = replace(SPECS["v1"], df=df, q=q, hypocentral=hypocentral)
    else:
        if (df, q, hypocentral) != (1.6, 0.5, False):
            raise ValueError("give either spec or df/q/hypocentral, not both")
        sp = get_spec(spec)
    if not isinstance(catalog, pd.DataFrame):
        raise TypeError("catalog must be a pandas DataFrame (see read_catalog)")
    n = len(catalog)
    if "magnitude" not in catalog or "time" not in catalog:
        raise ValueError("catalog needs the columns 'time' and 'magnitude'")
    projected = "x" in catalog and "y" in catalog and "latitude" not in catalog
    if not projected and not ("latitude" in catalog and "longitude" in catalog):
        raise ValueError("catalog needs latitude/longitude (degrees) or x/y (km) columns")

    m = catalog["magnitude"].to_numpy(dtype=float)
    t = _days(catalog["time"])
    depth = catalog["depth"].to_numpy(dtype=float) if "depth" in catalog else None
    coords: dict[str, np.ndarray | None] = {"lat": None, "lon": None, "x": None, "y": None}
    if projected:
        coords["x"] = catalog["x"].to_numpy(dtype=float)
        coords["y"] = catalog["y"].to_numpy(dtype=float)
    else:
        coords["lat"] = catalog["latitude"].to_numpy(dtype=float)
        coords["lon"] = catalog["longitude"].to_numpy(dtype=float)
    for name, arr in [("magnitude", m), ("time", t), ("depth", depth), *coords.items()]:
        if arr is not None and not np.all(np.isfinite(arr)):
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(f"column {name!r} has a missing or non-finite value at row {bad}")
    if sp.hypocentral and depth is None:
        raise ValueError("hypocentral distance needs a 'depth' column (km)")

    if b is None:
        b = sp.b
    if b is None:
        b = estimate_b(m).b if n >= 2 else 1.0
    sp = replace(sp, b=float(b))

    # A time-sorted catalog (the usual case) is searched as it is: no sorted copies.
    order = None if np.all(t[1:] >= t[:-1]) else np.argsort(t, kind="stable")

    def by_time(v: np.ndarray | None) -> np.ndarray | None:
        return v if v is None or order is None else v[order]

    geom = _geometry(sp, depth=by_time(depth), **{k: by_time(v) for k, v in coords.items()})
    ts, ms = by_time(t), by_time(m)
    par_s, eta_s = nearest_parents(
        ts, ms, geom, b=sp.b, df=sp.df, min_distance=sp.min_distance, workers=workers
    )
    res = _assemble(ts, ms, geom, par_s, eta_s, sp)
    del geom, par_s, eta_s
    if order is not None:
        # Back to input order; parent as an input position.
        inv = np.empty(n, dtype=np.int64)
        inv[order] = np.arange(n)
        res = {k: v[inv] for k, v in res.items()}
        p = res["parent"]
        res["parent"] = np.where(p >= 0, order[np.maximum(p, 0)], -1)
    df_out = pd.DataFrame(res, index=catalog.index, copy=False)
    df_out.attrs["feature_spec"] = sp.to_dict()
    return df_out


def _days(time: pd.Series) -> np.ndarray:
    """Times as float days since the first event (datetime) or as given (float days)."""
    if pd.api.types.is_datetime64_any_dtype(time):
        ns = time.dt.tz_convert("UTC").dt.tz_localize(None) if time.dt.tz is not None else time
        ns = ns.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        if ns.size == 0:
            return np.zeros(0)
        return (ns - ns.min()) / _NS_PER_DAY
    return time.to_numpy(dtype=float)


def _assemble(
    t: np.ndarray,
    m: np.ndarray,
    geom: _Geometry,
    parent: np.ndarray,
    eta: np.ndarray,
    spec: FeatureSpec,
) -> dict[str, np.ndarray]:
    """Feature columns (sorted order) from the parent links."""
    n = t.size
    has = parent >= 0
    j = np.flatnonzero(has)
    i = parent[has]
    b, q = spec.b, spec.q
    r = np.maximum(geom.distance(i, j), spec.min_distance)
    T = np.full(n, np.nan)
    R = np.full(n, np.nan)
    T[j] = (t[j] - t[i]) * 10.0 ** (-q * b * m[i])
    R[j] = np.power(r, spec.df) * 10.0 ** (-(1.0 - q) * b * m[i])
    eta_out = np.where(has, eta, np.nan)
    dm = np.full(n, np.nan)
    dm[j] = m[i] - m[j]
    n_off = np.bincount(i, minlength=n).astype(float)
    sib = np.full(n, np.nan)
    sib[j] = n_off[i] - (0.0 if spec.siblings_include_self else 1.0)
    if spec.count_scale == "rate":
        t_max = float(t.max() - t.min()) if n else 0.0
        scale = (n - 1) / t_max if t_max > 0 else 1.0
        n_off = n_off / scale
        sib = sib / scale
    with np.errstate(divide="ignore"):
        log_eta = np.log10(eta_out)
    return {
        "parent": parent.astype(np.int64),
        "eta": eta_out,
        "T": T,
        "R": R,
        "dm": dm,
        "n_siblings": sib,
        "n_offspring": n_off,
        "log10_eta": log_eta,
    }


def feature_matrix(
    features: pd.DataFrame, spec: str | FeatureSpec | Mapping[str, Any]
) -> np.ndarray:
    """Model input matrix, float32 of shape (n, n_features), in the spec's feature order.

    Rows without a parent hold NaN; callers decide what to do with them.
    """
    sp = get_spec(spec)
    # Filled column by column (float64 values rounded to float32 one column at a time).
    X = np.empty((len(features), len(sp.features)), dtype=np.float32)
    for k, name in enumerate(sp.features):
        v = features[_FEATURE_COLUMNS[name]].to_numpy(dtype=float)
        if name.startswith("log10_") and name != "log10_eta":
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log10(v)
        X[:, k] = v
    return X
