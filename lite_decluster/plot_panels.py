"""The six panels of the summary figure (lite_decluster.plot), each drawn from
:class:`lite_decluster.plot_data.PlotData` on one matplotlib Axes.

Every panel draws what it can: a panel with nothing to show (one event, every event at one
time, no event with a parent) says so in its middle instead of raising matplotlib's "Data
cannot be log-scaled". Legends sit above the axes (never over a bar or a point), the panel
title above the legend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lite_decluster.plot_data import PlotData

__all__ = ["DENSITY_MIN", "panel_counts", "panel_cumulative", "panel_eta", "panel_fmd", "panel_p",
           "panel_map", "panel_tr"]

_BLUE, _RED, _GREY = "#1f77b4", "#d62728", "#7f7f7f"
#: Above this many events the T-R panel is a 2-D histogram: a scatter of 500k points is a blot.
DENSITY_MIN = 20_000
_DENSITY_BINS = 120  # cells along each axis of the T-R density
_CURVE_POINTS = 4000  # a cumulative curve of more events is drawn through this many of them
# Candidate time-bin widths in days, smallest first; the first giving <= _MAX_BINS bins is used.
_BIN_DAYS = ((1, "day"), (7, "week"), (30.4375, "month"), (91.3125, "quarter"),
             (365.25, "year"), (5 * 365.25, "5 years"), (10 * 365.25, "10 years"))
_MAX_BINS = 150
_FONT = 8


def _legend(ax: Any, title: str, ncol: int = 2, note: str | None = None) -> None:
    """Legend above the axes (so it hides no data), then the panel title above it."""
    handles, _ = ax.get_legend_handles_labels()
    pad = 4.0
    if handles:
        legend = ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=ncol,
                           fontsize=_FONT, title=note, title_fontsize=_FONT, frameon=False,
                           borderaxespad=0.2, alignment="left")
        # The legend's height does not depend on the layout: measure it (pixels -> points).
        fig = ax.get_figure()
        height = legend.get_window_extent(fig.canvas.get_renderer()).height
        pad += height * 72.0 / fig.dpi
    ax.set_title(title, pad=pad)


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=_GREY,
            fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def panel_tr(ax: Any, d: PlotData, nnd_thr: float | None, fig: Any) -> None:
    """Rescaled time T (days) against rescaled distance R (km**df), log-log: a scatter
    coloured by p_aftershock (by label without probabilities) up to DENSITY_MIN events, a
    2-D histogram with a log colour scale above; the line T R = 10**threshold."""
    ax.set_xlabel("rescaled time T (days)")
    ax.set_ylabel("rescaled distance R (km$^{d_f}$)")
    title = "nearest-neighbour distance: T vs R"
    ok = np.isfinite(d.T) & np.isfinite(d.R) & (d.T > 0) & (d.R > 0)
    if not ok.any():
        _empty(ax, "no event with T > 0 and R > 0\n(no earlier event, or all at one time)")
        ax.set_title(title)
        return
    T, R = d.T[ok].astype(float), d.R[ok].astype(float)
    if ok.sum() > DENSITY_MIN:
        from matplotlib.colors import LogNorm

        lt, lr = np.log10(T), np.log10(R)
        xe = np.linspace(lt.min(), max(lt.max(), lt.min() + 1e-6), _DENSITY_BINS + 1)
        ye = np.linspace(lr.min(), max(lr.max(), lr.min() + 1e-6), _DENSITY_BINS + 1)
        counts = np.histogram2d(lt, lr, bins=[xe, ye])[0].T
        mesh = ax.pcolormesh(10.0**xe, 10.0**ye, np.ma.masked_equal(counts, 0), cmap="viridis",
                             norm=LogNorm(vmin=1, vmax=max(counts.max(), 2)), rasterized=True)
        fig.colorbar(mesh, ax=ax, label="events per cell", shrink=0.9)
        title += f" (density of {int(ok.sum()):,} events)"
    else:
        # Random drawing order: no colour hides another.
        idx = np.random.default_rng(0).permutation(T.size)
        if d.p is not None:
            p = d.p[ok][idx]
            fin = np.isfinite(p)
            sc = ax.scatter(T[idx][fin], R[idx][fin], c=p[fin], s=3, cmap="RdYlBu_r",
                            vmin=0.0, vmax=1.0, linewidths=0, rasterized=True)
            fig.colorbar(sc, ax=ax, label="p_aftershock", shrink=0.9)
        else:
            colours = np.where(d.aftershock[ok][idx], _RED, _BLUE)
            ax.scatter(T[idx], R[idx], c=colours, s=3, linewidths=0, rasterized=True)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if nnd_thr is not None:
        t_line = np.logspace(np.log10(T.min()), np.log10(T.max()), 50)
        r_line = 10.0**nnd_thr / t_line
        keep = (r_line >= R.min()) & (r_line <= R.max())
        if keep.any():
            ax.plot(t_line[keep], r_line[keep], "k--", lw=1.2,
                    label=rf"$T\,R = 10^{{{nnd_thr:.2f}}}$ (NND threshold)")
    _legend(ax, title, ncol=1)


def panel_eta(ax: Any, d: PlotData, nnd_thr: float | None) -> None:
    """Histogram of log10 eta (bins of 0.1) of background, aftershocks and all; events
    without eta (no earlier event) are counted in the legend's note."""
    fin = np.isfinite(d.log_eta)
    vals = d.log_eta[fin].astype(float)
    ax.set_xlabel(r"log$_{10}$ $\eta$ (nearest-neighbour distance)")
    ax.set_ylabel("events per 0.1")
    missing = int((~fin).sum())
    note = f"{_plural(missing, 'event')} without η (no earlier event) not shown" \
        if missing else None
    if vals.size:
        edges = np.arange(np.floor(vals.min() * 10) / 10, vals.max() + 0.2, 0.1)
        for mask, colour, name in ((~d.aftershock, _BLUE, "background"),
                                   (d.aftershock, _RED, "aftershock")):
            v = d.log_eta[mask & fin]
            ax.hist(v, bins=edges, histtype="stepfilled", alpha=0.45, color=colour,
                    label=f"{name} ({v.size:,})")
        ax.hist(vals, bins=edges, histtype="step", color="k", lw=0.8,
                label=f"all ({vals.size:,})")
    else:
        _empty(ax, "no event has η\n(no event with an earlier event)")
    if nnd_thr is not None and vals.size:
        ax.axvline(nnd_thr, color="k", ls="--", lw=1.2, label=f"NND threshold {nnd_thr:.2f}")
    _legend(ax, r"log$_{10}$ $\eta$ by label", note=note)


