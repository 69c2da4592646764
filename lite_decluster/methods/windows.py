"""Gardner-Knopoff and Reasenberg declustering (the algorithms: :mod:`lite_decluster.windows`).

Labels: ``aftershock`` for every event in a cluster that is not its mainshock (foreshocks
too), ``background`` for mainshocks and singles; no probabilities.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.methods import MethodError, MethodOutput


def _geo(table: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    if "latitude" not in table:
        raise MethodError(f"{name} needs latitude and longitude (this catalog is projected x/y)")
    return (table["latitude"].to_numpy(dtype=float), table["longitude"].to_numpy(dtype=float))


def windows(name: str, table: pd.DataFrame, options: Mapping[str, Any]) -> MethodOutput:
    """Run ``name`` ("gardner-knopoff" or "reasenberg") on the time-sorted events."""
    from lite_decluster import windows
    from lite_decluster.features import _days

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
            used = {k: p.default for k, p in inspect.signature(windows.reasenberg).parameters
                    .items() if p.default is not inspect.Parameter.empty} | opts
            desc = "Reasenberg (1985): " + ", ".join(f"{k} {v:g}" if isinstance(v, float | int)
                                                     else f"{k} {v}" for k, v in used.items())
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


