"""From a validated catalog table to model features: Mc cut, b-value, nearest-neighbour features.

One function, used both by a user's run (``lite-decluster run``, :func:`decluster`) and by the
export stage when it builds the training data, so that training and inference prepare
catalogs identically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.catalog.errors import CatalogError, named
from lite_decluster.completeness import _MC_TOLERANCE, McPeriods, apply_completeness
from lite_decluster.features import FeatureSpec, compute_features, feature_matrix, get_spec
from lite_decluster.magnitudes import BValue, estimate_b

__all__ = ["Prepared", "Selected", "add_features", "prepare_features", "select_events"]


@dataclass
class Selected:
    """Result of :func:`select_events`.

    Attributes
    ----------
    table : DataFrame
        The events searched (time-sorted, index 0..n-1, ``row`` links to the input): those
        above Mc and, when the specification has a ``parent_floor``, the candidate parents
        down to Mc - parent_floor.
    spec : FeatureSpec
        The specification with the b-value actually used.
    mc, mc_method : float or None, str
        Magnitude of completeness used and how it was obtained.
    b, b_method : float, str
        b-value used and how it was obtained; ``b_estimate`` holds the Aki-Utsu estimate
        (with its uncertainty) when it was estimated.
    """

    table: pd.DataFrame
    spec: FeatureSpec
    mc: float | None
    mc_method: str
    b: float
    b_method: str
    b_estimate: BValue | None
    #: (input rows, reason) of the events the Mc cut left out (periods: one entry per period).
    below_mc: list[tuple[np.ndarray, str]] | None
    #: (n,) bool over ``table``: the events above Mc, those a method labels; None: all of them
    #: (no candidate parents below Mc).
    target: np.ndarray | None

    @property
    def n_target(self) -> int:
        """Number of events above Mc (those a method labels)."""
        return len(self.table) if self.target is None else int(self.target.sum())


@dataclass
class Prepared(Selected):
    """Result of :func:`prepare_features`: :class:`Selected` plus

    features : DataFrame
        Nearest-neighbour features aligned with ``table`` (see ``compute_features``).
    X : ndarray of shape (n, n_features), float32
        Model inputs in the specification's order (NaN rows: events without a parent).
    """

    features: pd.DataFrame
    X: np.ndarray


def select_events(
    table: pd.DataFrame,
    *,
    mc: str | float | McPeriods | None = "auto",
    b: str | float | None = "auto",
    spec: str | FeatureSpec | Mapping[str, Any] | None = None,
    df: float | None = None,
    hypocentral: bool | None = None,
) -> Selected:
    """Cut at Mc and fix b and the feature specification (see :func:`prepare_features`).

    ``table`` is not needed afterwards: a caller short of memory can release it before the
    features are computed.
    """
    sp = get_spec(spec)
    if df is not None:
        sp = replace(sp, df=float(df))
    if hypocentral is not None:
        sp = replace(sp, hypocentral=bool(hypocentral))

    below_mc = None
    if isinstance(mc, McPeriods):
        cut, below_mc = mc.cut(table)
        mc_used, mc_method = mc.minimum, f"periods ({mc.describe()})"
    else:
        cut, mc_used = apply_completeness(table, mc)
    if isinstance(mc, McPeriods):
        pass  # described above
    elif mc is None:
        mc_method = "none (all events)"
    elif isinstance(mc, str):
        mc_method = "maximum curvature + 0.2"
    else:
        mc_method = "given"

    b_est: BValue | None = None
    if b is None or (isinstance(b, str) and b.strip().lower() == "auto"):
        if sp.b is not None:
            b_val, b_method = float(sp.b), f"fixed by the '{sp.name}' specification"
        else:
            mags = (mc.excess(cut) if isinstance(mc, McPeriods)
                    else cut["magnitude"].to_numpy(dtype=float))
            try:
                b_est = estimate_b(mags, mc_used)
            except ValueError as exc:
                raise CatalogError(named(table, f"{exc}; give the b-value explicitly")) from exc
            b_val, b_method = b_est.b, "Aki-Utsu maximum likelihood above Mc"
    else:
        try:
            b_val = float(b)
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"b must be 'auto' or a number, not {b!r}") from exc
        if not b_val > 0:
            raise CatalogError(f"b must be positive, not {b!r}")
        b_method = "given"
    target = None
    if sp.parent_floor > 0 and mc is not None:
        cut, target = _parent_pool(table, mc, mc_used, sp.parent_floor)
    return Selected(table=cut, spec=replace(sp, b=b_val), mc=mc_used, mc_method=mc_method,
                    b=b_val, b_method=b_method, b_estimate=b_est, below_mc=below_mc,
                    target=target)


def _parent_pool(table: pd.DataFrame, mc: float | McPeriods, mc_used: float | None,
                 floor: float) -> tuple[pd.DataFrame, np.ndarray]:
    """The events down to Mc - ``floor`` (index reset) and which of them are above Mc."""
    if isinstance(mc, McPeriods):
        pool, _ = McPeriods(mc.starts, tuple(v - floor for v in mc.values)).cut(table)
        k = np.maximum(mc.period_of(pool["time"]), 0)
        mc_each = np.asarray(mc.values, dtype=float)[k]
    else:
        assert mc_used is not None
        pool, _ = apply_completeness(table, mc_used - floor)
        mc_each = np.full(len(pool), mc_used)
    target = pool["magnitude"].to_numpy(dtype=float) >= mc_each - _MC_TOLERANCE
    return pool, target


def add_features(
    selected: Selected, *, workers: int = -1,
    progress: Callable[[int, int], object] | None = None,
) -> Prepared:
    """The nearest-neighbour features and model inputs of the selected events.

    workers : threads for the neighbour search (-1: all cores).
    progress : callable(done, total), called as the neighbour search advances.
    """
    feats = compute_features(selected.table, spec=selected.spec, workers=workers,
                             progress=progress)
    fields = {k: getattr(selected, k) for k in Selected.__dataclass_fields__}
    return Prepared(**fields, features=feats, X=feature_matrix(feats, selected.spec))


def prepare_features(
    table: pd.DataFrame,
    *,
    mc: str | float | None = "auto",
    b: str | float | None = "auto",
    spec: str | FeatureSpec | Mapping[str, Any] | None = None,
    df: float | None = None,
    hypocentral: bool | None = None,
    workers: int = -1,
) -> Prepared:
    """Cut at Mc, fix b and compute the features a model with ``spec`` expects.

    Parameters
    ----------
    table : DataFrame
        A validated catalog (``read_catalog``), any order.
    mc : 'auto', float or None
        'auto': maximum curvature + 0.2; a number: used as given; None: no cut.
    b : 'auto', float or None
        'auto' or None: the specification's fixed b if it has one, else the Aki-Utsu
        maximum-likelihood estimate above Mc (with the binning correction); a number: as given.
    spec : str, FeatureSpec or dict, optional
        Feature specification (default ``v1``).
    df, hypocentral : optional
        Override the specification's fractal dimension and distance kind.
    workers : int
        Threads for the neighbour search (-1: all cores).
    """
    selected = select_events(table, mc=mc, b=b, spec=spec, df=df, hypocentral=hypocentral)
    return add_features(selected, workers=workers)
