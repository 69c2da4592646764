"""The classic Zaliapin & Ben-Zion (2013) split of log10 eta between its clustered and
background modes (:func:`lite_decluster.nnd.nnd_threshold`): an event is an aftershock when
its nearest-neighbour distance is below the threshold; no probabilities."""

from __future__ import annotations

import numpy as np

from lite_decluster.methods import MethodError, MethodOutput
from lite_decluster.nnd import nnd_threshold

__all__ = ["nnd"]


def nnd(prep) -> MethodOutput:
    """Classify the events of ``prep`` (a ``pipeline.Prepared`` with features)."""
    has_parent = prep.features["parent"].to_numpy() >= 0
    log_eta = prep.features["log10_eta"].to_numpy(dtype=float)
    try:
        cut = nnd_threshold(log_eta[has_parent])
    except ValueError as exc:
        raise MethodError(f"NND threshold method: {exc}") from exc
    ok = has_parent & np.isfinite(log_eta)
    return MethodOutput(
        p_aftershock=np.full(log_eta.size, np.nan), aftershock=ok & (log_eta < cut),
        labelled=ok, parent=prep.features["parent"].to_numpy(), has_parent=has_parent,
        info={"nnd_threshold": cut},
    )
