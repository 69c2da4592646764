"""The summary figure of a declustered catalog.

Needs matplotlib, an optional extra: ``pip install 'lite-decluster[plot]'``.

Six panels, as seismologists usually check a declustering:

1. rescaled time T (days) against rescaled distance R (km**df), log-log, coloured by
   ``p_aftershock`` (by label for the NND method), with the line of constant eta at the NND
   threshold (T * R = 10**threshold);
2. histogram of log10 eta, background and aftershocks;
3. distribution of ``p_aftershock`` with the decision threshold (for the NND method, which has
   no probabilities: the frequency-magnitude distribution of all and of background events);
4. background and aftershock counts per time bin (bin width chosen from the catalog's span);
5. cumulative number of all and of background events (a declustered catalog should grow
   about linearly: a stationary Poisson background);
6. map (longitude/latitude, or x/y km for projected catalogs) coloured by label.

matplotlib is imported only when drawing, through the object-oriented API with the Agg canvas
(no pyplot, no global backend switch), so that importing lite_decluster never needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from lite_decluster.catalog import CatalogError, load_catalog
from lite_decluster.nnd import nnd_threshold as _nnd_threshold
from lite_decluster.output import atomic_write, check_output_path

__all__ = ["PlotError", "check_plot_path", "figure", "plot_declustered", "plot_labelled_file"]

INSTALL_HINT = "pip install 'lite-decluster[plot]'"
_NEEDED = ("label", "p_aftershock", "eta", "T", "R")
_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
_BLUE, _RED, _GREY = "#1f77b4", "#d62728", "#7f7f7f"
# Candidate time-bin widths in days, smallest first; the first giving <= _MAX_BINS bins is used.
_BIN_DAYS = ((1, "day"), (7, "week"), (30.4375, "month"), (91.3125, "quarter"),
             (365.25, "year"), (5 * 365.25, "5 years"), (10 * 365.25, "10 years"))
_MAX_BINS = 150


class PlotError(ValueError):
    """The figure cannot be drawn (matplotlib missing, not a labelled catalog, bad file type)."""


def _matplotlib() -> tuple[Any, Any]:
    """(Figure class, FigureCanvasAgg class), or PlotError with the install hint."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlotError(f"plotting needs matplotlib, which is not installed: {INSTALL_HINT}") \
            from exc
    return Figure, FigureCanvasAgg


def check_plot_path(path: str | os.PathLike[str]) -> None:
    """Raise PlotError now if a figure cannot be written to ``path`` (matplotlib missing or
    unknown suffix), before a long run that would end in that message."""
    if Path(path).suffix.lower() not in _FORMATS:
        raise PlotError(f"unknown figure type {Path(path).suffix!r}; use .png, .pdf or .svg")
    _matplotlib()


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


