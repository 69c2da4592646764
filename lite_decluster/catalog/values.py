"""Validation of the canonical columns of a block of rows, and depth units and sign.

Depths are km, positive downwards. With ``depth_unit='auto'`` a column named in metres
(``depth_m``, ``depth(m)``, ``depth_meters``) or whose median absolute depth exceeds 1000 (no
earthquake is 1000 km deep) is read as metres and converted; with ``depth_positive='auto'``
depths most of which are negative are read as negative downwards (elevation-style) and flipped.
Both are noted in the report; ``'km'``/``'m'`` and ``'down'``/``'up'`` force the reading.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from lite_decluster.catalog.checks import _Check, _number
from lite_decluster.catalog.columns import _Columns
from lite_decluster.catalog.errors import CatalogError
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


_METRES = re.compile(r"^depth\W*(?:m|meters?|metres?)\W*$", re.IGNORECASE)
_MAX_KM = 1000.0  # deeper than any earthquake: such depths are metres


def settle_depths(
    depth: np.ndarray, missing: np.ndarray, label: str, unit: str, positive: str, name: str,
    report: CatalogReport,
) -> np.ndarray:
    """Depths of the kept rows in km, positive downwards, shape (n,) float64.

    depth : (n,) as read (0 where missing); missing : (n,) bool, depth absent in the file.
    unit : 'auto', 'km' or 'm'; positive : 'auto', 'down' or 'up' (elevation-style).
    """
    if unit not in ("auto", "km", "m"):
        raise CatalogError(f"{name}: depth unit must be 'auto', 'km' or 'm', not {unit!r}")
    if positive not in ("auto", "down", "up"):
        raise CatalogError(
            f"{name}: depth direction must be 'auto', 'down' or 'up', not {positive!r}"
        )
    present = depth[~missing & np.isfinite(depth)]
    if positive == "auto" and present.size and np.mean(present < 0) > 0.5:
        n_neg = int((present < 0).sum())
        positive = "up"
        report.notes.append(
            f"{n_neg:,} of {present.size:,} depths in column '{label}' are negative: read as "
            "negative downwards (elevation-style) and flipped (--depth-positive down keeps them)"
        )
    if positive == "up":
        depth = np.where(missing, depth, -depth)
        present = -present
    if unit == "auto" and _METRES.match(label):
        unit = "m"
        report.notes.append(f"depth column '{label}' is in metres: converted to km")
    elif unit == "auto" and present.size and np.median(np.abs(present)) > _MAX_KM:
        unit = "m"
        report.notes.append(
            f"median depth {np.median(np.abs(present)):,.0f} in column '{label}' is not km: read "
            "as metres and converted to km (--depth-unit km keeps km)"
        )
    if unit == "m":
        depth = depth / 1000.0
    return depth
