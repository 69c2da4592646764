"""Declustered catalogs: the input's own rows of the events a method keeps, and stochastic
realisations sampled from the probabilities.

- ``keep='mainshocks'`` (default): one event per cluster, its mainshock (the largest event; see
  :mod:`lite_decluster.clusters`), the convention of window methods and hazard models. The
  large earthquakes stay in the declustered catalog even when they were triggered by a
  smaller event.
- ``keep='background'``: the events labelled background (each roots one cluster), the
  independent events of the ETAS sense.

Both keep at most one event per cluster. A cluster rooted by an aftershock whose parent has
no label (a candidate parent below Mc, or an ETAS auxiliary-window event) has no background
event, so ``background`` can hold fewer events than ``mainshocks``. Rows are copied
byte for byte from the input file (header included), in input order; events that were not
declustered (below Mc, outside the selection, not earthquakes, invalid) are not in it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from lite_decluster.clusters import ROLES
from lite_decluster.output import OutputError, atomic_write, check_output_path
from lite_decluster.records import delimiter, iter_records

__all__ = ["KEEP", "declustered_catalog", "declustered_rows", "p_background_rows",
           "realization_rows", "realizations",
           "write_declustered", "write_realizations"]

KEEP = ("mainshocks", "background")
_MAIN = (ROLES.index("single"), ROLES.index("mainshock"))


def declustered_rows(labels, keep: str = "mainshocks") -> np.ndarray:
    """Input rows of the declustered catalog, shape (n_rows,) bool.

    ``labels``: the :class:`lite_decluster.declustering.Labels` of a run.
    """
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {', '.join(KEEP)}, not {keep!r}")
    if keep == "background":
        chosen = labels.label == 1
    else:
        chosen = np.isin(labels.cluster_role, _MAIN)
    mask = np.zeros(labels.n_rows, dtype=bool)
    mask[labels.event_row[chosen]] = True
    return mask


def p_background_rows(labels) -> np.ndarray:
    """Background probability of every input row, shape (n_rows,): 1 - p_aftershock, 1 for a
    background event without a probability (the first event), NaN for rows not labelled.

    Raises ValueError when a labelled aftershock has no probability (window methods, NND
    threshold: nothing to sample from).
    """
    p = labels.p
    labelled = labels.label > 0
    missing = labelled & ~np.isfinite(p) & (labels.label == 2)
    if missing.any():
        raise ValueError("this method gives no probabilities: realisations need a method "
                         "with p_aftershock (forest or etas)")
    pb = np.where(np.isfinite(p), 1.0 - p, 1.0)
    out = np.full(labels.n_rows, np.nan)
    out[labels.event_row[labelled]] = pb[labelled]
    return out


def realization_rows(p_background: np.ndarray, n: int, seed: int | None
                     ) -> list[np.ndarray]:
    """``n`` independent declustered catalogs: each labelled row kept with probability
    ``p_background`` (NaN rows never). Returns the kept input rows of each, sorted."""
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"the number of realisations must be a positive integer, not {n!r}")
    rng = np.random.default_rng(seed)
    cand = np.flatnonzero(np.isfinite(p_background))
    pb = p_background[cand]
    return [cand[rng.random(cand.size) < pb] for _ in range(int(n))]


def write_declustered(
    catalog: str | os.PathLike[str],
    keep_rows: np.ndarray,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Copy the header and the rows ``keep_rows`` (bool per data row) of the input file."""
    out = check_output_path(path, inputs=[catalog, *inputs], force=force)

    def write(fh: IO[bytes]) -> None:
        start = 0
        for header, records in iter_records(catalog):
            fh.write(header)
            mask = keep_rows[start:start + len(records)]
            fh.writelines(r for r, k in zip(records, mask, strict=True) if k)
            start += len(records)
        if start != keep_rows.size:
            raise OutputError(f"{catalog} has {start:,} rows now, {keep_rows.size:,} when "
                              "declustered: it changed; run again")

    return atomic_write(out, write)


