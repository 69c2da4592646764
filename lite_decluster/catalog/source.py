"""Opening catalog files and cutting them into blocks of whole records.

A block is about 8 MB of text ending after a record's newline (one outside double quotes), so
that memory follows a block, not the file, and every record is parsed whole.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from lite_decluster.catalog.errors import CatalogError
from lite_decluster.catalog.quakeml import looks_like_quakeml, read_quakeml

__all__ = ["CatalogSource", "open_catalog"]


# Text is parsed this many bytes at a time: memory stays proportional to a block, not the file,
# and a block is large enough that pandas' per-call overhead does not matter.
_BLOCK_BYTES = 8 << 20

_OPENERS: dict[str, Callable[..., io.IOBase]] = {
    ".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open
}


@dataclass
class CatalogSource:
    """A catalog file (or DataFrame) opened for reading in blocks of whole rows.

    ``columns`` are the input's column names (stripped, a leading '#' removed). Iterating
    :meth:`blocks` yields ``(frame, lines)`` for consecutive data rows in input order: ``frame``
    with the selected columns, ``lines`` (k,) int64 the 1-based physical line where each row
    starts (header counted), or None for a DataFrame.
    """

    name: str
    columns: list[object]
    path: Path | None = None
    frame: pd.DataFrame | None = None
    kwargs: dict[str, object] = field(default_factory=dict)
    #: What messages call a row of ``frame``: 'row' (a DataFrame, 0-based) or 'event' (QuakeML,
    #: 1-based, also its ``line``).
    item: str = "row"
    frame_lines: np.ndarray | None = None

    def blocks(
        self,
        usecols: Sequence[int] | None = None,
        *,
        text: bool = False,
        text_columns: Sequence[int] = (),
        block_bytes: int | None = None,
    ) -> Iterator[tuple[pd.DataFrame, np.ndarray | None]]:
        """Consecutive blocks of data rows.

        usecols : positions of the columns to parse (default all).
        text : parse every value as the verbatim string of the file (empty fields stay '').
        text_columns : positions of columns to parse as strings (empty fields missing).
        block_bytes : size of the text parsed at a time (default 8 MB; a block ends with a
            whole row).
        """
        if self.frame is not None:
            part = self.frame if usecols is None else self.frame.iloc[:, list(usecols)]
            yield part, self.frame_lines
            return
        assert self.path is not None
        names = list(range(len(self.columns)))
        # pandas returns the selected columns in file order, whatever the order asked for.
        pos = names if usecols is None else sorted(set(usecols))
        extra: dict[str, object] = {"usecols": pos if usecols is not None else None}
        if text:
            extra.update(dtype=str, keep_default_na=False, na_filter=False)
        elif text_columns:
            extra["dtype"] = dict.fromkeys(text_columns, str)
        labels = [self.columns[i] for i in pos]
        with _open(self.path, self.name) as fh:
            for k, (data, before) in enumerate(_record_blocks(fh, self.name, block_bytes)):
                first = k == 0
                # Positional names: the first block skips the header line, the others have none.
                kw = dict(self.kwargs, **extra, header=0 if first else None, names=names)
                frame = _parse_block(data, kw, self.name, before)
                frame.columns = labels
                yield frame, _data_lines(data, len(frame), header=first, before=before)


def _open(path: Path, name: str) -> IO[bytes]:
    """The file as a binary stream, decompressed by suffix (.gz, .xz, .bz2)."""
    opener = _OPENERS.get(path.suffix.lower(), open)
    try:
        return opener(path, "rb")
    except FileNotFoundError as exc:
        raise CatalogError(f"{name}: file not found") from exc
    except OSError as exc:
        raise CatalogError(f"{name}: cannot read: {exc}") from exc


def _record_blocks(
    fh: IO[bytes], name: str, block_bytes: int | None = None
) -> Iterator[tuple[bytes, int]]:
    """The stream cut into blocks of about ``block_bytes`` ending after a record's newline (one
    outside double quotes), each with the number of newlines before it."""
    size = block_bytes or _BLOCK_BYTES
    carry = b""
    before = 0
    while True:
        try:
            chunk = fh.read(size)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise CatalogError(f"{name}: cannot read: {exc}") from exc
        if not chunk:
            break
        buf = carry + chunk
        cut = _last_record_end(buf)
        if cut < 0:  # no record ends in this chunk (a huge quoted field): read on
            carry = buf
            continue
        block, carry = buf[: cut + 1], buf[cut + 1:]
        yield block, before
        before += block.count(b"\n")
    if carry.strip():
        yield carry, before


def _last_record_end(buf: bytes) -> int:
    """Index of the last newline in ``buf`` that ends a record (even number of quotes before
    it), or -1."""
    if b'"' not in buf:
        return buf.rfind(b"\n")
    _, ends = _record_ends(np.frombuffer(buf, dtype=np.uint8), quoted=True)
    return int(ends[-1]) if ends.size else -1


def _record_ends(buf: np.ndarray, quoted: bool) -> tuple[np.ndarray, np.ndarray]:
    """Positions of every newline in ``buf`` (uint8) and of those that end a record: with
    ``quoted``, a newline after an odd number of double quotes is inside a field."""
    newlines = np.flatnonzero(buf == ord("\n"))
    if not quoted:
        return newlines, newlines
    quotes = np.flatnonzero(buf == ord('"'))
    return newlines, newlines[np.searchsorted(quotes, newlines) % 2 == 0]


def _parse_block(data: bytes, kwargs: dict[str, object], name: str, before: int) -> pd.DataFrame:
    try:
        try:
            return pd.read_csv(io.BytesIO(data), **kwargs)
        except UnicodeDecodeError:
            # Odd bytes (in place names, say) are no reason to fail; the strict first try is
            # much faster than decoding with errors="replace" throughout.
            return pd.read_csv(io.BytesIO(data), encoding_errors="replace", **kwargs)
    except pd.errors.EmptyDataError:
        cols = kwargs.get("usecols") or kwargs["names"]
        return pd.DataFrame({c: [] for c in cols})  # type: ignore[union-attr]
    except (pd.errors.ParserError, ValueError) as exc:
        # pandas counts lines from the start of the block: make them the file's.
        text = re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + before}", str(exc))
        raise CatalogError(f"{name}: cannot parse as delimited text: {text}") from exc


def open_catalog(source: str | os.PathLike[str] | pd.DataFrame) -> CatalogSource:
    """Open a catalog file (plain, .gz, .xz, .bz2) or wrap a DataFrame; reads only the header
    of delimited text, a QuakeML file (.xml, .quakeml, .qml or XML content) whole.

    Raises CatalogError when the file is missing, unreadable or empty.
    """
    if isinstance(source, pd.DataFrame):
        return CatalogSource("<DataFrame>", list(source.columns), frame=source)
    name = os.fspath(source)
    path = Path(name)
    with _open(path, name) as fh:
        head = next(_record_blocks(fh, name), (b"", 0))[0]
    if looks_like_quakeml(path.suffixes, head):
        with _open(path, name) as fh:
            frame = read_quakeml(fh, name)
        return CatalogSource(name, list(frame.columns), path=path, frame=frame, item="event",
                             frame_lines=np.arange(1, len(frame) + 1, dtype=np.int64))
    header = _first_line(head)
    if header is None:
        raise CatalogError(f"{name}: file is empty")
    text = header.lstrip().lstrip("#")
    sep = next((s for s in ("|", ",", ";", "\t") if s in text), r"\s+")
    kwargs: dict[str, object] = {
        "sep": sep,
        "index_col": False,  # a trailing delimiter must not turn the first column into the index
        "encoding": "utf-8",
    }
    if f"{sep} " in text:  # 'time, lat, lon': also needed for quoted fields after the space
        kwargs["skipinitialspace"] = True
    if sep == r"\s+" and header.lstrip().startswith("#"):
        # '# year month ...': '#' is not a column
        labels: list[object] = list(text.split())
    else:
        labels = list(_parse_block(head, dict(kwargs, nrows=0), name, 0).columns)
    columns: list[object] = [str(c).strip().lstrip("#").strip() for c in labels]
    return CatalogSource(name, columns, path=path, kwargs=kwargs)


def _first_line(data: bytes) -> str | None:
    """The first non-blank line (the header), or None when there is none."""
    for line in io.BytesIO(data):
        if line.strip():
            return line.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    return None


def _data_lines(data: bytes, n_rows: int, *, header: bool, before: int) -> np.ndarray:
    """1-based physical line where each data row of a block starts, shape (n_rows,) int64.

    Mirrors how pandas splits the text into records: newlines inside double quotes do not end a
    record, and blank or whitespace-only lines are skipped; with ``header`` the first record is
    the header. ``before``: newlines in the file before the block.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines, ends = _record_ends(buf, quoted=b'"' in data)
    starts = np.concatenate(([0], ends + 1))
    starts = starts[starts < buf.size]
    # A record is blank unless it holds a byte above ' ' (each start..next start span is one
    # record plus its newline, so reduceat never sees an empty span).
    visible = np.logical_or.reduceat(buf > ord(" "), starts) if starts.size else starts.astype(bool)
    record_lines = before + 1 + np.searchsorted(newlines, starts[visible])
    lines = record_lines[int(header):].astype(np.int64)
    if lines.size != n_rows:
        # pandas split the text differently (unusual quoting, '\r' line ends): assume one line
        # per row after the header.
        first = int(record_lines[0]) + int(header) if record_lines.size else before + 1 + header
        lines = first + np.arange(n_rows, dtype=np.int64)
    return lines