def panel_p(ax: Any, d: PlotData, thr: float) -> None:
    """Distribution of p_aftershock (bins of 0.025, log counts) with the decision threshold;
    the frequency-magnitude distribution when no event has a probability (NND method)."""
    if d.p is None:
        panel_fmd(ax, d)
        return
    edges = np.linspace(0.0, 1.0, 41)
    fin = np.isfinite(d.p)
    ax.hist([d.p[~d.aftershock & fin], d.p[d.aftershock & fin]], bins=edges, stacked=True,
            color=[_BLUE, _RED], label=["background", "aftershock"])
    ax.axvline(thr, color="k", ls="--", lw=1.2, label=f"threshold {thr:g}")
    ax.set_yscale("log")
    ax.set_xlabel("p_aftershock")
    ax.set_ylabel("events per 0.025")
    _legend(ax, "aftershock probability", ncol=3)


def panel_fmd(ax: Any, d: PlotData) -> None:
    """Cumulative frequency-magnitude distribution of all and of background events."""
    ax.set_xlabel("magnitude")
    ax.set_ylabel("number of events with M ≥ magnitude")
    title = "frequency-magnitude distribution"
    drawn = False
    for mask, colour, name in ((np.ones(d.n, bool), "k", "all events"),
                               (~d.aftershock, _BLUE, "background")):
        m = d.mag[mask & np.isfinite(d.mag)]
        if not m.size:
            continue
        # One step per distinct magnitude (catalogs bin them): same curve, few points.
        values, counts = np.unique(m, return_counts=True)
        ax.step(values[::-1], np.cumsum(counts[::-1]), where="post", color=colour, label=name,
                marker="o" if values.size < 3 else None)
        drawn = True
    if drawn:
        ax.set_yscale("log")
    else:
        _empty(ax, "no magnitudes")
    _legend(ax, title)


