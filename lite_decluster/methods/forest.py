"""The Random Forest of Aden-Antoniow, Frank & Seydoux (2021), shipped as ONNX, on the
nearest-neighbour features: ``p_aftershock`` is the forest's probability, ``label`` is
``aftershock`` when it exceeds the threshold. Events without an earlier event have no
features and are labelled background without a probability; NaN features never reach the
model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lite_decluster.methods import MethodOutput
from lite_decluster.model import DEFAULT_BATCH, Model

__all__ = ["forest"]

_PROGRESS_BATCH = 20_000


def forest(prep, model: Model, *, threshold: float = 0.5,
           progress: Callable[[str, int, int], object] | None = None) -> MethodOutput:
    """Score the events of ``prep`` (a ``pipeline.Prepared`` with features) with ``model``."""
    has_parent = prep.features["parent"].to_numpy() >= 0
    p = np.full(len(has_parent), np.nan)
    # Only rows with finite features are scored: the forest would route NaN silently.
    ok = has_parent & np.isfinite(prep.X).all(axis=1)
    parent_only = None
    if prep.target is not None:  # events below Mc: candidate parents, never labelled
        parent_only = ~prep.target
        ok &= prep.target
        has_parent = has_parent | parent_only
    if ok.any():
        p[ok] = model.predict_proba(
            prep.X if ok.all() else prep.X[ok],
            # Smaller batches only so that a progress bar moves; same probabilities.
            batch_size=_PROGRESS_BATCH if progress is not None else DEFAULT_BATCH,
            progress=(lambda done, total: progress("predict", done, total)) if progress
            else None,
        )
    return MethodOutput(
        p_aftershock=p, aftershock=p > threshold, labelled=ok,
        parent=prep.features["parent"].to_numpy(), has_parent=has_parent,
        parent_only=parent_only, info={"threshold": float(threshold)},
    )
