"""ETAS declustering: the model fitted to the catalog by maximum likelihood, then each event's
probability of being triggered, 1 - mu(x) / lambda(t, x) (the fit: :mod:`lite_decluster.etas`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.methods import MethodError, MethodOutput


def etas(table: pd.DataFrame, mc: float | None, options: Mapping[str, Any], *,
         threshold: float = 0.5,
         progress: Callable[[int, float], object] | None = None) -> MethodOutput:
    """Fit ETAS to the time-sorted events above ``mc`` and decluster them."""
    from lite_decluster import etas as fit
    from lite_decluster.etas.params import read_etas_file
    from lite_decluster.features import _days

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
        try:
            params, fixed = read_etas_file(params_file)
        except ValueError as exc:
            raise MethodError(str(exc)) from None
        opts.setdefault("params", params)
        if fixed and "fixed" not in opts:
            opts["fixed"] = fixed
    if opts.get("target_start") is not None:
        opts["target_start"] = _target_days(opts["target_start"], table["time"])
    try:
        res = fit.decluster_etas(t, m, mc=float(mc), progress=progress, **kw, **opts)
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
        p_aftershock=p, aftershock=inside & (p > threshold),
        labelled=inside, parent=np.asarray(res.parent, dtype=np.int64),
        reason="auxiliary window: parent only", summary=summary, lines=lines,
        info={"threshold": float(threshold)},
    )


def _target_days(value: Any, time: pd.Series) -> float:
    """A target start as days on the method's time axis (days since the first event for
    catalogs with UTC times)."""
    if not pd.api.types.is_datetime64_any_dtype(time):
        return float(value)
    start = pd.Timestamp(value)
    start = start.tz_localize("UTC") if start.tz is None else start.tz_convert("UTC")
    first = time.min().tz_convert("UTC") if time.dt.tz is not None else \
        time.min().tz_localize("UTC")
    return (start - first) / pd.Timedelta(days=1)
