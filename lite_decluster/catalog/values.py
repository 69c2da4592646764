"""Validation of the canonical columns of a block of rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lite_decluster.catalog.checks import _Check, _number
from lite_decluster.catalog.columns import _Columns
from lite_decluster.catalog.report import CatalogReport
from lite_decluster.catalog.times import _decimal_year_times, _split_times, _text_times


def _parse_values(
    sub: pd.DataFrame, cols: _Columns, report: CatalogReport
) -> tuple[dict[str, np.ndarray], np.ndarray, list[_Check]]:
    """Parse the canonical columns of the rows being validated (all shape (n,))."""
    src = cols.source
    n = len(sub)
    rolled = np.zeros(n, dtype=bool)
    checks: list[_Check] = []
    values: dict[str, np.ndarray] = {}

    if cols.time_kind == "days":
        values["time"], c = _number(sub[cols.time_cols["time"]], "time (days)")
    elif cols.time_kind == "decimal":
        values["time"], c = _decimal_year_times(sub[cols.time_cols["time"]])
    elif cols.time_kind == "split":
        values["time"], rolled, c = _split_times(sub, cols.time_cols)
    else:
        text = sub[cols.time_cols["time"]]
        label = str(cols.time_cols["time"])
        if cols.time_kind == "date+time":
            date = sub[cols.time_cols["date"]]
            text = date.astype("string").str.strip() + "T" + text.astype("string").str.strip()
            label = f"{cols.time_cols['date']},{label}"
        values["time"], rolled, c = _text_times(text.rename(label), label)
    checks += c

    if cols.fmt == "projected":
        for axis in ("x", "y"):
            values[axis], c = _number(sub[src[axis]], axis)
            checks += c
    else:
        values["latitude"], c = _number(sub[src["latitude"]], "latitude", lo=-90, hi=90)
        checks += c
        values["longitude"], c = _number(sub[src["longitude"]], "longitude", lo=-180, hi=360,
                                         hi_open=True)
        checks += c
    if "depth" in src:
        depth, c = _number(sub[src["depth"]], "depth", required=False)
        checks += c
        nan = np.isnan(depth)
        report.n_depth_filled = int(nan.sum())  # recounted below for the kept rows
        values["depth"] = np.where(nan, 0.0, depth)
        values["_depth_nan"] = nan
    else:
        report.depth_missing = True
        values["depth"] = np.zeros(n)
    values["magnitude"], c = _number(sub[src["magnitude"]], "magnitude")
    checks += c
    return values, rolled, checks
