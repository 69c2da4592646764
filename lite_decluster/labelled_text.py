"""The labelled catalog as text: each input record byte for byte, then the added fields.

Output fidelity: the input's header (a leading ``#`` included) and every data record are copied
as written, with their own line ending; the added columns follow, separated by the input's own
delimiter (comma, pipe, semicolon, tab; a space for whitespace-separated files). One quoting rule
for the whole file, for the added fields only: a field is quoted (``"..."``, inner quotes
doubled) only when it holds the delimiter, a quote or a line break (in whitespace-separated
files, any whitespace; an empty field is written ``""`` there). Added numbers carry no float
noise: ``dm`` at the precision of the input's magnitudes, the other floats with 6 significant
digits, counts and rows as integers, times as ISO 8601 UTC (``...Z``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from lite_decluster.assemble import Labels, _stat, added_names
from lite_decluster.catalog import open_catalog
from lite_decluster.errors import DeclusterError
from lite_decluster.output import atomic_write, check_output_path
from lite_decluster.records import delimiter, iter_records
from lite_decluster.runinfo import RunInfo

__all__ = ["SIGNIFICANT_DIGITS", "format_fields", "write_labelled_text"]

SIGNIFICANT_DIGITS = 6
# Text is formatted this many input bytes at a time: the added fields of a block are Python
# strings (about 25 per row), so a small block keeps their memory small.
_WRITE_BLOCK_BYTES = 1 << 20


def _quote(value: str, special: re.Pattern) -> str:
    return '"' + value.replace('"', '""') + '"' if special.search(value) else value


def _text(col: pd.Series, delim: str) -> list[str]:
    """Text fields, quoted where needed; each distinct value is checked once (labels, roles
    and reasons repeat)."""
    special = re.compile(r'[\s"]' if delim == " " else "[" + re.escape(delim) + '"\r\n]')
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    texts = np.array([_quote(str(u), special) for u in uniques] + [""], dtype=object)
    return texts[codes].tolist()  # code -1 (missing) picks the trailing ''


def _floats(values: np.ndarray, decimals: int | None) -> list[str]:
    v = np.asarray(values, dtype=float)
    if decimals is not None:
        v = np.round(v, decimals) + 0.0  # + 0.0: no '-0'
        return ["" if x != x else f"{x:.15g}" for x in v.tolist()]
    return ["" if x != x else f"{x:.{SIGNIFICANT_DIGITS}g}" for x in v.tolist()]


def time_unit(ns: np.ndarray) -> str:
    """The coarsest of 'ms', 'us', 'ns' that writes every time exactly (one unit per file)."""
    ok = ~np.isnat(ns)
    sub = ns[ok].astype(np.int64) % 1_000_000
    return "ms" if not sub.any() else ("us" if not (sub % 1000).any() else "ns")


def _times(values: pd.Series, unit: str) -> list[str]:
    ns = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    text = np.datetime_as_string(ns, unit=unit, timezone="UTC").astype(object)
    text[np.isnat(ns)] = ""
    return text.tolist()


def _ints(col: pd.Series) -> list[str]:
    values = col.to_numpy(dtype=np.int64, na_value=0).astype(str).astype(object)
    values[col.isna().to_numpy()] = ""
    return values.tolist()


def _column(col: pd.Series, name: str, delim: str, decimals: int | None, unit: str
            ) -> list[str]:
    if pd.api.types.is_datetime64_any_dtype(col):
        return _times(col, unit)
    if pd.api.types.is_float_dtype(col):
        return _floats(col.to_numpy(), decimals if name == "dm" else None)
    if pd.api.types.is_integer_dtype(col):
        return _ints(col)
    return _text(col, delim)


def format_fields(frame: pd.DataFrame, delim: str, magnitude_decimals: int | None,
                  time_unit: str = "ms") -> list[str]:
    """The added fields of each row of ``frame`` (result columns) as one text line each.

    Rows that were not declustered (below Mc, not earthquakes...) have only a reason and a
    time: they are joined from those two columns alone (most rows of a long catalog)."""
    tail = [c for c in ("reason", "time_utc") if c in frame.columns]
    rest = frame.drop(columns=tail)
    sparse = rest.isna().all(axis=1).to_numpy()
    empty = '""' if delim == " " else ""
    lines = np.empty(len(frame), dtype=object)
    for rows, names in ((~sparse, list(frame.columns)), (sparse, tail)):
        if not rows.any():
            continue
        part = frame.loc[rows, names]
        cols = [_column(part[c], c, delim, magnitude_decimals, time_unit) for c in names]
        if delim == " ":
            # Whitespace-separated text has no empty fields: an empty value is written '""'.
            cols = [[v if v else empty for v in c] for c in cols]
        if names is tail:
            lead = delim.join([empty] * rest.shape[1]) + delim if rest.shape[1] else ""
            lines[rows] = [lead + delim.join(t) for t in zip(*cols, strict=True)]
        else:
            lines[rows] = [delim.join(t) for t in zip(*cols, strict=True)]
    return lines.tolist()


def _line_end(record: bytes) -> tuple[bytes, bytes]:
    if record.endswith(b"\r\n"):
        return record[:-2], b"\r\n"
    if record.endswith(b"\n"):
        return record[:-1], b"\n"
    return record, b"\n"


def write_labelled_text(
    catalog: str | os.PathLike[str],
    labels: Labels,
    info: RunInfo,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
    block_bytes: int | None = None,
) -> Path:
    """Write every input record with its result columns, atomically (see the module doc).

    Raises DeclusterError when the input changed since it was declustered.
    """
    src_path = Path(os.fspath(catalog))
    if info.input_stat and _stat(src_path) != tuple(info.input_stat):
        raise DeclusterError(f"{src_path} changed while it was being declustered; run again")
    out = check_output_path(path, inputs=[catalog, *inputs], force=force)
    source = open_catalog(catalog)
    delim = delimiter(source)
    sep = delim.encode()
    first = labels.frame(0, 0)
    names = added_names(source.columns, list(first.columns), info)
    unit = time_unit(labels.row_time) if labels.row_time is not None else "ms"

    def write(fh: IO[bytes]) -> None:
        start = 0
        for header, records in iter_records(catalog, block_bytes or _WRITE_BLOCK_BYTES):
            if header:
                body, end = _line_end(header)
                fh.write(body + sep + delim.join(names[c] for c in first.columns).encode()
                         + end)
            if not records:
                continue
            stop = start + len(records)
            if stop > labels.n_rows:
                break
            fields = format_fields(labels.frame(start, stop), delim, labels.magnitude_decimals,
                                   unit)
            lines = []
            for rec, added in zip(records, fields, strict=True):
                body, end = _line_end(rec)
                lines.append(body + sep + added.encode("utf-8") + end)
            fh.write(b"".join(lines))
            start = stop
        if start != labels.n_rows:
            raise DeclusterError(
                f"{src_path} changed while it was being declustered ({start:,} rows now, "
                f"{labels.n_rows:,} before); run again"
            )

    return atomic_write(out, write)
