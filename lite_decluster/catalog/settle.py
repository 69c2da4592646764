"""Column choices that need the data: made once, on the first block of rows, for every block.

- A text time column whose values are numbers in the years 1678-2261 holds decimal years
  (``time`` = 2025.36854936).
- A type column found by name (not given with ``--type-col``) whose values are magnitude types
  (``ML``, ``mb``, ``Mw``, as in IRIS exports) is not an event type: using it would drop every row.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from lite_decluster.catalog.columns import _Columns, is_magnitude_type
from lite_decluster.catalog.times import _YEAR_MAX, _YEAR_MIN

__all__ = ["settle_columns"]

_SAMPLE = 1000  # text values looked at to tell decimal years from times


def settle_columns(
    cols: _Columns, frame: pd.DataFrame, overrides: dict[str, str]
) -> tuple[_Columns, list[str]]:
    """The column choice after looking at the first block's values, and notes for the report."""
    notes: list[str] = []
    if cols.time_kind == "text" and _decimal_years(frame[cols.time_cols["time"]]):
        cols = replace(cols, time_kind="decimal")
        notes.append(f"time column '{cols.time_cols['time']}' holds decimal years: read as such")
    label = cols.source.get("event_type")
    if label is not None and "event_type" not in overrides:
        kinds = _magnitude_types(frame[label])
        if kinds:
            cols = replace(cols, source={k: v for k, v in cols.source.items()
                                         if k != "event_type"})
            notes.append(f"column '{label}' holds magnitude types ({', '.join(kinds[:5])}), "
                         "not event types: no event-type filter (--type-col names one)")
    return cols, notes


def _decimal_years(s: pd.Series) -> bool:
    """Whether the present values are numbers whose median lies in the years 1678-2261."""
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        v = v[~np.isnan(v)]
    elif pd.api.types.is_datetime64_any_dtype(s.dtype):
        return False
    else:
        head = s.dropna().astype(str).str.strip().head(_SAMPLE)
        v = pd.to_numeric(head, errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(v).any():  # some are text: times, not numbers
            return False
    return v.size > 0 and _YEAR_MIN <= float(np.median(v)) < _YEAR_MAX + 1


def _magnitude_types(s: pd.Series) -> list[str]:
    """The distinct values when every present one is a magnitude type, else []."""
    values = s.dropna().astype(str).str.strip()
    distinct = [v for v in values.unique().tolist() if v]
    if distinct and all(is_magnitude_type(v) for v in distinct):
        return distinct
    return []
