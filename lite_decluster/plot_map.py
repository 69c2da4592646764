"""The map panel of the summary figure: extent from the data, degree ticks that do not
collide, longitudes unwrapped across the antimeridian (lite_decluster.plot)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lite_decluster.plot_data import PlotData

__all__ = ["draw_map", "lon_label", "unwrap_longitudes"]

_BLUE_RGBA = (0.122, 0.467, 0.706, 0.5)
_RED_RGBA = (0.839, 0.153, 0.157, 0.5)
_MARGIN = 0.04  # of the data's span, each side
_SLICES = 8  # interleaved random slices per class (see draw_map)
_MIN_SPAN = {True: 10.0, False: 0.2}  # km (projected) or degrees, for a single point


def unwrap_longitudes(lon: np.ndarray) -> np.ndarray:
    """Longitudes (degrees) shifted to [0, 360) when that makes their span smaller (a
    catalog across the antimeridian: 179 and -179 are 2 degrees apart, not 358)."""
    lon = np.asarray(lon, dtype=np.float64)
    fin = lon[np.isfinite(lon)]
    if not fin.size:
        return lon
    wrapped = np.mod(lon, 360.0)
    wf = wrapped[np.isfinite(wrapped)]
    return wrapped if wf.max() - wf.min() < fin.max() - fin.min() else lon


def lon_label(value: float, _pos: object = None) -> str:
    """'118.5°W', '179°E', '0°' for a longitude in degrees, any multiple of 360 off."""
    v = (float(value) + 180.0) % 360.0 - 180.0
    if abs(v) < 1e-9 or abs(abs(v) - 180.0) < 1e-9:
        return f"{abs(v):g}°"
    return f"{abs(v):g}°{'W' if v < 0 else 'E'}"


def _lat_label(value: float, _pos: object = None) -> str:
    v = float(value)
    return "0°" if abs(v) < 1e-9 else f"{abs(v):g}°{'S' if v < 0 else 'N'}"


def _limits(v: np.ndarray, min_span: float) -> tuple[float, float]:
    fin = v[np.isfinite(v)]
    if not fin.size:
        return 0.0, 1.0
    lo, hi = float(fin.min()), float(fin.max())
    span = max(hi - lo, min_span)
    mid = 0.5 * (lo + hi)
    half = 0.5 * span * (1.0 + 2.0 * _MARGIN)
    return mid - half, mid + half


def draw_map(ax: Any, d: PlotData) -> None:
    """Background and aftershocks (one scatter, random order: neither class hides the
    other), marker area doubling per magnitude unit, axes limited to the data."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    x = d.x if d.projected else unwrap_longitudes(d.x).astype(np.float32)
    y = d.y
    m0 = float(np.nanmin(d.mag)) if np.isfinite(d.mag).any() else 0.0
    base = float(np.clip(200.0 / np.sqrt(max(d.n, 1)), 1.5, 20.0))  # few events: bigger dots
    size = np.clip(base * np.exp2(np.nan_to_num(d.mag - m0)), 1.0, 200.0).astype(np.float32)
    # Random drawing order (neither class hides the other where both are dense) as
    # interleaved random slices of each class, one colour per call: no per-point colour
    # array (on 900k events, 60 MB of RGBA floats).
    rng = np.random.default_rng(0)
    parts = [np.array_split(rng.permutation(np.flatnonzero(mask)), _SLICES)
             for mask in (~d.aftershock, d.aftershock)]
    for k in range(_SLICES):
        for part, colour in zip((parts[0][k], parts[1][k]), (_BLUE_RGBA, _RED_RGBA), strict=True):
            if part.size:
                ax.scatter(x[part], y[part], s=size[part], color=colour, linewidths=0,
                           rasterized=True)
    for mask, colour, name in ((~d.aftershock, _BLUE_RGBA, "background"),
                               (d.aftershock, _RED_RGBA, "aftershock")):
        ax.scatter([], [], s=12, color=colour[:3], label=f"{name} ({int(mask.sum()):,})")
    min_span = _MIN_SPAN[d.projected]
    xlim, ylim = _limits(x, min_span), _limits(y, min_span)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    mid = float(np.nanmean(y)) if np.isfinite(y).any() and not d.projected else 0.0
    stretch = 1.0 / max(np.cos(np.radians(mid)), 0.05)  # y units per x unit on screen
    # A tall, narrow map gets fewer longitude ticks, so that their labels never touch.
    width_over_height = (xlim[1] - xlim[0]) / ((ylim[1] - ylim[0]) * stretch)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=int(np.clip(round(4 * width_over_height),
                                                             2, 5)), steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    # Equal distances along both axes (near the catalog's mean latitude): the box shrinks,
    # the limits stay those of the data.
    ax.set_aspect(stretch, adjustable="box")
    if d.projected:
        ax.set_xlabel("x (km)")
        ax.set_ylabel("y (km)")
        return
    ax.xaxis.set_major_formatter(FuncFormatter(lon_label))
    ax.yaxis.set_major_formatter(FuncFormatter(_lat_label))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