def write_realizations(
    catalog: str | os.PathLike[str],
    realizations: list[np.ndarray],
    n_rows: int,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """One file: a ``realization`` column (0-based) then the input's own row, for the kept
    rows of every realisation in turn (input order within each)."""
    from lite_decluster.catalog import open_catalog

    out = check_output_path(path, inputs=[catalog, *inputs], force=force)
    sep = delimiter(open_catalog(catalog)).encode()
    wanted = np.zeros(n_rows, dtype=bool)
    for rows in realizations:
        wanted[rows] = True
    header = b""
    kept: dict[int, bytes] = {}
    start = 0
    for head, records in iter_records(catalog):
        header = header or head
        for k in np.flatnonzero(wanted[start:start + len(records)]):
            kept[start + int(k)] = records[k]
        start += len(records)
    if start != n_rows:
        raise OutputError(f"{catalog} has {start:,} rows now, {n_rows:,} when declustered: "
                          "it changed; run again")

    def write(fh: IO[bytes]) -> None:
        fh.write(b"realization" + sep + header)
        for i, rows in enumerate(realizations):
            prefix = str(i).encode() + sep
            fh.writelines(prefix + kept[int(r)] for r in rows)

    return atomic_write(out, write)


def declustered_frame(raw: pd.DataFrame, keep_rows: np.ndarray) -> pd.DataFrame:
    """The API's declustered catalog: the input's rows ``keep_rows`` (input order)."""
    return raw.loc[keep_rows[: len(raw)]]


def catalog_suffix(catalog: str | os.PathLike[str]) -> str:
    """The input's text suffix, without a compression suffix ('.csv' for 'x.csv.xz')."""
    p = Path(os.fspath(catalog))
    if p.suffix.lower() in (".gz", ".xz", ".bz2"):
        p = p.with_suffix("")
    return p.suffix or ".txt"


def write_products(
    catalog: str | os.PathLike[str],
    labels,
    *,
    declustered: str | os.PathLike[str] | None = None,
    keep: str = "mainshocks",
    realizations: int | None = None,
    seed: int | None = 0,
    realizations_out: str | os.PathLike[str] | None = None,
    etas_out: str | os.PathLike[str] | None = None,
    info=None,
    force: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
    raw: pd.DataFrame | None = None,
) -> list[str]:
    """Write what a run asked for besides the labelled table; returns one line per file."""
    import json

    done: list[str] = []
    if declustered is not None:
        rows = declustered_rows(labels, keep)
        write_declustered(catalog, rows, declustered, force=force, inputs=inputs)
        done.append(f"{declustered} ({int(rows.sum()):,} events, --keep {keep})")
    if realizations is not None:
        assert realizations_out is not None
        try:
            pb = p_background_rows(labels)
        except ValueError as exc:
            raise OutputError(str(exc)) from exc
        sets = realization_rows(pb, realizations, seed)
        write_realizations(catalog, sets, labels.n_rows, realizations_out, force=force,
                           inputs=inputs)
        mean = float(np.mean([r.size for r in sets]))
        done.append(f"{realizations_out} ({realizations} realisations, seed {seed}, "
                    f"{mean:,.1f} events each on average; expected {np.nansum(pb):,.1f})")
    if etas_out is not None and info is not None:
        text = json.dumps(info.method_summary, indent=2, sort_keys=True, default=float) + "\n"
        out = check_output_path(etas_out, inputs=[catalog, *inputs], force=force)
        atomic_write(out, lambda fh: fh.write(text.encode("utf-8")))
        done.append(f"{etas_out} (fitted ETAS parameters)")
    return done


def _columns(result: pd.DataFrame) -> tuple[list, dict[str, str]]:
    try:
        return result.attrs["input_columns"], result.attrs["added_columns"]
    except KeyError:
        raise ValueError("expected the table returned by lite_decluster.decluster") from None


def declustered_catalog(result: pd.DataFrame, keep: str = "mainshocks") -> pd.DataFrame:
    """The declustered catalog from :func:`lite_decluster.decluster`'s result: the input's own
    columns of one event per cluster (``keep='mainshocks'``: its largest event;
    ``'background'``: its root), input order."""
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {', '.join(KEEP)}, not {keep!r}")
    inputs, added = _columns(result)
    if keep == "background":
        mask = result[added["label"]] == "background"
    else:
        mask = result[added["cluster_role"]].isin(["single", "mainshock"])
    return result.loc[mask.fillna(False).to_numpy(dtype=bool), inputs]


def realizations(result: pd.DataFrame, n: int, seed: int | None = 0) -> pd.DataFrame:
    """``n`` stochastic declustered catalogs from :func:`lite_decluster.decluster`'s result
    (forest or etas): each labelled event kept with probability 1 - p_aftershock (always for a
    background event without one). Returns the input's columns of the kept rows with a
    leading ``realization`` column (0..n-1), input order within each."""
    inputs, added = _columns(result)
    p = result[added["p_aftershock"]].to_numpy(dtype=float)
    label = result[added["label"]].fillna("").to_numpy(dtype=object)
    labelled = label != ""
    if (labelled & (label == "aftershock") & ~np.isfinite(p)).any():
        raise ValueError("this method gives no probabilities: realisations need a method "
                         "with p_aftershock (forest or etas)")
    pb = np.where(labelled, np.where(np.isfinite(p), 1.0 - p, 1.0), np.nan)
    sets = realization_rows(pb, n, seed)
    parts = []
    for i, rows in enumerate(sets):
        part = result.iloc[rows][inputs].copy()
        part.insert(0, "realization", i)
        parts.append(part)
    return pd.concat(parts)
