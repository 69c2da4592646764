"""Decluster a catalog: read -> nearest-neighbour features -> classify, one row out per row in.

Two methods:

- ``forest`` (default): the Random Forest of Aden-Antoniow, Frank & Seydoux (2021), shipped as
  ONNX, scores every event above Mc that has an earlier event; ``p_aftershock`` is the forest's
  probability and ``label`` is ``aftershock`` when ``p_aftershock > threshold``.
- ``nnd-threshold``: the classic Zaliapin & Ben-Zion (2013) split of log10 eta between its
  clustered and background modes (:func:`lite_decluster.nnd.nnd_threshold`); no model,
  ``p_aftershock`` left empty.

Every input row comes back, in input order, with a ``reason`` saying why a row has no label
(see :data:`RESULT_COLUMNS`). The first event above Mc (and any event sharing its origin time)
has no earlier event, hence no nearest neighbour and no features: it cannot have been triggered
by anything in the catalog, so it is labelled ``background`` without a probability, with the
reason ``first event: no earlier event``. NaN features never reach the model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.catalog import LoadedCatalog, load_catalog, open_catalog
from lite_decluster.clusters import ROLES, cluster_roles, cluster_roots
from lite_decluster.completeness import McPeriods
from lite_decluster.features import get_spec
from lite_decluster.memory import release_free_memory
from lite_decluster.methods import FEATURELESS, MethodError, run_method
from lite_decluster.model import DEFAULT_BATCH, Model, ModelError, check_model, load_model
from lite_decluster.nnd import nnd_threshold
from lite_decluster.pipeline import Prepared, Selected, add_features, select_events
from lite_decluster.selection import Selection, apply_selection

__all__ = [
    "COLUMN_OPTIONS",
    "METHODS",
    "RESULT_COLUMNS",
    "DeclusterError",
    "RunInfo",
    "Labelled",
    "Labels",
    "decluster",
    "label_catalog",
    "make_selection",
    "labelled_blocks",
    "run_decluster",
]

METHODS = ("forest", "nnd-threshold", "gardner-knopoff", "reasenberg", "etas")

#: Columns added to the input's own columns, in this order:
#: ``p_aftershock`` (float, forest probability; empty when not scored), ``label``
#: ('background', 'aftershock' or empty), ``parent_row`` (0-based data row of the nearest
#: neighbour in the input), ``parent_id`` (its event id, when the catalog has ids), ``eta``
#: ``cluster`` (input row of the event that roots its cluster; see
#: :mod:`lite_decluster.clusters`), ``cluster_size``, ``cluster_role`` ('single', 'mainshock',
#: 'foreshock', 'aftershock'), ``eta``
#: (nearest-neighbour distance, days * km**df), ``T`` (rescaled time, days), ``R`` (rescaled
#: distance, km**df), ``dm`` (parent minus event magnitude), ``n_siblings``, ``n_offspring``
#: (other children of the parent, children of the event) and ``reason`` (empty when labelled
#: from the features; otherwise why not: 'not an earthquake (qb)', 'invalid: ...', 'below Mc
#: 2.7', 'first event: no earlier event').
RESULT_COLUMNS = (
    "p_aftershock",
    "label",
    "parent_row",
    "parent_id",
    "cluster",
    "cluster_size",
    "cluster_role",
    "eta",
    "T",
    "R",
    "dm",
    "n_siblings",
    "n_offspring",
    "reason",
)
_FEATURE_OUT = ("eta", "T", "R", "dm", "n_siblings", "n_offspring")

#: Keys accepted in ``columns=``: canonical column -> the input's column name.
COLUMN_OPTIONS = (
    "time", "latitude", "longitude", "depth", "magnitude", "event_id", "event_type", "x", "y",
)  # fmt: skip

FIRST_EVENT = "first event: no earlier event"
_PROGRESS_BATCH = 20_000
_B_PLAUSIBLE = (0.7, 1.5)  # b-values outside this range usually mean a wrong Mc
BACKGROUND, AFTERSHOCK = "background", "aftershock"

Progress = Callable[[str, int, int], object]


class DeclusterError(ValueError):
    """Arguments or data that make declustering impossible (bad method, threshold, no NND mode)."""


@dataclass
class RunInfo:
    """What a declustering run did: counts, magnitudes, model, timings.

    Counts are input rows. ``n_classified`` = ``n_background + n_aftershock`` rows with a label,
    of which ``n_first`` had no earlier event (labelled background without a probability).
    Times are wall-clock seconds per stage (``read``, ``model``, ``features``, ``predict`` or
    ``classify`` for the NND method;
    the command line adds ``write``).
    """

    source: str
    method: str
    n_rows: int = 0
    format: str = ""
    n_type_dropped: int = 0
    type_counts: dict[str, int] = field(default_factory=dict)
    n_invalid_dropped: int = 0
    n_below_mc: int = 0
    n_classified: int = 0
    n_first: int = 0
    n_background: int = 0
    n_aftershock: int = 0
    n_selection_dropped: int = 0
    selection: str = ""
    n_clusters: int = 0
    expected_background: float | None = None
    method_summary: dict[str, Any] = field(default_factory=dict)
    method_lines: list[str] = field(default_factory=list)
    mc: float | None = None
    mc_method: str = ""
    b: float | None = None
    b_method: str = ""
    b_sigma: float | None = None
    b_n: int | None = None
    threshold: float | None = None
    nnd_threshold: float | None = None
    model_name: str | None = None
    model_td_fraction: float | None = None
    model_sha256: str | None = None
    model_path: str | None = None
    feature_spec: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    catalog_notes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (size, mtime_ns) of the input file when read: a block-wise write checks it is unchanged.
    input_stat: tuple[int, int] | None = field(default=None, repr=False)

    @property
    def background_fraction(self) -> float | None:
        """Background share of the labelled events (None when none was labelled)."""
        return self.n_background / self.n_classified if self.n_classified else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (stored in ``result.attrs["run"]``)."""
        d = asdict(self)
        d.pop("input_stat")
        d["background_fraction"] = self.background_fraction
        return d

    def lines(self) -> list[str]:
        """Human summary, one item per line (what ``lite-decluster run`` prints on stderr)."""
        out = [f"read        {self.n_rows:,} rows ({self.format}) from {self.source}"]
        filtered = []
        if self.n_type_dropped:
            kinds = ", ".join(f"{k} {v:,}" for k, v in self.type_counts.items())
            filtered.append(f"{self.n_type_dropped:,} not earthquakes ({kinds})")
        if self.n_invalid_dropped:
            filtered.append(f"{self.n_invalid_dropped:,} invalid")
        if self.n_selection_dropped:
            filtered.append(f"{self.n_selection_dropped:,} outside the selection "
                            f"({self.selection})")
        if self.mc is not None:
            below = "below Mc " + (f"{self.mc:g}" if not self.mc_method.startswith("periods")
                                   else "(periods)")
            filtered.append(f"{self.n_below_mc:,} {below}")
        out.append("filtered    " + (", ".join(filtered) if filtered else "none"))
        out.extend(f"            {note}" for note in self.catalog_notes)
        bg = self.background_fraction
        if self.method == "nnd-threshold":
            rule = f"log10 eta < {self.nnd_threshold:.2f}"
        elif self.threshold is not None:
            rule = f"p_aftershock > {self.threshold:g}"
        else:
            rule = "inside a window" if self.method == "gardner-knopoff" else "linked"
        out.append(
            f"classified  {self.n_classified:,} events: {self.n_background:,} background"
            + (f" ({bg:.1%})" if bg is not None else "")
            + f", {self.n_aftershock:,} aftershocks ({rule})"
        )
        if self.expected_background is not None and self.n_classified:
            share = self.expected_background / self.n_classified
            out.append(f"            expected background {self.expected_background:,.0f} "
                       f"({share:.1%}; sum of 1 - p_aftershock)")
        if self.n_first:
            out.append(f"            {self.n_first:,} with no earlier event: labelled background")
        if self.n_classified:
            out.append(f"clusters    {self.n_clusters:,} (one mainshock each; "
                       f"{self.n_classified - self.n_clusters:,} events in them besides)")
        if self.mc is None:
            out.append("Mc          none: every event kept")
        else:
            out.append(f"Mc          {self.mc:.2f} ({self.mc_method})")
        b_text = f"{self.b:.3f}" if self.b is not None else "-"
        if self.b_sigma is not None:
            b_text += f" ± {self.b_sigma:.3f}"
        extra = f", {self.b_n:,} events" if self.b_n else ""
        out.append(f"b           {b_text} ({self.b_method}{extra})")
        if self.method == "forest":
            td = self.model_td_fraction
            td_text = f", TD fraction {td:g}%" if td is not None else ""
            out.append(
                f"model       {self.model_name}{td_text}, sha256 {(self.model_sha256 or '')[:12]}"
            )
        elif self.method == "nnd-threshold":
            out.append("method      NND threshold on log10 eta (Zaliapin & Ben-Zion 2013)")
        out.extend(self.method_lines)
        if self.method in ("forest", "nnd-threshold"):
            out.append("features    " + _describe_spec(self.feature_spec))
        out.extend(f"note        {note}" for note in self.notes)
        times = ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items())
        out.append(f"time        {times} (total {sum(self.timings.values()):.2f} s)")
        return out


