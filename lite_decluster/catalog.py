"""Read an earthquake catalog into one validated, time-sorted table.

Formats, detected from the header (or forced with ``format=``):

- ``comcat``: USGS ComCat CSV (``time,latitude,longitude,depth,mag,magType,...,id,...,type``).
- ``scsn``: SCEDC/SCSN CSV (``time_utc,etype,gtype,mag,magtype,lat,lon,depth,...,evid,...``).
- ``ingv``: INGV FDSN text, pipe-delimited, header line starting with ``#``.
- ``generic``: delimited text (comma, ``|``, ``;``, tab or whitespace) with common column names;
  time as one column, as split ``year,month,day[,hour,minute,second]`` columns or as decimal years.
- ``projected``: ``x``, ``y`` in km and a float time in days (synthetic or projected catalogs).

Every kept row links back to its source: ``row`` is its 0-based position among the input's data
rows (and in :attr:`LoadedCatalog.raw`), ``line`` its 1-based physical line in the file, header
counted, so that messages and downstream results can point at the exact line.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from lite_decluster.magnitudes import estimate_mc
from lite_decluster.memory import release_free_memory

__all__ = [
    "FORMATS",
    "CatalogError",
    "CatalogReport",
    "CatalogSource",
    "LoadedCatalog",
    "apply_completeness",
    "load_catalog",
    "open_catalog",
    "read_catalog",
]

FORMATS = ("comcat", "scsn", "ingv", "generic", "projected")

# Source column names for each canonical column, in order of preference, matched case-insensitively.
_ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "time_utc", "origin_time", "origintime", "datetime", "date_time", "otime"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "long", "lng"),
    "depth": ("depth", "depth_km", "depth/km", "dep"),
    "magnitude": ("magnitude", "mag", "mw", "ml", "m"),
    "event_id": ("event_id", "eventid", "evid", "id"),
    "event_type": ("event_type", "eventtype", "etype", "type"),
    "x": ("x", "x_km"),
    "y": ("y", "y_km"),
}
_PROJECTED_TIME = ("time", "t", "time_days", "days")
_DECIMAL_YEAR = ("decimal_year", "decyear", "dec_year", "decimalyear")
_SPLIT_TIME = {
    "year": ("year", "yr"),
    "month": ("month", "mo"),
    "day": ("day", "dy"),
    "hour": ("hour", "hr"),
    "minute": ("minute", "min", "mn"),
    "second": ("second", "sec", "ss"),
}

# Column names that identify the known formats (lower case), and the names they use.
_SIGNATURES: dict[str, set[str]] = {
    "comcat": {"time", "latitude", "longitude", "mag", "magtype", "type"},
    "scsn": {"time_utc", "etype", "mag", "lat", "lon"},
    "ingv": {"eventid", "time", "latitude", "longitude", "magnitude", "eventtype"},
}
_FORMAT_COLUMNS: dict[str, dict[str, str]] = {
    "comcat": {"time": "time", "latitude": "latitude", "longitude": "longitude", "depth": "depth",
               "magnitude": "mag", "event_id": "id", "event_type": "type"},
    "scsn": {"time": "time_utc", "latitude": "lat", "longitude": "lon", "depth": "depth",
             "magnitude": "mag", "event_id": "evid", "event_type": "etype"},
    "ingv": {"time": "time", "latitude": "latitude", "longitude": "longitude", "depth": "depth/km",
             "magnitude": "magnitude", "event_id": "eventid", "event_type": "eventtype"},
}

# datetime64[ns] covers 1677-09-21 to 2262-04-11; whole years inside that range.
_YEAR_MIN, _YEAR_MAX = 1678, 2261
_NS_PER_S = 1_000_000_000
_MC_TOLERANCE = 1e-6
_MAX_EXAMPLES = 10

# A time pandas' ISO 8601 parser rejected: hour 24, second 60.xx, '/' dates, one-digit fields.
_TIME_RE = re.compile(
    r"^\s*(?P<y>\d{4})[-/](?P<mo>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:(?:T|\s+)(?P<h>\d{1,2}):(?P<mi>\d{1,2})(?::(?P<s>\d{1,2})(?:\.(?P<f>\d*))?)?)?"
    r"\s*(?P<z>Z|UTC|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)


class CatalogError(ValueError):
    """A catalog that cannot be read; the message names the file, line and column."""


@dataclass
class CatalogReport:
    """What :func:`load_catalog` read, dropped and repaired.

    Counts are rows. ``n_time_rollovers`` counts kept-type rows whose time had second=60.xx or
    hour=24 and was rolled over into the next minute or day; ``n_duplicates`` counts rows that
    exactly repeat an earlier row's time, position, depth and magnitude (kept, not dropped).
    """

    source: str
    format: str
    n_rows: int = 0
    n_type_dropped: int = 0
    type_counts: dict[str, int] = field(default_factory=dict)
    n_invalid_dropped: int = 0
    invalid_examples: list[str] = field(default_factory=list)
    n_time_rollovers: int = 0
    n_duplicates: int = 0
    was_sorted: bool = True
    columns: dict[str, str] = field(default_factory=dict)
    n_events: int = 0
    depth_missing: bool = False  # no depth column: every depth set to 0 km
    n_depth_filled: int = 0  # missing (NaN) depths set to 0 km

    def lines(self) -> list[str]:
        """A short human summary, one item per line."""
        out = [f"read {self.n_rows:,} rows ({self.format}) from {self.source}"]
        if self.n_type_dropped:
            kinds = ", ".join(f"{k}: {v:,}" for k, v in self.type_counts.items())
            out.append(f"dropped {self.n_type_dropped:,} non-earthquake rows ({kinds})")
        if self.n_invalid_dropped:
            first = self.invalid_examples[0] if self.invalid_examples else ""
            out.append(f"dropped {self.n_invalid_dropped:,} invalid rows, first: {first}")
        if self.n_time_rollovers:
            n = self.n_time_rollovers
            out.append(
                f"rolled over {n:,} time{'s' if n != 1 else ''} written with second=60 or hour=24"
            )
        if self.depth_missing:
            out.append("no depth column: depth set to 0 km")
        elif self.n_depth_filled:
            out.append(f"set {self.n_depth_filled:,} missing depths to 0 km")
        if self.n_duplicates:
            out.append(f"kept {self.n_duplicates:,} rows that exactly duplicate an earlier row")
        if not self.was_sorted:
            out.append("input was not in time order: sorted by time")
        out.append(f"kept {self.n_events:,} events")
        return out


@dataclass
class LoadedCatalog:
    """A validated catalog with its source.

    Attributes
    ----------
    table : DataFrame, one row per kept event, sorted by time (see :func:`load_catalog`).
    raw : DataFrame or None, the input as read, every data row in input order (position i is
        row i); None when loaded with ``keep_raw=False``.
    report : CatalogReport
    dropped : DataFrame with columns ``row`` (int64) and ``reason`` (str) for every input row
        not in ``table``, in input order.
    """

    table: pd.DataFrame
    raw: pd.DataFrame | None
    report: CatalogReport
    dropped: pd.DataFrame


# --------------------------------------------------------------------------------------------
# Reading


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
            yield (self.frame if usecols is None else self.frame.iloc[:, list(usecols)]), None
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
    """Open a catalog file (plain, .gz, .xz, .bz2) or wrap a DataFrame; reads only the header.

    Raises CatalogError when the file is missing, unreadable or empty.
    """
    if isinstance(source, pd.DataFrame):
        return CatalogSource("<DataFrame>", list(source.columns), frame=source)
    name = os.fspath(source)
    path = Path(name)
    with _open(path, name) as fh:
        head = next(_record_blocks(fh, name), (b"", 0))[0]
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


# --------------------------------------------------------------------------------------------
# Columns


@dataclass
class _Columns:
    fmt: str
    source: dict[str, object]  # canonical name -> source column label
    time_kind: str  # 'text', 'date+time', 'split', 'decimal' or 'days'
    time_cols: dict[str, object]  # parts of the time: 'time' or 'date'/'time' or year..second


def _lookup(columns: Sequence[object]) -> dict[str, object]:
    """Lower-case, stripped column name -> first column label with that name."""
    found: dict[str, object] = {}
    for c in columns:
        found.setdefault(str(c).strip().lower(), c)
    return found


def _detect_format(columns: Sequence[object], fmt: str, overrides: dict[str, str]) -> str:
    if fmt != "auto":
        if fmt not in FORMATS:
            known = ", ".join(FORMATS)
            raise CatalogError(f"unknown format {fmt!r}; expected auto or one of {known}")
        return fmt
    names = set(_lookup(columns))
    for name, signature in _SIGNATURES.items():
        if signature <= names:
            return name
    geographic = {"latitude", "longitude"} & overrides.keys() or any(
        a in names for a in _ALIASES["latitude"] + _ALIASES["longitude"]
    )
    if {"x", "y"} <= overrides.keys() or ({"x", "y"} <= names and not geographic):
        return "projected"
    return "generic"


def _resolve_columns(
    columns: Sequence[object], fmt: str, overrides: dict[str, str], name: str
) -> _Columns:
    found = _lookup(columns)
    listing = ", ".join(str(c) for c in columns)

    def given(canon: str) -> object:
        label = overrides[canon]
        if label in columns:
            return label
        if str(label).strip().lower() in found:
            return found[str(label).strip().lower()]
        raise CatalogError(
            f"{name}: column {label!r} (given for {canon}) not found; columns found: {listing}"
        )

    def pick(canon: str, candidates: Sequence[str], required: bool) -> object | None:
        if canon in overrides:
            return given(canon)
        for c in candidates:
            if c in found:
                return found[c]
        if required:
            raise CatalogError(
                f"{name}: no {canon} column (looked for {', '.join(dict.fromkeys(candidates))}); "
                f"columns found: {listing}"
            )
        return None

    def candidates(canon: str) -> tuple[str, ...]:
        own = _FORMAT_COLUMNS.get(fmt, {}).get(canon)
        return ((own,) if own else ()) + _ALIASES[canon]

    place = ("x", "y") if fmt == "projected" else ("latitude", "longitude")
    source: dict[str, object | None] = {c: pick(c, candidates(c), True) for c in place}
    source["magnitude"] = pick("magnitude", candidates("magnitude"), True)
    for canon in ("depth", "event_id", "event_type"):
        source[canon] = pick(canon, candidates(canon), False)

    if fmt == "projected":
        time_kind, time_cols = "days", {"time": pick("time", _PROJECTED_TIME, True)}
    else:
        time_kind, time_cols = _resolve_time(found, overrides, given, candidates("time"), name,
                                             listing)
    source = {k: v for k, v in source.items() if v is not None}
    return _Columns(fmt, source, time_kind, time_cols)


def _resolve_time(
    found: dict[str, object],
    overrides: dict[str, str],
    given: Callable[[str], object],
    aliases: tuple[str, ...],
    name: str,
    listing: str,
) -> tuple[str, dict[str, object]]:
    """How the time of a geographic catalog is given, and in which columns."""
    if "time" in overrides:
        label = given("time")
        kind = "decimal" if str(label).strip().lower() in _DECIMAL_YEAR else "text"
        return kind, {"time": label}
    label = next((found[a] for a in aliases if a in found), None)
    if label is not None:
        if str(label).strip().lower() == "time" and "date" in found:
            return "date+time", {"date": found["date"], "time": label}
        return "text", {"time": label}
    label = next((found[a] for a in _DECIMAL_YEAR if a in found), None)
    if label is not None:
        return "decimal", {"time": label}
    parts = {
        part: next((found[a] for a in names if a in found), None)
        for part, names in _SPLIT_TIME.items()
    }
    if all(parts[p] is not None for p in ("year", "month", "day")):
        return "split", {p: c for p, c in parts.items() if c is not None}
    if parts["year"] is not None:  # a year column without month: decimal years
        return "decimal", {"time": parts["year"]}
    if "date" in found:
        return "text", {"time": found["date"]}
    raise CatalogError(
        f"{name}: no time column (looked for {', '.join(aliases)}, date, "
        f"year/month/day or {', '.join(_DECIMAL_YEAR)}); columns found: {listing}"
    )


# --------------------------------------------------------------------------------------------
# Values. Each parser returns values for the rows being validated plus a list of checks:
# (mask of failing rows, source column, function giving the message for one failing row).

_Check = tuple[np.ndarray, str, Callable[[int], str]]


def _fmt(value: float) -> str:
    return f"{value:.10g}"


def _to_float(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float64 values of a column, shape (n,), and a mask of entries present but not numbers."""
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return v, np.zeros(v.size, dtype=bool)
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return v, np.isnan(v) & s.notna().to_numpy()


