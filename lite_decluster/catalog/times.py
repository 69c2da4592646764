"""Time parsing to ns since 1970 UTC, with the repair of second=60.xx and hour=24."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from lite_decluster.catalog.checks import _Check, _number

# datetime64[ns] covers 1677-09-21 to 2262-04-11; whole years inside that range.
_YEAR_MIN, _YEAR_MAX = 1678, 2261
_NS_PER_S = 1_000_000_000
_MC_TOLERANCE = 1e-6
_MAX_EXAMPLES = 10

# A time pandas' ISO 8601 parser rejected: hour 24, second 60.xx, '/' dates, one-digit fields.
_TIME_RE = re.compile(
    r"^\s*(?P<y>\d{4})[-/](?P<mo>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:(?:T|\s+)(?P<h>\d{1,2}):(?P<mi>\d{1,2})(?::(?P<s>\d{1,2})(?:\.(?P<f>\d*))?)?)?"
    r"\s*(?P<z>Z|UTC|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)


def _days_in_month(year: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First day of each month (datetime64[D]) and the number of days in it; valid inputs only."""
    first = (year - 1970).astype("M8[Y]").astype("M8[M]") + (month - 1)
    start = first.astype("M8[D]")
    return start, ((first + 1).astype("M8[D]") - start).astype(np.int64)


def _text_times(
    s: pd.Series, col: str
) -> tuple[np.ndarray, np.ndarray, list[_Check]]:
    """Parse times given as text (or datetimes) to ns since 1970 UTC.

    Returns ns (n,) int64, rolled (n,) bool (second=60 or hour=24 rolled over) and the checks.
    The whole column goes through pandas' vectorised ISO 8601 parser first; only the rows it
    rejects go through the slower regex repair.
    """
    missing = s.isna().to_numpy()
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        parsed = pd.to_datetime(s, utc=True)
    else:
        text = s if pd.api.types.is_string_dtype(s.dtype) else s.astype("string")
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    lo = pd.Timestamp(f"{_YEAR_MIN}-01-01", tz="UTC")
    hi = pd.Timestamp(f"{_YEAR_MAX + 1}-01-01", tz="UTC")
    out_of_range = ((parsed < lo) | (parsed >= hi)).to_numpy(dtype=bool, copy=True)
    parsed = parsed.where(~out_of_range)
    ns = pd.DatetimeIndex(parsed).as_unit("ns").asi8.copy()
    ok = parsed.notna().to_numpy(dtype=bool, copy=True)
    rolled = np.zeros(ns.size, dtype=bool)
    failed = np.flatnonzero(~ok & ~missing & ~out_of_range)
    if failed.size:
        fixed_ns, fixed_ok, fixed_rolled, fixed_range = _repair_times(
            s.iloc[failed].astype(str).reset_index(drop=True)
        )
        ns[failed[fixed_ok]] = fixed_ns[fixed_ok]
        ok[failed[fixed_ok]] = True
        rolled[failed] = fixed_rolled & fixed_ok
        out_of_range[failed[fixed_range]] = True
    bad = ~ok & ~missing & ~out_of_range
    span = f"{_YEAR_MIN}-{_YEAR_MAX}"
    checks: list[_Check] = [
        (missing, col, lambda i: "time is missing"),
        (bad, col, lambda i: f"unparsable time {str(s.iloc[i])!r}"),
        (out_of_range, col, lambda i: f"time {str(s.iloc[i])!r} outside the years {span}"),
    ]
    return ns, rolled, checks


