"""One row out per row in: the result columns of every input row, for every method.

The methods give per-event arrays (probability, label, parent, cluster); :func:`build_labels`
spreads them over the input rows with the reason of every row that has no label, and
:class:`Labels` builds the result columns for any range of rows, so that a large catalog is
written block by block (:func:`labelled_blocks`) or assembled whole (:func:`assemble`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lite_decluster.catalog import LoadedCatalog, open_catalog
from lite_decluster.clusters import ROLES, cluster_roles, cluster_roots
from lite_decluster.errors import DeclusterError
from lite_decluster.memory import release_free_memory
from lite_decluster.pipeline import Prepared
from lite_decluster.runinfo import RunInfo

__all__ = ["FIRST_EVENT", "RESULT_COLUMNS", "Labels", "added_names", "assemble",
           "build_labels", "labelled_blocks", "magnitude_decimals", "row_times"]

#: Columns added to the input's own columns, in this order:
#: ``p_aftershock`` (float, probability of being triggered; empty when not scored), ``label``
#: ('background', 'aftershock' or empty), ``parent_row`` (0-based data row of the parent: the
#: nearest neighbour, the ETAS method's most probable trigger, the window method's capturing
#: event), ``parent_id`` (its event id, when the catalog has ids), ``cluster`` (input row of
#: the event that roots its cluster; see :mod:`lite_decluster.clusters`), ``cluster_size``,
#: ``cluster_role`` ('single', 'mainshock', 'foreshock', 'aftershock'), ``eta``
#: (nearest-neighbour distance, days * km**df), ``T`` (rescaled time, days), ``R`` (rescaled
#: distance, km**df), ``dm`` (parent minus event magnitude), ``n_siblings``, ``n_offspring``
#: (other children of the parent, children of the event), ``reason`` (empty when labelled;
#: otherwise why not: 'not an earthquake (qb)', 'invalid: ...', 'below Mc 2.7', 'first event:
#: no earlier event', 'outside selection: ...') and ``time_utc`` (origin time after leap-second
#: repair, UTC; not for projected catalogs). An added column whose name the input already has
#: gets the suffix ``_ld``.
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
    "time_utc",
)


_FEATURE_OUT = ("eta", "T", "R", "dm", "n_siblings", "n_offspring")


FIRST_EVENT = "first event: no earlier event"


BACKGROUND, AFTERSHOCK = "background", "aftershock"


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
    #: (n_rows,) datetime64[ns] UTC origin time of every validated row after leap-second
    #: repair (NaT for rows not validated); None for projected catalogs (times in days).
    row_time: np.ndarray | None = None
    #: decimals of the input's magnitudes (dm is written at that precision); None: unknown.
    magnitude_decimals: int | None = None

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
        if self.row_time is not None:
            cols["time_utc"] = pd.DatetimeIndex(self.row_time[start:stop]).tz_localize("UTC")
        out = pd.DataFrame(cols, index=pd.RangeIndex(start, stop))
        out["parent_row"] = out["parent_row"].mask(parent_row < 0)
        return out


def magnitude_decimals(magnitudes: np.ndarray, most: int = 6) -> int | None:
    """Fewest decimals that write every magnitude exactly (None beyond ``most``)."""
    m = np.asarray(magnitudes, dtype=float)
    m = m[np.isfinite(m)]
    for k in range(most + 1):
        scaled = m * 10.0**k
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6 * max(1.0, 10.0**k)):
            return k
    return None


def row_times(loaded: LoadedCatalog) -> np.ndarray | None:
    """Origin time of every input row (datetime64[ns], NaT where the row was not validated),
    or None when the catalog's times are days (projected)."""
    t = loaded.table["time"]
    if not pd.api.types.is_datetime64_any_dtype(t):
        return None
    out = np.full(loaded.report.n_rows, np.datetime64("NaT"), dtype="datetime64[ns]")
    out[loaded.table["row"].to_numpy()] = t.dt.tz_convert("UTC").dt.tz_localize(None) \
        .to_numpy(dtype="datetime64[ns]")
    return out


