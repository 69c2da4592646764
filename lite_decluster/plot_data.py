"""The compact per-event arrays the summary figure is drawn from (lite_decluster.plot).

Only the classified events (background or aftershock) and only the columns the panels use,
as float32 (times as float64 days: float32 would round dates to minutes), built either from a
run's :class:`lite_decluster.assemble.Labels` and validated table (``lite-decluster run
--plot``: no frame of string columns over every input row) or from a labelled frame (a file
read back, :func:`lite_decluster.decluster`'s result).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lite_decluster.catalog import CatalogError, load_catalog

if TYPE_CHECKING:
    from lite_decluster.assemble import Labels

__all__ = ["PlotData", "PlotError", "from_frame", "from_labels"]

_NEEDED = ("label", "p_aftershock", "eta", "T", "R")


class PlotError(ValueError):
    """The figure cannot be drawn (matplotlib missing, not a labelled catalog, bad file type)."""


@dataclass
class PlotData:
    """Per classified event, shape (n,): ``aftershock`` (bool; False = background), ``p``
    (p_aftershock, float32, NaN when not scored; None when no event has one), ``log_eta``
    (log10 eta, float32, NaN without a parent), ``T`` (days) and ``R`` (km**df) (float32, NaN
    without a parent), ``days`` (float64: matplotlib date numbers when ``is_date``, else the
    catalog's own days), ``x``/``y`` (float32: longitude/latitude in degrees, or x/y in km
    when ``projected``) and ``mag`` (float32)."""

    aftershock: np.ndarray
    p: np.ndarray | None
    log_eta: np.ndarray
    T: np.ndarray
    R: np.ndarray
    days: np.ndarray
    is_date: bool
    x: np.ndarray
    y: np.ndarray
    projected: bool
    mag: np.ndarray

    @property
    def n(self) -> int:
        return int(self.aftershock.size)


def _f32(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _log10(eta: np.ndarray) -> np.ndarray:
    eta = np.asarray(eta, dtype=np.float64)
    out = np.full(eta.shape, np.nan, dtype=np.float32)
    pos = eta > 0
    out[pos] = np.log10(eta[pos])
    return out


def _days(t: pd.Series | np.ndarray) -> tuple[np.ndarray, bool]:
    """Times as float64 days (matplotlib date numbers for UTC datetimes), and whether dates."""
    t = pd.Series(t) if not isinstance(t, pd.Series) else t
    if pd.api.types.is_datetime64_any_dtype(t):
        from matplotlib.dates import date2num

        naive = t.dt.tz_convert("UTC").dt.tz_localize(None) if t.dt.tz is not None else t
        return np.asarray(date2num(naive.to_numpy(dtype="datetime64[ns]")), float), True
    return t.to_numpy(dtype=np.float64), False


def _positions(events: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, bool]:
    """Where (``rows``: input rows) each event sits in the validated table ``events``."""
    table_rows = events["row"].to_numpy()
    order = None if np.all(table_rows[1:] >= table_rows[:-1]) else np.argsort(table_rows)
    sorted_rows = table_rows if order is None else table_rows[order]
    pos = np.minimum(np.searchsorted(sorted_rows, rows), max(sorted_rows.size - 1, 0))
    found = sorted_rows.size > 0 and bool(np.all(sorted_rows[pos] == rows))
    return (pos if order is None else order[pos]), found


def _geometry(events: pd.DataFrame, pos: np.ndarray) -> dict[str, object]:
    """Time, position and magnitude columns of ``events`` at ``pos``."""
    projected = "x" in events and "latitude" not in events
    xcol, ycol = ("x", "y") if projected else ("longitude", "latitude")
    days, is_date = _days(events["time"].iloc[pos])
    return dict(days=days, is_date=is_date, projected=projected,
                x=_f32(events[xcol].to_numpy()[pos]), y=_f32(events[ycol].to_numpy()[pos]),
                mag=_f32(events["magnitude"].to_numpy()[pos]))


def from_labels(labels: Labels, events: pd.DataFrame | None) -> PlotData:
    """The classified events of a run: ``labels`` and the validated table (``row``, ``time``,
    ``magnitude``, ``latitude``/``longitude`` or ``x``/``y``) they were labelled from."""
    if events is None:
        raise PlotError("plotting a run's labels needs its validated events (keep_events)")
    keep = np.flatnonzero(labels.label > 0)
    if keep.size == 0:
        raise PlotError("the catalog has no labelled events to plot")
    pos, found = _positions(events, labels.event_row[keep])
    if not found:
        raise PlotError("the labels do not belong to these events")
    p = labels.p[keep]
    feats = labels.features
    return PlotData(
        aftershock=labels.label[keep] == 2,
        p=_f32(p) if np.isfinite(p).any() else None,
        log_eta=_log10(feats["eta"][keep]),
        T=_f32(feats["T"][keep]), R=_f32(feats["R"][keep]),
        **_geometry(events, pos),  # type: ignore[arg-type]
    )


def _events(
    result: pd.DataFrame, events: pd.DataFrame | None, columns: Mapping[str, str] | None
) -> pd.DataFrame:
    """Canonical time/position/magnitude of the result's rows (``row`` = position in result)."""
    if events is not None:
        return events
    try:
        return load_catalog(
            result.reset_index(drop=True), event_types=None, skip_invalid=True,
            **dict(columns or {}),
        ).table
    except CatalogError as exc:
        raise PlotError(f"cannot find times and positions in the labelled catalog: {exc}") \
            from exc


def from_frame(
    result: pd.DataFrame,
    events: pd.DataFrame | None = None,
    columns: Mapping[str, str] | None = None,
) -> PlotData:
    """The classified events of a labelled frame (one row per input row, with ``label``,
    ``p_aftershock``, ``eta``, ``T``, ``R``); ``events``: its validated table (``row`` =
    position in ``result``), default read from ``result`` itself."""
    missing = [c for c in _NEEDED if c not in result.columns]
    if missing:
        raise PlotError(
            f"not a labelled catalog (no column {', '.join(missing)}); run "
            "'lite-decluster run' first"
        )
    events = _events(result, events, columns)
    pos_all = events["row"].to_numpy()
    label = result["label"].astype("string").str.strip().str.lower().to_numpy(
        dtype=object, na_value="")[pos_all]
    keep = np.flatnonzero((label == "background") | (label == "aftershock"))
    if keep.size == 0:
        raise PlotError("the catalog has no labelled events to plot")
    rows = pos_all[keep]

    def num(col: str) -> np.ndarray:
        return pd.to_numeric(result[col].iloc[rows], errors="coerce").to_numpy(dtype=float)

    p = num("p_aftershock")
    return PlotData(
        aftershock=label[keep] == "aftershock",
        p=_f32(p) if np.isfinite(p).any() else None,
        log_eta=_log10(num("eta")), T=_f32(num("T")), R=_f32(num("R")),
        **_geometry(events, keep),  # type: ignore[arg-type]
    )
