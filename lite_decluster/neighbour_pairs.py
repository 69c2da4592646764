"""Candidate pairs for the neighbour search: tree queries within radii, and the groups of
children that share a tree (helpers of :mod:`lite_decluster.neighbours`)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree

from lite_decluster.geometry import _Geometry, pair_eta

# Tuning of the tree queries (exactness does not depend on them): see neighbours.py.
_SLACK = 1.0 + 1e-9
_THREAD_MIN = 16_384
_NEAR = 4
_RADIUS_CLASS = 1.0
_CLASS_MIN = 256
_CHUNK = 65_536


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
