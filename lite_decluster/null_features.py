"""Features measured against a catalog's own no-clustering null (feature specification ``v2``).

Where the background mode of a catalog sits in the (log10 T, log10 R) plane depends on its
event density per unit time and area, so absolute features put a forest's boundary in the
wrong place on catalogs denser or sparser than its training catalogs. The null is the same
catalog with its times randomly permuted among the events (locations and magnitudes kept,
Zaliapin & Ben-Zion 2020): the same density, geometry and magnitudes without temporal
clustering. The times are permuted among events of the same 0.1-unit magnitude bin, so the
largest events, whose low eta makes them the nearest parent of many events, keep their times:
with a free permutation the null's medians of a 100,000-event Poisson catalog moved by up to
0.4 in log10 T and log10 R with the seed (where the largest event landed); within bins they
agree with the catalog's own to 0.007 (six seeds). It is searched exactly like the catalog, and

* ``rel_log10_T``, ``rel_log10_R``: the event's log10 T and log10 R minus their medians in the
  null (a pure shift per catalog, so a denser catalog's features line up with a sparser one's);
* ``ctx_clustered``: share of the catalog's events whose log10 eta is below the null's 5 %
  quantile (about 0.05 without clustering, far more in a clustered catalog);
* ``ctx_sparse``: share above the null's median (about 0.5 without clustering).

The two context columns are the same for every event of a catalog: they tell a forest how
clustered the catalog is as a whole, which the event's own features cannot.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lite_decluster.feature_spec import FeatureSpec

__all__ = ["NullSummary", "null_queries", "null_summary", "relative_columns",
           "stratified_permutation"]

_MAG_BIN = 0.1


def stratified_permutation(m: np.ndarray, seed: int) -> np.ndarray:
    """A random permutation of a time-sorted catalog within magnitude bins.

    Returns ``perm`` of shape (n,): time slot ``k`` receives event ``perm[k]``, an event of
    the same ``_MAG_BIN``-wide magnitude bin as event ``k``, uniformly at random.
    """
    n = m.size
    rng = np.random.default_rng(seed)
    key = np.floor(np.asarray(m, dtype=float) / _MAG_BIN + 1e-6)
    shuffled = np.lexsort((rng.random(n), key))  # by bin, random inside a bin
    slots = np.lexsort((np.arange(n), key))  # by bin, time order inside a bin
    perm = np.empty(n, dtype=np.int64)
    perm[slots] = shuffled
    return perm


def null_queries(n: int, spec: FeatureSpec) -> np.ndarray | None:
    """Which events of the null get their nearest parent searched: all (None) up to
    ``spec.null_sample`` events, else that many drawn at random without replacement (seeded
    by ``spec.null_seed``). The summary only needs medians and a quantile, and 25,000 events
    give them to about 0.01 standard deviations, while the search's cost grows with the
    number of events queried."""
    k = int(spec.null_sample)
    if k <= 0 or n <= k:
        return None
    rng = np.random.default_rng([spec.null_seed, 1])
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    return mask


class NullSummary(dict):
    """Medians and quantiles of the null's log10 T, log10 R and log10 eta (JSON-ready)."""


def null_summary(
    t: np.ndarray,
    m: np.ndarray,
    permuted_geometry: Callable[[np.ndarray], object],
    spec: FeatureSpec,
    search: Callable[..., tuple[np.ndarray, np.ndarray]],
    assemble: Callable[..., dict[str, np.ndarray]],
) -> NullSummary:
    """Search the time-permuted null of a time-sorted catalog and summarise it.

    Parameters
    ----------
    t, m : arrays of shape (n,)
        Times (days, sorted ascending) and magnitudes.
    permuted_geometry : callable(perm) -> geometry
        The catalog's positions reordered by ``perm`` (event ``perm[k]`` at time ``t[k]``).
    spec : FeatureSpec
        With ``null="time_permutation"`` and the b-value fixed.
    search, assemble : callables
        The exact nearest-parent search and the feature assembly used for the catalog
        itself, so the null is measured exactly the same way.

    Returns
    -------
    NullSummary with ``log10_T_median``, ``log10_R_median``, ``log10_eta_q05``,
    ``log10_eta_median`` (NaN when fewer than two events) and ``seed``.
    """
    n = t.size
    out = NullSummary(seed=int(spec.null_seed), log10_T_median=np.nan, log10_R_median=np.nan,
                      log10_eta_q05=np.nan, log10_eta_median=np.nan)  # fmt: skip
    if n < 2:
        return out
    perm = stratified_permutation(m, spec.null_seed)
    geom = permuted_geometry(perm)
    mp = m[perm]
    queries = null_queries(n, spec)
    parent, eta = search(t, mp, geom, queries=queries)
    cols = assemble(t, mp, geom, parent, eta, spec)
    has = parent >= 0
    if queries is not None:
        has &= queries
    if not has.any():
        return out
    out.update(
        log10_T_median=float(np.median(np.log10(cols["T"][has]))),
        log10_R_median=float(np.median(np.log10(cols["R"][has]))),
        log10_eta_q05=float(np.quantile(cols["log10_eta"][has], 0.05)),
        log10_eta_median=float(np.median(cols["log10_eta"][has])),
    )
    return out


def relative_columns(
    T: np.ndarray, R: np.ndarray, log10_eta: np.ndarray, null: NullSummary
) -> dict[str, np.ndarray]:
    """The v2 columns of a catalog from its own T, R, log10 eta (shape (n,), NaN where no
    parent) and its null summary. Context shares are over the events with a parent."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_t = np.log10(T) - null["log10_T_median"]
        rel_r = np.log10(R) - null["log10_R_median"]
    has = np.isfinite(log10_eta)
    k = max(int(has.sum()), 1)
    clustered = float(np.sum(log10_eta[has] < null["log10_eta_q05"])) / k
    sparse = float(np.sum(log10_eta[has] > null["log10_eta_median"])) / k
    n = T.size
    return {
        "rel_log10_T": rel_t,
        "rel_log10_R": rel_r,
        "ctx_clustered": np.full(n, clustered),
        "ctx_sparse": np.full(n, sparse),
    }