def _describe_spec(spec: Mapping[str, Any]) -> str:
    if not spec:
        return "-"
    if spec.get("distance") == "euclidean_degrees":
        dist = "epicentral distance in degrees"
    else:
        dist = ("hypocentral" if spec.get("hypocentral") else "epicentral") + " distance in km"
    return f"spec {spec.get('name')}, {dist}, df {spec.get('df'):g}, q {spec.get('q'):g}"


def _check_args(
    method: str, threshold: float, df: float | None, columns: Mapping[str, str] | None
) -> str:
    m = str(method).strip().lower().replace("_", "-")
    if m not in METHODS:
        raise DeclusterError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if not isinstance(threshold, (int, float, np.floating)) or not 0.0 <= threshold < 1.0:
        raise DeclusterError(f"threshold must be a probability in [0, 1), got {threshold!r}")
    if df is not None and not (isinstance(df, (int, float, np.floating)) and df > 0):
        raise DeclusterError(f"df must be a positive number (dimensionless), got {df!r}")
    unknown = sorted(set(columns or {}) - set(COLUMN_OPTIONS))
    if unknown:
        raise DeclusterError(
            f"unknown column option(s) {unknown}; expected among {', '.join(COLUMN_OPTIONS)}"
        )
    return m


@dataclass
class Labelled:
    """What :func:`label_catalog` returns: the labels of every input row, the run's
    :class:`RunInfo`, the input's own columns (None unless ``keep_raw``) and the validated
    table (every kept event, below Mc too; ``row`` links to the input; None unless
    ``keep_events``)."""

    labels: Labels
    info: RunInfo
    raw: pd.DataFrame | None
    events: pd.DataFrame | None


