"""Scores of forests and of the NND baseline on labelled catalogs (the build's held-out
validation and test catalogs): labels, per-catalog metrics and their medians."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from export.convert import reference_proba
from export.dataset import CatalogData
from export.forest_fit import SPEC
from export.metrics import summarise
from lite_decluster.nnd import nnd_threshold

__all__ = [
    "NND_METHOD",
    "catalog_metrics",
    "evaluate_forest",
    "forest_labels",
    "label_agreement",
    "nnd_labels",
    "summarise_all",
]

NND_METHOD = (
    "lite_decluster.nnd.nnd_threshold: 2-component Gaussian mixture (EM) of log10 eta; "
    "smoothed-density minimum between the means, else equal weighted densities"
)


def catalog_metrics(aftershock_pred: np.ndarray, aftershock_true: np.ndarray) -> dict[str, float]:
    """Accuracy, precision and recall of the background class, background-fraction error.

    Both inputs are boolean/0-1 arrays of shape (n,). The error is predicted minus true
    background fraction. Precision is NaN when no event is predicted background.
    """
    pred_bg = ~np.asarray(aftershock_pred, dtype=bool)
    true_bg = ~np.asarray(aftershock_true, dtype=bool)
    tp = np.count_nonzero(pred_bg & true_bg)
    return {
        "accuracy": float(np.mean(pred_bg == true_bg)),
        "bg_precision": float(tp / pred_bg.sum()) if pred_bg.any() else float("nan"),
        "bg_recall": float(tp / true_bg.sum()) if true_bg.any() else float("nan"),
        "bg_fraction_error": float(pred_bg.mean() - true_bg.mean()),
    }


def label_agreement(
    a: RandomForestClassifier, b: RandomForestClassifier, cats: Sequence[CatalogData]
) -> float:
    """Share of the events of ``cats`` to which forests ``a`` and ``b`` give the same label."""
    same = n = 0
    for c in cats:
        la = forest_labels(lambda x: reference_proba(a, x), getattr(c, f"X_{SPEC}"))
        lb = forest_labels(lambda x: reference_proba(b, x), getattr(c, f"X_{SPEC}"))
        same += int(np.sum(la == lb))
        n += la.size
    return same / max(n, 1)


def summarise_all(per_catalog: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = per_catalog[0].keys() if per_catalog else []
    return {k: summarise([m[k] for m in per_catalog]) for k in keys}


def forest_labels(proba: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """Aftershock labels p > 0.5; rows with NaN features are background."""
    ok = ~np.isnan(X).any(axis=1)
    out = np.zeros(X.shape[0], dtype=bool)
    if ok.any():
        out[ok] = proba(X[ok]) > 0.5
    return out


def nnd_labels(log10_eta: np.ndarray) -> tuple[np.ndarray, float | None]:
    """NND baseline of one catalog: aftershock when log10 eta < its own threshold.

    Returns the labels and the threshold (None, all background, if the density has no
    second mode).
    """
    try:
        thr = nnd_threshold(log10_eta)
    except ValueError:
        return np.zeros(log10_eta.shape[0], dtype=bool), None
    with np.errstate(invalid="ignore"):
        return np.asarray(log10_eta < thr), thr


def evaluate_forest(
    forest: RandomForestClassifier, cats: Sequence[CatalogData], spec: str = SPEC
) -> list[dict[str, float]]:
    """Per-catalog metrics; probabilities from ``reference_proba`` (reproducible order)."""
    out = []
    for c in cats:
        X = getattr(c, f"X_{spec}")
        pred = forest_labels(lambda x: reference_proba(forest, x), X)
        out.append(catalog_metrics(pred, c.aftershock))
    return out