def _repair_times(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse times pandas rejected: second 60.xx, hour 24, '/' dates, one-digit fields.

    Returns ns (n,) int64, ok (n,) bool, rolled (n,) bool and out_of_range (n,) bool. Second
    60.xx is the next minute plus 0.xx s, hour 24 the next day's hour 0.
    """
    g = text.str.extract(_TIME_RE)
    matched = g["y"].notna().to_numpy()

    def whole(key: str) -> np.ndarray:
        return pd.to_numeric(g[key], errors="coerce").fillna(0).to_numpy(np.int64)

    year, month, day = whole("y"), whole("mo"), whole("d")
    hour, minute, second = whole("h"), whole("mi"), whole("s")
    frac = g["f"].fillna("").str.slice(0, 9).str.pad(9, side="right", fillchar="0")
    frac_ns = frac.astype(np.int64).to_numpy()
    zone = g["z"].fillna("").str.upper().str.replace(":", "", regex=False)
    sign = np.where(zone.str.startswith("-").to_numpy(), -1, 1)
    zone_min = sign * (
        pd.to_numeric(zone.str.slice(1, 3), errors="coerce").fillna(0).to_numpy(np.int64) * 60
        + pd.to_numeric(zone.str.slice(3, 5), errors="coerce").fillna(0).to_numpy(np.int64)
    )

    in_range = matched & (year >= _YEAR_MIN) & (year <= _YEAR_MAX)
    month_ok = (month >= 1) & (month <= 12)
    safe = in_range & month_ok
    start, n_days = _days_in_month(np.where(safe, year, 2000), np.where(safe, month, 1))
    ok = (
        safe & (day >= 1) & (day <= n_days) & (hour <= 24) & (minute <= 59) & (second <= 60)
    )
    ns = (start + np.where(ok, day - 1, 0)).astype("M8[ns]").view(np.int64)
    ns = ns + ((hour * 60 + minute - zone_min) * 60 + second) * _NS_PER_S + frac_ns
    rolled = ok & ((hour == 24) | (second == 60))
    return ns, ok, rolled, matched & ~in_range


def _split_times(raw: pd.DataFrame, cols: dict[str, object]) -> tuple[np.ndarray, np.ndarray,
                                                                      list[_Check]]:
    """Times from year, month, day[, hour, minute, second] columns, as ns since 1970 UTC."""
    checks: list[_Check] = []
    parts: dict[str, np.ndarray] = {}
    limits = {"year": (_YEAR_MIN, _YEAR_MAX), "month": (1, 12), "day": (1, 31), "hour": (0, 24),
              "minute": (0, 59)}
    for part, (lo, hi) in limits.items():
        if part in cols:
            parts[part], c = _number(raw[cols[part]], part, lo=lo, hi=hi, whole=True)
            checks += c
        else:
            parts[part] = np.zeros(len(raw))
    if "second" in cols:
        parts["second"], c = _number(raw[cols["second"]], "second", lo=0, hi=61, hi_open=True)
        checks += c
    else:
        parts["second"] = np.zeros(len(raw))
    good = ~np.logical_or.reduce([m for m, _, _ in checks])
    year, month, day, hour, minute = (
        np.where(good, parts[p], d).astype(np.int64)
        for p, d in (("year", 2000), ("month", 1), ("day", 1), ("hour", 0), ("minute", 0))
    )
    start, n_days = _days_in_month(year, month)
    day_col = str(cols["day"])
    checks.append((good & (day > n_days), day_col,
                   lambda i: f"day {day[i]} does not exist in {year[i]}-{month[i]:02d}"))
    ns = (start + (day - 1)).astype("M8[ns]").view(np.int64)
    second = np.where(good, parts["second"], 0.0)
    ns = ns + (hour * 60 + minute) * 60 * _NS_PER_S + np.round(second * _NS_PER_S).astype(np.int64)
    rolled = good & ((hour == 24) | (second >= 60))
    return ns, rolled, checks


def _decimal_year_times(s: pd.Series) -> tuple[np.ndarray, list[_Check]]:
    """Decimal years to ns since 1970 UTC: the fraction of that year's length (leap years too)."""
    v, checks = _number(s, "decimal year", lo=_YEAR_MIN, hi=_YEAR_MAX + 1, hi_open=True)
    good = ~np.logical_or.reduce([m for m, _, _ in checks])
    v = np.where(good, v, 2000.0)
    year = np.floor(v).astype(np.int64)
    start = (year - 1970).astype("M8[Y]").astype("M8[ns]").view(np.int64)
    length = (year - 1969).astype("M8[Y]").astype("M8[ns]").view(np.int64) - start
    return start + np.round((v - year) * length).astype(np.int64), checks
