"""Clusters from parent links and labels: roots, sizes and each event's role in its cluster.

Convention (every method that labels events): a background event roots a cluster; an
aftershock joins the cluster of its parent (the nearest neighbour for the forest and the NND
threshold, the most probable triggering event for ETAS). An aftershock whose parent is not a
labelled event (none, or outside the declustered set) roots a cluster of its own. Within a
cluster the **mainshock** is the largest magnitude (the earliest on ties); events before it are
**foreshocks**, events after it **aftershocks**; a cluster of one event is a **single**.

So ``label`` (triggered or not) and ``cluster_role`` answer different questions: Landers 1992
is labelled ``aftershock`` by the forest (its nearest neighbour is an M3.6 six hours earlier)
but it is the ``mainshock`` of its cluster, and a declustered catalog that keeps one mainshock
per cluster keeps it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ROLES", "cluster_roles", "cluster_roots"]

#: ``cluster_role`` codes: index into this tuple (0: not in a cluster).
ROLES = ("", "single", "mainshock", "foreshock", "aftershock")


def cluster_roots(member: np.ndarray, joins: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """The root of every event's cluster.

    Parameters
    ----------
    member : (n,) bool
        Events that belong to a cluster (labelled events).
    joins : (n,) bool
        Events that join their parent's cluster (aftershocks); the others root one.
    parent : (n,) int
        Index of each event's parent, -1 for none.

    Returns
    -------
    (n,) int64
        Index of the root of each member's cluster (the member itself for a root); -1 for
        events that are not members. Parent links form a forest; a cycle raises ValueError.
    """
    member = np.asarray(member, dtype=bool)
    joins = np.asarray(joins, dtype=bool)
    parent = np.asarray(parent, dtype=np.int64)
    n = member.size
    if not (joins.size == parent.size == n):
        raise ValueError("member, joins and parent must have the same length")
    idx = np.arange(n, dtype=np.int64)
    ok_parent = (parent >= 0) & (parent < n)
    link = np.where(member & joins & ok_parent, parent, idx)
    link[ok_parent] = np.where(member[link[ok_parent]], link[ok_parent], idx[ok_parent])
    first = link
    # Pointer jumping: each pass halves the remaining path length (log2(depth) passes).
    for _ in range(64):
        nxt = link[link]
        if np.array_equal(nxt, link):
            break
        link = nxt
    # A root links to itself; on a cycle, jumping settles on events that link elsewhere.
    if not np.array_equal(first[link], link):
        raise ValueError("parent links contain a cycle")
    return np.where(member, link, -1)


def cluster_roles(
    root: np.ndarray, magnitude: np.ndarray, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Size, mainshock and role of every event's cluster.

    Parameters
    ----------
    root : (n,) int
        Cluster key of each event (e.g. from :func:`cluster_roots`), -1 for no cluster.
    magnitude : (n,) float
        Magnitudes.
    order : (n,) int, optional
        Time rank of each event (ties broken by position); default: events are in time order.

    Returns
    -------
    size : (n,) int64, events in the cluster (0 for no cluster)
    mainshock : (n,) int64, index of the cluster's mainshock (largest magnitude, earliest on
        ties; -1 for no cluster)
    role : (n,) int8, codes into :data:`ROLES`
    """
    root = np.asarray(root, dtype=np.int64)
    mag = np.asarray(magnitude, dtype=float)
    n = root.size
    rank = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    mainshock = np.full(n, -1, dtype=np.int64)
    role = np.zeros(n, dtype=np.int8)
    inside = np.flatnonzero(root >= 0)
    if inside.size == 0:
        return size, mainshock, role
    keys = root[inside]
    _, group, counts = np.unique(keys, return_inverse=True, return_counts=True)
    size[inside] = counts[group]
    # Sort by cluster, then magnitude descending, then time: the first of each group wins.
    m = np.where(np.isfinite(mag[inside]), mag[inside], -np.inf)
    by = np.lexsort((rank[inside], -m, group))
    first = np.ones(by.size, dtype=bool)
    first[1:] = group[by][1:] != group[by][:-1]
    best = np.empty(counts.size, dtype=np.int64)
    best[group[by][first]] = inside[by][first]
    mainshock[inside] = best[group]
    main_rank = rank[mainshock[inside]]
    r = np.where(rank[inside] < main_rank, 3, 4).astype(np.int8)
    r[inside == mainshock[inside]] = 2
    r[size[inside] == 1] = 1
    role[inside] = r
    return size, mainshock, role
