"""Magnitude of completeness that changes with time: periods, each with its own Mc.

``--mc 1932:4.0,1975:3.0,1981:2.5`` (or a file with one ``START MC`` pair per line) means
Mc 4.0 from 1932-01-01, 3.0 from 1975-01-01 and 2.5 from 1981-01-01 (UTC) onwards. An event is
kept when its magnitude is at least the Mc of the period its origin time falls in; events
before the first period are left out. The b-value is then estimated from the magnitude
excesses ``m - Mc(t)`` (Aki-Utsu), which is valid when every period's Mc is on the catalog's
magnitude grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.catalog.errors import CatalogError, named
from lite_decluster.magnitudes import estimate_mc

__all__ = ["McPeriods", "apply_completeness", "parse_mc", "parse_mc_periods"]

_MC_TOLERANCE = 1e-6  # as apply_completeness: float binning


@dataclass(frozen=True)
class McPeriods:
    """Completeness periods.

    starts : (k,) increasing period starts, ``pandas.Timestamp`` (UTC) or float days
        (projected catalogs).
    values : (k,) Mc of each period (magnitude units).
    """

    starts: tuple
    values: tuple[float, ...]

    @property
    def minimum(self) -> float:
        return float(min(self.values))

    def describe(self) -> str:
        pairs = zip(self.starts, self.values, strict=True)
        return ", ".join(f"{_short(s)}: {v:g}" for s, v in pairs)

    def period_of(self, time: pd.Series) -> np.ndarray:
        """Index of the period of each time, shape (n,) int (-1: before the first)."""
        dated = pd.api.types.is_datetime64_any_dtype(time)
        if dated != isinstance(self.starts[0], pd.Timestamp):
            kind = "UTC times" if not dated else "numbers of days"
            raise CatalogError(f"--mc periods must start at {kind} for this catalog")
        if dated:
            t = time.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]") if time.dt.tz \
                else time.to_numpy(dtype="datetime64[ns]")
            s = np.array([x.tz_convert("UTC").tz_localize(None).to_datetime64() for x in
                          self.starts], dtype="datetime64[ns]")
        else:
            t, s = time.to_numpy(dtype=float), np.asarray(self.starts, dtype=float)
        return np.searchsorted(s, t, side="right") - 1

    def cut(self, table: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[np.ndarray, str]]]:
        """Events at or above their period's Mc, and (rows, reason) for those left out."""
        k = self.period_of(table["time"])
        mags = table["magnitude"].to_numpy(dtype=float)
        mc = np.where(k >= 0, np.asarray(self.values)[np.maximum(k, 0)], np.inf)
        keep = mags >= mc - _MC_TOLERANCE
        rows = table["row"].to_numpy()
        out = []
        before = (k < 0) & ~keep
        if before.any():
            out.append((rows[before], f"before the first Mc period ({_short(self.starts[0])})"))
        for j, (s, v) in enumerate(zip(self.starts, self.values, strict=True)):
            hit = (k == j) & ~keep
            if hit.any():
                out.append((rows[hit], f"below Mc {v:g} (period from {_short(s)})"))
        if not keep.any():
            raise CatalogError(named(table, f"no events above the Mc periods {self.describe()}"))
        return table.loc[keep].reset_index(drop=True), out

    def excess(self, table: pd.DataFrame) -> np.ndarray:
        """Magnitude minus its period's Mc, plus the smallest Mc (for the b-value), shape (n,)."""
        k = np.maximum(self.period_of(table["time"]), 0)
        mc = np.asarray(self.values)[k]
        return table["magnitude"].to_numpy(dtype=float) - mc + self.minimum


def _short(start: object) -> str:
    if isinstance(start, pd.Timestamp):
        if start == start.normalize() and start.month == 1 and start.day == 1:
            return str(start.year)
        return start.strftime("%Y-%m-%dT%H:%M:%S") if start != start.normalize() \
            else start.strftime("%Y-%m-%d")
    return f"{start:g}"


