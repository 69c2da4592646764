"""The fixed order of the training catalogs and the nested subsets of the TD fractions.

The TD fractions are prefixes of one fixed order of the ``train`` catalogs of
:mod:`export.dataset`: a nested stratified order of their true background fraction above Mc
(the class balance, known from the simulation before any training; ``stratified_order``), so
that every prefix of 10, 25, 50 and 75 catalogs holds one catalog from each of its k quantile
strata and even the 10 % subset spans the whole range of class balances. It replaced a seeded
random permutation (``PERMUTATION_SEED``, kept by ``random_order`` for the report) after the
10 % model was found to depend on which catalogs it drew: the first 10 of that permutation
held 68 % aftershocks, all 100 62 %. Each fraction adds the first f % of the diverse catalogs
of :mod:`export.diverse` (``td_subsets``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from export.dataset import CatalogData

__all__ = [
    "ORDERING",
    "PERMUTATION_SEED",
    "TD_FRACTIONS",
    "combined_order",
    "n_catalogs",
    "order_key",
    "random_order",
    "stratified_order",
    "td_subsets",
    "training_order",
]

TD_FRACTIONS = (10, 25, 50, 75, 100)
PERMUTATION_SEED = 1  # the former random order, kept for comparison in the report
ORDERING = {
    "method": "nested stratified (systematic) order, export.train.stratified_order",
    "key": "true background fraction above Mc of each training catalog",
}


def random_order(n_train: int, seed: int = PERMUTATION_SEED) -> list[int]:
    """A seeded random permutation of the training catalogs (the order used until the
    stratified one; kept for the report's comparison of catalog orders)."""
    return [int(i) for i in np.random.default_rng(seed).permutation(n_train)]


def _bit_reversal(n: int) -> list[int]:
    """0..n-1 in pruned bit-reversal (base-2 van der Corput) order: every prefix is spread
    evenly over 0..n-1."""
    if n <= 1:
        return list(range(n))
    bits = (n - 1).bit_length()
    rev = [int(format(i, f"0{bits}b")[::-1], 2) for i in range(2**bits)]
    return [r for r in rev if r < n]


def stratified_order(key: Sequence[float], sizes: Sequence[int]) -> list[int]:
    """Nested stratified (systematic) order of items by a scalar ``key``.

    Items are ranked by ``key`` (ties by index). For each prefix size k of ``sizes`` (in
    increasing order, then all items), the ranks are cut into k equal-count strata
    (stratum of rank r: ``r * k // n``); the prefix already chosen occupies some of them
    and, for every empty stratum, the unused rank nearest the stratum's centre (lower rank
    on ties) is added. So each prefix of k items holds one item per k-quantile stratum of
    ``key``: the smallest subset spans the whole range of ``key``, and every prefix has
    nearly the distribution of the whole set. The items added at one step are placed in
    bit-reversal order of their ranks, so any prefix of a step (e.g. the complement of the
    last 20 %) is spread too. Deterministic; if an earlier choice leaves two items in one
    stratum of a later size, the empty strata taken are spread evenly.
    """
    key = np.asarray(key, dtype=float)
    n = int(key.size)
    ranked = np.lexsort((np.arange(n), key))  # rank -> item
    chosen: list[int] = []  # ranks
    ranks = np.arange(n)
    for k in sorted({min(int(s), n) for s in sizes if int(s) > 0} | {n}):
        need = k - len(chosen)
        if need <= 0:
            continue
        stratum = ranks * k // n
        occupied = set(stratum[chosen].tolist())
        free = [s for s in range(k) if s not in occupied]
        if len(free) > need:
            free = [free[int((j + 0.5) * len(free) / need)] for j in range(need)]
        used = np.zeros(n, dtype=bool)
        used[chosen] = True
        new = []
        for s in free:
            members = ranks[(stratum == s) & ~used]
            if members.size == 0:
                continue
            centre = ranks[stratum == s].mean()
            r = int(members[np.argmin(np.abs(members - centre))])
            used[r] = True
            new.append(r)
        rest = ranks[~used]  # only when strata were shared: fill up spread over the rest
        if len(new) < need:
            new += [int(rest[int((j + 0.5) * rest.size / (need - len(new)))])
                    for j in range(need - len(new))]  # fmt: skip
        new.sort()
        chosen += [new[i] for i in _bit_reversal(len(new))]
    return [int(ranked[r]) for r in chosen]


def order_key(cats: Sequence[CatalogData]) -> list[float]:
    """The stratification variable: each catalog's true background fraction above Mc."""
    return [float(c.meta["background_fraction"]) for c in cats]


def training_order(cats: Sequence[CatalogData]) -> list[int]:
    """The fixed order of the training catalogs; TD fraction f uses its first f %.

    ``stratified_order`` of the true background fraction above Mc (known from the
    simulation before any training) with the prefix sizes of the TD fractions: each TD
    subset of k catalogs holds one catalog from each of the k quantile strata of the
    background fraction.
    """
    n = len(cats)
    return stratified_order(order_key(cats), [n_catalogs(f, n) for f in TD_FRACTIONS])


def n_catalogs(fraction: int, n_train: int) -> int:
    """Number of training catalogs of a TD fraction (in %), at least one."""
    return max(1, round(fraction * n_train / 100))


def td_subsets(order: list[int], n_diverse: int) -> dict[int, list[int]]:
    """Catalog indices of every TD fraction: the first f % of the ordered ``train`` catalogs
    and the first f % of the diverse ones (indices ``len(order) + i``), nested."""
    n = len(order)
    return {f: order[: n_catalogs(f, n)]
            + ([n + i for i in range(n_catalogs(f, n_diverse))] if n_diverse else [])
            for f in TD_FRACTIONS}  # fmt: skip


def combined_order(subsets: dict[int, list[int]]) -> list[int]:
    """One order whose last 20 % are the catalogs the 100 % fraction adds last (grid
    hold-out): each fraction's additions in turn."""
    out: list[int] = []
    for f in TD_FRACTIONS:
        out.extend(i for i in subsets[f] if i not in set(out))
    return out
