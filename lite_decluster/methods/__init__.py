"""Declustering methods behind one small signature.

``run_method(name, prep, options, ...) -> MethodOutput``: the selected events (and, for the
forest and the NND threshold, their nearest-neighbour features) in, per-event probabilities or
labels plus parent links (or clusters) out. One module per method:

- :mod:`.forest`: the Random Forest (ONNX) on the nearest-neighbour features;
- :mod:`.nnd`: the Zaliapin & Ben-Zion threshold on log10 eta;
- :mod:`.windows`: Gardner-Knopoff and Reasenberg;
- :mod:`.etas`: an ETAS model fitted to the catalog, stochastic declustering.

The row-per-input output is assembled for all of them in :mod:`lite_decluster.assemble`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lite_decluster.errors import DeclusterError

__all__ = ["FEATURELESS", "METHODS", "MethodError", "MethodOutput", "run_method"]

METHODS = ("forest", "nnd-threshold", "gardner-knopoff", "reasenberg", "etas")
#: Methods that need no nearest-neighbour features.
FEATURELESS = ("gardner-knopoff", "reasenberg", "etas")


class MethodError(DeclusterError):
    """A method cannot run on this catalog (too few events, no convergence, zero area...)."""


@dataclass
class MethodOutput:
    """Per event of the selected table (shape (n,) each).

    p_aftershock : probability of being triggered (NaN: none)
    aftershock : label
    labelled : events the method labels (others get ``reason``)
    parent : index of the event that captured or most probably triggered it (-1: none)
    has_parent : events that have an earlier event to be triggered by (None: all); the others
        are labelled background with the reason 'first event: no earlier event'
    cluster : index of the event that keys its cluster (window methods: the mainshock), or
        None to build clusters from ``parent`` and the labels
    reason : text for events not labelled (e.g. the auxiliary window of an ETAS fit)
    parent_only : events below Mc searched only as candidate parents (None: none); not
        labelled, with the reason 'below Mc ...: candidate parent only'
    summary : what the method found, for ``RunInfo.method_summary`` (JSON-able)
    lines : lines for the run summary
    info : RunInfo fields to set (e.g. ``nnd_threshold``, ``threshold``)
    """

    p_aftershock: np.ndarray
    aftershock: np.ndarray
    labelled: np.ndarray
    parent: np.ndarray
    has_parent: np.ndarray | None = None
    cluster: np.ndarray | None = None
    reason: str = ""
    parent_only: np.ndarray | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def run_method(
    name: str,
    prep,
    options: Mapping[str, Any] | None = None,
    *,
    model=None,
    threshold: float = 0.5,
    progress: Callable[[str, int, int], object] | None = None,
) -> MethodOutput:
    """Run method ``name`` on the selected events ``prep`` (a ``pipeline.Prepared``; its
    ``table`` holds the time-sorted events above Mc, its ``features`` and ``X`` the
    nearest-neighbour features for the forest and the NND threshold)."""
    opts = dict(options or {})
    if name == "forest":
        from lite_decluster.methods.forest import forest

        return forest(prep, model, threshold=threshold, progress=progress)
    if name == "nnd-threshold":
        from lite_decluster.methods.nnd import nnd

        return nnd(prep)
    if name in ("gardner-knopoff", "reasenberg"):
        from lite_decluster.methods.windows import windows

        return windows(name, prep.table, opts)
    if name == "etas":
        from lite_decluster.methods.etas import etas

        fit_progress = (lambda k, ll: progress("fit", k, 0)) if progress else None
        return etas(prep.table, prep.mc, opts, threshold=threshold, progress=fit_progress)
    raise MethodError(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