def _start(text: str, where: str) -> pd.Timestamp | float:
    s = text.strip()
    if len(s) == 4 and s.isdigit():
        return pd.Timestamp(f"{s}-01-01", tz="UTC")
    if any(c in s for c in "-T/") and not s.lstrip("-").replace(".", "").isdigit():
        try:
            ts = pd.Timestamp(s)
        except (ValueError, TypeError):
            raise CatalogError(f"{where}: {text!r} is not a year, a UTC date or days") from None
        return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    try:
        return float(s)
    except ValueError:
        raise CatalogError(f"{where}: {text!r} is not a year, a UTC date or days") from None


def parse_mc_periods(text: str) -> McPeriods:
    """``'1932:4.0,1975:3.0,1981:2.5'`` or the path of a file with one ``START MC`` (or
    ``START,MC``) pair per line ('#' comments allowed). START: a year, a UTC date/time
    (``1981-07-01``, ``1981-07-01T00:00``) or, for projected catalogs, days."""
    path = Path(text)
    pairs: list[tuple[str, str, str]] = []
    if ":" not in text or path.is_file():
        if not path.is_file():
            raise CatalogError(f"--mc: {text!r} is not auto, none, a number, START:MC,... "
                               "periods or a file of periods")
        for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if line:
                f = line.replace(",", " ").split()
                if len(f) != 2:
                    raise CatalogError(f"{path}: line {k}: expected 'START MC', got {line!r}")
                pairs.append((f[0], f[1], f"{path}: line {k}"))
    else:
        for item in text.split(","):
            if item.strip():
                start, sep, value = item.strip().rpartition(":")
                if not sep:
                    raise CatalogError(f"--mc: period {item!r} is not START:MC")
                pairs.append((start, value, f"--mc period {item.strip()!r}"))
    if not pairs:
        raise CatalogError(f"--mc: no periods in {text!r}")
    starts, values = [], []
    for s, v, where in pairs:
        starts.append(_start(s, where))
        try:
            values.append(float(v))
        except ValueError:
            raise CatalogError(f"{where}: Mc {v!r} is not a number") from None
        if not np.isfinite(values[-1]):
            raise CatalogError(f"{where}: Mc must be finite")
    kinds = {isinstance(s, pd.Timestamp) for s in starts}
    if len(kinds) > 1:
        raise CatalogError("--mc: periods mix dates and days")
    if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
        raise CatalogError("--mc: period starts must increase")
    return McPeriods(tuple(starts), tuple(values))


def parse_mc(mc: Any) -> str | float | McPeriods | None:
    """'auto', None/'none', a number, or completeness periods ('1932:4.0,1981:2.5' or a
    file of them; see :mod:`lite_decluster.completeness`)."""
    if not isinstance(mc, str):
        return mc
    t = mc.strip().lower()
    if t in ("auto", ""):
        return "auto"
    if t == "none":
        return None
    try:
        return float(t)
    except ValueError:
        return parse_mc_periods(mc.strip())


def apply_completeness(
    table: pd.DataFrame, mc: str | float | None = "auto"
) -> tuple[pd.DataFrame, float | None]:
    """Keep events with ``magnitude >= mc``.

    Parameters
    ----------
    table : validated catalog table (needs a ``magnitude`` column).
    mc : None keeps every event; 'auto' estimates Mc by maximum curvature + 0.2
        (:func:`lite_decluster.magnitudes.estimate_mc`); a number is used as given. Magnitudes
        within 1e-6 below Mc are kept (float binning).

    Returns
    -------
    (table, mc)
        The kept rows (index reset) and the Mc used (None when not cut).
    """
    if mc is None:
        return table, None
    mags = table["magnitude"].to_numpy(dtype=np.float64)
    if isinstance(mc, str) and mc.strip().lower() == "auto":
        if not np.isfinite(mags).any():
            raise CatalogError(named(table, "cannot estimate Mc: the catalog has no magnitudes"))
        value = float(estimate_mc(mags))
    else:
        try:
            value = float(mc)
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"Mc must be 'auto', a number or None, not {mc!r}") from exc
        if not np.isfinite(value):
            raise CatalogError(f"Mc must be finite, not {mc!r}")
    keep = mags >= value - _MC_TOLERANCE
    if not keep.any():
        raise CatalogError(
            named(table, f"no events with magnitude >= Mc {value:g} (of {len(table):,})")
        )
    return table.loc[keep].reset_index(drop=True), value
