"""Which validated events take part: a time span, a lon/lat box or polygon, a maximum depth.

Events outside the selection are not declustered, but their rows stay in the output with a
``reason`` (``outside selection: before start``, ``... after end``, ``... outside region``,
``... deeper than 20 km``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.catalog.errors import CatalogError, named

__all__ = ["Selection", "apply_selection", "make_selection", "parse_region", "parse_time"]


@dataclass(frozen=True)
class Selection:
    """A selection of events.

    start, end : UTC times (``pandas.Timestamp``), or float days for projected catalogs;
        ``start <= time < end``.
    region : ``(lon_min, lon_max, lat_min, lat_max)`` degrees (``lon_min > lon_max``: the box
        crosses the antimeridian), or a ``(k, 2)`` array of polygon vertices (lon, lat).
    max_depth : km; events deeper are left out (events without a depth are kept).
    """

    start: pd.Timestamp | float | None = None
    end: pd.Timestamp | float | None = None
    region: tuple[float, float, float, float] | np.ndarray | None = None
    max_depth: float | None = None

    def is_empty(self) -> bool:
        return self.start is None and self.end is None and self.region is None and \
            self.max_depth is None

    def describe(self) -> str:
        parts = []
        if self.start is not None:
            parts.append(f"from {self.start}")
        if self.end is not None:
            parts.append(f"before {self.end}")
        if isinstance(self.region, tuple):
            parts.append("lon {:g} to {:g}, lat {:g} to {:g}".format(*self.region))
        elif self.region is not None:
            parts.append(f"inside a polygon of {len(self.region)} vertices")
        if self.max_depth is not None:
            parts.append(f"depth <= {self.max_depth:g} km")
        return ", ".join(parts)


def parse_time(text: str | None, what: str) -> pd.Timestamp | float | None:
    """'2000', '2000-06', '2000-06-01T12:00' (UTC) or a number of days (projected catalogs)."""
    if text is None or not str(text).strip():
        return None
    s = str(text).strip()
    if len(s) == 4 and s.isdigit():
        s = f"{s}-01-01"
    try:
        return pd.Timestamp(s, tz="UTC") if not s.endswith("Z") else pd.Timestamp(s)
    except (ValueError, TypeError):
        pass
    try:
        return float(s)
    except ValueError:
        raise CatalogError(
            f"{what}: {text!r} is not a UTC time (e.g. 1981, 1981-01-01, 1981-01-01T00:00) "
            "or a number of days"
        ) from None


def parse_region(text: str | None) -> tuple[float, float, float, float] | np.ndarray | None:
    """'LON_MIN,LON_MAX,LAT_MIN,LAT_MAX' (degrees) or the path of a polygon file: one vertex
    per line, 'lon lat' or 'lon,lat' (degrees); blank lines and '#' comments ignored."""
    if text is None or not str(text).strip():
        return None
    s = str(text).strip()
    parts = s.split(",")
    if len(parts) == 4 and not Path(s).exists():
        try:
            box = tuple(float(p) for p in parts)
        except ValueError:
            raise CatalogError(f"--region: {s!r} is not LON_MIN,LON_MAX,LAT_MIN,LAT_MAX") from None
        lon0, lon1, lat0, lat1 = box
        if not (-90 <= lat0 < lat1 <= 90):
            raise CatalogError(f"--region: latitudes must satisfy -90 <= {lat0} < {lat1} <= 90")
        if lon0 == lon1 or not all(-360 <= v <= 360 for v in (lon0, lon1)):
            raise CatalogError(f"--region: longitudes {lon0}, {lon1} do not span a box")
        return box  # type: ignore[return-value]
    return _read_polygon(Path(s))


def _read_polygon(path: Path) -> np.ndarray:
    if not path.is_file():
        raise CatalogError(
            f"--region: {os.fspath(path)} is neither LON_MIN,LON_MAX,LAT_MIN,LAT_MAX nor a file"
        )
    verts = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.replace(",", " ").split()
        try:
            lon, lat = float(fields[0]), float(fields[1])
        except (IndexError, ValueError):
            raise CatalogError(f"{path}: line {k}: expected 'lon lat', got {line!r}") from None
        if not -90 <= lat <= 90:
            raise CatalogError(f"{path}: line {k}: latitude {lat} outside [-90, 90]")
        verts.append((lon, lat))
    if len(verts) >= 2 and verts[0] == verts[-1]:
        verts.pop()
    if len(verts) < 3:
        raise CatalogError(f"{path}: a polygon needs at least 3 vertices, found {len(verts)}")
    return np.asarray(verts, dtype=float)


def _wrap(lon: np.ndarray) -> np.ndarray:
    """Longitudes in [-180, 180)."""
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


def in_box(lon: np.ndarray, lat: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Whether each point is inside the lon/lat box (edges included)."""
    lon0, lon1, lat0, lat1 = box
    x, a, b = _wrap(lon), float(_wrap(np.array(lon0))), float(_wrap(np.array(lon1)))
    if lon1 - lon0 >= 360:
        inside_lon = np.ones(x.shape, dtype=bool)
    elif a <= b and lon0 <= lon1:
        inside_lon = (x >= a) & (x <= b)
    else:  # crosses the antimeridian
        inside_lon = (x >= a) | (x <= b)
    return inside_lon & (lat >= lat0) & (lat <= lat1)


