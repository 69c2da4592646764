"""QuakeML 1.2 (BED) input, read as a stream: one row per event, memory flat in the file size.

Each ``event`` gives its preferred origin (``preferredOriginID``; the first origin when there is
none or it names no origin of the event) and its preferred magnitude (``preferredMagnitudeID``;
else the first magnitude of the chosen origin, else the first one). The standard library's
``xml.etree.ElementTree.iterparse`` reads the file; each event's elements are freed once read,
so that a large file costs its table, not its tree. (obspy would also read QuakeML, but it is a
heavy optional dependency and builds every event's full object tree in memory.)

Columns: ``event_id`` (the event's publicID), ``time`` (as written, ISO 8601 UTC),
``latitude``, ``longitude`` (degrees), ``depth`` (km: QuakeML depths are metres, divided by
1000 here), ``magnitude``, ``magnitude_type``, ``event_type`` (absent when no event has one).
Values are text as written (depth converted), validated like any other catalog's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import IO

import pandas as pd

from lite_decluster.catalog.errors import CatalogError

__all__ = ["QUAKEML_SUFFIXES", "looks_like_quakeml", "read_quakeml"]

QUAKEML_SUFFIXES = (".xml", ".quakeml", ".qml")
_COLUMNS = ("event_id", "time", "latitude", "longitude", "depth", "magnitude", "magnitude_type",
            "event_type")


def looks_like_quakeml(suffixes: list[str], head: bytes) -> bool:
    """Whether a file is QuakeML: by its suffix (before a compression suffix) or an XML start."""
    plain = [s.lower() for s in suffixes if s.lower() not in (".gz", ".xz", ".bz2")]
    if plain and plain[-1] in QUAKEML_SUFFIXES:
        return True
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:200]
    return start.startswith(b"<?xml") or b"quakeml" in start.lower()


_LOCAL: dict[str, str] = {}  # '{namespace}name' -> 'name': a file has few distinct tags


def _local(tag: str) -> str:
    name = _LOCAL.get(tag)
    if name is None:
        name = _LOCAL[tag] = tag.rsplit("}", 1)[-1]
    return name


def _child(elem: ET.Element, *path: str) -> ET.Element | None:
    """The first descendant along ``path`` of local names, namespaces ignored."""
    for name in path:
        elem = next((c for c in elem if _local(c.tag) == name), None)  # type: ignore[assignment]
        if elem is None:
            return None
    return elem


def _text(elem: ET.Element | None, *path: str) -> str | None:
    found = _child(elem, *path) if elem is not None else None
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _depth_km(text: str | None) -> float | str | None:
    """QuakeML depth (m) in km; text that is not a number stays as is, for the validation."""
    if text is None:
        return None
    try:
        return float(text) / 1000.0
    except ValueError:
        return text


def _event_row(event: ET.Element) -> tuple[object, ...]:
    origins = [c for c in event if _local(c.tag) == "origin"]
    mags = [c for c in event if _local(c.tag) == "magnitude"]
    want = _text(event, "preferredOriginID")
    first = origins[0] if origins else None
    origin = next((o for o in origins if o.get("publicID") == want), first)
    want = _text(event, "preferredMagnitudeID")
    mag = next((m for m in mags if m.get("publicID") == want), None)
    if mag is None and origin is not None:
        oid = origin.get("publicID")
        mag = next((m for m in mags if _text(m, "originID") == oid), None)
    if mag is None and mags:
        mag = mags[0]
    return (
        event.get("publicID"),
        _text(origin, "time", "value"),
        _text(origin, "latitude", "value"),
        _text(origin, "longitude", "value"),
        _depth_km(_text(origin, "depth", "value")),
        _text(mag, "mag", "value"),
        _text(mag, "type"),
        _text(event, "type"),
    )


def read_quakeml(fh: IO[bytes], name: str) -> pd.DataFrame:
    """One row per ``event`` of a QuakeML stream, in file order (columns as in the module doc).

    Raises CatalogError naming the file, line and column of XML that is not well formed, or
    when the file holds no ``eventParameters``.
    """
    rows: list[tuple[object, ...]] = []
    parents: list[ET.Element] = []
    seen_params = False
    try:
        for kind, elem in ET.iterparse(fh, events=("start", "end")):
            if kind == "start":
                parents.append(elem)
                continue
            parents.pop()
            tag = _local(elem.tag)
            seen_params |= tag == "eventParameters"
            if tag == "event":
                rows.append(_event_row(elem))
                # Free the event: memory stays that of one event plus the rows.
                elem.clear()
                if parents:
                    parents[-1].remove(elem)
    except ET.ParseError as exc:
        line, col = exc.position
        raise CatalogError(
            f"{name}, line {line}, column {col + 1}: not well-formed XML ({exc})"
        ) from exc
    if not seen_params:
        raise CatalogError(f"{name}: not QuakeML (no eventParameters element)")
    frame = pd.DataFrame.from_records(rows, columns=list(_COLUMNS))
    for col in ("event_id", "time", "magnitude_type", "event_type"):
        frame[col] = frame[col].astype("string")
    if frame["event_type"].isna().all():
        frame = frame.drop(columns="event_type")
    return frame