def _number(
    s: pd.Series,
    what: str,
    *,
    required: bool = True,
    lo: float = -np.inf,
    hi: float = np.inf,
    hi_open: bool = False,
    whole: bool = False,
) -> tuple[np.ndarray, list[_Check]]:
    """Parse a numeric column; checks for non-numbers, missing values and the range [lo, hi]."""
    v, nonnum = _to_float(s)
    col = str(s.name)
    missing = np.isnan(v) & ~nonnum
    checks: list[_Check] = [(nonnum, col, lambda i: f"{what} {s.iloc[i]!r} is not a number")]
    if required:
        checks.append((missing, col, lambda i: f"{what} is missing"))
    finite = np.isfinite(v)
    nonfinite = ~finite & ~np.isnan(v)
    if np.isfinite(lo) or np.isfinite(hi):
        with np.errstate(invalid="ignore"):
            outside = (v < lo) | ((v >= hi) if hi_open else (v > hi)) | nonfinite
        bounds = f"[{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
        checks.append((outside, col, lambda i: f"{what} {_fmt(v[i])} outside {bounds}"))
    else:
        checks.append((nonfinite, col, lambda i: f"{what} {_fmt(v[i])} is not finite"))
    if whole:
        checks.append(
            (finite & (v != np.round(v)), col, lambda i: f"{what} {_fmt(v[i])} is not whole")
        )
    return v, checks


