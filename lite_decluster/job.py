"""The ``run`` job: check the destinations, decluster, write the outputs, draw the figure.

Plain Python values in, no command-line parsing here (that is :mod:`lite_decluster.cli`):
the CLI builds a :class:`RunRequest` and calls :func:`run_job`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunRequest", "UsageError", "run_job"]

PROBABILISTIC = ("forest", "etas")


class UsageError(ValueError):
    """Options that do not go together (reported like bad input, exit 2)."""


@dataclass
class RunRequest:
    """Everything ``lite-decluster run`` was asked to do (see the CLI's help for each)."""

    catalog: Path
    output: Path | None = None
    out_format: str | None = None
    model: Any = None
    method: str = "forest"
    mc: Any = "auto"
    b: Any = "auto"
    df: float | None = None
    hypocentral: bool | None = None
    threshold: float = 0.5
    plot: Path | None = None
    declustered: Path | None = None
    keep: str = "mainshocks"
    realizations: int | None = None
    seed: int = 0
    realizations_out: Path | None = None
    etas_out: Path | None = None
    start: str | None = None
    end: str | None = None
    region: str | None = None
    max_depth: float | None = None
    method_options: Mapping[str, Any] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    all_types: bool = False
    skip_invalid: bool = False
    threads: int | None = None
    models_dir: Path | None = None
    force: bool = False
    depth_unit: str = "auto"
    depth_positive: str = "auto"


@dataclass
class JobResult:
    """What was written (one line per file) and the run's summary lines."""

    summary: list[str]
    written: list[str]
    plot_error: Exception | None = None


def _check(req: RunRequest) -> tuple[str, Path, Path | None]:
    from lite_decluster.declustered import catalog_suffix
    from lite_decluster.output import (
        check_output_path,
        default_output_path,
        output_format,
        require_writer,
    )

    if req.etas_out is not None and req.method != "etas":
        raise UsageError("--etas-out is for --method etas")
    if req.model is not None and req.method != "forest":
        raise UsageError(f"--model is for --method forest, not {req.method}")
    if req.realizations is not None and req.method not in PROBABILISTIC:
        raise UsageError(f"--realizations needs probabilities: --method forest or etas, "
                         f"not {req.method}")
    fmt = output_format(req.output if req.output is not None else "", req.out_format)
    out = req.output if req.output is not None else default_output_path(req.catalog, fmt)
    # Refuse a bad destination before the (possibly long) run, and again when writing.
    check_output_path(out, inputs=[req.catalog], force=req.force)
    require_writer(fmt)
    real_out = None
    if req.realizations is not None:
        real_out = req.realizations_out or out.with_name(
            out.name.removesuffix(out.suffix).removesuffix(".declustered")
            + ".realizations" + catalog_suffix(req.catalog))
    extras = [p for p in (req.declustered, real_out, req.etas_out, req.plot) if p is not None]
    for extra in extras:
        check_output_path(extra, inputs=[req.catalog, out], force=req.force)
    if len({os.path.abspath(p) for p in [out, *extras]}) != 1 + len(extras):
        raise UsageError("the output, --plot, --declustered, --realizations-out and "
                         "--etas-out files must differ")
    if req.plot is not None:
        from lite_decluster.plot import check_plot_path

        check_plot_path(req.plot)
    return fmt, out, real_out


def run_job(req: RunRequest, progress: Callable[[str, int, int], object] | None = None
            ) -> JobResult:
    """Decluster ``req.catalog`` and write what was asked. A failing figure does not lose the
    outputs or the summary: it is returned in ``JobResult.plot_error``."""
    from lite_decluster.assemble import assemble
    from lite_decluster.declustered import write_products
    from lite_decluster.declustering import label_catalog
    from lite_decluster.labelled_text import write_labelled_text
    from lite_decluster.output import write_table
    from lite_decluster.selection import make_selection

    fmt, out, real_out = _check(req)
    selection = make_selection(req.start, req.end, req.region, req.max_depth)
    # Text is written block by block from the input file read again, so the input's own
    # columns never sit in memory whole; parquet needs the whole table.
    streamed = fmt == "csv"
    done = label_catalog(
        req.catalog, req.model, method=req.method, mc=req.mc, b=req.b, df=req.df,
        hypocentral=req.hypocentral, threshold=req.threshold, threads=req.threads,
        skip_invalid=req.skip_invalid,
        event_types=None if req.all_types else ("earthquake", "eq"),
        columns=req.columns, progress=progress, models_directory=req.models_dir,
        keep_raw=not streamed,
        keep_events=req.plot is not None,  # only the figure needs every validated event
        selection=selection, method_options=req.method_options,
        depth_unit=req.depth_unit, depth_positive=req.depth_positive,
    )
    info = done.info
    events, done.events = done.events, None
    if progress is not None:
        progress("write", 0, 0)
    clock = time.perf_counter()
    if streamed:
        write_labelled_text(req.catalog, done.labels, info, out, force=req.force)
    else:
        assert done.raw is not None
        write_table(assemble(done.raw, done.labels, info), out, format=fmt, force=req.force,
                    inputs=[req.catalog])
    written = [str(out)]
    written += write_products(
        req.catalog, done.labels, declustered=req.declustered, keep=req.keep,
        realizations=req.realizations, seed=req.seed, realizations_out=real_out,
        etas_out=req.etas_out, info=info, force=req.force, inputs=[out], raw=done.raw,
    )
    info.timings["write"] = time.perf_counter() - clock
    plot_error = None
    if req.plot is not None:
        from lite_decluster.plot import plot_declustered

        if progress is not None:
            progress("plot", 0, 0)
        clock = time.perf_counter()
        try:
            plot_declustered(done.labels, req.plot, events=events,
                             nnd_threshold=info.nnd_threshold, threshold=info.threshold,
                             title=req.catalog.name, force=req.force,
                             inputs=[req.catalog, out])
            written.append(str(req.plot))
        except Exception as exc:  # the outputs are written: report, do not lose them
            plot_error = exc
        info.timings["plot"] = time.perf_counter() - clock
    return JobResult(summary=info.lines(), written=written, plot_error=plot_error)
