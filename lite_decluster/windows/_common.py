"""The result type and the input checks shared by the window methods."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["WindowResult", "as_inputs", "roots"]


@dataclass(frozen=True)
class WindowResult:
    """Clusters found by a window method, for n events in the (time-sorted) input order.

    Attributes
    ----------
    cluster : (n,) int64
        Index of the cluster's mainshock (its largest magnitude, earliest on ties) for clustered
        events; the event's own index for singles (so ``cluster[i] == i`` for every mainshock).
    mainshock : (n,) bool
        Kept in a declustered catalog: mainshocks of clusters and singles.
    parent : (n,) int64
        The event whose window (Gardner-Knopoff) or link (Reasenberg) captured the event;
        -1 for mainshocks and singles.
    """

    cluster: np.ndarray
    mainshock: np.ndarray
    parent: np.ndarray

    @property
    def n_clusters(self) -> int:
        """Number of clusters with more than one event."""
        sizes = np.bincount(self.cluster, minlength=self.cluster.size)
        return int(np.count_nonzero(sizes > 1))


def as_inputs(**arrays: object) -> dict[str, np.ndarray]:
    """1-D float64 copies of the named inputs, checked: same length, finite, ``t_days`` sorted.

    Raises
    ------
    ValueError
        With the name of the offending array and the first bad position.
    """
    out: dict[str, np.ndarray] = {}
    n = None
    for name, value in arrays.items():
        a = np.asarray(value, dtype=float)
        if a.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
        if n is None:
            n = a.size
        elif a.size != n:
            raise ValueError(f"{name} has {a.size} values, expected {n} (as the first input)")
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ValueError(f"{name} has a missing or non-finite value at position {bad[0]}")
        out[name] = a
    t = out["t_days"]
    down = np.flatnonzero(t[1:] < t[:-1])
    if down.size:
        k = int(down[0])
        raise ValueError(
            f"t_days must be sorted ascending (ties allowed): t_days[{k + 1}] = {t[k + 1]!r} "
            f"< t_days[{k}] = {t[k]!r}; sort the events by time first"
        )
    if "lat" in out and np.any(np.abs(out["lat"]) > 90.0):
        k = int(np.flatnonzero(np.abs(out["lat"]) > 90.0)[0])
        raise ValueError(f"lat must be in [-90, 90] degrees, got {out['lat'][k]} at position {k}")
    return out


def roots(parent: np.ndarray) -> np.ndarray:
    """Root of every event in a forest given by parent links (-1 at roots), by pointer jumping."""
    up = np.where(parent >= 0, parent, np.arange(parent.size))
    while True:
        nxt = up[up]
        if np.array_equal(nxt, up):
            return up
        up = nxt
