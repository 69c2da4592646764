"""Exact nearest earlier neighbour of every event in the Zaliapin & Ben-Zion metric.

Divide and conquer in time with one cKDTree per level and magnitude bin and an exact pruning
bound (see :func:`nearest_parents`): the same parents as brute force, in about
O(N log^2 N).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from lite_decluster.feature_spec import EARTH_RADIUS_KM
from lite_decluster.geometry import _Geometry, _norm
from lite_decluster.neighbour_pairs import (
    _Best,
    _Groups,
    _offer,
    _pairs_within,
)

__all__ = ["nearest_parents"]

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
_CHILD_CHUNK = 131_072


def _window(
    t: np.ndarray,
    logw: np.ndarray,
    geom: _Geometry,
    best: _Best,
    width: int,
    *,
    df: float,
    min_distance: float,
    children: np.ndarray | None = None,
) -> None:
    """Brute force over the ``width`` events just before each event (by sorted position);
    ``children`` (sorted positions, ascending) limits it to those events."""
    n = t.size
    cols = [np.ascontiguousarray(geom.points[:, c]) for c in range(geom.points.shape[1])]
    w = np.exp(logw)
    for lag in range(min(width, n - 1), 0, -1):  # oldest first: equal eta keeps the earlier
        if children is None:
            # Slices, not index arrays: parent i = j - lag for every child j >= lag.
            r = geom.arc(_norm([x[lag:] - x[:-lag] for x in cols]))
            dt, wp = t[lag:] - t[:-lag], w[:-lag]
        else:
            j = children[children >= lag]
            i = j - lag
            r = geom.arc(_norm([x[j] - x[i] for x in cols]))
            dt, wp = t[j] - t[i], w[i]
        # eta = dt * max(r, r_min)**df * w, in place, with pair_eta's order of operations.
        eta = np.power(np.maximum(r, min_distance, out=r), df, out=r)
        eta *= dt
        eta *= wp
        eta[dt <= 0] = np.inf  # equal origin times are not parents
        if children is None:
            idx = np.flatnonzero(eta < best.eta[lag:])
            best.eta[idx + lag] = eta[idx]
            best.parent[idx + lag] = idx
        else:
            better = eta < best.eta[j]
            best.eta[j[better]] = eta[better]
            best.parent[j[better]] = i[better]


def nearest_parents(
    t: np.ndarray,
    m: np.ndarray,
    geom: _Geometry,
    *,
    b: float,
    df: float,
    min_distance: float,
    workers: int = -1,
    progress: Callable[[int, int], object] | None = None,
    queries: np.ndarray | None = None,
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
    progress : callable(done, total), optional
        Called after the window and after each level of the search (steps done, total).
    queries : bool array of shape (n,), optional
        Only these events need their parent (every event stays a candidate parent); the
        others may come back with a parent that is not their nearest. None: every event.

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
    _window(t, logw, geom, best, _WINDOW, **kw,
            children=None if queries is None else np.flatnonzero(queries))
    levels = 0
    while _WINDOW * _BRANCH**levels < n:
        levels += 1
    if progress is not None:
        progress(1, levels + 1)

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
        children = pos[(c > 0) & queries] if queries is not None else pos[c > 0]
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
        if progress is not None:
            levels_done = int(round(np.log(s / _WINDOW) / np.log(k)))
            progress(1 + levels_done, levels + 1)
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