def label_catalog(
    catalog: str | os.PathLike[str] | pd.DataFrame,
    model: Model | int | str | os.PathLike[str] | None = None,
    *,
    method: str = "forest",
    mc: str | float | McPeriods | None = "auto",
    b: str | float | None = "auto",
    df: float | None = None,
    hypocentral: bool | None = None,
    threshold: float = 0.5,
    threads: int | None = None,
    skip_invalid: bool = False,
    event_types: Sequence[str] | str | None = ("earthquake", "eq"),
    columns: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    models_directory: str | os.PathLike[str] | None = None,
    keep_raw: bool = True,
    keep_events: bool = True,
    selection: Selection | None = None,
    method_options: Mapping[str, Any] | None = None,
) -> Labelled:
    """Decluster a catalog; see :func:`decluster` for the arguments.

    ``keep_raw=False`` reads only the columns the method needs (``Labelled.raw`` is then
    None): write the result with :func:`labelled_blocks`, which reads the input again block by
    block, to keep memory proportional to the events rather than to the input text.
    ``keep_events=False`` releases the validated table as soon as the events above Mc are
    selected (``Labelled.events`` is then None).
    """
    method = _check_args(method, threshold, df, columns)
    mc = _parse_mc(mc)
    if isinstance(mc, McPeriods) and method == "etas":
        raise DeclusterError("etas needs one Mc for the whole catalog, not periods: cut the "
                             "catalog with --start where the last period begins")
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    def tick(stage: str, done: int = 0, total: int = 0) -> None:
        if progress is not None:
            progress(stage, done, total)

    tick("read")
    loaded = load_catalog(
        catalog, skip_invalid=skip_invalid, event_types=event_types, keep_raw=keep_raw,
        **dict(columns or {}),
    )
    stat = None if isinstance(catalog, pd.DataFrame) else _stat(Path(os.fspath(catalog)))
    lap("read")

    loaded_model: Model | None = None
    if method == "forest":
        tick("model")
        # The file is checked now, so that a bad model fails before the search; onnxruntime
        # and its session come after it, when the search's memory has been released.
        if isinstance(model, Model):
            name, spec_dict = model.name, model.spec_dict
        else:
            entry = check_model(model, directory=models_directory)
            name, spec_dict = entry["name"], entry.get("feature_spec") or {}
        lap("model")
        if not spec_dict:
            raise ModelError(
                f"model {name} has no feature specification in its manifest: "
                "its features cannot be reproduced"
            )
        try:
            spec: Any = get_spec(spec_dict)
        except (TypeError, ValueError) as exc:
            raise ModelError(
                f"model {name}: unusable feature specification in its manifest: {exc}"
            ) from exc
    else:
        spec = "v1"

    tick("features")
    events = loaded.table
    chosen, left_out = apply_selection(events, selection)
    selected = select_events(
        chosen if keep_events else chosen.drop(columns=["line", "event_type"], errors="ignore"),
        mc=mc, b=b, spec=spec, df=df, hypocentral=hypocentral,
    )
    n_events = len(chosen)
    # Below Mc, a row needs only its reason: without the figure, the whole validated table
    # goes before the search (on a large catalog it weighs more than the events above Mc).
    if selected.below_mc is not None:
        left_out.extend(selected.below_mc)
    elif selected.mc is not None:
        left_out.append((chosen["row"].to_numpy(), f"below Mc {selected.mc:g}"))
    n_selection_dropped = len(events) - len(chosen)
    del chosen
    if not keep_events:
        loaded.table = events = None  # type: ignore[assignment]
        release_free_memory()
    if method in FEATURELESS:
        prep = _no_features(selected)
        lap("features")
        tick("fit" if method == "etas" else "classify")
        try:
            out = run_method(method, selected.table, selected.mc, method_options,
                             threshold=threshold,
                             progress=(lambda k, ll: tick("fit", k, 0)) if progress else None)
        except MethodError as exc:
            raise DeclusterError(str(exc)) from exc
        del selected
        prep.table = prep.table[[c for c in ("row", "event_id", "magnitude") if c in prep.table]]
        lap("fit" if method == "etas" else "classify")
        info = _start_info(loaded, prep, method, None, n_events)
        info.input_stat = stat
        info.n_selection_dropped = n_selection_dropped
        info.selection = selection.describe() if selection is not None else ""
        info.method_summary, info.method_lines = out.summary, out.lines
        if method == "etas":
            info.threshold = float(threshold)
        ok = out.labelled
        labels = _labels(loaded, left_out, prep, out.p_aftershock, out.aftershock, ok,
                         np.ones(len(ok), dtype=bool), info, parent=out.parent,
                         cluster=out.cluster, unlabelled_reason=out.reason)
        info.timings = timings
        return Labelled(labels=labels, info=info, raw=loaded.raw, events=events)

    prep = add_features(selected, workers=threads if threads else -1)
    del selected
    # From here on an event needs only its input row, id and magnitude (for its cluster).
    prep.table = prep.table[[c for c in ("row", "event_id", "magnitude") if c in prep.table]]
    release_free_memory()
    lap("features")
    if method == "forest":
        tick("model")
        loaded_model = (
            model if isinstance(model, Model)
            else load_model(model, threads=threads, directory=models_directory)
        )
        lap("model")

    info = _start_info(loaded, prep, method, loaded_model, n_events)
    info.input_stat = stat
    info.n_selection_dropped = n_selection_dropped
    info.selection = selection.describe() if selection is not None else ""
    has_parent = prep.features["parent"].to_numpy() >= 0
    p = np.full(len(prep.table), np.nan)
    if loaded_model is not None:
        info.threshold = float(threshold)
        _note_spec_overrides(info, loaded_model, df, hypocentral)
        # Only rows with finite features are scored: the forest would route NaN silently.
        ok = has_parent & np.isfinite(prep.X).all(axis=1)
        if ok.any():
            p[ok] = loaded_model.predict_proba(
                prep.X if ok.all() else prep.X[ok],
                # Smaller batches only so that a progress bar moves; same probabilities.
                batch_size=_PROGRESS_BATCH if progress is not None else DEFAULT_BATCH,
                progress=lambda done, total: tick("predict", done, total),
            )
        aftershock = p > threshold
        lap("predict")
    else:
        log_eta = prep.features["log10_eta"].to_numpy(dtype=float)
        try:
            cut = nnd_threshold(log_eta[has_parent])
        except ValueError as exc:
            raise DeclusterError(f"NND threshold method: {exc}") from exc
        info.nnd_threshold = cut
        ok = has_parent & np.isfinite(log_eta)
        aftershock = ok & (log_eta < cut)
        lap("classify")

    # The model inputs are spent: their memory goes back before the labels are built.
    prep.X = np.zeros((0, prep.X.shape[1]), np.float32)
    release_free_memory()
    labels = _labels(loaded, left_out, prep, p, aftershock, ok, has_parent, info)
    info.timings = timings
    release_free_memory()  # the search's and the model's scratch memory, before the output
    return Labelled(labels=labels, info=info, raw=loaded.raw, events=events)


