"""Decluster a catalog: read -> nearest-neighbour features -> classify, one row out per row in.

Methods:

- ``forest`` (default): the Random Forest of Aden-Antoniow, Frank & Seydoux (2021), shipped as
  ONNX, scores every event above Mc that has an earlier event; ``p_aftershock`` is the forest's
  probability and ``label`` is ``aftershock`` when ``p_aftershock > threshold``.
- ``nnd-threshold``: the classic Zaliapin & Ben-Zion (2013) split of log10 eta between its
  clustered and background modes (:func:`lite_decluster.nnd.nnd_threshold`); no model,
  ``p_aftershock`` left empty.
- ``gardner-knopoff``, ``reasenberg``, ``etas``: methods on the selected events without the
  nearest-neighbour features (:mod:`lite_decluster.methods`).

The row-per-input output is assembled in :mod:`lite_decluster.assemble` for every method.

Every input row comes back, in input order, with a ``reason`` saying why a row has no label
(see :data:`RESULT_COLUMNS`). The first event above Mc (and any event sharing its origin time)
has no earlier event, hence no nearest neighbour and no features: it cannot have been triggered
by anything in the catalog, so it is labelled ``background`` without a probability, with the
reason ``first event: no earlier event``. NaN features never reach the model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lite_decluster.assemble import (
    _FEATURE_OUT,
    AFTERSHOCK,
    BACKGROUND,
    FIRST_EVENT,
    RESULT_COLUMNS,
    Labels,
    _stat,
    assemble,
    build_labels,
    labelled_blocks,
    row_times,
)
from lite_decluster.catalog import load_catalog
from lite_decluster.completeness import McPeriods, parse_mc
from lite_decluster.errors import DeclusterError
from lite_decluster.features import get_spec
from lite_decluster.memory import release_free_memory
from lite_decluster.methods import FEATURELESS, METHODS, run_method
from lite_decluster.model import Model, ModelError, check_model, load_model
from lite_decluster.pipeline import Prepared, Selected, add_features, select_events
from lite_decluster.runinfo import RunInfo, note_spec_overrides, start_info
from lite_decluster.selection import Selection, apply_selection, make_selection

__all__ = [
    "AFTERSHOCK",
    "BACKGROUND",
    "COLUMN_OPTIONS",
    "FIRST_EVENT",
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
    "assemble",
]


#: Keys accepted in ``columns=``: canonical column -> the input's column name.
COLUMN_OPTIONS = (
    "time", "latitude", "longitude", "depth", "magnitude", "event_id", "event_type", "x", "y",
)  # fmt: skip

_PROGRESS_BATCH = 20_000

Progress = Callable[[str, int, int], object]


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
    depth_unit: str = "auto",
    depth_positive: str = "auto",
) -> Labelled:
    """Decluster a catalog; see :func:`decluster` for the arguments.

    ``keep_raw=False`` reads only the columns the method needs (``Labelled.raw`` is then
    None): write the result with :func:`labelled_blocks`, which reads the input again block by
    block, to keep memory proportional to the events rather than to the input text.
    ``keep_events=False`` releases the validated table as soon as the events above Mc are
    selected (``Labelled.events`` is then None).
    """
    method = _check_args(method, threshold, df, columns)
    mc = parse_mc(mc)
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
        depth_unit=depth_unit, depth_positive=depth_positive, **dict(columns or {}),
    )
    stat = None if isinstance(catalog, pd.DataFrame) else _stat(Path(os.fspath(catalog)))
    row_time = row_times(loaded)
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
    else:
        prep = add_features(
            selected, workers=threads if threads else -1,
            progress=(lambda d, t: tick("features", d, t)) if progress else None,
        )
        # From here on an event needs only its input row, id and magnitude (its cluster).
        prep.table = _slim(prep.table)
    del selected
    release_free_memory()
    lap("features" if method not in FEATURELESS else "select")
    if method == "forest":
        tick("model")
        loaded_model = (
            model if isinstance(model, Model)
            else load_model(model, threads=threads, directory=models_directory)
        )
        lap("model")

    if method == "etas" and selection is not None and selection.region is not None:
        # The fit integrates every kernel over the region the events were selected from.
        method_options = {"region": selection.region, **dict(method_options or {})}
    stage = {"forest": "predict", "etas": "fit"}.get(method, "classify")
    tick(stage)
    out = run_method(method, prep, method_options, model=loaded_model, threshold=threshold,
                     progress=tick if progress is not None else None)
    prep.table = _slim(prep.table)
    lap(stage)
    info = start_info(loaded, prep, method, loaded_model, n_events)
    info.input_stat = stat
    info.n_selection_dropped = n_selection_dropped
    info.selection = selection.describe() if selection is not None else ""
    info.method_summary, info.method_lines = out.summary, out.lines
    for key, value in out.info.items():
        setattr(info, key, value)
    if loaded_model is not None:
        note_spec_overrides(info, loaded_model, df, hypocentral)
    # The model inputs are spent: their memory goes back before the labels are built.
    prep.X = np.zeros((0, prep.X.shape[1]), np.float32)
    release_free_memory()
    has_parent = out.has_parent if out.has_parent is not None else np.ones(len(out.parent), bool)
    labels = build_labels(loaded, left_out, prep, out.p_aftershock, out.aftershock,
                          out.labelled, has_parent, info, parent=out.parent,
                          cluster=out.cluster, unlabelled_reason=out.reason,
                          parent_only=out.parent_only)
    labels.row_time = row_time
    info.timings = timings
    release_free_memory()  # the search's and the model's scratch memory, before the output
    return Labelled(labels=labels, info=info, raw=loaded.raw, events=events)


def _slim(table: pd.DataFrame) -> pd.DataFrame:
    return table[[c for c in ("row", "event_id", "magnitude") if c in table]]


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
    return assemble(done.raw, done.labels, done.info), done.info


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
    depth_unit: str = "auto",
    depth_positive: str = "auto",
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
        Leave out events deeper than this (km). Rows outside the selection stay in the
        output with a ``reason``.
    method_options : dict, optional
        Options of the method: ``window`` ('gardner-knopoff', 'gruenthal', 'uhrhammer') and
        ``fs_time_prop`` for Gardner-Knopoff; ``rfact``, ``xmeff``, ``xk``, ``tau_min``,
        ``tau_max``, ``p``, ``horiz_error``, ``depth_error`` for Reasenberg; ``params``,
        ``fixed``, ``params_file``, ``region``, ``target_start`` for etas.
    depth_unit : 'auto', 'km' or 'm'
        Unit of the depth column; 'auto' reads metres when the column is named so (depth_m)
        or when its median is above 1000, and says so in the run's notes.
    depth_positive : 'auto', 'down' or 'up'
        Sign of depths; 'auto' flips depths that are mostly negative (elevation-style).

    Returns
    -------
    DataFrame
        One row per input data row, in input order (the input's index for a DataFrame): the
        input's columns followed by :data:`RESULT_COLUMNS` (an added column whose name the
        input already has gets the suffix ``_ld``). ``attrs["run"]`` holds
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
        depth_unit=depth_unit, depth_positive=depth_positive,
    )
    result.attrs["run"] = info.to_dict()
    return result


