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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from lite_decluster.assemble import Labels, _stat, added_names
from lite_decluster.catalog import open_catalog
from lite_decluster.errors import DeclusterError
from lite_decluster.output import atomic_write, check_output_path
from lite_decluster.records import iter_records
from lite_decluster.runinfo import RunInfo

__all__ = ["SIGNIFICANT_DIGITS", "format_fields", "write_labelled_text"]

SIGNIFICANT_DIGITS = 6


def _needs_quotes(values: Iterable[str], delim: str) -> np.ndarray:
    special = (delim, '"', "\n", "\r") if delim != " " else (" ", "\t", '"', "\n", "\r")
    return np.array([any(c in v for c in special) for v in values], dtype=bool)


def _text(col: pd.Series, delim: str) -> list[str]:
    s = col.astype(object)
    out = ["" if v is None or v is pd.NA else str(v) for v in s.tolist()]
    if out:
        q = _needs_quotes(out, delim)
        if q.any():
            for i in np.flatnonzero(q):
                out[i] = '"' + out[i].replace('"', '""') + '"'
    return out


def _floats(values: np.ndarray, decimals: int | None) -> list[str]:
    v = np.asarray(values, dtype=float)
    if decimals is not None:
        v = np.round(v, decimals) + 0.0  # + 0.0: no '-0'
        return ["" if x != x else f"{x:.15g}" for x in v.tolist()]
    return ["" if x != x else f"{x:.{SIGNIFICANT_DIGITS}g}" for x in v.tolist()]


def _times(values: pd.Series) -> list[str]:
    ns = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    ok = ~np.isnat(ns)
    unit = "ms"
    if ok.any():
        sub = ns[ok].astype(np.int64) % 1_000_000
        unit = "ms" if not sub.any() else ("us" if not (sub % 1000).any() else "ns")
    text = np.datetime_as_string(ns, unit=unit, timezone="UTC")
    return [t if k else "" for t, k in zip(text.tolist(), ok.tolist(), strict=True)]


def format_fields(frame: pd.DataFrame, delim: str, magnitude_decimals: int | None
                  ) -> list[str]:
    """The added fields of each row of ``frame`` (result columns) as one text line each."""
    cols: list[list[str]] = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            cols.append(_times(col))
        elif pd.api.types.is_float_dtype(col):
            cols.append(_floats(col.to_numpy(), magnitude_decimals if name == "dm" else None))
        elif pd.api.types.is_integer_dtype(col):
            cols.append(["" if v is pd.NA else str(v) for v in col.astype(object).tolist()])
        else:
            cols.append(_text(col, delim))
    if delim == " ":
        # Whitespace-separated text has no empty fields: an empty value is written '""'.
        cols = [[v if v else '""' for v in c] for c in cols]
    return [delim.join(t) for t in zip(*cols, strict=True)]


def _delimiter(source) -> str:
    sep = source.kwargs.get("sep", ",")
    return " " if sep == r"\s+" else str(sep)


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
    delim = _delimiter(source)
    sep = delim.encode()
    first = labels.frame(0, 0)
    names = added_names(source.columns, list(first.columns), info)

    def write(fh: IO[bytes]) -> None:
        start = 0
        for header, records in iter_records(catalog, block_bytes):
            if header:
                body, end = _line_end(header)
                fh.write(body + sep + delim.join(names[c] for c in first.columns).encode()
                         + end)
            if not records:
                continue
            stop = start + len(records)
            if stop > labels.n_rows:
                break
            fields = format_fields(labels.frame(start, stop), delim, labels.magnitude_decimals)
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
