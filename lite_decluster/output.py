"""Write results safely: atomic replacement, never onto the input, never over a file by surprise.

Every write goes to a temporary file in the destination folder, is flushed and fsync'ed, then
renamed over the destination with ``os.replace`` (atomic on POSIX and Windows). If anything
fails on the way, the temporary file is removed and an existing destination is left untouched.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import pandas as pd

__all__ = [
    "FORMATS",
    "OutputError",
    "atomic_write",
    "check_output_path",
    "default_output_path",
    "output_format",
    "require_writer",
    "write_csv_blocks",
    "write_table",
]

FORMATS = ("csv", "parquet")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_COMPRESSED = (".gz", ".xz", ".bz2", ".zip", ".zst")
_TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".dat", ".psv", ".cat")


class OutputError(ValueError):
    """An output that must not or cannot be written (exists, is the input, unknown format...)."""


def output_format(path: str | os.PathLike[str], format: str | None = None) -> str:
    """'csv' or 'parquet': ``format`` if given, else from the suffix (.parquet/.pq), else csv."""
    by_suffix = "parquet" if Path(path).suffix.lower() in _PARQUET_SUFFIXES else "csv"
    if format is not None:
        fmt = format.strip().lower()
        if fmt not in FORMATS:
            raise OutputError(f"unknown output format {format!r}; expected csv or parquet")
        suffix = Path(path).suffix.lower()
        if suffix and suffix not in _COMPRESSED and fmt != by_suffix and (
                fmt == "csv" or suffix in _TEXT_SUFFIXES):
            raise OutputError(f"--format {fmt} does not match the output's suffix {suffix}: "
                              f"name it .{'parquet' if fmt == 'parquet' else 'csv'}")
        return fmt
    return by_suffix


def default_output_path(source: str | os.PathLike[str], format: str = "csv") -> Path:
    """``NAME.declustered.csv`` (or ``.parquet``) beside the input; compression suffixes are
    dropped (``cat.csv.gz`` -> ``cat.declustered.csv``) and text output keeps the input's text
    suffix (``ingv.txt`` -> ``ingv.declustered.txt``: it keeps the input's delimiter)."""
    src = Path(source)
    name = src.name
    for suffix in _COMPRESSED:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    stem = Path(name).stem if Path(name).suffix else name
    fmt = output_format("", format)
    text = Path(name).suffix.lower()
    ext = text[1:] if fmt == "csv" and text in _TEXT_SUFFIXES else fmt
    return src.with_name(f"{stem}.declustered.{ext}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_output_path(
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    force: bool = False,
) -> Path:
    """Refuse an output that is one of ``inputs`` (always) or exists (unless ``force``).

    Also refuses a directory, a missing parent folder or one we may not write to (checked
    up front so that a long run does not fail at the end). Returns the path.
    """
    out = Path(path)
    for src in inputs:
        if _same_file(out, Path(src)):
            raise OutputError(f"refusing to write the output onto the input file {src}")
    if out.is_dir():
        raise OutputError(f"output {out} is a directory")
    if not out.parent.is_dir():
        raise OutputError(f"output folder {out.parent} does not exist")
    if out.exists() and not force:
        raise OutputError(f"output {out} already exists; use --force to replace it")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to the folder {out.parent}; choose another output (-o)")
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[bytes]], object],
) -> Path:
    """Call ``write(fh)`` on a binary temporary file beside ``path``, then rename it to ``path``.

    On any exception (including KeyboardInterrupt) the temporary file is removed and an
    existing ``path`` keeps its previous content. The new file gets the usual permissions
    (0666 minus the umask), not the private ones of a temporary file.
    """
    out = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(out.parent)
    return out


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable where the platform allows it (not on Windows)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def require_writer(format: str) -> None:
    """Raise OutputError now if ``format`` cannot be written here (parquet without pyarrow),
    so that a long run does not end in that message."""
    if output_format("", format) == "parquet":
        _require_pyarrow()


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise OutputError(
            "writing parquet needs pyarrow, which is not installed: pip install pyarrow "
            "(or write CSV with --format csv)"
        ) from exc


def write_table(
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    force: bool = False,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``table`` as CSV (UTF-8, no index) or parquet (pyarrow), atomically.

    Parameters
    ----------
    table : DataFrame to write (its index is not written).
    path : destination file.
    format : 'csv' or 'parquet'; default from the suffix (``.parquet``/``.pq``), else CSV.
    force : replace an existing file.
    inputs : paths the output must never be (the catalog being declustered).

    Raises
    ------
    OutputError
        Output is an input, exists without ``force``, or parquet without pyarrow.
    """
    fmt = output_format(path, format)
    out = check_output_path(path, inputs=inputs, force=force)
    if fmt == "parquet":
        _require_pyarrow()

        def write(fh: IO[bytes]) -> None:
            table.to_parquet(fh, engine="pyarrow", index=False)
    else:

        def write(fh: IO[bytes]) -> None:
            _write_csv(table, fh)

    return atomic_write(out, write)


def write_csv_blocks(
    blocks: Iterable[pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write consecutive row blocks (same columns) as one CSV file, atomically.

    As :func:`write_table` with CSV, one block in memory at a time; the header comes from the
    first block. Text is quoted where a value needs it, decided block by block. An exception
    from ``blocks`` leaves no file behind.
    """
    inputs = list(inputs)
    out = check_output_path(path, inputs=inputs, force=force)

    def write(fh: IO[bytes]) -> None:
        columns = None
        for block in blocks:
            first = columns is None
            if first:
                columns = list(block.columns)
            elif list(block.columns) != columns:
                raise OutputError("blocks with different columns cannot form one CSV file")
            _write_csv(block, fh, header=first)
        if columns is None:
            raise OutputError("nothing to write: no rows")

    return atomic_write(out, write)


def _arrow() -> tuple:
    """(pyarrow, pyarrow.csv), or (None, None) when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:
        return None, None
    return pa, pa_csv


def _needs_quotes(table: pd.DataFrame) -> bool:
    """Whether any text value holds a comma, quote or line break (then CSV must quote)."""
    for name in table.columns:
        col = table[name]
        if col.dtype.kind in "biufcmM":
            continue
        text = col.dropna().astype(str)
        if text.str.contains(r'[,"\r\n]', regex=True).any():
            return True
    return False


def _write_csv(table: pd.DataFrame, fh: IO[bytes], header: bool = True) -> None:
    """CSV with pyarrow's writer when it is installed (about 5x faster than pandas' float
    formatting; strings quoted, floats in shortest round-trip form), else with pandas."""
    pa, pa_csv = _arrow()
    if pa is not None:
        try:
            arrow = pa.Table.from_pandas(table, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            arrow = None  # e.g. an object column mixing types: pandas copes
        if arrow is not None:
            # Header and quoting as pandas writes them: quotes only where a value needs them.
            if header:
                head = io.StringIO()
                csv.writer(head, lineterminator="\n").writerow([str(c) for c in table.columns])
                fh.write(head.getvalue().encode("utf-8"))
            quoting = "none" if not _needs_quotes(table) else "needed"
            opts = pa_csv.WriteOptions(include_header=False, quoting_style=quoting)
            pa_csv.write_csv(arrow, fh, opts)
            return
    table.to_csv(fh, index=False, header=header, encoding="utf-8", lineterminator="\n")
