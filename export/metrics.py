"""Metrics of a declustering against the truth, per catalog and per case.

All shares are fractions in [0, 1] of the scored events (the events above the Mc the method
used). Truth: aftershock = ETAS generation > 0 (every event of a Poisson catalog is
background). A prediction is a boolean aftershock label per event and, when the method gives
one, a probability ``p_aftershock`` per event.

Per catalog (:func:`catalog_metrics`):

* ``accuracy``: share of events whose label equals the truth;
* ``bg_precision``, ``bg_recall``: of the background class (NaN when undefined);
* ``bg_share_true``, ``bg_share_labels`` (share labelled background) and their difference
  ``bg_share_error`` (labels minus truth);
* ``bg_share_expected``: mean of 1 - p_aftershock, and ``bg_expected_error`` (minus truth);
* ``ece``: expected calibration error of p_aftershock, ``sum_k (n_k / n) |mean p_k - mean
  y_k|`` over ``bins`` equal-width bins of p in [0, 1] (y = truth aftershock; the last bin
  includes 1);
* ``n``: events scored.

Per case (:func:`summarise`): median and the 32-68 % band of each metric over the case's
catalogs (NaN values ignored), as ``{"median", "p32", "p68", "n"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["METRICS", "catalog_metrics", "expected_calibration_error", "summarise", "summarise_all"]

METRICS = (
    "accuracy",
    "bg_precision",
    "bg_recall",
    "bg_share_true",
    "bg_share_labels",
    "bg_share_error",
    "bg_share_expected",
    "bg_expected_error",
    "ece",
    "n",
)


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE of probabilities ``p`` (shape (n,)) for binary outcomes ``y`` (0/1, shape (n,))."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    if p.size == 0:
        return float("nan")
    k = np.minimum((p * bins).astype(np.int64), bins - 1)
    sum_p = np.bincount(k, weights=p, minlength=bins)
    sum_y = np.bincount(k, weights=y, minlength=bins)
    return float(np.sum(np.abs(sum_p - sum_y)) / p.size)


def catalog_metrics(
    truth_aftershock: np.ndarray,
    pred_aftershock: np.ndarray,
    p_aftershock: np.ndarray | None = None,
    bins: int = 10,
) -> dict[str, float]:
    """The metrics of one catalog (see the module docstring); arrays of shape (n,)."""
    true_bg = ~np.asarray(truth_aftershock, dtype=bool)
    pred_bg = ~np.asarray(pred_aftershock, dtype=bool)
    n = true_bg.size
    nan = float("nan")
    tp = int(np.count_nonzero(pred_bg & true_bg))
    out = {
        "accuracy": float(np.mean(pred_bg == true_bg)) if n else nan,
        "bg_precision": tp / int(pred_bg.sum()) if pred_bg.any() else nan,
        "bg_recall": tp / int(true_bg.sum()) if true_bg.any() else nan,
        "bg_share_true": float(true_bg.mean()) if n else nan,
        "bg_share_labels": float(pred_bg.mean()) if n else nan,
        "bg_share_expected": nan,
        "ece": nan,
        "n": float(n),
    }
    out["bg_share_error"] = out["bg_share_labels"] - out["bg_share_true"]
    if p_aftershock is not None and n:
        p = np.asarray(p_aftershock, dtype=float)
        out["bg_share_expected"] = float(np.mean(1.0 - p))
        out["ece"] = expected_calibration_error(p, ~true_bg, bins)
    out["bg_expected_error"] = out["bg_share_expected"] - out["bg_share_true"]
    return {k: out[k] for k in METRICS}


def summarise(values: Sequence[float]) -> dict[str, float]:
    """Median and 32-68 % band of per-catalog values (NaN ignored; linear percentiles)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"median": float("nan"), "p32": float("nan"), "p68": float("nan"), "n": 0}
    p32, med, p68 = np.percentile(v, [32, 50, 68])
    return {"median": float(med), "p32": float(p32), "p68": float(p68), "n": int(v.size)}


def summarise_all(per_catalog: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """:func:`summarise` of every metric over a case's catalogs."""
    return {k: summarise([m.get(k, float("nan")) for m in per_catalog]) for k in METRICS}
