"""What a catalog read produced: the validated table, the raw input and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["CatalogReport", "LoadedCatalog"]


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
    #: How the reader read the file where it had to choose (decimal years, depth units and sign,
    #: a type column of magnitude types), one sentence each.
    notes: list[str] = field(default_factory=list)

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
        out += self.notes
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
