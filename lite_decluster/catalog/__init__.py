"""Read an earthquake catalog into one validated, time-sorted table.

Formats, detected from the header (or forced with ``format=``):

- ``comcat``: USGS ComCat CSV (``time,latitude,longitude,depth,mag,magType,...,id,...,type``).
- ``scsn``: SCEDC/SCSN CSV (``time_utc,etype,gtype,mag,magtype,lat,lon,depth,...,evid,...``).
- ``ingv``: INGV FDSN text, pipe-delimited, header line starting with ``#``.
- ``generic``: delimited text (comma, ``|``, ``;``, tab or whitespace) with common column names;
  time as one column, as split ``year,month,day[,hour,minute,second]`` columns or as decimal years.
- ``projected``: ``x``, ``y`` in km and a float time in days (synthetic or projected catalogs).
- ``quakeml``: QuakeML 1.2 (BED), by suffix (.xml, .quakeml, .qml) or content: each event's
  preferred origin and magnitude, read as a stream (:mod:`.quakeml`).

Column choices that need the data (:mod:`.settle`): a ``time`` column of numbers in the years
1678-2261 holds decimal years; a type column of magnitude types (ML, mb, Mw) is not an event
type. Depths are checked for metres and for a negative-downwards sign (:mod:`.values`); each
such reading is a note in the report. The magnitude column's preference is in :mod:`.columns`.

Every kept row links back to its source: ``row`` is its 0-based position among the input's data
rows (and in :attr:`LoadedCatalog.raw`), ``line`` its 1-based physical line in the file, header
counted, so that messages and downstream results can point at the exact line.

Modules, one job each: :mod:`.source` (opening files, blocks of whole records), :mod:`.columns`
(format detection, column resolution), :mod:`.times` (time parsing and leap-second repair),
:mod:`.checks` and :mod:`.values` (value validation), :mod:`.settle` (choices made on the first
block), :mod:`.accumulate` and :mod:`.table` (the table, :func:`load_catalog`), :mod:`.quakeml`
(QuakeML events), :mod:`.report` (what was read), :mod:`.errors` (:class:`CatalogError`).
"""

from __future__ import annotations

from typing import Any

from lite_decluster.catalog.columns import FORMATS
from lite_decluster.catalog.errors import CatalogError
from lite_decluster.catalog.report import CatalogReport, LoadedCatalog
from lite_decluster.catalog.source import CatalogSource, open_catalog

# Private helpers re-exported (``as`` marks them so) for callers of the old module.
from lite_decluster.catalog.source import _open as _open
from lite_decluster.catalog.source import _record_blocks as _record_blocks
from lite_decluster.catalog.source import _record_ends as _record_ends
from lite_decluster.catalog.table import load_catalog, read_catalog

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


def __getattr__(name: str) -> Any:
    # apply_completeness moved to lite_decluster.completeness, which imports CatalogError from
    # this package: resolved lazily so that neither import order makes a cycle.
    if name == "apply_completeness":
        from lite_decluster.completeness import apply_completeness

        return apply_completeness
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