def in_polygon(lon: np.ndarray, lat: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule on the lon/lat plane; vertex longitudes are unwrapped relative to the
    first vertex, and so are the points, so a polygon may cross the antimeridian."""
    ref = poly[0, 0]
    px = ref + _wrap(poly[:, 0] - ref)
    py = poly[:, 1]
    x = ref + _wrap(np.asarray(lon, dtype=float) - ref)
    y = np.asarray(lat, dtype=float)
    inside = np.zeros(x.shape, dtype=bool)
    x1, y1 = px, py
    x2, y2 = np.roll(px, -1), np.roll(py, -1)
    for k in range(px.size):  # one pass per edge: O(n edges), vectorised over points
        crosses = (y1[k] > y) != (y2[k] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x1[k] + (y - y1[k]) * (x2[k] - x1[k]) / (y2[k] - y1[k])
        inside ^= crosses & (x < xc)
    return inside


def apply_selection(table: pd.DataFrame, selection: Selection | None
                    ) -> tuple[pd.DataFrame, list[tuple[np.ndarray, str]]]:
    """Keep the selected events of a validated table.

    Returns
    -------
    (kept, left_out)
        ``kept``: the selected rows (index reset, order kept); ``left_out``: (input rows,
        reason) for each reason an event was left out (the first failing test wins).
    """
    if selection is None or selection.is_empty():
        return table, []
    keep = np.ones(len(table), dtype=bool)
    out: list[tuple[np.ndarray, str]] = []
    rows = table["row"].to_numpy()

    def drop(mask: np.ndarray, reason: str) -> None:
        nonlocal keep
        hit = keep & mask
        if hit.any():
            out.append((rows[hit], f"outside selection: {reason}"))
        keep &= ~mask

    t = table["time"]
    for bound, name in ((selection.start, "start"), (selection.end, "end")):
        if bound is None:
            continue
        if pd.api.types.is_datetime64_any_dtype(t) != isinstance(bound, pd.Timestamp):
            kind = "UTC times" if isinstance(bound, pd.Timestamp) else "numbers of days"
            raise CatalogError(f"--{name} is given as {kind}, which this catalog's times are not")
        mask = (t < bound).to_numpy() if name == "start" else (t >= bound).to_numpy()
        drop(mask, f"before start {bound}" if name == "start" else f"at or after end {bound}")
    if selection.region is not None:
        if "latitude" not in table:
            raise CatalogError("--region needs latitude and longitude; this catalog is x/y")
        lon = table["longitude"].to_numpy(dtype=float)
        lat = table["latitude"].to_numpy(dtype=float)
        reg = selection.region
        inside = in_box(lon, lat, reg) if isinstance(reg, tuple) else in_polygon(lon, lat, reg)
        drop(~inside, "outside region")
    if selection.max_depth is not None:
        depth = table["depth"].to_numpy(dtype=float)
        drop(depth > selection.max_depth, f"deeper than {selection.max_depth:g} km")
    if not keep.any():
        raise CatalogError(named(table, f"no event is in the selection ({selection.describe()})"))
    return table.loc[keep].reset_index(drop=True), out


def make_selection(
    start: Any = None, end: Any = None, region: Any = None, max_depth: float | None = None
) -> Selection | None:
    """A :class:`~lite_decluster.selection.Selection` from user values: times as text
    ('1981', '1981-01-01T00:00', UTC) or Timestamps, or days (projected catalogs); region as
    'LON_MIN,LON_MAX,LAT_MIN,LAT_MAX', a 4-tuple, a polygon file or a (k, 2) lon/lat array."""
    def when(v: Any, what: str) -> Any:
        if v is None:
            return None
        if isinstance(v, pd.Timestamp):
            return v.tz_localize("UTC") if v.tz is None else v.tz_convert("UTC")
        if isinstance(v, (int, float, np.number)):
            return float(v)
        return parse_time(str(v), what)

    if isinstance(region, (str, os.PathLike)):
        reg: Any = parse_region(os.fspath(region))
    elif region is None:
        reg = None
    elif np.ndim(region) == 1 and len(region) == 4:
        reg = parse_region(",".join(str(float(v)) for v in region))
    else:
        reg = np.asarray(region, dtype=float)
        if reg.ndim != 2 or reg.shape[1] != 2 or reg.shape[0] < 3:
            raise CatalogError("region must be a lon/lat box or a (k >= 3, 2) polygon array")
    if max_depth is not None and not (isinstance(max_depth, (int, float)) and max_depth >= 0):
        raise CatalogError(f"max_depth must be a non-negative number of km, not {max_depth!r}")
    sel = Selection(when(start, "--start"), when(end, "--end"), reg,
                    None if max_depth is None else float(max_depth))
    if sel.start is not None and sel.end is not None and \
            type(sel.start) is type(sel.end) and not sel.start < sel.end:
        raise CatalogError(f"--start {sel.start} must be before --end {sel.end}")
    return None if sel.is_empty() else sel