def _parse_mc(mc: Any) -> str | float | McPeriods | None:
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
        from lite_decluster.completeness import parse_mc_periods

        return parse_mc_periods(mc.strip())


def make_selection(
    start: Any = None, end: Any = None, region: Any = None, max_depth: float | None = None
) -> Selection | None:
    """A :class:`~lite_decluster.selection.Selection` from user values: times as text
    ('1981', '1981-01-01T00:00', UTC) or Timestamps, or days (projected catalogs); region as
    'LON_MIN,LON_MAX,LAT_MIN,LAT_MAX', a 4-tuple, a polygon file or a (k, 2) lon/lat array."""
    from lite_decluster.selection import parse_region, parse_time

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
            raise DeclusterError("region must be a lon/lat box or a (k >= 3, 2) polygon array")
    if max_depth is not None and not (isinstance(max_depth, (int, float)) and max_depth >= 0):
        raise DeclusterError(f"max_depth must be a non-negative number of km, not {max_depth!r}")
    sel = Selection(when(start, "--start"), when(end, "--end"), reg,
                    None if max_depth is None else float(max_depth))
    if sel.start is not None and sel.end is not None and \
            type(sel.start) is type(sel.end) and not sel.start < sel.end:
        raise DeclusterError(f"--start {sel.start} must be before --end {sel.end}")
    return None if sel.is_empty() else sel