_LABEL_TEXT = np.array([None, BACKGROUND, AFTERSHOCK], dtype=object)


def _parent_only(prep: Prepared) -> str:
    """Reason of an event below Mc searched only as a candidate parent."""
    where = f"below Mc {prep.mc:g}" if prep.mc_method != "periods" and \
        not prep.mc_method.startswith("periods") and prep.mc is not None else "below Mc"
    return f"{where}: candidate parent only"


_ROLE_TEXT = np.array([None, *ROLES[1:]], dtype=object)


def build_labels(
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
    parent_only: np.ndarray | None = None,
) -> Labels:
    """Labels of every input row; counts into ``info``.

    ``left_out``: (input rows, reason) of validated events not declustered, applied in order
    (a later entry wins); ``p``, ``aftershock``, ``scored``, ``has_parent``: arrays over
    ``prep.table`` rows. ``parent`` (default: the nearest neighbours of ``prep.features``) and
    ``cluster`` (event keying each cluster; default: built from parents and labels) for
    methods that give their own links; ``unlabelled_reason``: the reason of an event that has
    a parent but no label (default 'features not finite'); ``parent_only``: events below Mc
    searched only as candidate parents (not labelled, not cluster members).
    """
    n = loaded.report.n_rows
    drop = loaded.dropped
    # Reason codes: 0 '' (labelled), then the fixed texts, then each distinct dropped reason.
    fixed = ["", FIRST_EVENT, unlabelled_reason or "features not finite", _parent_only(prep)]
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
    if parent_only is not None:
        ev_reason[parent_only] = 3
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
                  integer_counts=integer, cluster=root, cluster_size=size, cluster_role=role,
                  magnitude_decimals=magnitude_decimals(mags))


CLASH_SUFFIX = "_ld"


def added_names(columns: Sequence[object], added: Sequence[str], info: RunInfo
                ) -> dict[str, str]:
    """Names of the added columns: ``NAME_ld`` where the input already has ``NAME`` (the
    input's own names are never changed); noted in ``info``."""
    taken = {str(c) for c in columns}
    names = {}
    for a in added:
        new = a
        while new in taken:
            new += CLASH_SUFFIX
        names[a] = new
    renamed = {a: n for a, n in names.items() if a != n}
    if renamed:
        note = ("added columns renamed, the input has columns of these names: "
                + ", ".join(f"{a} -> {n}" for a, n in renamed.items()))
        if note not in info.notes:
            info.notes.append(note)
    return names


def _with_inputs(block: pd.DataFrame, labels: Labels, start: int, info: RunInfo,
                 from_file: bool) -> pd.DataFrame:
    """Input rows ``start:start+len(block)`` (their own columns) and their result columns."""
    if from_file:
        block = _restore_integers(block)
    added = labels.frame(start, start + len(block))
    added = added.rename(columns=added_names(block.columns, list(added.columns), info))
    added.index = block.index
    return pd.concat([block, added], axis=1)


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
    start = 0
    # Smaller blocks than for reading: every column is parsed and joined to the results.
    for block, _ in src.blocks(block_bytes=_WRITE_BLOCK_BYTES):
        if start + len(block) > labels.n_rows:
            break
        yield _with_inputs(block, labels, start, info, True)
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


def assemble(raw: pd.DataFrame, labels: Labels, info: RunInfo) -> pd.DataFrame:
    """The input rows in input order (``raw``'s index) with the result columns."""
    out = _with_inputs(raw, labels, 0, info, info.source != "<DataFrame>")
    # Which columns are the input's and what each added column is called (for the
    # declustered catalog and realisations built from this table).
    out.attrs["input_columns"] = list(raw.columns)
    out.attrs["added_columns"] = added_names(raw.columns, list(labels.frame(0, 0).columns), info)
    return out
