"""Nearest-neighbour features in the Zaliapin & Ben-Zion space-time-magnitude metric.

For every event j its parent is the strictly earlier event i minimising

    eta_ij = t_ij * r_ij**df * 10**(-b * m_i),      t_ij = t_j - t_i > 0 (days),

split into rescaled time ``T = t_ij * 10**(-q b m_i)`` and rescaled distance
``R = r_ij**df * 10**(-(1 - q) b m_i)`` (so ``eta = T * R``).

Decisions on the edge cases (all recorded in :class:`FeatureSpec`):

- Events with the same origin time as j are not candidate parents (t_ij must be > 0).
- Distances below ``min_distance`` (0.1 km in ``v1``) are raised to it, so that co-located
  events still get a finite, positive eta (never 0 or -inf in log10 eta).
- Ties in eta go to the earliest parent (smallest time; for equal times the earlier input row).
- An event with no earlier event gets parent -1 and NaN for eta, T, R, dm and n_siblings.

The search is exact and runs in about O(N log^2 N) (see :func:`nearest_parents`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.feature_spec import _FEATURE_COLUMNS, SPECS, FeatureSpec, get_spec
from lite_decluster.geometry import _Geometry, _geometry, pair_eta
from lite_decluster.magnitudes import estimate_b
from lite_decluster.neighbours import nearest_parents
from lite_decluster.null_features import NullSummary, null_summary, relative_columns

__all__ = [
    "FeatureSpec",
    "SPECS",
    "compute_features",
    "feature_matrix",
    "get_spec",
    "nearest_parents",
    "pair_eta",
]

_NS_PER_DAY = 86_400_000_000_000


# --------------------------------------------------------------------------------------------
# geometry


# --------------------------------------------------------------------------------------------
# the nearest-neighbour search


# --------------------------------------------------------------------------------------------
# the table-level API


def compute_features(
    catalog: pd.DataFrame,
    *,
    b: float | None = None,
    df: float = 1.6,
    q: float = 0.5,
    hypocentral: bool = False,
    spec: str | FeatureSpec | Mapping[str, Any] | None = None,
    workers: int = -1,
    progress: Callable[[int, int], object] | None = None,
) -> pd.DataFrame:
    """Nearest-neighbour features of every event of a catalog.

    Parameters
    ----------
    catalog : DataFrame
        Any row order. Geographic: ``time`` (datetime64, UTC), ``latitude``, ``longitude``
        (degrees), ``magnitude``, optional ``depth`` (km). Projected: ``time`` (float, days),
        ``x``, ``y`` (km), ``magnitude``, optional ``depth`` (km).
    b : float, optional
        b-value; when None, the spec's b, or else the Aki-Utsu estimate from the catalog's
        magnitudes (Mc = the smallest magnitude: cut the catalog at Mc first).
    df, q, hypocentral
        Metric parameters for the default ``v1`` specification. Give either these or ``spec``.
    spec : str, FeatureSpec or dict, optional
        Feature specification (``"v1"``, ``"aden2021"``, or a model's stored spec).
    workers : int
        Threads for the neighbour search (-1: all cores).
    progress : callable(done, total), optional
        Called as the neighbour search advances (steps of the search done, total).

    Returns
    -------
    DataFrame aligned with ``catalog`` (same index and order) with columns ``parent`` (int64
    positional index of the parent row in ``catalog``, -1 for none), ``eta``, ``T``, ``R``
    (days, km**df or degrees**df), ``dm`` (m_parent - m_child), ``n_siblings``,
    ``n_offspring``, ``log10_eta``, and with a null (spec ``v2``) ``rel_log10_T``,
    ``rel_log10_R``, ``ctx_clustered``, ``ctx_sparse`` (see
    :mod:`lite_decluster.null_features`). ``attrs["feature_spec"]`` holds the resolved spec
    (with the b used) as a dict, ``attrs["null"]`` the null's summary.
    """
    if spec is None:
        sp = replace(SPECS["v1"], df=df, q=q, hypocentral=hypocentral)
    else:
        if (df, q, hypocentral) != (1.6, 0.5, False):
            raise ValueError("give either spec or df/q/hypocentral, not both")
        sp = get_spec(spec)
    if not isinstance(catalog, pd.DataFrame):
        raise TypeError("catalog must be a pandas DataFrame (see read_catalog)")
    n = len(catalog)
    if "magnitude" not in catalog or "time" not in catalog:
        raise ValueError("catalog needs the columns 'time' and 'magnitude'")
    projected = "x" in catalog and "y" in catalog and "latitude" not in catalog
    if not projected and not ("latitude" in catalog and "longitude" in catalog):
        raise ValueError("catalog needs latitude/longitude (degrees) or x/y (km) columns")

    m = catalog["magnitude"].to_numpy(dtype=float)
    t = _days(catalog["time"])
    depth = catalog["depth"].to_numpy(dtype=float) if "depth" in catalog else None
    coords: dict[str, np.ndarray | None] = {"lat": None, "lon": None, "x": None, "y": None}
    if projected:
        coords["x"] = catalog["x"].to_numpy(dtype=float)
        coords["y"] = catalog["y"].to_numpy(dtype=float)
    else:
        coords["lat"] = catalog["latitude"].to_numpy(dtype=float)
        coords["lon"] = catalog["longitude"].to_numpy(dtype=float)
    for name, arr in [("magnitude", m), ("time", t), ("depth", depth), *coords.items()]:
        if arr is not None and not np.all(np.isfinite(arr)):
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(f"column {name!r} has a missing or non-finite value at row {bad}")
    if sp.hypocentral and depth is None:
        raise ValueError("hypocentral distance needs a 'depth' column (km)")

    if b is None:
        b = sp.b
    if b is None:
        b = estimate_b(m).b if n >= 2 else 1.0
    sp = replace(sp, b=float(b))

    # A time-sorted catalog (the usual case) is searched as it is: no sorted copies.
    order = None if np.all(t[1:] >= t[:-1]) else np.argsort(t, kind="stable")

    def by_time(v: np.ndarray | None) -> np.ndarray | None:
        return v if v is None or order is None else v[order]

    geom = _geometry(sp, depth=by_time(depth), **{k: by_time(v) for k, v in coords.items()})
    ts, ms = by_time(t), by_time(m)
    par_s, eta_s = nearest_parents(
        ts, ms, geom, b=sp.b, df=sp.df, min_distance=sp.min_distance, workers=workers,
        progress=progress,
    )
    res = _assemble(ts, ms, geom, par_s, eta_s, sp)
    del geom, par_s, eta_s
    null = None
    if sp.null == "time_permutation":
        null = _null(ts, ms, sp, depth=by_time(depth), workers=workers,
                     **{k: by_time(v) for k, v in coords.items()})  # fmt: skip
        res.update(relative_columns(res["T"], res["R"], res["log10_eta"], null))
    if order is not None:
        # Back to input order; parent as an input position.
        inv = np.empty(n, dtype=np.int64)
        inv[order] = np.arange(n)
        res = {k: v[inv] for k, v in res.items()}
        p = res["parent"]
        res["parent"] = np.where(p >= 0, order[np.maximum(p, 0)], -1)
    df_out = pd.DataFrame(res, index=catalog.index, copy=False)
    df_out.attrs["feature_spec"] = sp.to_dict()
    if null is not None:
        df_out.attrs["null"] = dict(null)
    return df_out


def _null(
    t: np.ndarray,
    m: np.ndarray,
    sp: FeatureSpec,
    *,
    depth: np.ndarray | None,
    workers: int,
    **coords: np.ndarray | None,
) -> NullSummary:
    """The time-permuted null of a time-sorted catalog, searched like the catalog itself."""

    def geometry(perm: np.ndarray) -> _Geometry:
        def pick(v: np.ndarray | None) -> np.ndarray | None:
            return None if v is None else v[perm]

        return _geometry(sp, depth=pick(depth), **{k: pick(v) for k, v in coords.items()})

    def search(tt: np.ndarray, mm: np.ndarray, geom: _Geometry,
               queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return nearest_parents(tt, mm, geom, b=sp.b, df=sp.df, min_distance=sp.min_distance,
                               workers=workers, queries=queries)  # fmt: skip

    return null_summary(t, m, geometry, sp, search, _assemble)


def _days(time: pd.Series) -> np.ndarray:
    """Times as float days since the first event (datetime) or as given (float days)."""
    if pd.api.types.is_datetime64_any_dtype(time):
        ns = time.dt.tz_convert("UTC").dt.tz_localize(None) if time.dt.tz is not None else time
        ns = ns.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        if ns.size == 0:
            return np.zeros(0)
        return (ns - ns.min()) / _NS_PER_DAY
    return time.to_numpy(dtype=float)


def _assemble(
    t: np.ndarray,
    m: np.ndarray,
    geom: _Geometry,
    parent: np.ndarray,
    eta: np.ndarray,
    spec: FeatureSpec,
) -> dict[str, np.ndarray]:
    """Feature columns (sorted order) from the parent links."""
    n = t.size
    has = parent >= 0
    j = np.flatnonzero(has)
    i = parent[has]
    b, q = spec.b, spec.q
    r = np.maximum(geom.distance(i, j), spec.min_distance)
    T = np.full(n, np.nan)
    R = np.full(n, np.nan)
    T[j] = (t[j] - t[i]) * 10.0 ** (-q * b * m[i])
    R[j] = np.power(r, spec.df) * 10.0 ** (-(1.0 - q) * b * m[i])
    eta_out = np.where(has, eta, np.nan)
    dm = np.full(n, np.nan)
    dm[j] = m[i] - m[j]
    n_off = np.bincount(i, minlength=n).astype(float)
    sib = np.full(n, np.nan)
    sib[j] = n_off[i] - (0.0 if spec.siblings_include_self else 1.0)
    if spec.count_scale == "rate":
        t_max = float(t.max() - t.min()) if n else 0.0
        scale = (n - 1) / t_max if t_max > 0 else 1.0
        n_off = n_off / scale
        sib = sib / scale
    with np.errstate(divide="ignore"):
        log_eta = np.log10(eta_out)
    return {
        "parent": parent.astype(np.int64),
        "eta": eta_out,
        "T": T,
        "R": R,
        "dm": dm,
        "n_siblings": sib,
        "n_offspring": n_off,
        "log10_eta": log_eta,
    }


def feature_matrix(
    features: pd.DataFrame, spec: str | FeatureSpec | Mapping[str, Any]
) -> np.ndarray:
    """Model input matrix, float32 of shape (n, n_features), in the spec's feature order.

    Rows without a parent hold NaN; callers decide what to do with them.
    """
    sp = get_spec(spec)
    # Filled column by column (float64 values rounded to float32 one column at a time).
    X = np.empty((len(features), len(sp.features)), dtype=np.float32)
    for k, name in enumerate(sp.features):
        v = features[_FEATURE_COLUMNS[name]].to_numpy(dtype=float)
        if name.startswith("log10_") and name != "log10_eta":
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log10(v)
        X[:, k] = v
    return X
