"""The input file's own bytes, record by record: declustered catalogs copy rows verbatim.

A record is a data row as the reader counts them (header first, blank lines skipped, newlines
inside double quotes part of the field), with its own line ending, so that a declustered
catalog's rows are byte-identical to the input's. QuakeML has no such records: its events are
given as the CSV rows of the table the reader makes of them (one per event, in file order).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lite_decluster.catalog.quakeml import looks_like_quakeml
from lite_decluster.catalog.source import _open, _record_blocks, _record_ends, open_catalog

__all__ = ["delimiter", "iter_records"]


def delimiter(source) -> str:
    """The delimiter to write beside a catalog's own fields: its own (a space for
    whitespace-separated text; a comma for a DataFrame or QuakeML). ``source``: a
    ``CatalogSource``."""
    sep = source.kwargs.get("sep", ",")
    return " " if sep == r"\s+" else str(sep)


def iter_records(
    path: str | os.PathLike[str], block_bytes: int | None = None
) -> Iterator[tuple[bytes, list[bytes]]]:
    """Yield ``(header, records)`` per block of the file: ``header`` is the header line (in
    the first block, else b'') and ``records`` the data records of the block, each with its
    line ending (one is added to a last record without one)."""
    p = Path(os.fspath(path))
    name = os.fspath(path)
    with _open(p, name) as fh:
        head = fh.read(4096)
    if looks_like_quakeml(p.suffixes, head):
        frame = open_catalog(p).frame
        assert frame is not None
        text = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
        lines = text.splitlines(keepends=True)
        yield lines[0], lines[1:]
        return
    first = True
    with _open(p, name) as fh:
        for data, _ in _record_blocks(fh, name, block_bytes):
            buf = np.frombuffer(data, dtype=np.uint8)
            _, ends = _record_ends(buf, quoted=b'"' in data)
            starts = np.concatenate(([0], ends + 1))
            stops = np.concatenate((ends + 1, [buf.size]))
            keep = starts < buf.size
            starts, stops = starts[keep], stops[keep]
            recs = [data[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
            recs = [r for r in recs if r.strip()]
            if recs and not recs[-1].endswith(b"\n"):
                recs[-1] += b"\r\n" if recs[0].endswith(b"\r\n") else b"\n"
            header = b""
            if first and recs:
                header, recs = recs[0], recs[1:]
                first = False
            yield header, recs
