"""Building the validated, time-sorted table: :func:`load_catalog` and :func:`read_catalog`."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd

from lite_decluster.catalog.accumulate import _Accumulator
from lite_decluster.catalog.checks import _locator, _reasons
from lite_decluster.catalog.columns import (
    _Columns,
    _detect_format,
    _resolve_columns,
    is_magnitude_type,
)
from lite_decluster.catalog.errors import CatalogError
from lite_decluster.catalog.report import CatalogReport, LoadedCatalog
from lite_decluster.catalog.settle import settle_columns
from lite_decluster.catalog.source import open_catalog
from lite_decluster.catalog.values import _parse_values, settle_depths
from lite_decluster.memory import release_free_memory

__all__ = ["load_catalog", "read_catalog"]

_MAX_EXAMPLES = 10


def _counts(counts: dict[str, int], most: int = 10) -> str:
    text = ", ".join(f"{k}: {v:,}" for k, v in list(counts.items())[:most])
    return text + (f" and {len(counts) - most:,} more" if len(counts) > most else "")


def _type_filter(
    types: pd.Series, keep_types: Sequence[str]
) -> tuple[np.ndarray, pd.Series]:
    """Rows whose type is one of ``keep_types`` (case-insensitive): mask (n,) and type labels."""
    labels = types.astype("string").str.strip()
    wanted = {str(t).strip().lower() for t in keep_types}
    keep = labels.str.lower().isin(wanted).fillna(False).to_numpy(dtype=bool)
    return keep, labels.fillna("<missing>")


def load_catalog(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    format: str = "auto",
    skip_invalid: bool = False,
    event_types: Sequence[str] | str | None = ("earthquake", "eq"),
    time: str | None = None,
    latitude: str | None = None,
    longitude: str | None = None,
    depth: str | None = None,
    magnitude: str | None = None,
    event_id: str | None = None,
    event_type: str | None = None,
    x: str | None = None,
    y: str | None = None,
    keep_raw: bool = True,
    depth_unit: str = "auto",
    depth_positive: str = "auto",
) -> LoadedCatalog:
    """Read and validate a catalog.

    Parameters
    ----------
    source : path (plain, .gz, .xz or .bz2) or DataFrame
        The catalog. For a DataFrame, messages name ``<DataFrame>`` and its positional row.
    format : 'auto', 'comcat', 'scsn', 'ingv', 'generic', 'projected' or 'quakeml'
        QuakeML (.xml, .quakeml, .qml or XML content) is recognised whatever is asked.
    skip_invalid : bool
        Drop (and report) rows with invalid values instead of raising :class:`CatalogError`.
    event_types : types to keep (case-insensitive) when the catalog has a type column; None keeps
        every row.
    time, latitude, longitude, depth, magnitude, event_id, event_type, x, y : str, optional
        Source column to use for that canonical column, instead of the detected one.
    keep_raw : bool
        Keep every input column in :attr:`LoadedCatalog.raw`. False parses only the columns the
        table needs (a file is read in blocks, so memory then follows the table, not the text);
        ``raw`` is then None.
    depth_unit : 'auto', 'km' or 'm'
        Unit of the depth column; 'auto': metres when the column is named so (``depth_m``) or
        its median exceeds 1000, else km (see :mod:`lite_decluster.catalog.values`).
    depth_positive : 'auto', 'down' or 'up'
        'up': depths are negative downwards (elevation-style) and are flipped; 'auto': 'up'
        when most depths are negative.

    Returns
    -------
    LoadedCatalog
        ``table`` has, sorted by time (stable) with index 0..n-1: ``time`` (datetime64[ns, UTC];
        float64 days for projected catalogs), ``latitude`` and ``longitude`` (float64 degrees) or
        ``x`` and ``y`` (float64 km), ``depth`` (float64 km, 0 when absent), ``magnitude``
        (float64), ``row`` (int64, 0-based data row of the input), ``line`` (int64, 1-based
        physical line in the file, header counted; ``row + 2`` for a DataFrame), and
        ``event_id`` / ``event_type`` (string) when the input has them. ``table.attrs["source"]``
        names the input, so that later errors (no events above Mc, say) can name it too.
    """
    overrides = {
        k: v
        for k, v in dict(time=time, latitude=latitude, longitude=longitude, depth=depth,
                         magnitude=magnitude, event_id=event_id, event_type=event_type, x=x,
                         y=y).items()
        if v is not None
    }
    src = open_catalog(source)
    name = src.name
    if src.item == "event":  # QuakeML, whatever the format asked for
        fmt = "quakeml"
    elif format == "quakeml":
        raise CatalogError(f"{name}: not QuakeML (no XML declaration or quakeml element)")
    else:
        fmt = _detect_format(src.columns, format, overrides)
    cols = _resolve_columns(src.columns, fmt, overrides, name)
    if isinstance(event_types, str):
        event_types = (event_types,)
    type_col = cols.source.get("event_type") if event_types is not None else None
    # Only the columns being validated, so that the parsed blocks stay small.
    used = list(dict.fromkeys([*cols.source.values(), *cols.time_cols.values()]))
    usecols = None if keep_raw else [src.columns.index(c) for c in used]
    report = CatalogReport(source=name, format=fmt)
    settled = False

    acc = _Accumulator()
    raw_blocks: list[pd.DataFrame] = []
    type_counts: Counter[str] = Counter()
    n_rows = 0
    # Identifiers as written ('0012' stays so), and typed the same in every block.
    id_cols = [src.columns.index(cols.source[k]) for k in ("event_id", "event_type")
               if k in cols.source]
    for frame, lines in src.blocks(usecols, text_columns=id_cols):
        n = len(frame)
        rows = n_rows + np.arange(n, dtype=np.int64)
        if lines is None:
            lines = rows + 2
        n_rows += n
        if keep_raw:
            raw_blocks.append(frame)
        if n == 0:
            continue
        if not settled:
            cols, report.notes = settle_columns(cols, frame, overrides)
            settled = True
            if "event_type" not in cols.source:
                type_col = None
        # Type filter first: invalid values in rows that are dropped anyway do not matter.
        local = np.arange(n)
        if type_col is not None:
            keep, labels = _type_filter(frame[type_col], event_types)  # type: ignore[arg-type]
            if not keep.all():
                gone = labels[~keep]
                type_counts.update({str(k): int(v) for k, v in gone.value_counts().items()})
                acc.drop(rows[~keep], ("not an earthquake (" + gone + ")").to_numpy())
                local = local[keep]
        if local.size == 0:
            continue
        acc.n_typed += local.size
        sub = frame[used] if local.size == n else frame[used].iloc[local]
        values, rolled, checks = _parse_values(sub, cols, report)
        bad = np.logical_or.reduce([m for m, _, _ in checks])
        if bad.any():
            reasons = _reasons(checks, bad, skip_invalid)
            item = src.item if src.frame is not None else None
            where = _locator(name, item, rows[local], lines[local])
            if not skip_invalid:
                i, (col, text) = next(iter(reasons.items()))
                raise CatalogError(f"{where(i)}, column '{col}': {text}")
            report.n_invalid_dropped += int(bad.sum())
            room = _MAX_EXAMPLES - len(report.invalid_examples)
            report.invalid_examples += [
                f"{where(i)}, column '{col}': {text}" for i, (col, text) in
                list(reasons.items())[:max(room, 0)]
            ]
            acc.drop(rows[local[bad]],
                     [f"invalid: column '{col}': {text}" for col, text in reasons.values()])
            values = {k: v[~bad] for k, v in values.items()}
            rolled, local = rolled[~bad], local[~bad]
        ids = {k: frame[cols.source[k]].iloc[local] for k in ("event_id", "event_type")
               if k in cols.source}
        acc.keep(values, rolled, rows[local], lines[local], ids)
        del frame, sub, values
        release_free_memory()  # the parse's scratch memory, before the next block

    if n_rows == 0:
        found = ", ".join(str(c) for c in src.columns)
        raise CatalogError(f"{name}: no data rows (columns found: {found})")
    report.n_rows = n_rows
    report.columns = {k: str(v) for k, v in cols.source.items()}
    report.columns["time"] = ",".join(str(c) for c in cols.time_cols.values())
    if type_counts:
        report.type_counts = dict(sorted(type_counts.items(), key=lambda kv: -kv[1]))
        report.n_type_dropped = sum(type_counts.values())
    if acc.n_typed == 0:
        hint = ""
        if all(is_magnitude_type(k) for k in report.type_counts):
            hint = f"; column '{cols.source['event_type']}' holds magnitude types, not event types"
        else:
            hint = "; --all-types keeps every type, --type-col names another type column"
        raise CatalogError(
            f"{name}: no rows left after the type filter (kept types "
            f"{', '.join(event_types or ())}; found {_counts(report.type_counts)}){hint}"
        )
    if not acc.values:
        raise CatalogError(
            f"{name}: no valid rows left ({report.n_invalid_dropped:,} invalid; first: "
            f"{report.invalid_examples[0]})"
        )
    values, rolled, kept_rows, kept_lines, ids = acc.result()
    release_free_memory()  # the blocks' pieces, now joined
    if "depth" in cols.source:
        values["depth"] = settle_depths(values["depth"], values["_depth_nan"],
                                        str(cols.source["depth"]), depth_unit, depth_positive,
                                        name, report)
    table = _build_table(values, ids, cols, kept_rows, kept_lines, report)
    del values, ids
    release_free_memory()
    report.n_time_rollovers = int(rolled.sum())
    report.n_events = len(table)
    table.attrs["source"] = name
    raw = None
    if keep_raw:
        # Blocks of blank lines only parse to typeless empty frames: leave them out.
        raw_blocks = [b for b in raw_blocks if len(b)] or raw_blocks[:1]
        raw = src.frame if src.frame is not None else (
            pd.concat(raw_blocks, ignore_index=True) if len(raw_blocks) > 1 else raw_blocks[0]
        )
    return LoadedCatalog(table=table, raw=raw, report=report, dropped=acc.dropped())


def _build_table(
    values: dict[str, np.ndarray],
    ids: dict[str, pd.Series],
    cols: _Columns,
    rows: np.ndarray,
    lines: np.ndarray,
    report: CatalogReport,
) -> pd.DataFrame:
    """The validated table sorted by time (stable), and the report's order/duplicate counts.

    ``values``, ``ids`` (event_id/event_type, as strings), ``rows`` and ``lines`` are aligned,
    one entry per kept row in input order.
    """
    t = values["time"]
    report.was_sorted = bool(np.all(t[1:] >= t[:-1]))
    # Most catalogs come sorted: then the columns are used as they are, not copied in order.
    order = slice(None) if report.was_sorted else np.argsort(t, kind="stable")
    if "_depth_nan" in values:
        report.n_depth_filled = int(values.pop("_depth_nan").sum())
    place = ("x", "y") if cols.fmt == "projected" else ("latitude", "longitude")
    data: dict[str, object] = {}
    if cols.fmt == "projected":
        data["time"] = t[order]
    else:
        data["time"] = pd.Series(t[order].view("M8[ns]")).dt.tz_localize("UTC")
    for key in (*place, "depth", "magnitude"):
        data[key] = values.pop(key)[order].astype(np.float64, copy=False)
    data["row"] = rows[order]
    data["line"] = lines[order]
    for key in list(ids):
        data[key] = ids.pop(key).iloc[order].reset_index(drop=True)
    # copy=False: one block per column instead of a consolidating copy of the whole table.
    table = pd.DataFrame(data, copy=False)
    # An exact duplicate shares its time with the row before it (sorted): only rows in runs of
    # equal times need the (memory-hungry) row hashing.
    ts = t[order]
    same = np.flatnonzero(ts[1:] == ts[:-1]) + 1
    if same.size:
        runs = table.iloc[np.union1d(same - 1, same)]
        key_cols = ["time", *place, "depth", "magnitude"]
        report.n_duplicates = int(runs.duplicated(subset=key_cols).sum())
    return table


def read_catalog(source: str | os.PathLike[str] | pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    """The validated table of :func:`load_catalog`, with the report as a small dict in
    ``table.attrs["report"]``."""
    loaded = load_catalog(source, **kwargs)  # type: ignore[arg-type]
    table = loaded.table
    table.attrs["report"] = asdict(loaded.report)
    return table
