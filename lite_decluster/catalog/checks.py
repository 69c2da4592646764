"""Parsing numbers and describing failing rows.

Each parser returns values for the rows being validated plus a list of checks: (mask of failing
rows, source column, function giving the message for one failing row).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

_Check = tuple[np.ndarray, str, Callable[[int], str]]


def _fmt(value: float) -> str:
    return f"{value:.10g}"


def _to_float(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float64 values of a column, shape (n,), and a mask of entries present but not numbers."""
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return v, np.zeros(v.size, dtype=bool)
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return v, np.isnan(v) & s.notna().to_numpy()


def _number(
    s: pd.Series,
    what: str,
    *,
    required: bool = True,
    lo: float = -np.inf,
    hi: float = np.inf,
    hi_open: bool = False,
    whole: bool = False,
) -> tuple[np.ndarray, list[_Check]]:
    """Parse a numeric column; checks for non-numbers, missing values and the range [lo, hi]."""
    v, nonnum = _to_float(s)
    col = str(s.name)
    missing = np.isnan(v) & ~nonnum
    checks: list[_Check] = [(nonnum, col, lambda i: f"{what} {s.iloc[i]!r} is not a number")]
    if required:
        checks.append((missing, col, lambda i: f"{what} is missing"))
    finite = np.isfinite(v)
    nonfinite = ~finite & ~np.isnan(v)
    if np.isfinite(lo) or np.isfinite(hi):
        with np.errstate(invalid="ignore"):
            outside = (v < lo) | ((v >= hi) if hi_open else (v > hi)) | nonfinite
        bounds = f"[{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
        checks.append((outside, col, lambda i: f"{what} {_fmt(v[i])} outside {bounds}"))
    else:
        checks.append((nonfinite, col, lambda i: f"{what} {_fmt(v[i])} is not finite"))
    if whole:
        checks.append(
            (finite & (v != np.round(v)), col, lambda i: f"{what} {_fmt(v[i])} is not whole")
        )
    return v, checks


def _locator(
    name: str, item: str | None, rows: np.ndarray, lines: np.ndarray
) -> Callable[[int], str]:
    """Where the i-th validated row is, as text: 'file, line 17' (item None), '<DataFrame>,
    row 15' (item 'row') or 'file.xml, event 3' (item 'event': the 1-based ``lines``)."""
    if item == "row":
        return lambda i: f"{name}, row {rows[i]}"
    if item == "event":
        return lambda i: f"{name}, event {lines[i]}"
    return lambda i: f"{name}, line {lines[i]}"


def _reasons(
    checks: list[_Check], bad: np.ndarray, every: bool
) -> dict[int, tuple[str, str]]:
    """First failing check of each bad row (only the first bad row unless ``every``), in row
    order: {row index: (column, message)}."""
    todo = np.flatnonzero(bad) if every else np.flatnonzero(bad)[:1]
    out: dict[int, tuple[str, str]] = {}
    for mask, col, describe in checks:
        for i in todo[mask[todo]]:
            if int(i) not in out:
                out[int(i)] = (col, describe(int(i)))
    return dict(sorted(out.items()))