def _bins(days: np.ndarray) -> tuple[np.ndarray, str]:
    lo, hi = float(np.min(days)), float(np.max(days))
    span = max(hi - lo, 1e-9)
    width, name = _BIN_DAYS[-1]
    for w, n in _BIN_DAYS:
        if span / w <= _MAX_BINS:
            width, name = w, n
            break
    edges = np.arange(lo, hi + width, width)
    if edges.size < 2:  # every event at one time
        edges = np.array([lo, lo + width])
    return edges, name


def _time_labels(ax: Any, is_date: bool) -> None:
    if is_date:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        loc = AutoDateLocator()
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))
        ax.set_xlabel("time (UTC)")
    else:
        ax.set_xlabel("time (days)")


def panel_counts(ax: Any, d: PlotData) -> None:
    """Background and aftershock counts per time bin (log scale; the last, partial bin scaled
    to a full bin's rate)."""
    edges, name = _bins(d.days)
    scale = np.ones(edges.size - 1)
    covered = float(np.max(d.days)) - edges[-2]
    width = edges[-1] - edges[-2]
    if edges.size > 2:  # a catalog shorter than one bin has no rate to extrapolate
        scale[-1] = min(width / max(covered, 1e-9 * width), 1e6)
    drawn = False
    for mask, colour, label in ((d.aftershock, _RED, "aftershock"),
                                (~d.aftershock, _BLUE, "background")):
        counts = np.histogram(d.days[mask], bins=edges)[0] * scale
        if not counts.any():
            ax.plot([], [], color=colour, label=f"{label} (none)")
            continue
        # Steps, not stacked bars: stacking misleads on the log scale aftershock bursts need;
        # empty bins are gaps (a log scale has no zero).
        ax.stairs(np.where(counts > 0, counts, np.nan), edges, color=colour, lw=1.2,
                  label=label, baseline=None)
        drawn = True
    if drawn:
        ax.set_yscale("log")
    ax.set_ylabel(f"events per {name}")
    _legend(ax, f"events per {name}")
    _time_labels(ax, d.is_date)


def _curve(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times, cumulative count) of sorted ``t``, thinned to about _CURVE_POINTS points."""
    n = np.arange(1, t.size + 1)
    if t.size <= _CURVE_POINTS:
        return t, n
    idx = np.unique(np.linspace(0, t.size - 1, _CURVE_POINTS).astype(np.int64))
    return t[idx], n[idx]


def panel_cumulative(ax: Any, d: PlotData) -> None:
    """Cumulative number of all and of background events, with the straight line of a
    constant background rate."""
    for mask, colour, name in ((np.ones(d.n, bool), "k", "all events"),
                               (~d.aftershock, _BLUE, "background")):
        t = np.sort(d.days[mask])
        ax.step(*_curve(t), where="post", color=colour, label=name,
                marker="o" if t.size and t[-1] == t[0] else None)
    if d.days.max() == d.days.min():  # one time: a day around it, not matplotlib's 4 years
        ax.set_xlim(d.days.min() - 0.5, d.days.min() + 0.5)
    t = np.sort(d.days[~d.aftershock])
    if t.size > 1 and t[-1] > t[0]:
        ax.plot([t[0], t[-1]], [1, t.size], color=_GREY, ls=":", lw=1.2,
                label="constant background rate")
    ax.set_ylabel("cumulative number")
    _legend(ax, "cumulative number of events", ncol=3)
    _time_labels(ax, d.is_date)


def panel_map(ax: Any, d: PlotData) -> None:
    """Map coloured by label, marker area doubling per magnitude unit; see plot_map."""
    from lite_decluster.plot_map import draw_map

    draw_map(ax, d)
    _legend(ax, "map (marker size by magnitude)")
