"""Format detection and column resolution: which source column holds each canonical column.

Magnitude: the format's own column, else a column named ``magnitude``, ``mag`` or ``m``, else
the one column named as a magnitude type (``ML``, ``MLv``, ``MLNZ20``, ``Mw``, ``mb``, ``Ms``,
``Md``...). Several magnitude-type columns and no generic one is an error listing them: which
scale to decluster on is the user's choice (``--mag-col``), and each such column is usually
empty where another scale was measured.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lite_decluster.catalog.errors import CatalogError

__all__ = ["FORMATS", "OPTIONS", "is_magnitude_type"]

FORMATS = ("comcat", "scsn", "ingv", "generic", "projected", "quakeml")

# Source column names for each canonical column, in order of preference, matched case-insensitively.
_ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "time_utc", "origin_time", "origintime", "datetime", "date_time", "otime",
             "time_string", "timestring", "event_time"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "long", "lng"),
    "depth": ("depth", "depth_km", "depth/km", "dep", "depth_m", "depth/m", "depth(m)",
              "depth_meters", "depth_metres"),
    "magnitude": ("magnitude", "mag", "m"),
    "event_id": ("event_id", "eventid", "evid", "id", "publicid", "public_id"),
    "event_type": ("event_type", "eventtype", "etype", "type"),
    "x": ("x", "x_km"),
    "y": ("y", "y_km"),
}
# The command-line option that names each column (x and y: load_catalog's x=/y= only).
OPTIONS: dict[str, str] = {
    "time": "--time-col", "latitude": "--lat-col", "longitude": "--lon-col",
    "depth": "--depth-col", "magnitude": "--mag-col", "event_id": "--id-col",
    "event_type": "--type-col", "x": "x=", "y": "y=",
}
# Magnitude types as column names or as the values of a type column: ML, MLv, MLNZ20, Mw, Mww,
# Mwr, Mw(mB), mb, mB, mb_Lg, mbLg, Ms, Msz, Md, Me, Mh, Mj, Mjma (not 'Mc': completeness).
_MAGNITUDE_TYPE = re.compile(
    r"^m(?:[lw][a-z0-9]{0,5}(?:\(m[a-z]{1,3}\))?|b(?:_?lg|b)?|sz?|[deh]|jma|j)$", re.IGNORECASE
)
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
    # The columns lite_decluster.catalog.quakeml makes of each event.
    "quakeml": {"time": "time", "latitude": "latitude", "longitude": "longitude",
                "depth": "depth", "magnitude": "magnitude", "event_id": "event_id",
                "event_type": "event_type"},
}


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
            f"{name}: column {label!r} (given for {canon} with {OPTIONS[canon]}) not found; "
            f"columns found: {listing}"
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
                f"columns found: {listing}; name it with {OPTIONS[canon]}"
            )
        return None

    def candidates(canon: str) -> tuple[str, ...]:
        own = _FORMAT_COLUMNS.get(fmt, {}).get(canon)
        return ((own,) if own else ()) + _ALIASES[canon]

    place = ("x", "y") if fmt == "projected" else ("latitude", "longitude")
    source: dict[str, object | None] = {c: pick(c, candidates(c), True) for c in place}
    source["magnitude"] = pick("magnitude", candidates("magnitude"), False)
    if source["magnitude"] is None:
        source["magnitude"] = _magnitude_type_column(columns, candidates("magnitude"), name,
                                                     listing)
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
        f"year/month/day or {', '.join(_DECIMAL_YEAR)}); columns found: {listing}; "
        "name it with --time-col"
    )


def is_magnitude_type(text: str) -> bool:
    """Whether ``text`` is a magnitude type such as ML, MLv, Mw, mb, mb_Lg or Ms."""
    return bool(_MAGNITUDE_TYPE.match(text.strip()))


def _magnitude_type_column(
    columns: Sequence[object], looked: Sequence[str], name: str, listing: str
) -> object:
    """The one column named as a magnitude type (GeoNet's MLv, say); several are an error."""
    typed = [c for c in columns if is_magnitude_type(str(c))]
    if len(typed) == 1:
        return typed[0]
    if typed:
        raise CatalogError(
            f"{name}: several magnitude columns ({', '.join(str(c) for c in typed)}) and none "
            "named magnitude or mag; choose one with --mag-col"
        )
    raise CatalogError(
        f"{name}: no magnitude column (looked for {', '.join(dict.fromkeys(looked))} or a "
        f"magnitude type such as ML, Mw, mb); columns found: {listing}; name it with --mag-col"
    )