def _days_in_month(year: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First day of each month (datetime64[D]) and the number of days in it; valid inputs only."""
    first = (year - 1970).astype("M8[Y]").astype("M8[M]") + (month - 1)
    start = first.astype("M8[D]")
    return start, ((first + 1).astype("M8[D]") - start).astype(np.int64)


def _text_times(
    s: pd.Series, col: str
) -> tuple[np.ndarray, np.ndarray, list[_Check]]:
    """Parse times given as text (or datetimes) to ns since 1970 UTC.

    Returns ns (n,) int64, rolled (n,) bool (second=60 or hour=24 rolled over) and the checks.
    The whole column goes through pandas' vectorised ISO 8601 parser first; only the rows it
    rejects go through the slower regex repair.
    """
    missing = s.isna().to_numpy()
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        parsed = pd.to_datetime(s, utc=True)
    else:
        text = s if pd.api.types.is_string_dtype(s.dtype) else s.astype("string")
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    lo = pd.Timestamp(f"{_YEAR_MIN}-01-01", tz="UTC")
    hi = pd.Timestamp(f"{_YEAR_MAX + 1}-01-01", tz="UTC")
    out_of_range = ((parsed < lo) | (parsed >= hi)).to_numpy(dtype=bool, copy=True)
    parsed = parsed.where(~out_of_range)
    ns = pd.DatetimeIndex(parsed).as_unit("ns").asi8.copy()
    ok = parsed.notna().to_numpy(dtype=bool, copy=True)
    rolled = np.zeros(ns.size, dtype=bool)
    failed = np.flatnonzero(~ok & ~missing & ~out_of_range)
    if failed.size:
        fixed_ns, fixed_ok, fixed_rolled, fixed_range = _repair_times(
            s.iloc[failed].astype(str).reset_index(drop=True)
        )
        ns[failed[fixed_ok]] = fixed_ns[fixed_ok]
        ok[failed[fixed_ok]] = True
        rolled[failed] = fixed_rolled & fixed_ok
        out_of_range[failed[fixed_range]] = True
    bad = ~ok & ~missing & ~out_of_range
    span = f"{_YEAR_MIN}-{_YEAR_MAX}"
    checks: list[_Check] = [
        (missing, col, lambda i: "time is missing"),
        (bad, col, lambda i: f"unparsable time {str(s.iloc[i])!r}"),
        (out_of_range, col, lambda i: f"time {str(s.iloc[i])!r} outside the years {span}"),
    ]
    return ns, rolled, checks


def _repair_times(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse times pandas rejected: second 60.xx, hour 24, '/' dates, one-digit fields.

    Returns ns (n,) int64, ok (n,) bool, rolled (n,) bool and out_of_range (n,) bool. Second
    60.xx is the next minute plus 0.xx s, hour 24 the next day's hour 0.
    """
    g = text.str.extract(_TIME_RE)
    matched = g["y"].notna().to_numpy()

    def whole(key: str) -> np.ndarray:
        return pd.to_numeric(g[key], errors="coerce").fillna(0).to_numpy(np.int64)

    year, month, day = whole("y"), whole("mo"), whole("d")
    hour, minute, second = whole("h"), whole("mi"), whole("s")
    frac = g["f"].fillna("").str.slice(0, 9).str.pad(9, side="right", fillchar="0")
    frac_ns = frac.astype(np.int64).to_numpy()
    zone = g["z"].fillna("").str.upper().str.replace(":", "", regex=False)
    sign = np.where(zone.str.startswith("-").to_numpy(), -1, 1)
    zone_min = sign * (
        pd.to_numeric(zone.str.slice(1, 3), errors="coerce").fillna(0).to_numpy(np.int64) * 60
        + pd.to_numeric(zone.str.slice(3, 5), errors="coerce").fillna(0).to_numpy(np.int64)
    )

    in_range = matched & (year >= _YEAR_MIN) & (year <= _YEAR_MAX)
    month_ok = (month >= 1) & (month <= 12)
    safe = in_range & month_ok
    start, n_days = _days_in_month(np.where(safe, year, 2000), np.where(safe, month, 1))
    ok = (
        safe & (day >= 1) & (day <= n_days) & (hour <= 24) & (minute <= 59) & (second <= 60)
    )
    ns = (start + np.where(ok, day - 1, 0)).astype("M8[ns]").view(np.int64)
    ns = ns + ((hour * 60 + minute - zone_min) * 60 + second) * _NS_PER_S + frac_ns
    rolled = ok & ((hour == 24) | (second == 60))
    return ns, ok, rolled, matched & ~in_range


def _split_times(raw: pd.DataFrame, cols: dict[str, object]) -> tuple[np.ndarray, np.ndarray,
                                                                      list[_Check]]:
    """Times from year, month, day[, hour, minute, second] columns, as ns since 1970 UTC."""
    checks: list[_Check] = []
    parts: dict[str, np.ndarray] = {}
    limits = {"year": (_YEAR_MIN, _YEAR_MAX), "month": (1, 12), "day": (1, 31), "hour": (0, 24),
              "minute": (0, 59)}
    for part, (lo, hi) in limits.items():
        if part in cols:
            parts[part], c = _number(raw[cols[part]], part, lo=lo, hi=hi, whole=True)
            checks += c
        else:
            parts[part] = np.zeros(len(raw))
    if "second" in cols:
        parts["second"], c = _number(raw[cols["second"]], "second", lo=0, hi=61, hi_open=True)
        checks += c
    else:
        parts["second"] = np.zeros(len(raw))
    good = ~np.logical_or.reduce([m for m, _, _ in checks])
    year, month, day, hour, minute = (
        np.where(good, parts[p], d).astype(np.int64)
        for p, d in (("year", 2000), ("month", 1), ("day", 1), ("hour", 0), ("minute", 0))
    )
    start, n_days = _days_in_month(year, month)
    day_col = str(cols["day"])
    checks.append((good & (day > n_days), day_col,
                   lambda i: f"day {day[i]} does not exist in {year[i]}-{month[i]:02d}"))
    ns = (start + (day - 1)).astype("M8[ns]").view(np.int64)
    second = np.where(good, parts["second"], 0.0)
    ns = ns + (hour * 60 + minute) * 60 * _NS_PER_S + np.round(second * _NS_PER_S).astype(np.int64)
    rolled = good & ((hour == 24) | (second >= 60))
    return ns, rolled, checks


def _decimal_year_times(s: pd.Series) -> tuple[np.ndarray, list[_Check]]:
    """Decimal years to ns since 1970 UTC: the fraction of that year's length (leap years too)."""
    v, checks = _number(s, "decimal year", lo=_YEAR_MIN, hi=_YEAR_MAX + 1, hi_open=True)
    good = ~np.logical_or.reduce([m for m, _, _ in checks])
    v = np.where(good, v, 2000.0)
    year = np.floor(v).astype(np.int64)
    start = (year - 1970).astype("M8[Y]").astype("M8[ns]").view(np.int64)
    length = (year - 1969).astype("M8[Y]").astype("M8[ns]").view(np.int64) - start
    return start + np.round((v - year) * length).astype(np.int64), checks


# --------------------------------------------------------------------------------------------
# Loading


def _as_string(s: pd.Series) -> pd.Series:
    """Identifiers as strings; integer-valued floats (a DataFrame's ids with gaps) without a
    trailing '.0'. (A file's ids are read as text, the same in every block.)"""
    if pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64)
        if np.all(np.isnan(v) | (v == np.round(v))):
            s = s.astype("Int64")
    return s.astype("string")


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
) -> LoadedCatalog:
    """Read and validate a catalog.

    Parameters
    ----------
    source : path (plain, .gz, .xz or .bz2) or DataFrame
        The catalog. For a DataFrame, messages name ``<DataFrame>`` and its positional row.
    format : 'auto', 'comcat', 'scsn', 'ingv', 'generic' or 'projected'
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

    Returns
    -------
    LoadedCatalog
        ``table`` has, sorted by time (stable) with index 0..n-1: ``time`` (datetime64[ns, UTC];
        float64 days for projected catalogs), ``latitude`` and ``longitude`` (float64 degrees) or
        ``x`` and ``y`` (float64 km), ``depth`` (float64 km, 0 when absent), ``magnitude``
        (float64), ``row`` (int64, 0-based data row of the input), ``line`` (int64, 1-based
        physical line in the file, header counted; ``row + 2`` for a DataFrame), and
        ``event_id`` / ``event_type`` (string) when the input has them.
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
    fmt = _detect_format(src.columns, format, overrides)
    cols = _resolve_columns(src.columns, fmt, overrides, name)
    if isinstance(event_types, str):
        event_types = (event_types,)
    type_col = cols.source.get("event_type") if event_types is not None else None
    # Only the columns being validated, so that the parsed blocks stay small.
    used = list(dict.fromkeys([*cols.source.values(), *cols.time_cols.values()]))
    usecols = None if keep_raw else [src.columns.index(c) for c in used]
    report = CatalogReport(source=name, format=fmt)
    report.columns = {k: str(v) for k, v in cols.source.items()}
    report.columns["time"] = ",".join(str(c) for c in cols.time_cols.values())

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
            where = _locator(name, src.frame is not None, rows[local], lines[local])
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
    if type_counts:
        report.type_counts = dict(sorted(type_counts.items(), key=lambda kv: -kv[1]))
        report.n_type_dropped = sum(type_counts.values())
    if acc.n_typed == 0:
        raise CatalogError(
            f"{name}: no rows left after the type filter (kept types "
            f"{', '.join(event_types or ())}; found {_counts(report.type_counts)})"
        )
    if not acc.values:
        raise CatalogError(
            f"{name}: no valid rows left ({report.n_invalid_dropped:,} invalid; first: "
            f"{report.invalid_examples[0]})"
        )
    values, rolled, kept_rows, kept_lines, ids = acc.result()
    release_free_memory()  # the blocks' pieces, now joined
    table = _build_table(values, ids, cols, kept_rows, kept_lines, report)
    del values, ids
    release_free_memory()
    report.n_time_rollovers = int(rolled.sum())
    report.n_events = len(table)
    raw = None
    if keep_raw:
        # Blocks of blank lines only parse to typeless empty frames: leave them out.
        raw_blocks = [b for b in raw_blocks if len(b)] or raw_blocks[:1]
        raw = src.frame if src.frame is not None else (
            pd.concat(raw_blocks, ignore_index=True) if len(raw_blocks) > 1 else raw_blocks[0]
        )
    return LoadedCatalog(table=table, raw=raw, report=report, dropped=acc.dropped())


class _Accumulator:
    """Kept values and dropped rows of the blocks read so far."""

    def __init__(self) -> None:
        self.values: list[dict[str, np.ndarray]] = []
        self.rolled: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.lines: list[np.ndarray] = []
        self.ids: list[dict[str, pd.Series]] = []
        self.drop_rows: list[np.ndarray] = []
        self.drop_reasons: list[np.ndarray] = []
        self.n_typed = 0  # rows that passed the type filter

    def keep(self, values: dict[str, np.ndarray], rolled: np.ndarray, rows: np.ndarray,
             lines: np.ndarray, ids: dict[str, pd.Series]) -> None:
        if rows.size:
            self.values.append(values)
            self.rolled.append(rolled)
            self.rows.append(rows)
            self.lines.append(lines)
            self.ids.append(ids)

    def drop(self, rows: np.ndarray, reasons: Sequence[str] | np.ndarray) -> None:
        self.drop_rows.append(rows)
        self.drop_reasons.append(np.asarray(reasons, dtype=object))

    def result(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray,
                              dict[str, pd.Series]]:
        # Each block's pieces are dropped as soon as they are joined: peak memory is the
        # table plus one column, not twice the table.
        values = {}
        for k in list(self.values[0]):
            values[k] = np.concatenate([v.pop(k) for v in self.values])
        # Converted block by block: the conversion's scratch memory is that of one block.
        ids = {
            k: pd.concat([_as_string(d.pop(k)) for d in self.ids], ignore_index=True)
            for k in list(self.ids[0])
        }
        out = (values, np.concatenate(self.rolled), np.concatenate(self.rows),
               np.concatenate(self.lines), ids)
        self.values, self.ids, self.rolled, self.rows, self.lines = [], [], [], [], []
        return out

    def dropped(self) -> pd.DataFrame:
        """Rows not kept, in input order: ``row`` int64 and ``reason``."""
        if not self.drop_rows:
            return pd.DataFrame({"row": np.zeros(0, np.int64), "reason": []})
        rows = np.concatenate(self.drop_rows)
        reasons = np.concatenate(self.drop_reasons)
        order = np.argsort(rows, kind="stable")
        return pd.DataFrame({"row": rows[order].astype(np.int64), "reason": reasons[order]})


def _counts(counts: dict[str, int], most: int = 10) -> str:
    text = ", ".join(f"{k}: {v:,}" for k, v in list(counts.items())[:most])
    return text + (f" and {len(counts) - most:,} more" if len(counts) > most else "")


def _locator(
    name: str, frame: bool, rows: np.ndarray, lines: np.ndarray
) -> Callable[[int], str]:
    """Where the i-th validated row is, as text: 'file, line 17' or '<DataFrame>, row 15'."""
    if frame:
        return lambda i: f"{name}, row {rows[i]}"
    return lambda i: f"{name}, line {lines[i]}"


def _reasons(
    checks: list[_Check], bad: np.ndarray, every: bool
) -> dict[int, tuple[str, str]]:
    """First failing check of each bad row (only the first bad row unless ``every``), in row
    order: {row index: (column, message)}."""
    todo = np.flatnonzero(bad) if every else np.flatnonzero(bad)[:1]
    out: dict[int, tuple[str, str]] = {}
    for mask, col, describe in checks:
        for i in todo[mask[todo]]:
            if int(i) not in out:
                out[int(i)] = (col, describe(int(i)))
    return dict(sorted(out.items()))


def _parse_values(
    sub: pd.DataFrame, cols: _Columns, report: CatalogReport
) -> tuple[dict[str, np.ndarray], np.ndarray, list[_Check]]:
    """Parse the canonical columns of the rows being validated (all shape (n,))."""
    src = cols.source
    n = len(sub)
    rolled = np.zeros(n, dtype=bool)
    checks: list[_Check] = []
    values: dict[str, np.ndarray] = {}

    if cols.time_kind == "days":
        values["time"], c = _number(sub[cols.time_cols["time"]], "time (days)")
    elif cols.time_kind == "decimal":
        values["time"], c = _decimal_year_times(sub[cols.time_cols["time"]])
    elif cols.time_kind == "split":
        values["time"], rolled, c = _split_times(sub, cols.time_cols)
    else:
        text = sub[cols.time_cols["time"]]
        label = str(cols.time_cols["time"])
        if cols.time_kind == "date+time":
            date = sub[cols.time_cols["date"]]
            text = date.astype("string").str.strip() + "T" + text.astype("string").str.strip()
            label = f"{cols.time_cols['date']},{label}"
        values["time"], rolled, c = _text_times(text.rename(label), label)
    checks += c

    if cols.fmt == "projected":
        for axis in ("x", "y"):
            values[axis], c = _number(sub[src[axis]], axis)
            checks += c
    else:
        values["latitude"], c = _number(sub[src["latitude"]], "latitude", lo=-90, hi=90)
        checks += c
        values["longitude"], c = _number(sub[src["longitude"]], "longitude", lo=-180, hi=360,
                                         hi_open=True)
        checks += c
    if "depth" in src:
        depth, c = _number(sub[src["depth"]], "depth", required=False)
        checks += c
        nan = np.isnan(depth)
        report.n_depth_filled = int(nan.sum())  # recounted below for the kept rows
        values["depth"] = np.where(nan, 0.0, depth)
        values["_depth_nan"] = nan
    else:
        report.depth_missing = True
        values["depth"] = np.zeros(n)
    values["magnitude"], c = _number(sub[src["magnitude"]], "magnitude")
    checks += c
    return values, rolled, checks


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


def apply_completeness(
    table: pd.DataFrame, mc: str | float | None = "auto"
) -> tuple[pd.DataFrame, float | None]:
    """Keep events with ``magnitude >= mc``.

    Parameters
    ----------
    table : validated catalog table (needs a ``magnitude`` column).
    mc : None keeps every event; 'auto' estimates Mc by maximum curvature + 0.2
        (:func:`lite_decluster.magnitudes.estimate_mc`); a number is used as given. Magnitudes
        within 1e-6 below Mc are kept (float binning).

    Returns
    -------
    (table, mc)
        The kept rows (index reset) and the Mc used (None when not cut).
    """
    if mc is None:
        return table, None
    mags = table["magnitude"].to_numpy(dtype=np.float64)
    if isinstance(mc, str) and mc.strip().lower() == "auto":
        if not np.isfinite(mags).any():
            raise CatalogError("cannot estimate Mc: the catalog has no magnitudes")
        value = float(estimate_mc(mags))
    else:
        try:
            value = float(mc)
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"Mc must be 'auto', a number or None, not {mc!r}") from exc
        if not np.isfinite(value):
            raise CatalogError(f"Mc must be finite, not {mc!r}")
    keep = mags >= value - _MC_TOLERANCE
    if not keep.any():
        raise CatalogError(f"no events with magnitude >= Mc {value:g} (of {len(table):,})")
    return table.loc[keep].reset_index(drop=True), value
