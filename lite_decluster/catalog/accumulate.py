"""The kept values and dropped rows of the blocks read so far, joined at the end."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__: list[str] = []


def _as_string(s: pd.Series) -> pd.Series:
    """Identifiers as strings; integer-valued floats (a DataFrame's ids with gaps) without a
    trailing '.0'. (A file's ids are read as text, the same in every block.)"""
    if pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64)
        if np.all(np.isnan(v) | (v == np.round(v))):
            s = s.astype("Int64")
    return s.astype("string")


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