def _no_features(selected: Selected) -> Prepared:
    """A :class:`Prepared` without nearest-neighbour features (methods that need none)."""
    n = len(selected.table)
    feats = pd.DataFrame({k: np.full(n, np.nan) for k in _FEATURE_OUT})
    feats["parent"] = np.full(n, -1, dtype=np.int64)
    fields = {k: getattr(selected, k) for k in Selected.__dataclass_fields__}
    return Prepared(**fields, features=feats, X=np.zeros((n, 0), np.float32))


def run_decluster(
    catalog: str | os.PathLike[str] | pd.DataFrame,
    model: Model | int | str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> tuple[pd.DataFrame, RunInfo]:
    """Decluster a catalog and report what was done; see :func:`decluster` for the arguments.

    Returns
    -------
    (result, info)
        ``result`` as described in :func:`decluster`; ``info`` a :class:`RunInfo`.
    """
    done = label_catalog(catalog, model, **kwargs)
    assert done.raw is not None
    return _assemble(done.raw, done.labels, done.info), done.info


def decluster(
    catalog: str | os.PathLike[str] | pd.DataFrame,
    model: Model | int | str | os.PathLike[str] | None = None,
    *,
    method: str = "forest",
    mc: str | float | None = "auto",
    b: str | float | None = "auto",
    df: float | None = None,
    hypocentral: bool | None = None,
    threshold: float = 0.5,
    threads: int | None = None,
    skip_invalid: bool = False,
    event_types: Sequence[str] | str | None = ("earthquake", "eq"),
    columns: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    models_directory: str | os.PathLike[str] | None = None,
    start: Any = None,
    end: Any = None,
    region: Any = None,
    max_depth: float | None = None,
    method_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Label every event of a catalog as background or aftershock.

    Parameters
    ----------
    catalog : path or DataFrame
        Any format :func:`lite_decluster.catalog.load_catalog` reads (ComCat, SCSN, INGV,
        generic delimited text, projected x/y km with time in days; .gz/.xz/.bz2 too).
    model : None, 10/25/50/75/100, 'rf_td025', path to an .onnx, or a loaded ``Model``
        None is the manifest's default. Ignored by ``method='nnd-threshold'``.
    method : 'forest', 'nnd-threshold', 'gardner-knopoff', 'reasenberg' or 'etas'
    mc : 'auto', float, None or periods
        Magnitude of completeness (magnitude units): 'auto' is maximum curvature + 0.2,
        None keeps every event, '1932:4.0,1975:3.0,1981:2.5' (or a file of such periods)
        a completeness that changes with time. Events below Mc are returned unlabelled.
    b : 'auto' or float
        Gutenberg-Richter b-value of the metric: 'auto' is the Aki-Utsu estimate above Mc
        (unless the model's feature specification fixes b).
    df : float, optional
        Fractal dimension of epicentres (dimensionless), overriding the model's (1.6 for
        ``v1``); the forest was trained with its own value, so change it knowingly.
    hypocentral : bool, optional
        Hypocentral instead of epicentral distance (needs depths in km).
    threshold : float
        Probability above which an event is an aftershock (forest only), in [0, 1).
    threads : int, optional
        Threads for onnxruntime and the neighbour search (default: all cores).
    skip_invalid : bool
        Leave invalid rows unlabelled (reason 'invalid: ...') instead of failing.
    event_types : types kept when the catalog has a type column (case-insensitive); None keeps
        all rows. Other rows come back unlabelled with the reason 'not an earthquake (TYPE)'.
    columns : dict, optional
        Input column to use for a canonical column, e.g. ``{"magnitude": "ML"}``; keys among
        :data:`COLUMN_OPTIONS`.
    progress : callable(stage, done, total), optional
        Called at the start of each stage and during prediction (total 0: unknown).
    models_directory : path, optional
        Folder with ``manifest.json`` to load models from (default: the shipped models).
    start, end : str, Timestamp or float, optional
        Decluster only events with ``start <= time < end`` (UTC; days for projected catalogs).
    region : str, 4-tuple or (k, 2) array, optional
        Lon/lat box ``(lon_min, lon_max, lat_min, lat_max)`` (degrees; lon_min > lon_max
        crosses the antimeridian), a polygon file or an array of (lon, lat) vertices.
    max_depth : float, optional
        Leave out events deeper than this (km).
    method_options : dict, optional
        Options of the method: ``window`` ('gardner-knopoff', 'gruenthal', 'uhrhammer') and
        ``fs_time_prop`` for Gardner-Knopoff; ``rfact``, ``xmeff``, ``xk``, ``tau_min``,
        ``tau_max``, ``p``, ``horiz_error``, ``depth_error`` for Reasenberg; ``params``,
        ``fixed``, ``params_file``, ``region``, ``target_start`` for etas.
        Rows outside the selection stay in the output with a ``reason``.

    Returns
    -------
    DataFrame
        One row per input data row, in input order (the input's index for a DataFrame): the
        input's columns (a column whose name clashes with a result column is renamed
        ``NAME_input``) followed by :data:`RESULT_COLUMNS`. ``attrs["run"]`` holds
        :meth:`RunInfo.to_dict` (counts, Mc, b, model, timings).

    Raises
    ------
    CatalogError, ModelError, DeclusterError
        Bad input, model or arguments (all subclasses of ValueError).
    """
    result, info = run_decluster(
        catalog, model, method=method, mc=mc, b=b, df=df, hypocentral=hypocentral,
        threshold=threshold, threads=threads, skip_invalid=skip_invalid,
        event_types=event_types, columns=columns, progress=progress,
        models_directory=models_directory,
        selection=make_selection(start, end, region, max_depth), method_options=method_options,
    )
    result.attrs["run"] = info.to_dict()
    return result


def _start_info(
    loaded: LoadedCatalog, prep: Prepared, method: str, model: Model | None, n_events: int
) -> RunInfo:
    rep = loaded.report
    info = RunInfo(
        source=rep.source,
        method=method,
        n_rows=rep.n_rows,
        format=rep.format,
        n_type_dropped=rep.n_type_dropped,
        type_counts=dict(rep.type_counts),
        n_invalid_dropped=rep.n_invalid_dropped,
        n_below_mc=n_events - len(prep.table),
        mc=prep.mc,
        mc_method=prep.mc_method,
        b=prep.b,
        b_method=prep.b_method,
        feature_spec=prep.spec.to_dict(),
    )
    # The catalog report's extra remarks (rollovers, duplicates, sorting, depths).
    skip = ("read ", "dropped ", "kept ")
    info.catalog_notes = [line for line in rep.lines() if not line.startswith(skip)]
    if prep.b_estimate is not None:
        info.b_sigma = float(prep.b_estimate.sigma)
        info.b_n = int(prep.b_estimate.n)
        if not _B_PLAUSIBLE[0] <= prep.b <= _B_PLAUSIBLE[1]:
            # Usually an Mc that is too low for part of the catalog (completeness that
            # changes with time or place), which also distorts the metric.
            info.notes.append(
                f"b = {prep.b:.2f} is outside the usual {_B_PLAUSIBLE[0]}-{_B_PLAUSIBLE[1]}: "
                "check Mc (completeness may vary in time or space; try --mc VALUE or --b VALUE)"
            )
    if model is not None:
        info.model_name = model.name
        td = model.entry.get("td_fraction")
        info.model_td_fraction = float(td) if td is not None else None
        info.model_sha256 = model.sha256
        info.model_path = str(model.path)
    return info


def _note_spec_overrides(
    info: RunInfo, model: Model, df: float | None, hypocentral: bool | None
) -> None:
    """Warn when the metric differs from the one the forest was trained on."""
    trained = get_spec(model.spec_dict)
    if df is not None and float(df) != trained.df:
        info.notes.append(
            f"df {df:g} differs from the model's training value {trained.df:g}: "
            "probabilities may be biased"
        )
    if hypocentral is not None and bool(hypocentral) != trained.hypocentral:
        kind = "hypocentral" if hypocentral else "epicentral"
        info.notes.append(f"{kind} distance differs from the model's training setting")


def _restore_integers(raw: pd.DataFrame) -> pd.DataFrame:
    """Integer columns with gaps back to (nullable) integers.

    pandas reads an integer column with missing values as float, so '6' would be written
    back as '6.0'. A float column read from text that has gaps and only whole values was
    such a column (with no gaps pandas would have kept integers).
    """
    fixed = {}
    for col in raw.columns:
        s = raw[col]
        if not pd.api.types.is_float_dtype(s.dtype):
            continue
        v = s.to_numpy(dtype=float)
        nan = np.isnan(v)
        if nan.any() and not nan.all() and np.all(v[~nan] == np.round(v[~nan])) and \
                np.all(np.abs(v[~nan]) < 2**53):
            fixed[col] = pd.array(np.where(nan, 0, v).astype(np.int64), dtype="Int64")
            fixed[col][nan] = pd.NA
    if not fixed:
        return raw
    out = raw.copy()
    for col, arr in fixed.items():
        out[col] = arr
    return out


@dataclass
class Labels:
    """The result columns (:data:`RESULT_COLUMNS`) of every input row, built for any range of
    rows on demand, so that a large catalog can be written block by block.

    Per input row (shape (n_rows,)): ``event`` (index into the event arrays, -1 for a row not
    declustered) and ``reason`` (code into ``reasons``). Per event above Mc (shape
    (n_events,)): ``p`` (probability, NaN when not scored), ``label`` (0 none, 1 background,
    2 aftershock), ``parent`` (the parent's event index, -1: none), ``event_row`` (the input
    row of each event), ``event_id`` (string array; None without ids) and ``features`` (eta,
    T, R, dm, n_siblings, n_offspring as float). Parent rows and ids are looked up per range
    of rows, not stored for every event.
    """

    n_rows: int
    event: np.ndarray
    reason: np.ndarray
    reasons: list[str]
    p: np.ndarray
    label: np.ndarray
    parent: np.ndarray
    event_row: np.ndarray
    event_id: pd.api.extensions.ExtensionArray | None
    features: dict[str, np.ndarray]
    integer_counts: dict[str, bool]
    cluster: np.ndarray
    cluster_size: np.ndarray
    cluster_role: np.ndarray

    def frame(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """The result columns of input rows ``start:stop``, index ``start..stop-1``."""
        stop = self.n_rows if stop is None else stop
        ev = self.event[start:stop]
        k = ev.size
        has = ev >= 0
        e = ev[has]

        def spread(values: np.ndarray, fill: object, dtype: object = None) -> np.ndarray:
            out = np.full(k, fill, dtype=dtype if dtype is not None else values.dtype)
            out[has] = values[e]
            return out

        label = spread(self.label, 0)
        parent = spread(self.parent, -1)
        parent_row = np.where(parent >= 0, self.event_row[np.maximum(parent, 0)], -1)
        if self.event_id is not None:
            pid = self.event_id.take(parent, allow_fill=True)
        else:
            pid = pd.array(np.full(k, None, dtype=object), dtype="string")
        cols: dict[str, object] = {
            "p_aftershock": spread(self.p, np.nan),
            "label": pd.array(_LABEL_TEXT[label], dtype="string"),
            "parent_row": pd.array(np.where(parent_row >= 0, parent_row, 0), dtype="Int64"),
            "parent_id": pd.array(pid, dtype="string"),
        }
        root = spread(self.cluster, -1)
        root_row = np.where(root >= 0, self.event_row[np.maximum(root, 0)], -1)
        col = pd.array(np.maximum(root_row, 0), dtype="Int64")
        col[root_row < 0] = pd.NA
        cols["cluster"] = col
        size = pd.array(spread(self.cluster_size, 0), dtype="Int64")
        size[root_row < 0] = pd.NA
        cols["cluster_size"] = size
        cols["cluster_role"] = pd.array(_ROLE_TEXT[spread(self.cluster_role, 0)],
                                        dtype="string")
        for key in _FEATURE_OUT:
            v = spread(self.features[key], np.nan)
            if self.integer_counts.get(key, False):
                finite = np.isfinite(v)
                col = pd.array(np.where(finite, v, 0).astype(np.int64), dtype="Int64")
                col[~finite] = pd.NA
                cols[key] = col
            else:
                cols[key] = v
        cols["reason"] = pd.array(
            np.asarray(self.reasons, dtype=object)[self.reason[start:stop]], dtype="string"
        )
        out = pd.DataFrame(cols, index=pd.RangeIndex(start, stop))
        out["parent_row"] = out["parent_row"].mask(parent_row < 0)
        return out


_LABEL_TEXT = np.array([None, BACKGROUND, AFTERSHOCK], dtype=object)
_ROLE_TEXT = np.array([None, *ROLES[1:]], dtype=object)


def _labels(
    loaded: LoadedCatalog,
    left_out: list[tuple[np.ndarray, str]],
    prep: Prepared,
    p: np.ndarray,
    aftershock: np.ndarray,
    scored: np.ndarray,
    has_parent: np.ndarray,
    info: RunInfo,
    *,
    parent: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
    unlabelled_reason: str = "",
) -> Labels:
    """Labels of every input row; counts into ``info``.

    ``left_out``: (input rows, reason) of validated events not declustered, applied in order
    (a later entry wins); ``p``, ``aftershock``, ``scored``, ``has_parent``: arrays over
    ``prep.table`` rows. ``parent`` (default: the nearest neighbours of ``prep.features``) and
    ``cluster`` (event keying each cluster; default: built from parents and labels) for
    methods that give their own links; ``unlabelled_reason``: the reason of an event that has
    a parent but no label (default 'features not finite').
    """
    n = loaded.report.n_rows
    drop = loaded.dropped
    # Reason codes: 0 '' (labelled), then the fixed texts, then each distinct dropped reason.
    fixed = ["", FIRST_EVENT, unlabelled_reason or "features not finite"]
    fixed.extend(dict.fromkeys(r for _, r in left_out if r not in fixed))
    codes, uniques = pd.factorize(drop["reason"].to_numpy(dtype=object))
    reasons = fixed + [str(u) for u in uniques]
    reason = np.zeros(n, dtype=np.int32)
    reason[drop["row"].to_numpy()] = codes + len(fixed)
    for rows_out, text in left_out:
        reason[rows_out] = fixed.index(text)

    rows = prep.table["row"].to_numpy()
    event = np.full(n, -1, dtype=np.int32 if rows.size < 2**31 else np.int64)
    event[rows] = np.arange(rows.size)
    unscored = has_parent & ~scored
    ev_reason = np.zeros(rows.size, dtype=np.int32)
    ev_reason[~has_parent] = 1
    ev_reason[unscored] = 2
    reason[rows] = ev_reason
    label = np.where(aftershock, 2, 1).astype(np.int8)
    label[unscored] = 0

    if parent is None:
        parent = prep.features["parent"].to_numpy()
    member = label > 0
    root = cluster_roots(member, label == 2, parent) if cluster is None else \
        np.where(member, np.asarray(cluster, dtype=np.int64), -1)
    mags = prep.table["magnitude"].to_numpy(dtype=float)
    size, _, role = cluster_roles(root, mags)
    # A string array, not Python objects: half a million ids stay compact.
    ids = prep.table["event_id"].astype("string").array if "event_id" in prep.table else None
    feats = {k: prep.features[k].to_numpy(dtype=float) for k in _FEATURE_OUT}
    integer = {}
    for k in ("n_siblings", "n_offspring"):
        finite = feats[k][np.isfinite(feats[k])]
        integer[k] = bool(np.array_equal(finite, np.round(finite)))  # plain counts: integers

    info.n_classified = int((label > 0).sum())
    info.n_aftershock = int((label == 2).sum())
    info.n_background = info.n_classified - info.n_aftershock
    info.n_first = int((~has_parent).sum())
    info.n_clusters = int(np.unique(root[member]).size)
    if np.isfinite(p).any():
        # The expected background count: an unscored background event (the first) counts 1.
        pb = np.where(np.isfinite(p), 1.0 - p, np.where(label == 1, 1.0, 0.0))
        info.expected_background = float(pb[member].sum())
    return Labels(n_rows=n, event=event, reason=reason, reasons=reasons, p=p, label=label,
                  parent=parent, event_row=rows, event_id=ids, features=feats,
                  integer_counts=integer, cluster=root, cluster_size=size, cluster_role=role)


def _clashes(columns: Sequence[object], info: RunInfo) -> dict[object, str]:
    """Input columns named like a result column, renamed ``NAME_input`` (noted in ``info``)."""
    clash = {c: f"{c}_input" for c in columns if str(c) in RESULT_COLUMNS}
    if clash:
        info.notes.append(
            "input columns renamed to avoid clashes: "
            + ", ".join(f"{c} -> {new}" for c, new in clash.items())
        )
    return clash


def _with_inputs(block: pd.DataFrame, labels: Labels, start: int, clash: dict[object, str],
                 from_file: bool) -> pd.DataFrame:
    """Input rows ``start:start+len(block)`` (their own columns) and their result columns."""
    if from_file:
        block = _restore_integers(block)
    base = block.rename(columns=clash) if clash else block
    added = labels.frame(start, start + len(block))
    added.index = base.index
    return pd.concat([base, added], axis=1)


_WRITE_BLOCK_BYTES = 2 << 20


def labelled_blocks(
    catalog: str | os.PathLike[str], labels: Labels, info: RunInfo
) -> Iterator[pd.DataFrame]:
    """The input file read again block by block, each block with its result columns: the
    rows of :func:`decluster`'s result without holding the whole input in memory.

    Raises DeclusterError when the file changed since it was declustered (its size,
    modification time or number of rows differs).
    """
    path = Path(os.fspath(catalog))
    if info.input_stat and _stat(path) != tuple(info.input_stat):
        raise DeclusterError(f"{path} changed while it was being declustered; run again")
    src = open_catalog(path)
    clash = _clashes(src.columns, info)
    start = 0
    # Smaller blocks than for reading: every column is parsed and joined to the results.
    for block, _ in src.blocks(block_bytes=_WRITE_BLOCK_BYTES):
        if start + len(block) > labels.n_rows:
            break
        yield _with_inputs(block, labels, start, clash, True)
        start += len(block)
        del block
        release_free_memory()  # the block written, before the next one is parsed
    if start != labels.n_rows:
        raise DeclusterError(
            f"{path} changed while it was being declustered ({start:,} rows now, "
            f"{labels.n_rows:,} before); run again"
        )


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _assemble(raw: pd.DataFrame, labels: Labels, info: RunInfo) -> pd.DataFrame:
    """The input rows in input order (``raw``'s index) with the result columns."""
    clash = _clashes(list(raw.columns), info)
    return _with_inputs(raw, labels, 0, clash, info.source != "<DataFrame>")
