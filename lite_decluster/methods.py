"""Declustering methods that work on the selected events directly (no nearest-neighbour
features): the window methods and ETAS. One shared signature:

``run_method(name, table, mc, options) -> MethodOutput``

``table`` is the time-sorted table of the events above Mc (:func:`pipeline.select_events`);
the output is per event of that table. The forest and the NND threshold, which classify the
nearest-neighbour features, live in :mod:`lite_decluster.declustering`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.errors import DeclusterError

__all__ = ["FEATURELESS", "MethodError", "MethodOutput", "run_method"]

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
    cluster : index of the event that keys its cluster (window methods: the mainshock), or
        None to build clusters from ``parent`` and the labels
    reason : text for events not labelled (e.g. the auxiliary window of an ETAS fit)
    summary : what the method found, for the run summary (JSON-able)
    """

    p_aftershock: np.ndarray
    aftershock: np.ndarray
    labelled: np.ndarray
    parent: np.ndarray
    cluster: np.ndarray | None = None
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def _days(time: pd.Series) -> np.ndarray:
    from lite_decluster.features import _days as days

    return days(time)


def _geo(table: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    if "latitude" not in table:
        raise MethodError(f"{name} needs latitude and longitude (this catalog is projected x/y)")
    return (table["latitude"].to_numpy(dtype=float), table["longitude"].to_numpy(dtype=float))


def _windows(name: str, table: pd.DataFrame, mc: float | None, options: Mapping[str, Any]
             ) -> MethodOutput:
    from lite_decluster import windows

    t = _days(table["time"])
    lat, lon = _geo(table, name)
    m = table["magnitude"].to_numpy(dtype=float)
    opts = dict(options)
    try:
        if name == "gardner-knopoff":
            res = windows.gardner_knopoff(t, lat, lon, m, **opts)
            desc = f"{opts.get('window', 'gardner-knopoff')} windows"
            if opts.get("fs_time_prop"):
                desc += f", foreshock window {opts['fs_time_prop']:g} of the aftershock window"
        else:
            depth = table["depth"].to_numpy(dtype=float)
            res = windows.reasenberg(t, lat, lon, m, depth, **opts)
            desc = "Reasenberg (1985) " + ", ".join(f"{k} {v:g}" for k, v in opts.items()
                                                    if isinstance(v, (int, float)))
    except ValueError as exc:
        raise MethodError(f"{name}: {exc}") from exc
    n = len(table)
    main = np.asarray(res.mainshock, dtype=bool)
    cluster = np.asarray(res.cluster, dtype=np.int64)
    n_clusters = int(np.unique(cluster[cluster != np.arange(n)]).size)
    return MethodOutput(
        p_aftershock=np.full(n, np.nan), aftershock=~main, labelled=np.ones(n, dtype=bool),
        parent=np.asarray(res.parent, dtype=np.int64), cluster=cluster,
        summary={"method": name, "description": desc, "options": opts,
                 "n_clusters": n_clusters},
        lines=[f"method      {desc}; {n_clusters:,} clusters of 2 or more events"],
    )


def _etas(table: pd.DataFrame, mc: float | None, options: Mapping[str, Any],
          progress: Callable[[int, float], object] | None) -> MethodOutput:
    from lite_decluster import etas

    if mc is None:
        raise MethodError("etas needs a magnitude of completeness (--mc auto or a value)")
    opts = dict(options)
    t = _days(table["time"])
    m = table["magnitude"].to_numpy(dtype=float)
    kw: dict[str, Any] = {}
    if "latitude" in table:
        kw.update(lat=table["latitude"].to_numpy(dtype=float),
                  lon=table["longitude"].to_numpy(dtype=float))
    else:
        kw.update(x=table["x"].to_numpy(dtype=float), y=table["y"].to_numpy(dtype=float))
    params_file = opts.pop("params_file", None)
    if params_file is not None:
        loaded = etas.load_etas_params(params_file)
        opts.setdefault("params", loaded.get("params", loaded))
        if "fixed" in loaded and "fixed" not in opts:
            opts["fixed"] = tuple(loaded["fixed"])
    try:
        res = etas.decluster_etas(t, m, mc=float(mc), progress=progress, **kw, **opts)
    except ValueError as exc:
        raise MethodError(f"etas: {exc}") from exc
    pb = np.asarray(res.p_background, dtype=float)
    inside = np.asarray(res.in_target, dtype=bool) & np.isfinite(pb)
    p = np.where(inside, 1.0 - pb, np.nan)
    summary = res.to_dict()
    lines = ["method      ETAS fitted by maximum likelihood, stochastic declustering "
             "(Zhuang et al. 2002)"]
    pars = ", ".join(
        f"{k} {v:.4g}" + (f" +- {res.stderr[k]:.2g}" if np.isfinite(res.stderr.get(k, np.nan))
                          else "")
        for k, v in res.params.items()
    )
    lines.append(f"etas        {pars}")
    lines.append(f"etas        branching ratio {res.branching_ratio:.3f}, log-likelihood "
                 f"{res.loglik:.1f}, {res.n_evals} evaluations, "
                 f"{'converged' if res.converged else 'NOT converged'}")
    return MethodOutput(
        p_aftershock=p, aftershock=inside & (p > 0.5),
        labelled=inside, parent=np.asarray(res.parent, dtype=np.int64),
        reason="auxiliary window: parent only", summary=summary, lines=lines,
    )


def run_method(
    name: str,
    table: pd.DataFrame,
    mc: float | None,
    options: Mapping[str, Any] | None = None,
    *,
    threshold: float = 0.5,
    progress: Callable[[int, float], object] | None = None,
) -> MethodOutput:
    """Run a featureless method on the selected events (time-sorted table)."""
    if name in ("gardner-knopoff", "reasenberg"):
        return _windows(name, table, mc, options or {})
    if name == "etas":
        out = _etas(table, mc, dict(options or {}), progress)
        out.aftershock = out.labelled & (out.p_aftershock > threshold)
        return out
    raise MethodError(f"unknown method {name!r}")
