"""The summary figure of a declustered catalog.

Needs matplotlib, an optional extra: ``pip install 'lite-decluster[plot]'``.

Six panels, as seismologists usually check a declustering:

1. rescaled time T (days) against rescaled distance R (km**df), log-log, coloured by
   ``p_aftershock`` (by label for the NND method), a 2-D histogram above 20k events, with the
   line of constant eta at the NND threshold (T * R = 10**threshold);
2. histogram of log10 eta, background and aftershocks;
3. distribution of ``p_aftershock`` with the decision threshold (for the NND method, which has
   no probabilities: the frequency-magnitude distribution of all and of background events);
4. background and aftershock counts per time bin (bin width chosen from the catalog's span);
5. cumulative number of all and of background events (a declustered catalog should grow
   about linearly: a stationary Poisson background);
6. map (longitude/latitude, or x/y km for projected catalogs) coloured by label, limited to
   the data's extent.

Drawn from compact per-event arrays (:mod:`lite_decluster.plot_data`), built from a run's
``Labels`` (``lite-decluster run --plot``) or from a labelled frame; panels in
:mod:`lite_decluster.plot_panels` and :mod:`lite_decluster.plot_map`.

matplotlib is imported only when drawing, through the object-oriented API with the Agg canvas
(no pyplot, no global backend switch), so that importing lite_decluster never needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from lite_decluster.catalog import CatalogError, load_catalog
from lite_decluster.nnd import nnd_threshold as _nnd_threshold
from lite_decluster.output import atomic_write, check_output_path
from lite_decluster.plot_data import PlotData, PlotError, from_frame, from_labels

if TYPE_CHECKING:
    from lite_decluster.assemble import Labels

__all__ = ["PlotError", "check_plot_path", "figure", "plot_declustered", "plot_labelled_file"]

INSTALL_HINT = "pip install 'lite-decluster[plot]'"
_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


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


def _data(
    result: pd.DataFrame | Labels, events: pd.DataFrame | None,
    columns: Mapping[str, str] | None,
) -> PlotData:
    if isinstance(result, pd.DataFrame):
        return from_frame(result, events, columns)
    return from_labels(result, events)


def figure(
    result: pd.DataFrame | Labels,
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
    result : DataFrame or Labels
        Output of :func:`lite_decluster.decluster` (or a labelled file read back), one row per
        input row, with ``label``, ``p_aftershock``, ``eta``, ``T``, ``R``; or the ``labels``
        of :func:`lite_decluster.declustering.label_catalog` (then ``events`` is needed),
        which draws from compact arrays without a frame over every input row.
    events : DataFrame, optional
        Validated table with ``row`` (input row), ``time``, ``magnitude`` and
        ``latitude``/``longitude`` or ``x``/``y``; default for a frame: read from it.
    nnd_threshold : float, optional
        log10 eta threshold to draw; default: estimated from the data when it is bimodal.
    threshold : float, optional
        Probability threshold to draw on the p_aftershock panel (default 0.5).
    title : str, optional
    columns : dict, optional
        Column overrides for reading a frame (keys as in ``load_catalog``).

    Returns
    -------
    matplotlib.figure.Figure (Agg canvas attached; not registered with pyplot).
    """
    from lite_decluster import plot_panels as pp

    Figure, Canvas = _matplotlib()
    d = _data(result, events, columns)
    if nnd_threshold is None:
        try:
            nnd_threshold = _nnd_threshold(d.log_eta)
        except ValueError:  # too few values or not bimodal: no line
            nnd_threshold = None
    thr = 0.5 if threshold is None else float(threshold)

    fig = Figure(figsize=(16, 9.5), layout="constrained")
    Canvas(fig)
    axes = fig.subplots(2, 3)
    pp.panel_tr(axes[0, 0], d, nnd_threshold, fig)
    pp.panel_eta(axes[0, 1], d, nnd_threshold)
    pp.panel_p(axes[0, 2], d, thr)
    pp.panel_counts(axes[1, 0], d)
    pp.panel_cumulative(axes[1, 1], d)
    pp.panel_map(axes[1, 2], d)

    n, n_af = d.n, int(d.aftershock.sum())
    head = title or "lite-decluster"
    fig.suptitle(
        f"{head}: {n:,} event{'' if n == 1 else 's'} classified, {n - n_af:,} background "
        f"({(n - n_af) / n:.1%}), {n_af:,} aftershock{'' if n_af == 1 else 's'}",
        fontsize=13,
    )
    return fig


def _save(fig: Any, path: Path) -> Path:
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise PlotError(f"unknown figure type {path.suffix!r}; use .png, .pdf or .svg")

    def write(fh: IO[bytes]) -> None:
        fig.savefig(fh, format=kind, dpi=110)

    return atomic_write(path, write)


def plot_declustered(
    result: pd.DataFrame | Labels,
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
    """Draw :func:`figure` (of a labelled frame, or of a run's ``Labels`` with its
    ``events``) and write it atomically to ``path`` (.png, .pdf or .svg).

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
