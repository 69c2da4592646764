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
        params, fixed = _read_params(params_file)
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


def _read_params(path: Any) -> tuple[dict[str, float], tuple[str, ...]]:
    """Parameters of a JSON file (a plain object of names, or the file ``--etas-out`` writes)
    and the names to hold fixed: its ``"fixed"`` list, or ``"fixed": "all"`` to reuse a fit
    without fitting again."""
    import json

    from lite_decluster.etas.params import PARAM_NAMES, check_params

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise MethodError(f"{path}: cannot read ETAS parameters: {exc}") from None
    if not isinstance(data, dict):
        raise MethodError(f"{path}: expected a JSON object of ETAS parameters")
    fixed = data.get("fixed", ())
    params = data["params"] if isinstance(data.get("params"), dict) else data
    params = {k: v for k, v in params.items() if not str(k).startswith("_") and k != "fixed"}
    try:
        values = check_params(params, path)
    except ValueError as exc:
        raise MethodError(str(exc)) from None
    if fixed == "all":
        fixed = tuple(values)
    if not isinstance(fixed, (list, tuple)) or not set(fixed) <= set(PARAM_NAMES):
        raise MethodError(f"{path}: 'fixed' must be \"all\" or a list of {', '.join(PARAM_NAMES)}")
    missing = sorted(set(fixed) - set(values))
    if missing:
        raise MethodError(f"{path}: fixed parameter(s) without a value: {', '.join(missing)}")
    return values, tuple(fixed)


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