def _frame(result: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """One row per event with a position: canonical columns plus the result columns."""
    missing = [c for c in _NEEDED if c not in result.columns]
    if missing:
        raise PlotError(
            f"not a labelled catalog (no column {', '.join(missing)}); run "
            "'lite-decluster run' first"
        )
    pos = events["row"].to_numpy()
    sub = result.iloc[pos]
    out = events.reset_index(drop=True).copy()
    label = sub["label"].astype("string").str.strip().str.lower()
    out["label"] = label.fillna("").to_numpy(dtype=object)
    for c in ("p_aftershock", "eta", "T", "R"):
        out[c] = pd.to_numeric(sub[c], errors="coerce").to_numpy(dtype=float)
    return out


def _time_axis(t: pd.Series) -> tuple[np.ndarray, bool]:
    """Times as days (matplotlib date numbers for UTC datetimes) and whether they are dates."""
    if pd.api.types.is_datetime64_any_dtype(t):
        from matplotlib.dates import date2num

        naive = t.dt.tz_convert("UTC").dt.tz_localize(None) if t.dt.tz is not None else t
        return date2num(naive.to_numpy(dtype="datetime64[ns]")), True
    return t.to_numpy(dtype=float), False


def _bins(days: np.ndarray) -> tuple[np.ndarray, str]:
    lo, hi = float(np.min(days)), float(np.max(days))
    span = max(hi - lo, 1e-9)
    width, name = _BIN_DAYS[-1]
    for w, n in _BIN_DAYS:
        if span / w <= _MAX_BINS:
            width, name = w, n
            break
    edges = np.arange(lo, hi + width, width)
    if edges.size < 2:
        edges = np.array([lo, lo + width])
    return edges, name


def figure(
    result: pd.DataFrame,
    *,
    events: pd.DataFrame | None = None,
    nnd_threshold: float | None = None,
    threshold: float | None = None,
    title: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> Any:
    """Draw the six-panel summary figure of a declustered catalog.

    Parameters
    ----------
    result : DataFrame
        Output of :func:`lite_decluster.decluster` (or a labelled file read back), one row per
        input row, with ``label``, ``p_aftershock``, ``eta``, ``T``, ``R``.
    events : DataFrame, optional
        Validated table with ``row`` (position in ``result``), ``time``, ``magnitude`` and
        ``latitude``/``longitude`` or ``x``/``y``; default: read from ``result`` itself.
    nnd_threshold : float, optional
        log10 eta threshold to draw; default: estimated from the data when it is bimodal.
    threshold : float, optional
        Probability threshold to draw on the p_aftershock panel (default 0.5).
    title : str, optional
    columns : dict, optional
        Column overrides for reading ``result`` (keys as in ``load_catalog``).

    Returns
    -------
    matplotlib.figure.Figure (Agg canvas attached; not registered with pyplot).
    """
    Figure, Canvas = _matplotlib()
    ev = _frame(result, _events(result, events, columns))
    bg = (ev["label"] == "background").to_numpy()
    af = (ev["label"] == "aftershock").to_numpy()
    if not (bg | af).any():
        raise PlotError("the catalog has no labelled events to plot")
    log_eta = np.log10(np.where(ev["eta"].to_numpy() > 0, ev["eta"].to_numpy(), np.nan))
    if nnd_threshold is None:
        try:
            nnd_threshold = _nnd_threshold(log_eta[bg | af])
        except ValueError:
            nnd_threshold = None
    p = ev["p_aftershock"].to_numpy()
    has_p = bool(np.isfinite(p).any())
    thr = 0.5 if threshold is None else float(threshold)

    fig = Figure(figsize=(16, 9.5), layout="constrained")
    Canvas(fig)
    axes = fig.subplots(2, 3)
    _panel_tr(axes[0, 0], ev, p if has_p else None, bg, af, nnd_threshold, fig)
    _panel_eta(axes[0, 1], log_eta, bg, af, nnd_threshold)
    _panel_p(axes[0, 2], p if has_p else None, bg, af, thr, ev["magnitude"].to_numpy())
    days, is_date = _time_axis(ev["time"])
    _panel_counts(axes[1, 0], days, bg, af, is_date)
    _panel_cumulative(axes[1, 1], days, bg, af, is_date)
    _panel_map(axes[1, 2], ev, bg, af)

    n = int((bg | af).sum())
    head = title or "lite-decluster"
    fig.suptitle(
        f"{head}: {n:,} events classified, {int(bg.sum()):,} background "
        f"({bg.sum() / n:.1%}), {int(af.sum()):,} aftershocks",
        fontsize=13,
    )
    return fig


def _panel_tr(ax, ev, p, bg, af, nnd_thr, fig) -> None:
    T, R = ev["T"].to_numpy(), ev["R"].to_numpy()
    ok = (bg | af) & (T > 0) & (R > 0)
    rng = np.random.default_rng(0)
    idx = rng.permutation(np.flatnonzero(ok))  # random drawing order: no colour hides another
    if p is not None:
        finite = np.isfinite(p[idx])
        sc = ax.scatter(T[idx][finite], R[idx][finite], c=p[idx][finite], s=3, cmap="RdYlBu_r",
                        vmin=0.0, vmax=1.0, linewidths=0, rasterized=True)
        fig.colorbar(sc, ax=ax, label="p_aftershock", shrink=0.9)
    else:
        colours = np.where(af[idx], _RED, _BLUE)
        ax.scatter(T[idx], R[idx], c=colours, s=3, linewidths=0, rasterized=True)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if nnd_thr is not None and idx.size:
        t_line = np.logspace(np.log10(T[ok].min()), np.log10(T[ok].max()), 50)
        r_line = 10.0**nnd_thr / t_line
        keep = (r_line >= R[ok].min()) & (r_line <= R[ok].max())
        ax.plot(t_line[keep], r_line[keep], "k--", lw=1.2,
                label=rf"$T\,R = 10^{{{nnd_thr:.2f}}}$ (NND threshold)")
        ax.legend(loc="lower left", fontsize=8)
    ax.set_xlabel("rescaled time T (days)")
    ax.set_ylabel("rescaled distance R (km$^{d_f}$)")
    ax.set_title("nearest-neighbour distance: T vs R")


def _panel_eta(ax, log_eta, bg, af, nnd_thr) -> None:
    vals = log_eta[(bg | af) & np.isfinite(log_eta)]
    if vals.size:
        edges = np.arange(np.floor(vals.min() * 10) / 10, vals.max() + 0.2, 0.1)
        for mask, colour, name in ((bg, _BLUE, "background"), (af, _RED, "aftershock")):
            v = log_eta[mask & np.isfinite(log_eta)]
            ax.hist(v, bins=edges, histtype="stepfilled", alpha=0.45, color=colour,
                    label=f"{name} ({v.size:,})")
        ax.hist(vals, bins=edges, histtype="step", color="k", lw=0.8, label="all")
    if nnd_thr is not None:
        ax.axvline(nnd_thr, color="k", ls="--", lw=1.2, label=f"NND threshold {nnd_thr:.2f}")
    ax.set_xlabel(r"log$_{10}$ $\eta$ (nearest-neighbour distance)")
    ax.set_ylabel("events per 0.1")
    ax.set_title(r"log$_{10}$ $\eta$ by label")
    ax.legend(fontsize=8)


def _panel_p(ax, p, bg, af, thr, mags) -> None:
    if p is None:
        _panel_fmd(ax, mags, bg, af)
        return
    ax.set_title("aftershock probability")
    edges = np.linspace(0.0, 1.0, 41)
    ax.hist([p[bg & np.isfinite(p)], p[af & np.isfinite(p)]], bins=edges, stacked=True,
            color=[_BLUE, _RED], label=["background", "aftershock"])
    ax.axvline(thr, color="k", ls="--", lw=1.2, label=f"threshold {thr:g}")
    ax.set_yscale("log")
    ax.set_xlabel("p_aftershock")
    ax.set_ylabel("events per 0.025")
    ax.legend(fontsize=8)


def _panel_fmd(ax, mags, bg, af) -> None:
    """Cumulative frequency-magnitude distribution of all and of background events (the NND
    method has no probabilities to show)."""
    for mask, colour, name in ((bg | af, "k", "all events"), (bg, _BLUE, "background")):
        m = np.sort(mags[mask & np.isfinite(mags)])[::-1]
        ax.step(m, np.arange(1, m.size + 1), where="post", color=colour, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("magnitude")
    ax.set_ylabel("number of events with M ≥ magnitude")
    ax.set_title("frequency-magnitude distribution")
    ax.legend(fontsize=8)


def _time_labels(ax, is_date: bool) -> None:
    if is_date:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        loc = AutoDateLocator()
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))
        ax.set_xlabel("time (UTC)")
    else:
        ax.set_xlabel("time (days)")


def _panel_counts(ax, days, bg, af, is_date) -> None:
    edges, name = _bins(days[bg | af])
    # The last bin usually runs past the catalog's end: scale it to a rate per full bin.
    last = np.ones(edges.size - 1)
    covered = float(np.max(days[bg | af])) - edges[-2]
    last[-1] = (edges[-1] - edges[-2]) / max(covered, 1e-9 * (edges[-1] - edges[-2]))
    last[-1] = min(last[-1], 1e6)
    for mask, colour, label in ((af, _RED, "aftershock"), (bg, _BLUE, "background")):
        counts = np.histogram(days[mask], bins=edges)[0] * last
        # Steps, not stacked bars: stacking misleads on the log scale aftershock bursts need.
        ax.stairs(counts, edges, color=colour, lw=1.2, label=label, baseline=None)
    ax.set_yscale("log")
    ax.set_ylabel(f"events per {name}")
    ax.set_title(f"events per {name}")
    ax.legend(fontsize=8)
    _time_labels(ax, is_date)


def _panel_cumulative(ax, days, bg, af, is_date) -> None:
    for mask, colour, name in ((bg | af, "k", "all events"), (bg, _BLUE, "background")):
        t = np.sort(days[mask])
        ax.step(t, np.arange(1, t.size + 1), where="post", color=colour, label=name)
    t = np.sort(days[bg])
    if t.size > 1:
        ax.plot([t[0], t[-1]], [1, t.size], color=_GREY, ls=":", lw=1.2,
                label="constant background rate")
    ax.set_ylabel("cumulative number")
    ax.set_title("cumulative number of events")
    ax.legend(fontsize=8, loc="upper left")
    _time_labels(ax, is_date)


def _panel_map(ax, ev, bg, af) -> None:
    projected = "x" in ev and "latitude" not in ev
    xcol, ycol = ("x", "y") if projected else ("longitude", "latitude")
    x, y = ev[xcol].to_numpy(), ev[ycol].to_numpy()
    m = ev["magnitude"].to_numpy()
    m0 = np.nanmin(m[bg | af])
    size = np.clip(1.5 * 2.0 ** (m - m0), 1.0, 200.0)  # area doubles per magnitude unit
    # One scatter in random order: neither class hides the other where both are dense.
    idx = np.random.default_rng(0).permutation(np.flatnonzero(bg | af))
    colours = np.where(af[idx], _RED, _BLUE)
    ax.scatter(x[idx], y[idx], s=size[idx], c=colours, alpha=0.5, linewidths=0,
               rasterized=True)
    for mask, colour, name in ((bg, _BLUE, "background"), (af, _RED, "aftershock")):
        ax.scatter([], [], s=12, c=colour, label=f"{name} ({int(mask.sum()):,})")
    if projected:
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("x (km)")
        ax.set_ylabel("y (km)")
    else:
        mid = np.nanmean(y[bg | af])
        # Equal distances along both axes near the catalog's mean latitude.
        ax.set_aspect(1.0 / max(np.cos(np.radians(mid)), 0.05), adjustable="datalim")
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
    ax.set_title("map (marker size by magnitude)")
    ax.legend(fontsize=8, loc="best")


def _save(fig: Any, path: Path) -> Path:
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise PlotError(f"unknown figure type {path.suffix!r}; use .png, .pdf or .svg")

    def write(fh: IO[bytes]) -> None:
        fig.savefig(fh, format=kind, dpi=110)

    return atomic_write(path, write)


def plot_declustered(
    result: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    events: pd.DataFrame | None = None,
    nnd_threshold: float | None = None,
    threshold: float | None = None,
    title: str | None = None,
    columns: Mapping[str, str] | None = None,
    force: bool = True,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Draw :func:`figure` and write it atomically to ``path`` (.png, .pdf or .svg).

    ``force=False`` refuses an existing file; ``inputs`` are paths never to overwrite.
    Returns the path written.
    """
    out = check_output_path(path, inputs=inputs, force=force)
    if out.suffix.lower() not in _FORMATS:
        raise PlotError(f"unknown figure type {out.suffix!r}; use .png, .pdf or .svg")
    fig = figure(result, events=events, nnd_threshold=nnd_threshold, threshold=threshold,
                 title=title, columns=columns)
    return _save(fig, out)


def plot_labelled_file(
    labelled: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    title: str | None = None,
    force: bool = False,
) -> Path:
    """Figure of a file written by ``lite-decluster run`` (CSV, or parquet by suffix)."""
    src = Path(labelled)
    _matplotlib()  # fail early with the install hint, before reading a large file
    out = check_output_path(path, inputs=[src], force=force)
    if src.suffix.lower() in (".parquet", ".pq"):
        try:
            result = pd.read_parquet(src)
        except ImportError as exc:
            raise PlotError(f"reading parquet needs pyarrow: pip install pyarrow ({exc})") \
                from exc
        except (OSError, ValueError) as exc:
            raise PlotError(f"{src}: cannot read parquet: {exc}") from exc
        events = None
    else:
        try:
            loaded = load_catalog(src, event_types=None, skip_invalid=True, **dict(columns or {}))
        except CatalogError as exc:
            raise PlotError(f"cannot read the labelled catalog: {exc}") from exc
        result, events = loaded.raw, loaded.table
    name = title or src.name
    return plot_declustered(result, out, events=events, title=name, columns=columns, force=True,
                            inputs=[src])
