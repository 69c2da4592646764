"""How the shipped forests are fitted: their feature specification, row weighting, seed and
hyperparameters, and the training rows of a set of catalogs."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from export.dataset import CatalogData

__all__ = [
    "CLASS_PRIOR",
    "FOREST_SEED",
    "SPEC",
    "WEIGHTING",
    "first_trees",
    "make_forest",
    "stack",
    "training_weights",
]

#: Feature specification of the shipped forests, and how their rows are weighted: every event
#: alike, chosen by the transfer study on validation catalogs (docs/transfer-study.md: with
#: the v2 features, unweighted 0.894 in-distribution validation accuracy against 0.894
#: catalog-weighted; the class weights of v1 moved the in-distribution background share up).
SPEC = "v2"
WEIGHTING = {"rows": "unweighted", "features": SPEC}
FOREST_SEED = 2021
CLASS_PRIOR = 0.5  # aftershock share of every catalog's weight (training_weights, v1 forests)


def stack(cats: Sequence[CatalogData], spec: str = SPEC) -> tuple[np.ndarray, np.ndarray]:
    """Training rows of several catalogs: X float32 [n, k], y int8 [n]; NaN rows dropped."""
    xs, ys = [], []
    for c in cats:
        X = getattr(c, f"X_{spec}")
        ok = ~np.isnan(X).any(axis=1)
        xs.append(X[ok])
        ys.append(c.aftershock[ok])
    return np.concatenate(xs), np.concatenate(ys)


def training_weights(cats: Sequence[CatalogData], prior: float = CLASS_PRIOR) -> np.ndarray:
    """Sample weights [n] aligned with ``stack(cats)``, mean 1.

    Every catalog gets the same total weight, split between its aftershocks (share
    ``prior``) and its background events (share ``1 - prior``); a catalog with a single
    class gives that class its whole weight.
    """
    ws = []
    for c in cats:
        ok = ~np.isnan(c.X_v1).any(axis=1)
        y = c.aftershock[ok].astype(bool)
        n_as, n_bg = int(y.sum()), int((~y).sum())
        p_as = prior if n_bg else 1.0
        p_bg = (1.0 - prior) if n_as else 1.0
        ws.append(np.where(y, p_as / max(n_as, 1), p_bg / max(n_bg, 1)))
    w = np.concatenate(ws)
    return w / w.mean()


def make_forest(hp: dict[str, Any], n_jobs: int = 2) -> RandomForestClassifier:
    """Our forest for the given hyperparameters (all else scikit-learn defaults)."""
    return RandomForestClassifier(
        n_estimators=int(hp["n_estimators"]),
        min_weight_fraction_leaf=float(hp["min_weight_fraction_leaf"]),
        max_leaf_nodes=int(hp["max_leaf_nodes"]),
        random_state=FOREST_SEED,
        n_jobs=n_jobs,
    )


def first_trees(forest: RandomForestClassifier, k: int) -> RandomForestClassifier:
    """The forest of the first k trees (identical to fitting with n_estimators=k)."""
    sub = copy.copy(forest)
    sub.estimators_ = forest.estimators_[:k]
    sub.n_estimators = k
    return sub
